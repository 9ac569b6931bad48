//! The built-in approver, as cert-manager's: undecided requests whose signer is among
//! `--approve-signer-names` (the chart's `approveSignerNames`; cert-manager's Issuer and
//! ClusterIssuer by default, every signer when empty) are approved, external issuers' too.
//! External approvers (approver-policy) take over when it is turned off. Pure.

use crate::api::CertificateRequest;
use crate::api::meta::ConditionStatus;

pub const REASON: &str = "cert-manager.io";
pub const MESSAGE: &str = "Certificate request has been approved by cert-manager.io";

/// cert-manager's approver's default signer names.
pub const DEFAULT_SIGNER_NAMES: &str = "issuers.cert-manager.io/*,clusterissuers.cert-manager.io/*";

/// The request's signer, as cert-manager names it (and the admission policy checks it):
/// `<resource>.<group>/<namespace>.<name>`, or `<resource>.<group>/<name>` for a cluster-scoped
/// issuer (a kind that starts with Cluster or ends in ClusterIssuer); the resource is the kind,
/// lower case, plus `s`.
pub fn signer_name(cr: &CertificateRequest) -> String {
    let r = &cr.spec.issuer_ref;
    let group = r.group.as_deref().filter(|g| !g.is_empty()).unwrap_or(crate::api::meta::GROUP);
    let kind = r.kind.as_deref().filter(|k| !k.is_empty()).unwrap_or("Issuer");
    // Cluster-scoped kinds are named so (ClusterIssuer, cloudflare's ClusterOriginIssuer).
    let scope = match kind.starts_with("Cluster") || kind.ends_with("ClusterIssuer") {
        true => String::new(),
        false => format!("{}.", cr.metadata.namespace.as_deref().unwrap_or_default()),
    };
    format!("{}s.{group}/{scope}{}", kind.to_lowercase(), r.name)
}

/// Whether the built-in approver approves `cr` now: undecided, not finished, and its signer
/// named in `names` (each a signer name, or `<resource>.<group>/*`; none given means any).
pub fn should_approve(cr: &CertificateRequest, names: &[String]) -> bool {
    let decided = cr.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| {
        matches!(c.type_.as_str(), "Approved" | "Denied") && c.status == ConditionStatus::True
    });
    let finished =
        cr.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| {
            c.type_ == "Ready" && matches!(c.reason.as_deref(), Some("Failed" | "Issued"))
        });
    let signer = signer_name(cr);
    let named = |n: &String| match n.strip_suffix("/*") {
        Some(signers) => signer.split_once('/').is_some_and(|(s, _)| s == signers),
        None => *n == signer,
    };
    let names: Vec<&String> = names.iter().filter(|n| !n.is_empty()).collect();
    !decided && !finished && (names.is_empty() || names.into_iter().any(named))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(issuer: &str, conditions: &str) -> CertificateRequest {
        serde_yaml::from_str(&format!(
            "apiVersion: cert-manager.io/v1\nkind: CertificateRequest\nmetadata: {{name: r}}\n\
             spec: {{request: '', issuerRef: {issuer}}}\nstatus: {{conditions: {conditions}}}"
        ))
        .unwrap()
    }

    #[test]
    fn approves_undecided_requests_whose_signer_is_named() {
        let defaults: Vec<String> = DEFAULT_SIGNER_NAMES.split(',').map(String::from).collect();
        let step = vec!["stepissuers.certmanager.step.sm/*".to_string()];
        let exact = vec!["clusterissuers.cert-manager.io/le".to_string()];
        let table: [(&str, &str, &[String], bool); 11] = [
            ("{name: le, kind: ClusterIssuer}", "[]", &defaults, true),
            ("{name: le}", "[]", &defaults, true),
            ("{name: le, kind: Issuer, group: cert-manager.io}", "[]", &defaults, true),
            ("{name: step, kind: StepIssuer, group: certmanager.step.sm}", "[]", &defaults, false),
            ("{name: step, kind: StepIssuer, group: certmanager.step.sm}", "[]", &step, true),
            ("{name: step, kind: StepIssuer, group: certmanager.step.sm}", "[]", &[], true),
            ("{name: le, kind: ClusterIssuer}", "[]", &exact, true),
            ("{name: other, kind: ClusterIssuer}", "[]", &exact, false),
            ("{name: le}", "[{type: Denied, status: 'True'}]", &defaults, false),
            ("{name: le}", "[{type: Approved, status: 'True'}]", &defaults, false),
            ("{name: le}", "[{type: Ready, status: 'False', reason: Failed}]", &defaults, false),
        ];
        for (issuer, conditions, names, want) in table {
            let got = should_approve(&request(issuer, conditions), names);
            assert_eq!(got, want, "{issuer} {conditions} {names:?}");
        }
    }

    #[test]
    fn signer_names_are_cert_managers() {
        let mut cr = request("{name: le}", "[]");
        cr.metadata.namespace = Some("shop".into());
        assert_eq!(signer_name(&cr), "issuers.cert-manager.io/shop.le");
        let cr =
            request("{name: pca, kind: AWSPCAClusterIssuer, group: awspca.cert-manager.io}", "[]");
        assert_eq!(signer_name(&cr), "awspcaclusterissuers.awspca.cert-manager.io/pca");
        let cr = request(
            "{name: cf, kind: ClusterOriginIssuer, group: cert-manager.k8s.cloudflare.com}",
            "[]",
        );
        assert_eq!(signer_name(&cr), "clusteroriginissuers.cert-manager.k8s.cloudflare.com/cf");
    }
}
