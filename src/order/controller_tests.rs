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
        "metadata": {"name": "web-1-abc", "namespace": "team", "uid": "o-1", "resourceVersion": "3"},
        "spec": {"request": "", "issuerRef": {"name": "le"}, "dnsNames": ["a.example.com"]}
    }))
    .unwrap()
}

#[tokio::test]
async fn an_order_waits_for_its_missing_issuer_in_one_write() {
    let reply = serde_json::to_value(order()).unwrap();
    let (ctx, _, served) = context(now, vec![ok("PATCH", ORDER, reply)]);
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
    let action = super::controller::reconcile(Arc::new(order()), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = served.await.unwrap();
    let status = &calls[0].body[1]["value"];
    assert_eq!(status["state"], json!("errored"));
    assert_eq!(status["reason"], json!("the issuer is not an ACME issuer"));
    assert_eq!(status["failureTime"], json!("2026-06-01T00:00:00Z"));
    assert_eq!(calls[1].body["note"], json!("Order errored: the issuer is not an ACME issuer"));
}
