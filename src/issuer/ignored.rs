//! The issuer step's report of what an Issuer says that certsmith stores but cannot act on:
//! cert-manager fields that mean something only with cert-manager's solver pods, or that
//! certsmith does not implement yet. Issuance goes on; the fields are named in the Issuer's
//! `certsmith.io/IgnoredFields` condition and an Event, never silently dropped. Pure.

use crate::api::IssuerSpec;

/// The condition type: certsmith's own, beside cert-manager's `Ready`.
pub const CONDITION: &str = "certsmith.io/IgnoredFields";

/// Each field of `spec` that is set and has no effect, with why; empty when there is none.
pub fn ignored(spec: &IssuerSpec) -> Vec<String> {
    let mut found = Vec::new();
    let solvers = spec.acme.as_ref().and_then(|a| a.solvers.as_deref()).unwrap_or_default();
    for (i, solver) in solvers.iter().enumerate() {
        let path = format!("spec.acme.solvers[{i}]");
        let Some(http01) = solver.http01.as_ref() else { continue };
        if let Some(ingress) = &http01.ingress {
            let (pods, service) = (&ingress.pod_template, &ingress.service_type);
            solver_pods(&mut found, &format!("{path}.http01.ingress"), pods, service);
        }
        if let Some(route) = &http01.gateway_http_route {
            let (pods, service) = (&route.pod_template, &route.service_type);
            solver_pods(&mut found, &format!("{path}.http01.gatewayHTTPRoute"), pods, service);
        }
    }
    found
}

/// cert-manager's solver pod and its Service's type: certsmith has neither.
fn solver_pods(
    found: &mut Vec<String>,
    path: &str,
    pod_template: &Option<crate::api::meta::Opaque>,
    service_type: &Option<String>,
) {
    if pod_template.is_some() {
        found.push(format!(
            "{path}.podTemplate has no effect: certsmith runs no solver pods (its own responder \
             answers)"
        ));
    }
    if service_type.as_deref().is_some_and(|t| !t.is_empty() && t != "ClusterIP") {
        found.push(format!(
            "{path}.serviceType has no effect: the solver routes to the namespace's ClusterIP \
             Service certsmith-acme-http01"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(solvers: &str) -> IssuerSpec {
        serde_yaml::from_str(&format!(
            "acme: {{server: 'https://ca/dir', privateKeySecretRef: {{name: k}}, solvers: {solvers}}}"
        ))
        .unwrap()
    }

    #[test]
    fn each_field_without_effect_is_named_with_its_solver() {
        let table = [
            ("[{http01: {ingress: {class: nginx}}}]", vec![]),
            ("[{http01: {ingress: {class: nginx, serviceType: ClusterIP}}}]", vec![]),
            (
                "[{http01: {ingress: {}}}, {http01: {ingress: {serviceType: NodePort, \
                 podTemplate: {spec: {nodeSelector: {a: b}}}}}}]",
                vec![
                    "spec.acme.solvers[1].http01.ingress.podTemplate",
                    "spec.acme.solvers[1].http01.ingress.serviceType",
                ],
            ),
            // Honoured (cert-manager v1.21): the challenge step waits instead of self-checking.
            ("[{dns01: {rfc2136: {nameserver: 1.2.3.4}}, waitInsteadOfSelfCheck: 30s}]", vec![]),
        ];
        for (solvers, want) in table {
            let got = ignored(&spec(solvers));
            let fields: Vec<_> = got.iter().map(|m| m.split(' ').next().unwrap()).collect();
            assert_eq!(fields, want, "{solvers}");
            assert!(got.iter().all(|m| m.contains(" has no effect: ")), "{got:?}");
        }
    }
}
