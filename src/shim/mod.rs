//! The shim step: annotated sources (Ingresses, Gateways, ListenerSets) get their
//! Certificates, as cert-manager's certificate-shim makes them. What every source shares is here
//! and in `annotations` (the issuer and Certificate annotations) and `controller` (apply what
//! the source asks for, delete what it no longer asks for, Events); what a source's own kind
//! says (which Secrets, which hosts, which solver overrides) is its [`Source`] implementation,
//! one file per kind (`ingress`, `gateway`, `listener_set`), run from `controllers` with one
//! line.

pub mod annotations;
pub mod controller;
pub mod gateway;
pub mod ingress;
pub mod listener_set;
pub mod takeover;

#[cfg(test)]
mod gateway_tests;
#[cfg(test)]
mod ingress_tests;

use crate::api::{Certificate, CertificateSpec};
use annotations::{AnnotationError, DefaultIssuer};
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// A kind of object whose annotations ask for Certificates.
pub trait Source:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// The controller's name in metrics and logs (cert-manager's: `ingress-shim`).
    const CONTROLLER: &'static str;
    /// Marks the Certificates this kind's shim made, valued with the source's name.
    const LABEL: &'static str;
    /// The field manager of the Certificates it applies.
    const FIELD_MANAGER: &'static str;

    /// Whether it has a parent Gateway ([`Source::parent`]) whose changes it follows.
    const HAS_PARENT: bool = false;

    /// Drops what the shim never reads, so the cache holds only what decides.
    fn trim(&mut self);

    /// The Gateway (namespace, name) whose annotations it inherits: a ListenerSet's parent.
    /// Until that Gateway exists (and while it is being deleted) nothing is changed.
    fn parent(&self) -> Option<(String, String)> {
        None
    }

    /// What the source asks for: `Ok(None)` when it has no trigger annotation; `Err` when an
    /// annotation is wrong (then nothing is to change until it is fixed). Pure.
    fn desired(&self, inputs: &Inputs) -> Result<Option<Desired>, AnnotationError>;
}

/// What a source's Certificates depend on besides the source.
pub struct Inputs<'a> {
    /// The `--default-issuer-*` flags.
    pub defaults: &'a DefaultIssuer,
    /// `--gateway-api-extra-protocols`: listener protocols, besides HTTPS and TLS, whose
    /// listeners get certificates.
    pub extra_protocols: &'a [String],
    /// The parent Gateway's metadata, for a source with a [`Source::parent`].
    pub parent: Option<&'a ObjectMeta>,
}

#[derive(Debug, Default)]
pub struct Desired {
    pub certificates: Vec<Certificate>,
    /// Entries that give no Certificate, with why (for Events).
    pub problems: Vec<String>,
}

/// A source's label that cert-manager does not copy to its Certificates: it would make them
/// members of the source's ApplySet (and pruned by `kubectl apply --prune`).
const APPLYSET_PART_OF: &str = "applyset.kubernetes.io/part-of";

/// The issuer and Certificate annotations any source carries, as a Certificate spec without
/// its Secret and names; `Ok(None)` when none names an issuer.
pub fn template(
    source: &impl Resource,
    defaults: &DefaultIssuer,
) -> Result<Option<CertificateSpec>, AnnotationError> {
    template_from(&source.meta().annotations.clone().unwrap_or_default(), defaults)
}

/// [`template`] from annotations given apart from their source (a ListenerSet's, with what it
/// inherits from its Gateway).
pub fn template_from(
    a: &BTreeMap<String, String>,
    defaults: &DefaultIssuer,
) -> Result<Option<CertificateSpec>, AnnotationError> {
    let Some(issuer_ref) = annotations::issuer_ref(a, defaults)? else { return Ok(None) };
    let mut template = CertificateSpec { issuer_ref, ..Default::default() };
    annotations::apply(&mut template, a)?;
    Ok(Some(template))
}

/// One Certificate per Secret, named after it, for the hosts the source gives it (then the
/// names the annotations add), owned by `source`, with its labels (as cert-manager copies them,
/// so solver selectors' `matchLabels` see them) and [`Source::LABEL`].
pub fn certificates<S: Source>(
    source: &S,
    template: &CertificateSpec,
    by_secret: BTreeMap<String, Vec<String>>,
    cert_annotations: &BTreeMap<String, String>,
) -> Vec<Certificate> {
    let mut labels = source.labels().clone();
    labels.remove(APPLYSET_PART_OF);
    // A label value holds 63 characters; a name, 253.
    let name = source.name_any();
    let value = if name.len() <= 63 { name } else { crate::naming::short_hash(&name) };
    labels.insert(S::LABEL.to_string(), value);
    let mut out = Vec::new();
    for (secret, hosts) in by_secret {
        let mut spec = template.clone();
        spec.secret_name = secret.clone();
        // A host that is an IP address is one of the certificate's IP addresses.
        let (ips, mut names): (Vec<String>, Vec<String>) =
            hosts.into_iter().partition(|h| h.parse::<std::net::IpAddr>().is_ok());
        let extra = spec.dns_names.take().unwrap_or_default();
        names.extend(extra.into_iter().filter(|n| !names.contains(n)).collect::<Vec<_>>());
        spec.dns_names = Some(names).filter(|n| !n.is_empty());
        if !ips.is_empty() {
            let mut all = ips;
            let extra = spec.ip_addresses.take().unwrap_or_default();
            all.extend(extra.into_iter().filter(|a| !all.contains(a)).collect::<Vec<_>>());
            spec.ip_addresses = Some(all);
        }
        out.push(Certificate {
            metadata: ObjectMeta {
                name: Some(secret),
                namespace: source.namespace(),
                labels: Some(labels.clone()),
                annotations: Some(cert_annotations.clone()).filter(|a| !a.is_empty()),
                owner_references: source.controller_owner_ref(&()).map(|o| vec![o]),
                ..Default::default()
            },
            spec,
            status: None,
        });
    }
    out
}
