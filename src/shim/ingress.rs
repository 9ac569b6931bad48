//! The Ingress source of the shim step: one Certificate per `spec.tls[]` secretName, its
//! hosts as dnsNames, and the HTTP-01 annotations turned into the solver overrides the
//! issuance reads (edit-in-place, the solver Ingress's class). Pure.

use super::annotations::{self, AnnotationError};
use super::{Desired, Inputs, Source};
use crate::validation::names::dns_name_problem;
use k8s_openapi::api::networking::v1::Ingress;
use kube::ResourceExt;
use std::collections::BTreeMap;

/// Marks Certificates the shim made, and names the Ingress they came from.
pub const LABEL_INGRESS: &str = "certsmith.io/ingress-name";

impl Source for Ingress {
    const CONTROLLER: &'static str = "ingress-shim";
    const LABEL: &'static str = LABEL_INGRESS;
    const FIELD_MANAGER: &'static str = "certsmith-ingress-shim";

    /// Metadata without managed fields or unrelated annotations, and `spec.tls`.
    fn trim(&mut self) {
        self.metadata.managed_fields = None;
        if let Some(a) = self.metadata.annotations.as_mut() {
            a.retain(|k, _| {
                k.starts_with("cert-manager.io/")
                    || k.starts_with("acme.cert-manager.io/")
                    || k == annotations::TLS_ACME
            });
        }
        self.status = None;
        if let Some(spec) = self.spec.as_mut() {
            spec.rules = None;
            spec.default_backend = None;
        }
    }

    fn desired(&self, inputs: &Inputs) -> Result<Option<Desired>, AnnotationError> {
        let Some(template) = super::template(self, inputs.defaults)? else { return Ok(None) };
        let cert_annotations = annotations::solver_overrides(self.annotations(), &self.name_any())?;
        let mut problems = Vec::new();
        // Entries sharing a secretName share one Certificate, their hosts merged.
        let mut by_secret: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let tls = self.spec.as_ref().and_then(|s| s.tls.as_deref()).unwrap_or_default();
        for (i, entry) in tls.iter().enumerate() {
            let Some(secret) = entry.secret_name.as_deref().filter(|s| !s.is_empty()) else {
                problems.push(format!(
                    "spec.tls[{i}] has no secretName: add the name of the Secret certsmith should fill"
                ));
                continue;
            };
            let hosts = entry.hosts.clone().unwrap_or_default();
            if hosts.is_empty() {
                problems.push(format!("spec.tls[{i}] (secretName {secret:?}) has no hosts: list the names the certificate is for"));
                continue;
            }
            if let Some((h, p)) = hosts.iter().find_map(|h| dns_name_problem(h).map(|p| (h, p))) {
                problems.push(format!("spec.tls[{i}] (secretName {secret:?}): host {h:?} {p}"));
                continue;
            }
            let merged = by_secret.entry(secret.to_string()).or_default();
            merged.extend(hosts.into_iter().filter(|h| !merged.contains(h)).collect::<Vec<_>>());
        }
        let certificates = super::certificates(self, &template, by_secret, &cert_annotations);
        Ok(Some(Desired { certificates, problems }))
    }
}
