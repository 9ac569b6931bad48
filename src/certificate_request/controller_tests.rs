//! The CertificateRequest step's request sequences, on the mocked API (`mock_api`): what is
//! read and written, in order, for a denied request, an approved SelfSigned one, and one whose
//! issuer is missing.

use crate::api::{CertificateRequest, Issuer};
use crate::mock_api::{cache, context, event, events, now, ok};
use kube::runtime::controller::Action;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const STATUS: &str = "/apis/cert-manager.io/v1/namespaces/team/certificaterequests/web-1/status";

/// An approved request for `a.example.com` signed with `key`, naming its key Secret.
fn request(conditions: serde_json::Value, key: &rcgen::KeyPair) -> CertificateRequest {
    let spec: crate::api::CertificateSpec = serde_json::from_value(json!({
        "secretName": "web-tls", "issuerRef": {"name": "own"}, "dnsNames": ["a.example.com"],
        "commonName": "a.example.com"
    }))
    .unwrap();
    let csr = crate::pki::csr::build(&spec, key, crate::pki::csr::Sans::AsWritten).unwrap();
    let pem = crate::pki::request::to_pem(&csr);
    serde_json::from_value(json!({
        "metadata": {"name": "web-1", "namespace": "team", "resourceVersion": "7",
                     "annotations": {"cert-manager.io/private-key-secret-name": "web-key"}},
        "spec": {"request": base64(pem.as_bytes()), "issuerRef": {"name": "own"}},
        "status": {"conditions": conditions}
    }))
    .unwrap()
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn key() -> rcgen::KeyPair {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

fn approved() -> serde_json::Value {
    json!([{"type": "Approved", "status": "True", "reason": "cert-manager.io", "message": "ok"}])
}

#[tokio::test]
async fn a_denied_request_is_failed_once_with_an_event() {
    let denied = json!([{"type": "Denied", "status": "True", "reason": "policy", "message": "no"}]);
    let cr = request(denied, &key());
    let reply = serde_json::to_value(&cr).unwrap();
    let (ctx, _, served) =
        context(now, vec![ok("PATCH", STATUS, reply), ok("POST", &events("team"), event())]);
    let action = super::controller::reconcile(Arc::new(cr), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = served.await.unwrap();
    let patch = &calls[0].body;
    assert_eq!(patch[0], json!({"op": "test", "path": "/metadata/resourceVersion", "value": "7"}));
    let ready = &patch[1]["value"]["conditions"][1];
    assert_eq!(
        (&ready["type"], &ready["status"], &ready["reason"]),
        (&json!("Ready"), &json!("False"), &json!("Denied"))
    );
    assert_eq!(patch[1]["value"]["failureTime"], json!("2026-06-01T00:00:00Z"));
    assert_eq!(calls[1].body["reason"], json!("Denied"));
    assert_eq!(calls[1].body["type"], json!("Warning"));
}

#[tokio::test]
async fn a_self_signed_request_reads_its_key_then_writes_the_chain() {
    let key = key();
    let cr = request(approved(), &key);
    let issuer: Issuer = serde_json::from_value(json!({
        "metadata": {"name": "own", "namespace": "team"}, "spec": {"selfSigned": {}}
    }))
    .unwrap();
    let pem = crate::pki::key::to_pem(&key, None).unwrap();
    let secret = json!({"metadata": {"name": "web-key", "namespace": "team"},
                        "data": {"tls.key": base64(pem.as_bytes())}});
    let reply = serde_json::to_value(&cr).unwrap();
    let script = vec![
        ok("GET", "/api/v1/namespaces/team/secrets/web-key", secret),
        ok("PATCH", STATUS, reply),
        ok("POST", &events("team"), event()),
    ];
    let (ctx, mut caches, served) = context(now, script);
    cache(&mut caches.issuers, issuer);
    let action = super::controller::reconcile(Arc::new(cr), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = served.await.unwrap();
    let status = &calls[1].body[1]["value"];
    let chain = status["certificate"].as_str().expect("the chain is written");
    let chain = crate::pki::inspect::parse_chain(
        &String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, chain).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(chain.matches_key(&key), "signed by the request's own key");
    assert_eq!(status["conditions"][1]["reason"], json!("Issued"));
    assert_eq!(calls[2].body["reason"], json!("CertificateIssued"));
}

#[tokio::test]
async fn a_missing_issuer_is_waited_for_in_one_write() {
    let cr = request(approved(), &key());
    let reply = serde_json::to_value(&cr).unwrap();
    let (ctx, _, served) = context(now, vec![ok("PATCH", STATUS, reply)]);
    let action = super::controller::reconcile(Arc::new(cr), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    let calls = served.await.unwrap();
    let ready = &calls[0].body[1]["value"]["conditions"][1];
    assert_eq!(ready["reason"], json!("Pending"));
    assert_eq!(ready["message"], json!("Referenced Issuer \"own\" not found"));
}
