//! Issuer (namespaced) and ClusterIssuer (cluster-wide): who signs a Certificate, and how.
// The repeated `printcolumn(...)` keys are separate columns, not duplicates.
#![allow(clippy::duplicated_attributes)]

use super::acme::AcmeIssuer;
use super::meta::{Condition, Opaque, conditions_list_map, exactly_one_of};
use kube::CustomResource;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

/// The issuer's configuration: exactly one of the issuer types. certsmith implements `acme`;
/// the others are accepted so cert-manager manifests apply, and reported as unsupported.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Issuer",
    shortname = "iss",
    namespaced,
    status = "IssuerStatus",
    category = "cert-manager",
    annotation("helm.sh/resource-policy", "keep"),
    doc = "A namespaced issuer: signs Certificates in its own namespace.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        priority = 1,
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = issuer_type)]
pub struct IssuerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeIssuer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaIssuer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<SelfSignedIssuer>,
    /// HashiCorp Vault; accepted as given, not implemented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<Opaque>,
    /// Venafi; accepted as given, not implemented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venafi: Option<Opaque>,
}

/// The issuer types, in the order cert-manager lists them.
pub const ISSUER_TYPES: [&str; 5] = ["acme", "ca", "selfSigned", "vault", "venafi"];

fn issuer_type(schema: &mut Schema) {
    let none = "at least one issuer must be configured: acme, ca, selfSigned, vault or venafi";
    exactly_one_of(schema, &ISSUER_TYPES, none, "may not specify more than one issuer type");
}

impl IssuerSpec {
    /// What kind of issuer this is, for every place where behaviour differs by kind: matched
    /// exhaustively, so a new kind is found by the compiler, not by grep. A spec with more than
    /// one type set (the CRD refuses it; validation reports it) is read SelfSigned, CA, ACME.
    pub fn kind(&self) -> IssuerKind<'_> {
        match (&self.self_signed, &self.ca, &self.acme) {
            (Some(s), _, _) => IssuerKind::SelfSigned(s),
            (None, Some(ca), _) => IssuerKind::Ca(ca),
            (None, None, Some(acme)) => IssuerKind::Acme(acme),
            (None, None, None) => IssuerKind::Unsupported(self.configured_types()),
        }
    }

    /// The issuer types that are set, by their field names.
    pub fn configured_types(&self) -> Vec<&'static str> {
        let set = [
            self.acme.is_some(),
            self.ca.is_some(),
            self.self_signed.is_some(),
            self.vault.is_some(),
            self.venafi.is_some(),
        ];
        ISSUER_TYPES.iter().zip(set).filter(|(_, s)| *s).map(|(t, _)| *t).collect()
    }
}

/// The kinds of issuer certsmith tells apart. (Issuers of another API group, external
/// issuers, are never read: their requests are left to them, see `issuer::referenced_kind`.)
#[derive(Debug, Clone, PartialEq)]
pub enum IssuerKind<'a> {
    /// Signs here, each certificate its own issuer.
    SelfSigned(&'a SelfSignedIssuer),
    /// Signs here, with the CA key pair of a Secret.
    Ca(&'a CaIssuer),
    /// Orders from an ACME CA.
    Acme(&'a AcmeIssuer),
    /// A kind cert-manager has and certsmith does not sign with (vault, venafi), by its field
    /// names (empty when none is set).
    Unsupported(Vec<&'static str>),
}

/// The same configuration as an Issuer, for the whole cluster; its Secrets live in the
/// operator's namespace (cert-manager's "cluster resource namespace").
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "ClusterIssuer",
    shortname = "ciss",
    status = "IssuerStatus",
    category = "cert-manager",
    annotation("helm.sh/resource-policy", "keep"),
    doc = "A cluster-scoped issuer: signs Certificates in every namespace.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        priority = 1,
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct ClusterIssuerSpec(pub IssuerSpec);

impl std::ops::Deref for ClusterIssuerSpec {
    type Target = IssuerSpec;
    fn deref(&self) -> &IssuerSpec {
        &self.0
    }
}

/// Signs with a CA key pair stored in a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaIssuer {
    #[schemars(length(min = 1))]
    pub secret_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl_distribution_points: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocsp_servers: Option<Vec<String>>,
    #[serde(rename = "issuingCertificateURLs", default, skip_serializing_if = "Option::is_none")]
    pub issuing_certificate_urls: Option<Vec<String>>,
}

/// Signs each certificate with its own key.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelfSignedIssuer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl_distribution_points: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = conditions_list_map)]
    pub conditions: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeIssuerStatus>,
}

/// What the ACME CA knows of the issuer's account.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerStatus {
    /// The account URL at the CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_registered_email: Option<String>,
    /// SHA-256 of the account key, so a changed key is noticed and re-registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_private_key_hash: Option<String>,
}
