//! The CertificateRequest step's request sequences, on the mocked API (`mock_api`): what is
//! read and written, in order, for a denied request, an approved SelfSigned one, one whose
//! issuer is missing or out of reach (single-namespace mode), and, under an external approver,
//! how the requester is judged.

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

#[tokio::test]
async fn in_one_namespace_a_cluster_issuer_is_said_to_be_out_of_reach() {
    let mut cr = request(approved(), &key());
    cr.spec.issuer_ref.kind = Some("ClusterIssuer".into());
    let reply = serde_json::to_value(&cr).unwrap();
    let (mut ctx, _, served) = context(now, vec![ok("PATCH", STATUS, reply)]);
    Arc::get_mut(&mut ctx).unwrap().config.single_namespace = Some("team".into());
    super::controller::reconcile(Arc::new(cr), ctx).await.unwrap();
    let calls = served.await.unwrap();
    let ready = &calls[0].body[1]["value"]["conditions"][1];
    assert_eq!(ready["reason"], json!("Pending"));
    assert_eq!(
        ready["message"],
        json!(
            "cannot get ClusterIssuer named \"own\" as cert-manager is scoped to a single \
             namespace (--namespace=team)"
        )
    );
}

/// A context whose built-in approver is off: an external approver decides.
fn external_approver(
    script: Vec<crate::mock_api::Step>,
) -> (Arc<crate::context::Context>, JoinHandle) {
    let (mut ctx, _, served) = context(now, script);
    let off = ["*", "-certificaterequests-approver"].map(String::from).to_vec();
    Arc::get_mut(&mut ctx).unwrap().config.controllers = off;
    (ctx, served)
}

type JoinHandle = tokio::task::JoinHandle<Vec<crate::mock_api::Call>>;

const DISCOVERY: &str = "/apis/admissionregistration.k8s.io/v1";

fn discovery(resources: &[&str]) -> serde_json::Value {
    let resources: Vec<_> = resources
        .iter()
        .map(|r| json!({"name": r, "singularName": "", "namespaced": false, "kind": "K", "verbs": ["get"]}))
        .collect();
    json!({"kind": "APIResourceList", "groupVersion": "admissionregistration.k8s.io/v1", "resources": resources})
}

#[tokio::test]
async fn under_an_external_approver_a_request_without_the_identity_policy_is_not_signed() {
    let mut cr = request(approved(), &key());
    cr.metadata.creation_timestamp = Some(time("2026-05-31T00:00:00Z"));
    let reply = serde_json::to_value(&cr).unwrap();
    let script = vec![
        ok("GET", DISCOVERY, discovery(&["validatingadmissionpolicies"])),
        ok("POST", &events("team"), event()),
        ok("PATCH", STATUS, reply),
    ];
    let (ctx, served) = external_approver(script);
    let action = super::controller::reconcile(Arc::new(cr.clone()), ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(60)), "looked at again");
    let calls = served.await.unwrap();
    let (event, status) = (&calls[1].body, &calls[2].body[1]["value"]);
    assert_eq!(
        (&event["type"], &event["reason"]),
        (&json!("Warning"), &json!("IdentityUnverified"))
    );
    let ready = &status["conditions"][1];
    assert_eq!((&ready["type"], &ready["reason"]), (&json!("Ready"), &json!("Pending")));
    let message = ready["message"].as_str().unwrap();
    assert!(message.starts_with("Not signing: approved by an external approver, but the API server serves no MutatingAdmissionPolicy"), "{message}");
    assert_eq!(event["note"], json!(message));
    // Said once: the same request again costs no request at all (what was found is kept).
    cr.status = serde_json::from_value(status.clone()).unwrap();
    let action = super::controller::reconcile(Arc::new(cr), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(60)));
}

#[tokio::test]
async fn under_an_external_approver_only_a_request_made_after_the_identity_policy_is_signed() {
    let policy = |kind: &str| {
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
               "metadata": {"name": "certsmith-certificaterequest-identity",
                            "creationTimestamp": "2026-05-01T00:00:00Z"},
               "spec": {"policyName": "certsmith-certificaterequest-identity"}})
    };
    let path = |plural: &str| format!("{DISCOVERY}/{plural}/certsmith-certificaterequest-identity");
    for (created, signed) in [("2026-05-01T00:00:05Z", false), ("2026-05-31T00:00:00Z", true)] {
        let mut cr = request(approved(), &key());
        cr.metadata.creation_timestamp = Some(time(created));
        let reply = serde_json::to_value(&cr).unwrap();
        let mut script = vec![
            ok(
                "GET",
                DISCOVERY,
                discovery(&["mutatingadmissionpolicies", "mutatingadmissionpolicybindings"]),
            ),
            ok("GET", &path("mutatingadmissionpolicies"), policy("MutatingAdmissionPolicy")),
            ok(
                "GET",
                &path("mutatingadmissionpolicybindings"),
                policy("MutatingAdmissionPolicyBinding"),
            ),
        ];
        if !signed {
            script.push(ok("POST", &events("team"), event()));
        }
        script.push(ok("PATCH", STATUS, reply));
        let (ctx, served) = external_approver(script);
        super::controller::reconcile(Arc::new(cr), ctx).await.unwrap();
        let calls = served.await.unwrap();
        let ready = &calls.last().unwrap().body[1]["value"]["conditions"][1];
        let message = ready["message"].as_str().unwrap();
        match signed {
            // On to signing: here, the issuer is looked for.
            true => assert_eq!(message, "Referenced Issuer \"own\" not found"),
            false => {
                assert!(message.contains("created before the MutatingAdmissionPolicy"), "{message}")
            }
        }
    }
}

fn time(at: &str) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at.parse().unwrap())
}

#[tokio::test]
async fn under_an_external_approver_a_request_seconds_old_is_judged_later_without_a_request() {
    let mut cr = request(approved(), &key());
    // Made 3 s before the clock: judged 10 s after it was made, at the next 5 s boundary.
    cr.metadata.creation_timestamp = Some(time("2026-05-31T23:59:57Z"));
    let (ctx, served) = external_approver(vec![]);
    let action = super::controller::reconcile(Arc::new(cr), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    assert!(served.await.unwrap().is_empty());
}
