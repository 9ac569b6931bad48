//! The shim step: annotated sources (Ingresses today) get their Certificates, as
//! cert-manager's certificate-shim makes them. What every source shares is here and in
//! `annotations` (the issuer and Certificate annotations) and `controller` (apply what the
//! source asks for, delete what it no longer asks for, Events); what a source's own kind says
//! (which Secrets, which hosts, which solver overrides) is its [`Source`] implementation, one
//! file per kind (`ingress`), run from `operator` with one line.

pub mod annotations;
pub mod controller;
pub mod ingress;

#[cfg(test)]
mod ingress_tests;

use crate::api::{Certificate, CertificateSpec};
use annotations::{AnnotationError, DefaultIssuer};
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// A kind of object whose annotations ask for Certificates.
pub trait Source:
    Resource<DynamicType = ()>
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

    /// Drops what the shim never reads, so the cache holds only what decides.
    fn trim(&mut self);

    /// What the source asks for: `Ok(None)` when it has no trigger annotation; `Err` when an
    /// annotation is wrong (then nothing is to change until it is fixed). Pure.
    fn desired(&self, defaults: &DefaultIssuer) -> Result<Option<Desired>, AnnotationError>;
}

#[derive(Debug, Default)]
pub struct Desired {
    pub certificates: Vec<Certificate>,
    /// Entries that give no Certificate, with why (for Events).
    pub problems: Vec<String>,
}

/// The issuer and Certificate annotations any source carries, as a Certificate spec without
/// its Secret and names; `Ok(None)` when none names an issuer.
pub fn template(
    source: &impl Resource,
    defaults: &DefaultIssuer,
) -> Result<Option<CertificateSpec>, AnnotationError> {
    let a = source.meta().annotations.clone().unwrap_or_default();
    let Some(issuer_ref) = annotations::issuer_ref(&a, defaults)? else { return Ok(None) };
    let mut template = CertificateSpec { issuer_ref, ..Default::default() };
    annotations::apply(&mut template, &a)?;
    Ok(Some(template))
}

/// One Certificate per Secret, named after it, for the hosts the source gives it (then the
/// names the annotations add), labelled with `label` and owned by `source`.
pub fn certificates<S: Source>(
    source: &S,
    template: &CertificateSpec,
    by_secret: BTreeMap<String, Vec<String>>,
    cert_annotations: &BTreeMap<String, String>,
) -> Vec<Certificate> {
    let mut out = Vec::new();
    for (secret, hosts) in by_secret {
        let mut spec = template.clone();
        spec.secret_name = secret.clone();
        let mut names = hosts;
        let extra = spec.dns_names.take().unwrap_or_default();
        names.extend(extra.into_iter().filter(|n| !names.contains(n)).collect::<Vec<_>>());
        spec.dns_names = Some(names);
        out.push(Certificate {
            metadata: ObjectMeta {
                name: Some(secret),
                namespace: source.namespace(),
                labels: Some(BTreeMap::from([(S::LABEL.to_string(), source.name_any())])),
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
