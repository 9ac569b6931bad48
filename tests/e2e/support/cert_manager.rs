//! A stand-in for a cluster cert-manager has run for a while: an ACME account registered at
//! Pebble with an RSA-2048 key (cert-manager's default) stored as cert-manager stores it, and a
//! Certificate issued through that account, with its CertificateRequest and Secret written the
//! way cert-manager writes them. Issuing needs a Pebble started with `PEBBLE_VA_ALWAYS_VALID=1`
//! (no responder answers here: cert-manager's solver is gone).

use super::KubeBed;
use super::acme::PebbleBed;
use base64::Engine as _;
use certsmith::acme::jws::SigningKey;
use certsmith::acme::legacy::LegacyClient;
use serde_json::{Value, json};
use std::process::Command;

/// An RSA-2048 key as cert-manager encodes it (PKCS#1, `RSA PRIVATE KEY`).
pub fn rsa_key() -> String {
    let out =
        Command::new("openssl").args(["genrsa", "-traditional", "2048"]).output().expect("openssl");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

pub async fn ca(pebble: &PebbleBed) -> LegacyClient {
    let bundle = std::fs::read(&pebble.ca_pem).unwrap();
    let http = certsmith::acme::client::http_client(Some(&bundle), false).unwrap();
    LegacyClient::new(http, &pebble.directory_url).await.unwrap()
}

/// Registers an account for `key_pem` (with EAB `(kid, hmac key)`); its URL.
pub async fn register(pebble: &PebbleBed, key_pem: &str, eab: Option<(&str, &[u8])>) -> String {
    let key = SigningKey::from_pem(key_pem).unwrap();
    let contact = ["mailto:admin@example.com".to_string()];
    ca(pebble).await.register(&key, &contact, eab).await.unwrap()
}

/// The URL of the account `key_pem` is bound to at Pebble, if any.
pub async fn account_of(pebble: &PebbleBed, key_pem: &str) -> Option<String> {
    let key = SigningKey::from_pem(key_pem).unwrap();
    ca(pebble).await.lookup(&key).await.unwrap()
}

/// A CSR for `host` as cert-manager 1.14 builds it for an Ingress's Certificate: empty subject,
/// the name as a SAN, key usages digital signature + key encipherment, CA:FALSE.
pub fn csr(key_pem: &str, host: &str) -> String {
    let dir = tempdir();
    std::fs::write(dir.join("key.pem"), key_pem).unwrap();
    let out = Command::new("openssl")
        .args(["req", "-new", "-key"])
        .arg(dir.join("key.pem"))
        .args(["-subj", "/", "-addext", &format!("subjectAltName=DNS:{host}")])
        .args(["-addext", "keyUsage=critical,digitalSignature,keyEncipherment"])
        .args(["-addext", "basicConstraints=CA:FALSE"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("certsmith-cm-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> String {
    let mut b = [0u8; 6];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Orders a certificate for the CSR through the account (`account_key_pem`, `account`), as
/// cert-manager's ACME issuer does; returns the chain (PEM).
pub async fn issue(
    pebble: &PebbleBed,
    account_key_pem: &str,
    account: &str,
    csr_pem: &str,
) -> String {
    let key = SigningKey::from_pem(account_key_pem).unwrap();
    let mut ca = ca(pebble).await;
    let der = pem::parse(csr_pem).unwrap().into_contents();
    let host = x509_host(&der);
    let new_order = ca.url("newOrder").unwrap();
    let identifiers = json!({"identifiers": [{"type": "dns", "value": host}]});
    let order = ca.post(&key, Some(account), &new_order, Some(&identifiers)).await.unwrap();
    let order_url = order.location.clone().unwrap();
    let authz_url = order.body["authorizations"][0].as_str().unwrap().to_string();
    let authz = ca.post(&key, Some(account), &authz_url, None).await.unwrap().body;
    let challenge = authz["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "http-01")
        .map(|c| c["url"].as_str().unwrap().to_string())
        .unwrap();
    ca.post(&key, Some(account), &challenge, Some(&json!({}))).await.unwrap();
    let mut state = poll(&mut ca, &key, account, &order_url, "ready").await;
    let finalize = state["finalize"].as_str().unwrap().to_string();
    let csr = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der);
    ca.post(&key, Some(account), &finalize, Some(&json!({"csr": csr}))).await.unwrap();
    state = poll(&mut ca, &key, account, &order_url, "valid").await;
    let cert_url = state["certificate"].as_str().unwrap().to_string();
    ca.post(&key, Some(account), &cert_url, None).await.unwrap().text
}

async fn poll(
    ca: &mut LegacyClient,
    key: &SigningKey,
    account: &str,
    url: &str,
    want: &str,
) -> Value {
    for _ in 0..100 {
        let state = ca.post(key, Some(account), url, None).await.unwrap().body;
        if state["status"] == want {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("order {url} never became {want}");
}

fn x509_host(csr_der: &[u8]) -> String {
    let req = certsmith::pki::request::read(csr_der).unwrap();
    req.dns_names[0].clone()
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// What cert-manager leaves for an Ingress `web` in `default` with host `host`, issued by
/// ClusterIssuer `letsencrypt-prod` (account Secret in namespace `cert-manager`): the Secret,
/// the Ingress, its Certificate `web-tls` and CertificateRequest `web-tls-x7k2p`, all Ready.
pub async fn leave_issued_ingress(
    kube: &KubeBed,
    pebble: &PebbleBed,
    account_key: &str,
    account: &str,
    host: &str,
) {
    let cert_key = rsa_key();
    let csr = csr(&cert_key, host);
    let chain = issue(pebble, account_key, account, &csr).await;
    let issued = certsmith::pki::inspect::parse_chain(&chain).unwrap();
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: default\n  \
             annotations: {{cert-manager.io/cluster-issuer: letsencrypt-prod}}\nspec:\n  ingressClassName: nginx\n  \
             tls: [{{hosts: [{host}], secretName: web-tls}}]\n  rules:\n  - host: {host}\n    http:\n      paths:\n      \
             - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}\n"
        ),
    );
    let client = kube.client().await;
    let ingress: k8s_openapi::api::networking::v1::Ingress =
        kube::Api::namespaced(client.clone(), "default").get("web").await.unwrap();
    let owner = json!([{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web",
        "uid": ingress.metadata.uid, "controller": true, "blockOwnerDeletion": true}]);
    let issuer_ref =
        json!({"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"});
    let cert = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "web-tls", "namespace": "default", "ownerReferences": owner},
        "spec": {"dnsNames": [host], "secretName": "web-tls", "issuerRef": issuer_ref,
                 "usages": ["digital signature", "key encipherment"]}});
    let cert = create(kube, &cert);
    let not_before = issued.not_before.to_string();
    let not_after = issued.not_after.to_string();
    let lifetime = issued.not_after.duration_since(issued.not_before);
    let renewal = (issued.not_before + lifetime * 2 / 3).to_string();
    let ready = json!([{"type": "Ready", "status": "True", "reason": "Ready",
        "message": "Certificate is up to date and has not expired", "lastTransitionTime": not_before,
        "observedGeneration": 1}]);
    status(
        kube,
        "certificates",
        "web-tls",
        &json!({"conditions": ready, "notBefore": not_before,
        "notAfter": not_after, "renewalTime": renewal, "revision": 1}),
    )
    .await;
    let owner = json!([{"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "name": "web-tls",
        "uid": cert["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}]);
    let annotations = json!({"cert-manager.io/certificate-name": "web-tls",
        "cert-manager.io/certificate-revision": "1", "cert-manager.io/private-key-secret-name": "web-tls-6nqpt"});
    create(
        kube,
        &json!({"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
        "metadata": {"name": "web-tls-x7k2p", "namespace": "default", "ownerReferences": owner,
                     "annotations": annotations},
        "spec": {"request": b64(&csr), "issuerRef": issuer_ref, "duration": "2160h0m0s",
                 "usages": ["digital signature", "key encipherment"]}}),
    );
    status(kube, "certificaterequests", "web-tls-x7k2p", &json!({"certificate": b64(&chain),
        "conditions": [
            {"type": "Approved", "status": "True", "reason": "cert-manager.io", "message": "Certificate request has been approved by cert-manager.io", "lastTransitionTime": not_before},
            {"type": "Ready", "status": "True", "reason": "Issued", "message": "Certificate fetched from issuer successfully", "lastTransitionTime": not_before}]}))
    .await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "web-tls", "namespace": "default",
            "labels": {"controller.cert-manager.io/fao": "true"},
            "annotations": {"cert-manager.io/alt-names": host, "cert-manager.io/certificate-name": "web-tls",
                "cert-manager.io/common-name": "", "cert-manager.io/ip-sans": "", "cert-manager.io/issuer-group": "cert-manager.io",
                "cert-manager.io/issuer-kind": "ClusterIssuer", "cert-manager.io/issuer-name": "letsencrypt-prod",
                "cert-manager.io/uri-sans": ""}},
        "data": {"tls.crt": b64(&chain), "tls.key": b64(&cert_key), "ca.crt": ""}});
    create(kube, &secret);
}

/// cert-manager's CRDs from `../shared/testdata` (created as its README says), or `false`
/// when that folder is missing outside CI (the caller skips; under CI=true it fails).
pub fn install_crds(kube: &KubeBed) -> bool {
    let dir = super::cert_manager_crds();
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "{} is missing",
            dir.display()
        );
        eprintln!("skipping: {} not found (a clone outside CI)", dir.display());
        return false;
    }
    let dir = dir.to_str().unwrap();
    kube.kubectl_ok(&["create", "--validate=false", "-f", dir], "");
    kube.kubectl_ok(&["wait", "--for=condition=established", "--timeout=60s", "-f", dir], "");
    kube.kubectl_ok(&["create", "namespace", "certsmith"], "");
    kube.kubectl_ok(&["create", "namespace", "cert-manager"], "");
    true
}

/// A ClusterIssuer `name` and its account Secret (namespace `cert-manager`) as cert-manager
/// leaves them: Ready, `status.acme.uri` the account's URL.
pub async fn leave_cluster_issuer(
    kube: &KubeBed,
    pebble: &PebbleBed,
    name: &str,
    account_key: &str,
    account: &str,
    eab: Option<&str>,
) {
    create(
        kube,
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": "cert-manager"},
        "data": {"tls.key": b64(account_key)}}),
    );
    let mut yaml = pebble.issuer_yaml("ClusterIssuer", name, None);
    if let Some(kid) = eab {
        yaml.push_str(&format!(
            "    externalAccountBinding:\n      keyID: {kid}\n      keySecretRef: {{name: eab, key: secret}}\n"
        ));
    }
    kube.kubectl_ok(&["apply", "-f", "-"], &yaml);
    status(
        kube,
        "clusterissuers",
        name,
        &json!({
        "acme": {"uri": account, "lastRegisteredEmail": "admin@example.com"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "ACMEAccountRegistered",
            "message": "The ACME account was registered with the ACME server",
            "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]}),
    )
    .await;
}

fn create(kube: &KubeBed, object: &Value) -> Value {
    let out = kube.kubectl_ok(&["create", "-o", "json", "-f", "-"], &object.to_string());
    serde_json::from_str(&out).unwrap()
}

/// Writes `status` through the status subresource, as cert-manager's controllers do.
async fn status(kube: &KubeBed, resource: &str, name: &str, status: &Value) {
    let path = match resource {
        "clusterissuers" => format!("/apis/cert-manager.io/v1/{resource}/{name}/status"),
        _ => format!("/apis/cert-manager.io/v1/namespaces/default/{resource}/{name}/status"),
    };
    let request = http::Request::patch(&path)
        .header("content-type", "application/merge-patch+json")
        .body(json!({"status": status}).to_string().into_bytes())
        .unwrap();
    let _: Value =
        kube.client().await.request(request).await.unwrap_or_else(|e| panic!("{path}: {e}"));
}
