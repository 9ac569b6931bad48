//! Ingress → the Certificates it asks for: one per `spec.tls[]` secretName, named after it,
//! owned by the Ingress. Pure; the problems come back as messages for Events.

use super::annotations::{self, AnnotationError, DefaultIssuer};
use crate::api::{Certificate, CertificateSpec};
use crate::validation::names::dns_name_problem;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// Marks Certificates the shim made, and names the Ingress they came from.
pub const LABEL_INGRESS: &str = "certsmith.io/ingress-name";

#[derive(Debug, Default)]
pub struct Desired {
    pub certificates: Vec<Certificate>,
    /// `spec.tls[]` entries that give no Certificate, with why.
    pub problems: Vec<String>,
}

/// What `ingress` asks for: `Ok(None)` when it has no trigger annotation; `Err` when an
/// annotation is wrong (then nothing is to change until it is fixed).
pub fn desired(
    ingress: &Ingress,
    defaults: &DefaultIssuer,
) -> Result<Option<Desired>, AnnotationError> {
    let a = ingress.annotations();
    let Some(issuer_ref) = annotations::issuer_ref(a, defaults)? else { return Ok(None) };
    let mut template = CertificateSpec { issuer_ref, ..Default::default() };
    annotations::apply(&mut template, a)?;
    let cert_annotations = solver_overrides(ingress)?;

    let mut out = Desired::default();
    // Entries sharing a secretName share one Certificate, their hosts merged.
    let mut by_secret: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let tls = ingress.spec.as_ref().and_then(|s| s.tls.as_deref()).unwrap_or_default();
    for (i, entry) in tls.iter().enumerate() {
        let Some(secret) = entry.secret_name.as_deref().filter(|s| !s.is_empty()) else {
            out.problems.push(format!(
                "spec.tls[{i}] has no secretName: add the name of the Secret certsmith should fill"
            ));
            continue;
        };
        let hosts = entry.hosts.clone().unwrap_or_default();
        if hosts.is_empty() {
            out.problems.push(format!("spec.tls[{i}] (secretName {secret:?}) has no hosts: list the names the certificate is for"));
            continue;
        }
        if let Some((h, p)) = hosts.iter().find_map(|h| dns_name_problem(h).map(|p| (h, p))) {
            out.problems.push(format!("spec.tls[{i}] (secretName {secret:?}): host {h:?} {p}"));
            continue;
        }
        let merged = by_secret.entry(secret.to_string()).or_default();
        merged.extend(hosts.into_iter().filter(|h| !merged.contains(h)).collect::<Vec<_>>());
    }
    for (secret, hosts) in by_secret {
        let mut spec = template.clone();
        spec.secret_name = secret.clone();
        let mut names = hosts;
        names.extend(
            spec.dns_names
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(|n| !names.contains(n))
                .collect::<Vec<_>>(),
        );
        spec.dns_names = Some(names);
        out.certificates.push(Certificate {
            metadata: ObjectMeta {
                name: Some(secret),
                namespace: ingress.namespace(),
                labels: Some(BTreeMap::from([(LABEL_INGRESS.to_string(), ingress.name_any())])),
                annotations: Some(cert_annotations.clone()).filter(|a| !a.is_empty()),
                owner_references: ingress.controller_owner_ref(&()).map(|o| vec![o]),
                ..Default::default()
            },
            spec,
            status: None,
        });
    }
    Ok(Some(out))
}

/// The HTTP-01 annotations, turned into the overrides the issuance reads off the Certificate.
fn solver_overrides(ingress: &Ingress) -> Result<BTreeMap<String, String>, AnnotationError> {
    let a = ingress.annotations();
    let mut out = BTreeMap::new();
    match a.get(annotations::EDIT_IN_PLACE).map(String::as_str) {
        Some("true") => {
            out.insert(annotations::OVERRIDE_INGRESS_NAME.into(), ingress.name_any());
        }
        None | Some("false") => {}
        Some(other) => {
            return Err(AnnotationError {
                annotation: annotations::EDIT_IN_PLACE.into(),
                message: format!("{other:?} is not \"true\" or \"false\""),
            });
        }
    }
    if let Some(class) = a.get(annotations::HTTP01_CLASS) {
        out.insert(annotations::OVERRIDE_CLASS.into(), class.clone());
    }
    if let Some(class) = a.get(annotations::HTTP01_CLASS_NAME) {
        out.insert(annotations::OVERRIDE_CLASS_NAME.into(), class.clone());
    }
    Ok(out)
}
