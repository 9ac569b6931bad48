//! The solver Ingress: one per HTTP-01 Challenge, in the Challenge's namespace (as cert-manager
//! puts it, so namespace-scoped ingress controllers and host policies see it), owned by the
//! Challenge, routing exactly `/.well-known/acme-challenge/<token>` on the challenge's host to
//! the responder Service of that namespace.

use super::{CHALLENGE_PATH, solver_service};
use crate::api::Challenge;
use crate::api::acme::AcmeChallengeSolverHttp01Ingress;
use crate::config::Config;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// The path rule that sends the CA to the responder Service.
pub fn rule(cfg: &Config, challenge: &Challenge) -> IngressRule {
    IngressRule {
        // An IP address cannot be an Ingress host (the API server refuses it): a rule without
        // host matches every Host, and only this one token's exact path goes to the responder,
        // which answers it for that address alone.
        host: Some(challenge.spec.dns_name.clone())
            .filter(|name| name.parse::<std::net::IpAddr>().is_err()),
        http: Some(HTTPIngressRuleValue {
            paths: vec![HTTPIngressPath {
                path: Some(format!("{CHALLENGE_PATH}{}", challenge.spec.token)),
                path_type: "Exact".into(),
                backend: IngressBackend {
                    service: Some(IngressServiceBackend {
                        name: solver_service::NAME.into(),
                        port: Some(ServiceBackendPort {
                            number: Some(cfg.http01_service_port.into()),
                            name: None,
                        }),
                    }),
                    resource: None,
                },
            }],
        }),
    }
}

/// The Ingress for `challenge`, shaped by its solver (class, template).
pub fn build(
    cfg: &Config,
    challenge: &Challenge,
    solver: &AcmeChallengeSolverHttp01Ingress,
) -> Ingress {
    let template =
        solver.ingress_template.as_ref().and_then(|t| t.metadata.clone()).unwrap_or_default();
    let mut labels = template.labels.unwrap_or_default();
    labels.extend(super::solver_labels(challenge));
    let mut annotations = template.annotations.unwrap_or_default();
    if let Some(class) = &solver.class {
        annotations.insert("kubernetes.io/ingress.class".into(), class.clone());
    }
    Ingress {
        metadata: ObjectMeta {
            name: Some(super::solver_name(challenge)),
            namespace: challenge.namespace(),
            labels: Some(labels),
            annotations: Some(annotations).filter(|a: &BTreeMap<_, _>| !a.is_empty()),
            owner_references: challenge.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(IngressSpec {
            ingress_class_name: solver.ingress_class_name.clone(),
            rules: Some(vec![rule(cfg, challenge)]),
            ..Default::default()
        }),
        status: None,
    }
}
