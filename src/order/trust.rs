//! The Order step's gate: an Order is worked on only for a CertificateRequest certsmith acts
//! for. Anyone who may create Orders could otherwise have one ordered and finalized with no
//! CertificateRequest and no approval. Pure.

use crate::api::{CertificateRequest, Order};

/// Whether `order` is one certsmith places for `request` (the CertificateRequest that controls
/// it by UID, from the cache), or why not: the request is approved and not denied, and the Order
/// asks for what the request asks (its CSR, and exactly the names in it) from the issuer it
/// names. The names matter on their own: challenges are presented for them before the CA ever
/// sees the CSR, and an authorization won stays with the account.
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
    let unreadable = |e: String| format!("its CertificateRequest {name:?}'s CSR: {e}");
    let requested =
        crate::pki::request::read(&cr.spec.request.0).map_err(|e| unreadable(e.to_string()))?;
    let wanted =
        crate::certificate_request::sign::order_for(cr, &requested, false).map_err(unreadable)?;
    if names(&wanted.spec) != names(&order.spec) {
        return Err(format!("it orders other names than its CertificateRequest {name:?}'s CSR"));
    }
    Ok(())
}

/// What an Order asks the CA to authorize, in a comparable form.
fn names(spec: &crate::api::OrderSpec) -> (Vec<String>, Vec<String>, String) {
    let sorted = |v: &Option<Vec<String>>| {
        let mut v = v.clone().unwrap_or_default();
        v.sort();
        v.dedup();
        v
    };
    let cn = spec.common_name.clone().unwrap_or_default();
    (sorted(&spec.dns_names), sorted(&spec.ip_addresses), cn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(issuer: &str, csr: &str, names: &[&str]) -> Order {
        serde_json::from_value(json!({
            "metadata": {"name": "o", "namespace": "n"},
            "spec": {"request": csr, "issuerRef": {"name": issuer, "kind": "ClusterIssuer"},
                     "commonName": "a.example.com", "dnsNames": names}
        }))
        .unwrap()
    }

    fn request(csr: &str, conditions: serde_json::Value) -> CertificateRequest {
        serde_json::from_value(json!({
            "metadata": {"name": "r", "namespace": "n"},
            "spec": {"request": csr, "issuerRef": {"name": "le", "kind": "ClusterIssuer"}},
            "status": {"conditions": conditions}
        }))
        .unwrap()
    }

    #[test]
    fn only_an_approved_request_with_the_same_csr_names_and_issuer_has_its_order_placed() {
        let csr = &crate::mock_api::csr(&["a.example.com", "b.example.com"]);
        let other = &crate::mock_api::csr(&["a.example.com"]);
        let approved = request(csr, json!([{"type": "Approved", "status": "True"}]));
        let denied = request(csr, json!([{"type": "Denied", "status": "True"}]));
        let unapproved = request(csr, json!([]));
        let (ab, ba) = (["a.example.com", "b.example.com"], ["b.example.com", "a.example.com"]);
        let cases: &[(&str, Order, Option<&CertificateRequest>, Option<&str>)] = &[
            ("its own request", order("le", csr, &ab), Some(&approved), None),
            ("names in another order", order("le", csr, &ba), Some(&approved), None),
            ("no request", order("le", csr, &ab), None, Some("no CertificateRequest controls")),
            ("unapproved", order("le", csr, &ab), Some(&unapproved), Some("is not approved")),
            ("denied", order("le", csr, &ab), Some(&denied), Some("is denied")),
            ("other issuer", order("other", csr, &ab), Some(&approved), Some("another issuer")),
            ("other CSR", order("le", other, &ab), Some(&approved), Some("its CSR is not")),
            (
                "another name to authorize",
                order("le", csr, &["a.example.com", "bank.example"]),
                Some(&approved),
                Some("other names than"),
            ),
            (
                "a name left out",
                order("le", csr, &["a.example.com"]),
                Some(&approved),
                Some("other names than"),
            ),
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
