//! The solver Ingress: one per challenge, in the operator's namespace, routing exactly
//! `/.well-known/acme-challenge/<token>` on the challenge's host to the responder Service.

use super::CHALLENGE_PATH;
use crate::api::acme::AcmeChallengeSolverHttp01Ingress;
use crate::api::certificate::Http01Challenge;
use crate::config::Config;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta};
use std::collections::BTreeMap;

/// Every solver Ingress carries this label, so certsmith finds (and only ever deletes) its own.
pub const LABEL_SOLVER: &str = "certsmith.io/http01-solver";
/// The UID of the Certificate a solver Ingress serves.
pub const LABEL_CERTIFICATE_UID: &str = "certsmith.io/certificate-uid";

/// The Ingress for `challenge` of the Certificate with `cert_uid`, shaped by the issuer's solver.
pub fn build(
    cfg: &Config,
    cert_uid: &str,
    challenge: &Http01Challenge,
    solver: &AcmeChallengeSolverHttp01Ingress,
) -> Ingress {
    let template =
        solver.ingress_template.as_ref().and_then(|t| t.metadata.clone()).unwrap_or_default();
    let mut labels = template.labels.unwrap_or_default();
    labels.extend([
        (LABEL_SOLVER.to_string(), "true".to_string()),
        (LABEL_CERTIFICATE_UID.to_string(), cert_uid.to_string()),
        ("app.kubernetes.io/managed-by".to_string(), "certsmith".to_string()),
    ]);
    let mut annotations = template.annotations.unwrap_or_default();
    if let Some(class) = &solver.class {
        annotations.insert("kubernetes.io/ingress.class".into(), class.clone());
    }
    Ingress {
        metadata: ObjectMeta {
            name: Some(name(cert_uid, challenge)),
            namespace: Some(cfg.namespace.clone()),
            labels: Some(labels),
            annotations: Some(annotations).filter(|a: &BTreeMap<_, _>| !a.is_empty()),
            ..Default::default()
        },
        spec: Some(IngressSpec {
            ingress_class_name: solver.ingress_class_name.clone(),
            rules: Some(vec![IngressRule {
                host: Some(challenge.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(format!("{CHALLENGE_PATH}{}", challenge.token)),
                        path_type: "Exact".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: cfg.http01_service.clone(),
                                port: Some(ServiceBackendPort {
                                    number: Some(cfg.http01_service_port.into()),
                                    name: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// `certsmith-http01-<hash>`: stable for a Certificate, host and token, so presenting the same
/// challenge twice (after a restart) applies the same object.
pub fn name(cert_uid: &str, challenge: &Http01Challenge) -> String {
    let input = format!("{cert_uid}/{}/{}", challenge.host, challenge.token);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
    let hex: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("certsmith-http01-{hex}")
}

pub async fn apply(client: &kube::Client, ingress: &Ingress) -> Result<(), kube::Error> {
    let api: Api<Ingress> =
        Api::namespaced(client.clone(), ingress.metadata.namespace.as_deref().unwrap_or_default());
    crate::ssa::apply(&api, ingress, crate::FIELD_MANAGER).await?;
    Ok(())
}

/// Deletes every solver Ingress of the Certificate `cert_uid`; certsmith's label selects only
/// its own Ingresses, never a user's.
pub async fn delete_all(
    client: &kube::Client,
    cfg: &Config,
    cert_uid: &str,
) -> Result<(), kube::Error> {
    let api: Api<Ingress> = Api::namespaced(client.clone(), &cfg.namespace);
    let selector = format!("{LABEL_SOLVER}=true,{LABEL_CERTIFICATE_UID}={cert_uid}");
    api.delete_collection(&DeleteParams::background(), &ListParams::default().labels(&selector))
        .await?;
    Ok(())
}
