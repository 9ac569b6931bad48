//! The solver HTTPRoute (HTTP-01 step, Gateway API): one per Challenge, in the Challenge's
//! namespace, owned by it, attached to the solver's parents, routing exactly
//! `/.well-known/acme-challenge/<token>` on the challenge's host to the namespace's responder
//! Service — what cert-manager's `gatewayHTTPRoute` solver routes to its solver pod.

use super::{CHALLENGE_PATH, solver_service};
use crate::api::Challenge;
use crate::api::acme::AcmeChallengeSolverHttp01GatewayHttpRoute;
use crate::api::gateway::{
    HTTPBackendRef, HTTPPathMatch, HTTPRoute, HTTPRouteMatch, HTTPRouteRule, HTTPRouteSpec,
};
use crate::config::Config;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

/// The HTTPRoute for `challenge`, shaped by its solver (parents, labels). Pure.
pub fn build(
    cfg: &Config,
    challenge: &Challenge,
    solver: &AcmeChallengeSolverHttp01GatewayHttpRoute,
) -> HTTPRoute {
    let mut labels = solver.labels.clone().unwrap_or_default();
    labels.extend(super::solver_labels(challenge));
    let host = &challenge.spec.dns_name;
    HTTPRoute {
        metadata: ObjectMeta {
            name: Some(super::solver_name(challenge)),
            namespace: challenge.namespace(),
            labels: Some(labels),
            owner_references: challenge.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: HTTPRouteSpec {
            parent_refs: solver.parent_refs.clone().unwrap_or_default(),
            // An IP address cannot be an HTTPRoute hostname: without one the route matches
            // every Host the listener takes, and only this token's exact path is routed.
            hostnames: Some(host.clone())
                .filter(|h| h.parse::<std::net::IpAddr>().is_err())
                .into_iter()
                .collect(),
            rules: vec![HTTPRouteRule {
                matches: vec![HTTPRouteMatch {
                    path: Some(HTTPPathMatch {
                        type_: "Exact".into(),
                        value: format!("{CHALLENGE_PATH}{}", challenge.spec.token),
                    }),
                }],
                backend_refs: vec![HTTPBackendRef {
                    name: solver_service::NAME.into(),
                    port: Some(cfg.http01_service_port.into()),
                }],
            }],
        },
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(host: &str) -> Challenge {
        serde_yaml::from_str(&format!(
            "metadata: {{name: c, namespace: shop, uid: u-1}}\n\
             spec: {{url: u, authorizationURL: a, dnsName: '{host}', type: HTTP-01, token: tok-1, \
             key: k, solver: {{}}, issuerRef: {{name: le}}}}"
        ))
        .unwrap()
    }

    fn solver(yaml: &str) -> AcmeChallengeSolverHttp01GatewayHttpRoute {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn routes_the_exact_token_path_on_the_host_to_the_responder_service() {
        let cfg = crate::mock_api::config();
        let s = solver(
            "{parentRefs: [{name: gw, namespace: infra, sectionName: http}], labels: {team: a}}",
        );
        let route = build(&cfg, &challenge("app.example.com"), &s);
        let got = serde_json::to_value(&route).unwrap();
        let want = serde_json::json!({
            "parentRefs": [{"name": "gw", "namespace": "infra", "sectionName": "http"}],
            "hostnames": ["app.example.com"],
            "rules": [{
                "matches": [{"path": {"type": "Exact", "value": "/.well-known/acme-challenge/tok-1"}}],
                "backendRefs": [{"name": "certsmith-acme-http01", "port": cfg.http01_service_port}],
            }],
        });
        assert_eq!(got["spec"], want);
        assert_eq!(got["apiVersion"], "gateway.networking.k8s.io/v1");
        assert_eq!(got["kind"], "HTTPRoute");
        let meta = &route.metadata;
        assert_eq!(meta.namespace.as_deref(), Some("shop"));
        assert!(meta.name.as_deref().unwrap().starts_with("certsmith-http01-"));
        let labels = meta.labels.as_ref().unwrap();
        assert_eq!(labels["team"], "a");
        assert_eq!(labels[super::super::LABEL_SOLVER], "true");
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Challenge", "u-1"));
    }

    #[test]
    fn an_ip_address_gets_no_hostname_and_solver_labels_win() {
        let cfg = crate::mock_api::config();
        let s = solver("{labels: {acme.cert-manager.io/http01-solver: 'false'}}");
        let route = build(&cfg, &challenge("192.0.2.7"), &s);
        assert!(route.spec.hostnames.is_empty());
        assert!(route.spec.parent_refs.is_empty());
        assert_eq!(route.metadata.labels.unwrap()[super::super::LABEL_SOLVER], "true");
    }
}
