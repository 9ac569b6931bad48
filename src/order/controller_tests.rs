//! The Order step's request sequences, on the mocked API (`mock_api`), where no CA is asked:
//! an issuer missing, or not an ACME issuer.

use crate::api::{Issuer, Order};
use crate::mock_api::{cache, context, event, events, now, ok};
use kube::runtime::controller::Action;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const ORDER: &str = "/apis/acme.cert-manager.io/v1/namespaces/team/orders/web-1-abc/status";

fn order() -> Order {
    serde_json::from_value(json!({
        "metadata": {"name": "web-1-abc", "namespace": "team", "uid": "o-1", "resourceVersion": "3",
                     "ownerReferences": [{"apiVersion": "cert-manager.io/v1", "uid": "r-1",
                         "kind": "CertificateRequest", "name": "web-1", "controller": true}]},
        "spec": {"request": *CSR, "issuerRef": {"name": "le"}, "dnsNames": ["a.example.com"],
                 "commonName": "a.example.com"}
    }))
    .unwrap()
}

/// The CSR of the request and its Order.
static CSR: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::mock_api::csr(&["a.example.com"]));

/// The approved request the Order is placed for.
fn request() -> crate::api::CertificateRequest {
    serde_json::from_value(json!({
        "metadata": {"name": "web-1", "namespace": "team", "uid": "r-1"},
        "spec": {"request": *CSR, "issuerRef": {"name": "le"}},
        "status": {"conditions": [{"type": "Approved", "status": "True"}]}
    }))
    .unwrap()
}

#[tokio::test]
async fn an_order_no_approved_request_controls_is_left_untouched_with_an_event() {
    let (ctx, _, served) = context(now, vec![ok("POST", &events("team"), event())]);
    let action = super::controller::reconcile(Arc::new(order()), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = served.await.unwrap();
    assert_eq!(calls.len(), 1, "only the Event: {calls:?}");
    assert_eq!(calls[0].body["reason"], json!("NotOwnedByRequest"));
    let note = calls[0].body["note"].as_str().unwrap();
    assert!(note.contains("no CertificateRequest controls this Order"), "{note}");
    // A young one is looked at again soon, quietly: its request may reach the cache later.
    let mut young = order();
    young.metadata.creation_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
    let (ctx, _, served) = context(now, vec![]);
    let action = super::controller::reconcile(Arc::new(young), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(5)));
    assert!(served.await.unwrap().is_empty());
}

#[tokio::test]
async fn an_order_waits_for_its_missing_issuer_in_one_write() {
    let reply = serde_json::to_value(order()).unwrap();
    let (ctx, mut caches, served) = context(now, vec![ok("PATCH", ORDER, reply)]);
    cache(&mut caches.requests, request());
    let action = super::controller::reconcile(Arc::new(order()), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    let calls = served.await.unwrap();
    assert_eq!(calls[0].body[1]["value"], json!({"reason": "Referenced issuer \"le\" not found"}));
}

#[tokio::test]
async fn an_order_of_an_issuer_that_is_not_acme_ends_errored() {
    let issuer: Issuer = serde_json::from_value(json!({
        "metadata": {"name": "le", "namespace": "team"}, "spec": {"selfSigned": {}}
    }))
    .unwrap();
    let reply = serde_json::to_value(order()).unwrap();
    let (ctx, mut caches, served) =
        context(now, vec![ok("PATCH", ORDER, reply), ok("POST", &events("team"), event())]);
    cache(&mut caches.issuers, issuer);
    cache(&mut caches.requests, request());
    let action = super::controller::reconcile(Arc::new(order()), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = served.await.unwrap();
    let status = &calls[0].body[1]["value"];
    assert_eq!(status["state"], json!("errored"));
    assert_eq!(status["reason"], json!("the issuer is not an ACME issuer"));
    assert_eq!(status["failureTime"], json!("2026-06-01T00:00:00Z"));
    assert_eq!(calls[1].body["note"], json!("Order errored: the issuer is not an ACME issuer"));
}

#[tokio::test]
async fn an_order_from_before_the_upgrade_takes_its_certificates_overrides() {
    use crate::api::acme::{OVERRIDE_CLASS, OVERRIDE_INGRESS_NAME};
    use crate::api::{Certificate, CertificateRequest};
    let cert: Certificate = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "team", "uid": "c-1",
                     "annotations": {(OVERRIDE_INGRESS_NAME): "web", "team.example/owner": "x"}},
        "spec": {"secretName": "web-tls", "issuerRef": {"name": "le"}}
    }))
    .unwrap();
    let owned = |kind: &str, name: &str, uid: &str| {
        json!([{"apiVersion": "cert-manager.io/v1", "kind": kind, "name": name, "uid": uid,
                "controller": true}])
    };
    let cr: CertificateRequest = serde_json::from_value(json!({
        "metadata": {"name": "web-1", "namespace": "team", "uid": "r-1",
                     "ownerReferences": owned("Certificate", "web", "c-1")},
        "spec": {"request": "", "issuerRef": {"name": "le"}}
    }))
    .unwrap();
    let (ctx, mut caches, _) = context(now, vec![]);
    cache(&mut caches.certificates, cert);
    cache(&mut caches.requests, cr);
    // Made by the previous certsmith: no overrides of its own; its Certificate's are used.
    let mut old = order();
    old.metadata.owner_references =
        Some(serde_json::from_value(owned("CertificateRequest", "web-1", "r-1")).unwrap());
    let want =
        std::collections::BTreeMap::from([(OVERRIDE_INGRESS_NAME.to_string(), "web".to_string())]);
    assert_eq!(super::load::overrides(&ctx, &old), want);
    // One that carries them (this version's, or cert-manager's) keeps its own.
    let mut new = old.clone();
    new.metadata.annotations = Some([(OVERRIDE_CLASS.to_string(), "nginx".to_string())].into());
    let own = std::collections::BTreeMap::from([(OVERRIDE_CLASS.to_string(), "nginx".to_string())]);
    assert_eq!(super::load::overrides(&ctx, &new), own);
    // A request owned by another Certificate of that name (another uid) gives nothing.
    let mut stranger = old.clone();
    stranger.metadata.owner_references =
        Some(serde_json::from_value(owned("CertificateRequest", "web-1", "r-2")).unwrap());
    assert!(super::load::overrides(&ctx, &stranger).is_empty());
}
