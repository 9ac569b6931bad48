//! The issuer step: Issuers and ClusterIssuers, seen through one view, and their controller.

pub mod controller;
pub mod ignored;

use crate::api::meta::IssuerReference;
use crate::api::{ClusterIssuer, Issuer, IssuerSpec, IssuerStatus};

/// Issuer or ClusterIssuer, as the rest of certsmith needs them: where their Secrets live
/// (the Issuer's namespace, or `--cluster-resource-namespace` for a ClusterIssuer) and their spec.
#[derive(Debug, Clone)]
pub struct IssuerView {
    pub kind: &'static str,
    pub name: String,
    /// Where the account key and EAB Secrets are read from.
    pub secrets_namespace: String,
    pub spec: IssuerSpec,
    pub status: Option<IssuerStatus>,
    /// Opted in to dns-persist-01 (`acme.certsmith.io/dns-persist-01: "true"`).
    pub dns_persist: bool,
}

impl IssuerView {
    pub fn issuer(i: &Issuer) -> IssuerView {
        IssuerView {
            kind: "Issuer",
            name: i.metadata.name.clone().unwrap_or_default(),
            secrets_namespace: i.metadata.namespace.clone().unwrap_or_default(),
            spec: i.spec.clone(),
            status: i.status.clone(),
            dns_persist: crate::solver::dns_persist::opted_in(i.metadata.annotations.as_ref()),
        }
    }

    pub fn cluster_issuer(i: &ClusterIssuer, cluster_namespace: &str) -> IssuerView {
        IssuerView {
            kind: "ClusterIssuer",
            name: i.metadata.name.clone().unwrap_or_default(),
            secrets_namespace: cluster_namespace.to_string(),
            spec: i.spec.0.clone(),
            status: i.status.clone(),
            dns_persist: crate::solver::dns_persist::opted_in(i.metadata.annotations.as_ref()),
        }
    }

    /// A reference to the issuer, for its Events.
    pub fn object_ref(&self) -> k8s_openapi::api::core::v1::ObjectReference {
        k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some(format!("{}/v1", crate::api::meta::GROUP)),
            kind: Some(self.kind.into()),
            name: Some(self.name.clone()),
            namespace: (self.kind == "Issuer").then(|| self.secrets_namespace.clone()),
            ..Default::default()
        }
    }

    /// Whether this is a CA issuer whose key pair is the Secret `secret`.
    pub fn signs_with(&self, secret: &impl kube::ResourceExt) -> bool {
        secret.namespace().as_deref() == Some(self.secrets_namespace.as_str())
            && self.spec.ca.as_ref().is_some_and(|ca| ca.secret_name == secret.name_any())
    }

    /// `Kind/name`, as messages name it.
    pub fn display(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// Which kind an issuerRef names: `ClusterIssuer`, else `Issuer` (cert-manager's default).
/// `None` for an external issuer group certsmith does not serve.
pub fn referenced_kind(r: &IssuerReference) -> Option<&'static str> {
    let group = r.group.as_deref().unwrap_or("");
    if !group.is_empty() && group != crate::api::meta::GROUP {
        return None;
    }
    match r.kind.as_deref() {
        Some("ClusterIssuer") => Some("ClusterIssuer"),
        _ => Some("Issuer"),
    }
}

/// Whether `r`, on an object in `namespace`, names the `kind` issuer `name`; an Issuer must be
/// in `issuer_namespace` (`None` for a ClusterIssuer, which any namespace may name).
pub fn refers_to(
    r: &IssuerReference,
    namespace: Option<&str>,
    kind: &str,
    name: &str,
    issuer_namespace: Option<&str>,
) -> bool {
    referenced_kind(r) == Some(kind)
        && r.name == name
        && (issuer_namespace.is_none() || namespace == issuer_namespace)
}
