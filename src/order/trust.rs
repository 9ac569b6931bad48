//! The Order step's gate: an Order is worked on only for a CertificateRequest certsmith acts
//! for. Anyone who may create Orders could otherwise have one ordered and finalized with no
//! CertificateRequest and no approval. Pure.

use crate::api::{CertificateRequest, Order};

/// Whether `order` is one certsmith places for `request` (the CertificateRequest that controls
/// it by UID, from the cache), or why not: the request is approved and not denied, and the Order
/// asks for what the request asks (its CSR) from the issuer it names. The CA compares the CSR
/// with the order's identifiers at finalize, so the CSR decides what can be issued.
pub fn acted_for(order: &Order, request: Option<&CertificateRequest>) -> Result<(), String> {
    let Some(cr) = request else {
        return Err("no CertificateRequest controls this Order".into());
    };
    let name = cr.metadata.name.as_deref().unwrap_or_default();
    if cr.denied() {
        return Err(format!("its CertificateRequest {name:?} is denied"));
    }
    if !cr.approved() {
        return Err(format!("its CertificateRequest {name:?} is not approved"));
    }
    if cr.spec.issuer_ref != order.spec.issuer_ref {
        return Err(format!("it names another issuer than its CertificateRequest {name:?}"));
    }
    if cr.spec.request != order.spec.request {
        return Err(format!("its CSR is not its CertificateRequest {name:?}'s"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(issuer: &str, csr: &str) -> Order {
        serde_yaml::from_str(&format!(
            "apiVersion: acme.cert-manager.io/v1\nkind: Order\nmetadata: {{name: o, namespace: n}}\n\
             spec: {{request: {csr}, issuerRef: {{name: {issuer}, kind: ClusterIssuer}}}}"
        ))
        .unwrap()
    }

    fn request(conditions: &str) -> CertificateRequest {
        serde_yaml::from_str(&format!(
            "apiVersion: cert-manager.io/v1\nkind: CertificateRequest\n\
             metadata: {{name: r, namespace: n}}\n\
             spec: {{request: Q1NS, issuerRef: {{name: le, kind: ClusterIssuer}}}}\n\
             status: {{conditions: [{conditions}]}}"
        ))
        .unwrap()
    }

    const APPROVED: &str = "{type: Approved, status: 'True'}";
    const DENIED: &str = "{type: Denied, status: 'True'}";

    #[test]
    fn only_an_approved_request_with_the_same_csr_and_issuer_has_its_order_placed() {
        let approved = request(APPROVED);
        let cases: &[(&str, Order, Option<&CertificateRequest>, Option<&str>)] = &[
            ("its own request", order("le", "Q1NS"), Some(&approved), None),
            ("no request", order("le", "Q1NS"), None, Some("no CertificateRequest controls")),
            ("unapproved", order("le", "Q1NS"), Some(&request("")), Some("is not approved")),
            ("denied", order("le", "Q1NS"), Some(&request(DENIED)), Some("is denied")),
            ("other issuer", order("other", "Q1NS"), Some(&approved), Some("another issuer")),
            ("other CSR", order("le", "T1RIRVI="), Some(&approved), Some("its CSR is not")),
        ];
        for (case, o, cr, want) in cases {
            let got = acted_for(o, *cr);
            match want {
                None => assert_eq!(got, Ok(()), "{case}"),
                Some(words) => {
                    let why = got.expect_err(case);
                    assert!(why.contains(words), "{case}: {why}");
                }
            }
        }
    }
}
