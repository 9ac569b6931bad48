//! Signing a CertificateRequest through an ACME issuer: the Order it asks for, and what the
//! Order's state means for the request. Pure.

use crate::api::order::State;
use crate::api::{CertificateRequest, Order, OrderSpec};
use crate::pki::request::Requested;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

/// The ARI identifier (RFC 9773) of the certificate a renewal replaces, on its
/// CertificateRequest and Order.
pub const ANN_REPLACES: &str = "acme.certsmith.io/replaces";

/// The Order for `cr`, whose CSR says `requested`; named after the request and a hash of what
/// is ordered, so a changed request gets a new Order and a repeated step finds the same one.
pub fn order_for(
    cr: &CertificateRequest,
    requested: &Requested,
    send_duration: bool,
) -> Result<Order, String> {
    if !requested.uris.is_empty() || !requested.emails.is_empty() {
        return Err("the CSR requests URI or e-mail SANs, which ACME CAs do not issue".into());
    }
    let mut dns_names = requested.dns_names.clone();
    if let Some(cn) = requested.common_name.as_ref().filter(|c| !c.is_empty())
        && !dns_names.contains(cn)
        && !requested.ip_addresses.contains(cn)
    {
        return Err(format!(
            "the CSR's commonName {cn:?} is not among its DNS or IP SANs; ACME requires it to be"
        ));
    }
    dns_names.sort();
    dns_names.dedup();
    if dns_names.is_empty() && requested.ip_addresses.is_empty() {
        return Err("the CSR names no DNS name or IP address to order".into());
    }
    let spec = OrderSpec {
        request: cr.spec.request.clone(),
        issuer_ref: cr.spec.issuer_ref.clone(),
        common_name: requested.common_name.clone().filter(|c| !c.is_empty()),
        dns_names: Some(dns_names).filter(|d| !d.is_empty()),
        ip_addresses: Some(requested.ip_addresses.clone()).filter(|i| !i.is_empty()),
        duration: cr.spec.duration.clone().filter(|_| send_duration),
        replaces: cr.annotations().get(ANN_REPLACES).cloned(),
    };
    let hash = crate::naming::short_hash(&serde_json::to_string(&spec).unwrap_or_default());
    Ok(Order {
        metadata: ObjectMeta {
            name: Some(crate::naming::child(&cr.name_any(), &hash[..10], 253)),
            namespace: cr.namespace(),
            labels: Some(cr.labels().clone()).filter(|l| !l.is_empty()),
            annotations: Some(order_annotations(cr, &spec)).filter(|a| !a.is_empty()),
            owner_references: cr.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec,
        status: None,
    })
}

/// The request's solver overrides (applied by the Order to its Challenges), and `replaces`,
/// also kept where an older Order schema cannot prune the field.
fn order_annotations(
    cr: &CertificateRequest,
    spec: &OrderSpec,
) -> std::collections::BTreeMap<String, String> {
    let mut out = crate::api::acme::solver_overrides(cr.annotations());
    if let Some(r) = &spec.replaces {
        out.insert(ANN_REPLACES.to_string(), r.clone());
    }
    out
}

#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Still working; the message says on what.
    Pending(String),
    /// The PEM chain, leaf first.
    Issued(Vec<u8>),
    /// Issued, the chain in the Order as the API stores it (the cache left it out).
    IssuedStored,
    Failed(String),
}

/// How a request's Ready message begins while its Order works (cert-manager's words).
const WAITING: &str = "Waiting on certificate issuance from order ";

/// The request's Ready message while `order` works.
pub fn waiting_message(order: &Order) -> String {
    format!("{WAITING}{}/{}", order.namespace().unwrap_or_default(), order.name_any())
}

/// What the Order waits on, from a request's Ready message (`waiting_message: why`).
pub fn order_wait(message: &str) -> Option<&str> {
    let rest = message.strip_prefix(WAITING)?;
    rest.split_once(": ").map(|(_, why)| why)
}

/// What a pending request waits on, from its Ready message: what its Order waits on, or, for a
/// request signed here (SelfSigned, CA), the whole message.
pub fn pending_why(message: &str) -> Option<&str> {
    if message.starts_with(WAITING) {
        order_wait(message)
    } else {
        Some(message).filter(|m| !m.is_empty())
    }
}

