//! The Challenge step's test fixtures: an approved request, its Order with one recorded
//! authorization, the issuer, and the Challenges the Order makes with that issuer's solvers.

use crate::api::acme::AcmeChallengeSolver;
use crate::api::{CertificateRequest, Challenge, Issuer, Order};
use serde_json::json;

/// The CSR of the request and its Order.
static CSR: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::mock_api::csr(&["a.example.com"]));

/// The thumbprint the fixtures' keys are made with.
pub const THUMBPRINT: &str = "thumb";

/// The Order `web-1-abc` of namespace `team`, placed for [`request`], with an authorization for
/// `a.example.com` offering HTTP-01 and DNS-01.
pub fn order() -> Order {
    serde_json::from_value(json!({
        "metadata": {"name": "web-1-abc", "namespace": "team", "uid": "o-1",
                     "ownerReferences": [{"apiVersion": "cert-manager.io/v1", "uid": "r-1",
                         "kind": "CertificateRequest", "name": "web-1", "controller": true}]},
        "spec": {"request": *CSR, "issuerRef": {"name": "le"}, "commonName": "a.example.com",
                 "dnsNames": ["a.example.com"]},
        "status": {"authorizations": [{
            "url": "https://ca/authz/1", "identifier": "a.example.com", "initialState": "pending",
            "challenges": [{"type": "http-01", "url": "https://ca/chall/1", "token": "tok"},
                           {"type": "dns-01", "url": "https://ca/chall/2", "token": "tok"}]}]}
    }))
    .unwrap()
}

/// The approved CertificateRequest `web-1` the Order is placed for.
pub fn request() -> CertificateRequest {
    serde_json::from_value(json!({
        "metadata": {"name": "web-1", "namespace": "team", "uid": "r-1"},
        "spec": {"request": *CSR, "issuerRef": {"name": "le"}},
        "status": {"conditions": [{"type": "Approved", "status": "True"}]}
    }))
    .unwrap()
}

pub fn solvers(yaml: &str) -> Vec<AcmeChallengeSolver> {
    serde_yaml::from_str(yaml).unwrap()
}

/// The ACME Issuer `team/le` with `solvers`.
pub fn issuer(solvers: &str) -> Issuer {
    let solvers: serde_json::Value = serde_yaml::from_str(solvers).unwrap();
    serde_json::from_value(json!({
        "metadata": {"name": "le", "namespace": "team"},
        "spec": {"acme": {"server": "https://ca/dir", "privateKeySecretRef": {"name": "le-key"},
                          "solvers": solvers}}
    }))
    .unwrap()
}

/// The Challenge [`order`] makes with `solvers`, as the API stores it (a UID, a version).
pub fn planned(solvers_yaml: &str) -> Challenge {
    let overrides = Default::default();
    let order = order();
    let authorizations = order.status.as_ref().unwrap().authorizations.clone().unwrap();
    let made = crate::order::plan::challenges(
        &order,
        &overrides,
        &authorizations,
        &solvers(solvers_yaml),
        THUMBPRINT,
        None,
    );
    let mut ch = made.unwrap().remove(0);
    ch.metadata.uid = Some("c-1".into());
    ch.metadata.resource_version = Some("9".into());
    ch.metadata.generation = Some(1);
    ch
}
