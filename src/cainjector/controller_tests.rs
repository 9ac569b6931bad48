//! cainjector, the reconcile on the mocked API: which reads a source takes, that only the
//! caBundle fields are applied (with the resourceVersion read), and that nothing is written when
//! nothing changes or a Secret may not be used.

use super::controller::{Injector, reconcile};
use super::sources::{
    ANN_ALLOW_DIRECT, ANN_CERTIFICATE_NAME, ANN_FROM_CERTIFICATE, ANN_FROM_SECRET,
};
use crate::mock_api::{Step, event, events, now, ok, scripted};
use base64::Engine;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::api::PartialObjectMeta;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use std::sync::Arc;

const HOOKS: &str = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/hooks";
const ROOT: &str = "/apis/cert-manager.io/v1/namespaces/ns/certificates/root";
const ROOT_TLS: &str = "/api/v1/namespaces/ns/secrets/root-tls";

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn ca() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "root");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.not_before = rcgen::date_time_ymd(2026, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    params.self_signed(&key).unwrap().pem().replace("\r\n", "\n")
}

fn target(annotation: (&str, &str)) -> Arc<PartialObjectMeta<ValidatingWebhookConfiguration>> {
    Arc::new(
        serde_json::from_value(json!({
            "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": "hooks", "uid": "u1", "annotations": {annotation.0: annotation.1}},
        }))
        .unwrap(),
    )
}

fn hooks(bundle: Option<&str>) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "hooks", "resourceVersion": "5"},
        "webhooks": [{"name": "a.example.com", "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"url": "https://a", "caBundle": bundle}}],
    })
}

fn secret(annotations: Value, ca: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "root-tls", "namespace": "ns", "annotations": annotations},
        "data": {"ca.crt": b64(ca.as_bytes())},
    })
}

fn certificate() -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "root", "namespace": "ns"},
        "spec": {"secretName": "root-tls", "issuerRef": {"name": "selfsigned"}},
    })
}

fn injector(
    script: Vec<Step>,
) -> (Arc<Injector>, tokio::task::JoinHandle<Vec<crate::mock_api::Call>>) {
    injector_in(crate::scope::Scope::Cluster, script)
}

fn injector_in(
    scope: crate::scope::Scope,
    script: Vec<Step>,
) -> (Arc<Injector>, tokio::task::JoinHandle<Vec<crate::mock_api::Call>>) {
    let (client, served) = scripted(script);
    let injector = Injector {
        events: crate::events::Events::new(client.clone()),
        client,
        metrics: Default::default(),
        apiserver_ca: None,
        scope,
        clock: now,
    };
    (Arc::new(injector), served)
}

#[tokio::test]
async fn a_certificates_ca_is_applied_to_the_bundle_fields_only_and_once() {
    let pem = ca();
    let owned = json!({ANN_CERTIFICATE_NAME: "root"});
    let (ctx, served) = injector(vec![
        ok("GET", ROOT, certificate()),
        ok("GET", ROOT_TLS, secret(owned.clone(), &pem)),
        ok("GET", HOOKS, hooks(None)),
        ok("PATCH", HOOKS, hooks(Some(&b64(pem.as_bytes())))),
        ok("POST", &events("default"), event()),
    ]);
    let action = reconcile(target((ANN_FROM_CERTIFICATE, "ns/root")), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(std::time::Duration::from_secs(3600)));
    let calls = served.await.unwrap();
    assert_eq!(
        calls[3].body,
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "hooks", "resourceVersion": "5"},
            "webhooks": [{"name": "a.example.com", "clientConfig": {"caBundle": b64(pem.as_bytes())}}],
        })
    );
    assert_eq!(calls[4].body["reason"], "CAInjected");
    assert_eq!(calls[4].body["note"], "injected the CA of Certificate ns/root into its caBundle");

    // Already there: three reads, no write, no Event.
    let (ctx, served) = injector(vec![
        ok("GET", ROOT, certificate()),
        ok("GET", ROOT_TLS, secret(owned, &pem)),
        ok("GET", HOOKS, hooks(Some(&b64(pem.as_bytes())))),
    ]);
    reconcile(target((ANN_FROM_CERTIFICATE, "ns/root")), ctx).await.unwrap();
    assert_eq!(served.await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_secret_that_does_not_allow_it_is_refused_with_a_warning_and_nothing_is_written() {
    let pem = ca();
    let (ctx, served) = injector(vec![
        ok("GET", ROOT_TLS, secret(json!({}), &pem)),
        ok("POST", &events("default"), event()),
    ]);
    reconcile(target((ANN_FROM_SECRET, "ns/root-tls")), ctx).await.unwrap();
    let calls = served.await.unwrap();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[1].body["type"], "Warning");
    assert_eq!(calls[1].body["reason"], "CAInjectionRefused");
    let note = calls[1].body["note"].as_str().unwrap();
    assert!(note.contains(&format!("is not annotated {ANN_ALLOW_DIRECT}")), "{note}");

    // A malformed annotation: a Warning, and no read at all.
    let (ctx, served) = injector(vec![ok("POST", &events("default"), event())]);
    reconcile(target((ANN_FROM_SECRET, "root-tls")), ctx).await.unwrap();
    let calls = served.await.unwrap();
    assert_eq!(calls[0].body["reason"], "BadConfig");
}

#[tokio::test]
async fn in_one_namespace_a_source_elsewhere_is_not_read() {
    let other = crate::scope::Scope::Namespace("other".into());
    for annotation in [(ANN_FROM_CERTIFICATE, "ns/root"), (ANN_FROM_SECRET, "ns/root-tls")] {
        let (ctx, served) = injector_in(other.clone(), vec![]);
        let action = reconcile(target(annotation), ctx).await.unwrap();
        assert_eq!(action, Action::requeue(std::time::Duration::from_secs(3600)));
        assert!(served.await.unwrap().is_empty(), "{annotation:?}");
    }
    // Its own namespace's: read as ever.
    let pem = ca();
    let (ctx, served) = injector_in(
        crate::scope::Scope::Namespace("ns".into()),
        vec![
            ok("GET", ROOT_TLS, secret(json!({ANN_ALLOW_DIRECT: "true"}), &pem)),
            ok("GET", HOOKS, hooks(Some(&b64(pem.as_bytes())))),
        ],
    );
    reconcile(target((ANN_FROM_SECRET, "ns/root-tls")), ctx).await.unwrap();
    assert_eq!(served.await.unwrap().len(), 2);
}