/// What `order` means for its request, in cert-manager's words.
pub fn outcome(order: &Order) -> Outcome {
    let status = order.status.clone().unwrap_or_default();
    // One message for the whole wait (the state is the Order's to show): a write per Order step
    // would buy nothing.
    // What the Order waits on (an unreachable CA, a missing issuer) is said here too.
    let waiting = || match &status.reason {
        Some(why) => Outcome::Pending(format!("{}: {why}", waiting_message(order))),
        None => Outcome::Pending(waiting_message(order)),
    };
    match status.state {
        Some(State::Valid) => match status.certificate {
            Some(c) if crate::chains::left_out(&c) => Outcome::IssuedStored,
            Some(c) => Outcome::Issued(c.0),
            _ => waiting(),
        },
        Some(s) if s.is_failure() => Outcome::Failed(format!(
            "Failed to wait for order resource {:?} to become ready: order is in {:?} state: {}",
            order.name_any(),
            s.as_str(),
            status.reason.unwrap_or_default()
        )),
        _ => waiting(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CertificateRequestSpec;

    fn requested(cn: Option<&str>, dns: &[&str], ips: &[&str]) -> Requested {
        Requested {
            subject: String::new(),
            common_name: cn.map(str::to_string),
            dns_names: dns.iter().map(|s| s.to_string()).collect(),
            ip_addresses: ips.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn cr() -> CertificateRequest {
        let mut cr = CertificateRequest::new("web-1", CertificateRequestSpec::default());
        cr.metadata.namespace = Some("default".into());
        cr.spec.duration = Some("2160h".into());
        cr
    }

    #[test]
    fn orders_follow_the_csr_and_refuse_what_acme_cannot_issue() {
        let o = order_for(
            &cr(),
            &requested(Some("b.example"), &["b.example", "a.example"], &[]),
            false,
        )
        .unwrap();
        assert_eq!(
            o.spec.dns_names.as_deref(),
            Some(&["a.example".to_string(), "b.example".to_string()][..])
        );
        assert_eq!(o.spec.duration, None);
        assert!(o.name_any().starts_with("web-1-"));
        let again = order_for(
            &cr(),
            &requested(Some("b.example"), &["a.example", "b.example"], &[]),
            false,
        )
        .unwrap();
        assert_eq!(o.name_any(), again.name_any(), "the same request, the same Order");
        let timed = order_for(&cr(), &requested(None, &["a.example"], &[]), true).unwrap();
        assert_eq!(timed.spec.duration.as_deref(), Some("2160h"));
        assert!(
            order_for(&cr(), &requested(Some("c.example"), &["a.example"], &[]), false)
                .unwrap_err()
                .contains("commonName")
        );
        assert!(order_for(&cr(), &requested(None, &[], &[]), false).is_err());
        let mut with_uri = requested(None, &["a.example"], &[]);
        with_uri.uris.push("spiffe://x".into());
        assert!(order_for(&cr(), &with_uri, false).is_err());
        assert!(order_for(&cr(), &requested(None, &[], &["192.0.2.1"]), false).is_ok());
    }

    #[test]
    fn order_states_map_to_request_outcomes() {
        let mut o = order_for(&cr(), &requested(None, &["a.example"], &[]), false).unwrap();
        assert!(matches!(outcome(&o), Outcome::Pending(_)));
        let status = o.status.get_or_insert_default();
        status.reason = Some("the ACME server x could not be reached: refused".into());
        match outcome(&o) {
            Outcome::Pending(m) => assert_eq!(
                order_wait(&m),
                Some("the ACME server x could not be reached: refused"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(order_wait(&waiting_message(&o)), None);
        let status = o.status.get_or_insert_default();
        status.state = Some(State::Invalid);
        status.reason = Some("validating a.example: 403".into());
        match outcome(&o) {
            Outcome::Failed(m) => {
                assert!(m.contains("\"invalid\" state: validating a.example: 403"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        let status = o.status.get_or_insert_default();
        status.state = Some(State::Valid);
        status.certificate = Some(k8s_openapi::ByteString(b"PEM".to_vec()));
        assert_eq!(outcome(&o), Outcome::Issued(b"PEM".to_vec()));
        crate::chains::trim_order(&mut o);
        assert_eq!(outcome(&o), Outcome::IssuedStored, "the cache left the chain out");
    }
}
