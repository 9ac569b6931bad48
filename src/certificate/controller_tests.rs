//! The Certificate step's request sequence for a first issuance, on the mocked API
//! (`mock_api`): the Secret looked for, the next key stored, one status write naming it and
//! its Events after it, then the request.

use crate::api::{Certificate, Issuer};
use crate::mock_api::{Step, cache, context, event, events, now, ok};
use kube::runtime::controller::Action;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn a_first_issuance_stores_its_key_names_it_once_then_requests() {
    let cert: Certificate = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "team", "uid": "c-1", "generation": 1,
                     "resourceVersion": "2"},
        "spec": {"secretName": "web-tls", "dnsNames": ["a.example.com"], "issuerRef": {"name": "own"},
                 "privateKey": {"algorithm": "ECDSA"}}
    }))
    .unwrap();
    let issuer: Issuer = serde_json::from_value(json!({
        "metadata": {"name": "own", "namespace": "team"}, "spec": {"selfSigned": {}}
    }))
    .unwrap();
    let secrets = "/api/v1/namespaces/team/secrets";
    let gone = json!({"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404});
    let key_secret = json!({"metadata": {"name": "web-tls-x7k2p", "namespace": "team"}});
    let request = json!({"metadata": {"name": "web-1", "namespace": "team"},
                         "spec": {"request": "", "issuerRef": {"name": "own"}}});
    let script = vec![
        Step { method: "GET", path: format!("{secrets}/web-tls"), status: 404, reply: gone },
        ok("POST", secrets, key_secret),
        ok(
            "PATCH",
            "/apis/cert-manager.io/v1/namespaces/team/certificates/web/status",
            serde_json::to_value(&cert).unwrap(),
        ),
        ok("POST", &events("team"), event()),
        ok("POST", &events("team"), event()),
        ok("POST", "/apis/cert-manager.io/v1/namespaces/team/certificaterequests", request),
        ok("POST", &events("team"), event()),
    ];
    let (ctx, mut caches, served) = context(now, script);
    cache(&mut caches.issuers, issuer);
    let action = super::controller::reconcile(Arc::new(cert), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(3600)));
    let calls = served.await.unwrap();
    let reasons: Vec<_> = [3, 4, 6].iter().map(|i| calls[*i].body["reason"].clone()).collect();
    assert_eq!(reasons, [json!("Issuing"), json!("Generated"), json!("Requested")]);
    let status = &calls[2].body[1]["value"];
    assert_eq!(status["nextPrivateKeySecretName"], json!("web-tls-x7k2p"));
    let issuing = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Issuing");
    assert_eq!(issuing.unwrap()["reason"], json!("DoesNotExist"));
    let made = &calls[5].body["metadata"];
    assert_eq!(
        made["annotations"]["cert-manager.io/private-key-secret-name"],
        json!("web-tls-x7k2p")
    );
    assert_eq!(made["name"], json!("web-1"));
}
