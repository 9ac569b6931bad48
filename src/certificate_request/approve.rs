//! The built-in approver, as cert-manager's: requests for certsmith's own issuer kinds
//! (`cert-manager.io` Issuer and ClusterIssuer) are approved unless someone already decided.
//! External approvers (approver-policy) take over when it is turned off. Pure.

use crate::api::CertificateRequest;
use crate::api::meta::ConditionStatus;
use crate::issuer::referenced_kind;

pub const REASON: &str = "cert-manager.io";
pub const MESSAGE: &str = "Certificate request has been approved by cert-manager.io";

/// Whether the built-in approver approves `cr` now.
pub fn should_approve(cr: &CertificateRequest) -> bool {
    let decided = cr.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| {
        matches!(c.type_.as_str(), "Approved" | "Denied") && c.status == ConditionStatus::True
    });
    !decided && referenced_kind(&cr.spec.issuer_ref).is_some()
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
    fn approves_only_undecided_requests_for_certsmith_issuers() {
        let table = [
            ("{name: le, kind: ClusterIssuer}", "[]", true),
            ("{name: le}", "[]", true),
            ("{name: le, kind: Issuer, group: cert-manager.io}", "[]", true),
            ("{name: step, kind: StepIssuer, group: certmanager.step.sm}", "[]", false),
            ("{name: le}", "[{type: Denied, status: 'True'}]", false),
            ("{name: le}", "[{type: Approved, status: 'True'}]", false),
            ("{name: le}", "[{type: Ready, status: 'False'}]", true),
        ];
        for (issuer, conditions, want) in table {
            assert_eq!(should_approve(&request(issuer, conditions)), want, "{issuer} {conditions}");
        }
    }
}
