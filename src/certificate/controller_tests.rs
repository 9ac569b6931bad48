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

/// `certsmith renew` (or cmctl's) whose issuance stored its certificate but lost the status
/// write that ends it (a conflict): the trigger is still on Issuing. The next reconcile
/// finishes it from the Secret (one status write, revision 2, not issuing) instead of making
/// a new key and a new request (with an ACME issuer, a second order).
#[tokio::test]
async fn a_manual_renewal_whose_status_write_was_lost_is_finished_not_issued_again() {
    use crate::certificate::secret::tls_secret;
    use crate::pki::inspect::parse_chain;
    use base64::Engine as _;
    let mut cert: Certificate = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "team", "uid": "c-1", "generation": 1,
                     "resourceVersion": "7"},
        "spec": {"secretName": "web-tls", "dnsNames": ["a.example.com"], "issuerRef": {"name": "own"},
                 "privateKey": {"algorithm": "ECDSA"}},
        "status": {"revision": 1, "notAfter": "2026-05-01T00:00:00Z",
                   "conditions": [{"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
                                   "message": "Re-issuance manually requested"},
                                  {"type": "Ready", "status": "True", "reason": "Ready"}]}
    }))
    .unwrap();
    let issuer: Issuer = serde_json::from_value(json!({
        "metadata": {"name": "own", "namespace": "team"}, "spec": {"selfSigned": {}}
    }))
    .unwrap();
    // What revision 2's request was signed with, and the Secret that holds it.
    let key = crate::pki::key::KeySpec::Ecdsa(256).generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2026, 5, 31);
    params.not_after = rcgen::date_time_ymd(2026, 8, 29);
    let chain = params.self_signed(&key).unwrap().pem();
    let issued = parse_chain(&chain).unwrap();
    let pem = crate::pki::key::to_pem(&key, None).unwrap();
    cert.metadata.uid = Some("c-1".into());
    let secret = tls_secret(&cert, &chain, &pem, &issued, None);
    let b64 = base64::engine::general_purpose::STANDARD.encode(chain.as_bytes());
    let request: crate::api::CertificateRequest = serde_json::from_value(json!({
        "metadata": {"name": "web-2", "namespace": "team",
                     "annotations": {"cert-manager.io/certificate-revision": "2"},
                     "ownerReferences": [{"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                                          "name": "web", "uid": "c-1", "controller": true}]},
        "spec": {"request": "", "issuerRef": {"name": "own"}},
        "status": {"certificate": b64,
                   "conditions": [{"type": "Approved", "status": "True"},
                                  {"type": "Ready", "status": "True", "reason": "Issued"}]}
    }))
    .unwrap();
    let secrets = "/api/v1/namespaces/team/secrets";
    let script = vec![
        // The cached Secret is newer than the status: read.
        ok("GET", &format!("{secrets}/web-tls"), serde_json::to_value(&secret).unwrap()),
        ok(
            "PATCH",
            "/apis/cert-manager.io/v1/namespaces/team/certificates/web/status",
            serde_json::to_value(&cert).unwrap(),
        ),
    ];
    let (ctx, mut caches, served) = context(now, script);
    cache(&mut caches.issuers, issuer);
    cache(&mut caches.requests, request);
    super::controller::reconcile(Arc::new(cert), ctx).await.unwrap();
    let calls = served.await.unwrap();
    assert_eq!(calls.len(), 2, "no new key, no new request: {calls:?}");
    let status = &calls[1].body[1]["value"];
    assert_eq!(status["revision"], json!(2));
    let types: Vec<_> =
        status["conditions"].as_array().unwrap().iter().map(|c| c["type"].clone()).collect();
    assert_eq!(types, [json!("Ready")], "no longer issuing");
}

/// cert-manager's single-namespace mode: a Certificate naming a ClusterIssuer is told why it
/// will not be issued (cert-manager's words), once, and nothing is requested, even with the
/// ClusterIssuer in the cache.
#[tokio::test]
async fn in_one_namespace_a_cluster_issuer_is_refused_on_the_certificate() {
    use crate::api::ClusterIssuer;
    let cert: Certificate = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "team", "uid": "c-1", "generation": 1},
        "spec": {"secretName": "web-tls", "dnsNames": ["a.example.com"],
                 "issuerRef": {"name": "le", "kind": "ClusterIssuer"}}
    }))
    .unwrap();
    let issuer: ClusterIssuer =
        serde_json::from_value(json!({"metadata": {"name": "le"}, "spec": {"selfSigned": {}}}))
            .unwrap();
    let script = vec![
        ok(
            "PATCH",
            "/apis/cert-manager.io/v1/namespaces/team/certificates/web/status",
            serde_json::to_value(&cert).unwrap(),
        ),
        ok("POST", &events("team"), event()),
    ];
    let mut config = crate::mock_api::config();
    config.single_namespace = Some("team".into());
    let (ctx, mut caches, served) = crate::mock_api::context_with(config, now, script);
    cache(&mut caches.cluster_issuers, issuer);
    let action = super::controller::reconcile(Arc::new(cert), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(3600)));
    let calls = served.await.unwrap();
    let words = "cannot get ClusterIssuer named \"le\" as cert-manager is scoped to a single \
                 namespace (--namespace=team)";
    let status = calls[0].body.to_string();
    assert!(status.contains("IssuerNotFound") && status.contains(&words.replace('"', "\\\"")));
    assert_eq!(calls[1].body["reason"], json!("IssuerNotFound"));
    assert_eq!(calls[1].body["note"], json!(words));
}
