//! Internal PKI: cert-manager's classic bootstrap applied verbatim (a selfSigned ClusterIssuer →
//! an isCA Certificate → a ca ClusterIssuer on its Secret → a leaf), checked with openssl, both
//! renewed; and CA issuers whose key pair is missing or is no CA sign nothing and say why.

use crate::support;

use crate::support::acme::{Operator, eventually, issuing_bed, ready};
use crate::support::{KubeBed, renew};
use certsmith::api::meta::ConditionStatus;
use certsmith::api::{Certificate, ClusterIssuer};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::process::Command;
use x509_parser::prelude::{FromDer, X509Certificate};

/// cert-manager's documentation, as users copy it (namespace `cert-manager`, which the operator
/// is told is its cluster resource namespace).
const BOOTSTRAP: &str = r#"
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: selfsigned-issuer
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: my-selfsigned-ca
  namespace: cert-manager
spec:
  isCA: true
  commonName: my-selfsigned-ca
  secretName: root-secret
  privateKey:
    algorithm: ECDSA
    size: 256
  issuerRef:
    name: selfsigned-issuer
    kind: ClusterIssuer
    group: cert-manager.io
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: my-ca-issuer
spec:
  ca:
    secretName: root-secret
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: app
  namespace: default
spec:
  secretName: app-tls
  commonName: app.internal.example
  dnsNames: [app.internal.example, app.default.svc.cluster.local]
  ipAddresses: [10.96.0.10]
  usages: [digital signature, key encipherment, server auth, client auth]
  issuerRef:
    name: my-ca-issuer
    kind: ClusterIssuer
"#;

fn field(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

/// `openssl verify -CAfile ca.crt tls.crt` on the Secret's own files.
fn openssl_verify(secret: &Secret) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("certsmith-pki-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.crt"), field(secret, "ca.crt")).unwrap();
    std::fs::write(dir.join("tls.crt"), field(secret, "tls.crt")).unwrap();
    let out = Command::new("openssl")
        .args(["verify", "-CAfile", "ca.crt", "tls.crt"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

fn leaf_der(secret: &Secret) -> Vec<u8> {
    pem::parse(field(secret, "tls.crt")).unwrap().into_contents()
}

async fn issuer_ready(
    issuers: &Api<ClusterIssuer>,
    name: &str,
) -> (ConditionStatus, String, String) {
    eventually(30, &format!("{name} to have a Ready condition"), || async {
        let i = issuers.get(name).await.ok()?;
        let c = i.status?.conditions?.into_iter().find(|c| c.type_ == "Ready")?;
        Some((c.status, c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_classic_bootstrap_issues_a_verifiable_chain_and_renews_both() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    kube.kubectl_ok(&["create", "namespace", "cert-manager"], "");
    let operator =
        Operator::start(&kube, &pebble, &["--cluster-resource-namespace", "cert-manager"]);
    kube.kubectl_ok(&["apply", "-f", "-"], BOOTSTRAP);
    let client = kube.client().await;
    let issuers: Api<ClusterIssuer> = Api::all(client.clone());
    let roots: Api<Certificate> = Api::namespaced(client.clone(), "cert-manager");
    let apps: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let root_secrets: Api<Secret> = Api::namespaced(client.clone(), "cert-manager");
    let app_secrets: Api<Secret> = Api::namespaced(client.clone(), "default");

    let (status, reason, _) = issuer_ready(&issuers, "selfsigned-issuer").await;
    assert_eq!((status, reason.as_str()), (ConditionStatus::True, "IsReady"));
    ready(&roots, "my-selfsigned-ca", 1, &operator).await;
    let root = root_secrets.get("root-secret").await.unwrap();
    assert_eq!(field(&root, "tls.crt"), field(&root, "ca.crt"), "a root is its own CA");
    let der = leaf_der(&root);
    let (_, root_cert) = X509Certificate::from_der(&der).unwrap();
    assert_eq!(root_cert.subject().to_string(), "CN=my-selfsigned-ca");
    assert!(root_cert.basic_constraints().unwrap().unwrap().value.ca);
    assert!(root_cert.key_usage().unwrap().unwrap().value.key_cert_sign());

    let ca_ready = eventually(30, "my-ca-issuer Ready", || async {
        let r = issuer_ready(&issuers, "my-ca-issuer").await;
        (r.0 == ConditionStatus::True).then_some(r)
    })
    .await;
    assert_eq!(
        (ca_ready.1.as_str(), ca_ready.2.as_str()),
        ("KeyPairVerified", "Signing CA verified")
    );

    ready(&apps, "app", 1, &operator).await;
    let app = app_secrets.get("app-tls").await.unwrap();
    let (ok, said) = openssl_verify(&app);
    assert!(ok, "openssl verify: {said}");
    assert_eq!(field(&app, "ca.crt"), field(&root, "tls.crt"), "ca.crt is the root");
    let der = leaf_der(&app);
    let (_, leaf) = X509Certificate::from_der(&der).unwrap();
    let issued = certsmith::pki::inspect::parse_chain(&field(&app, "tls.crt")).unwrap();
    assert_eq!(issued.dns_names, ["app.internal.example", "app.default.svc.cluster.local"]);
    assert_eq!(issued.ip_addresses, ["10.96.0.10"]);
    assert!(issued.uris.is_empty() && issued.emails.is_empty());
    assert_eq!(issued.common_name.as_deref(), Some("app.internal.example"));
    let ku = leaf.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && ku.key_encipherment(), "{ku}");
    assert!(!ku.key_cert_sign() && !ku.crl_sign() && !ku.non_repudiation(), "{ku}");
    let eku = leaf.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth, "{eku:?}");
    assert!(!eku.code_signing && !eku.email_protection && !eku.any && eku.other.is_empty());
    assert!(!leaf.basic_constraints().unwrap().unwrap().value.ca);

    // A request made by another client (csi-driver style): an openssl CSR, signed by the CA.
    let dir = std::env::temp_dir().join(format!("certsmith-pki-csr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args(["-keyout", "key.pem", "-out", "csr.pem", "-subj", "/CN=workload"])
        .args(["-addext", "subjectAltName=URI:spiffe://cluster.local/ns/default/sa/workload"])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(made.success());
    let csr = std::fs::read_to_string(dir.join("csr.pem")).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(csr);
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: cert-manager.io/v1\nkind: CertificateRequest\nmetadata: {{name: workload, namespace: default}}\n\
             spec:\n  request: {b64}\n  duration: 1h\n  usages: [client auth]\n  issuerRef: {{name: my-ca-issuer, kind: ClusterIssuer}}\n"
        ),
    );
    let requests: Api<certsmith::api::CertificateRequest> =
        Api::namespaced(client.clone(), "default");
    let (chain, ca) = eventually(30, "the hand-made request signed", || async {
        let status = requests.get("workload").await.ok()?.status?;
        Some((status.certificate?.0, status.ca?.0))
    })
    .await;
    let signed = Secret {
        data: Some(
            [
                ("tls.crt".into(), k8s_openapi::ByteString(chain)),
                ("ca.crt".into(), k8s_openapi::ByteString(ca)),
            ]
            .into(),
        ),
        ..Default::default()
    };
    let (ok, said) = openssl_verify(&signed);
    assert!(ok, "openssl verify of the hand-made request: {said}");
    let workload = certsmith::pki::inspect::parse_chain(&field(&signed, "tls.crt")).unwrap();
    assert_eq!(workload.uris, ["spiffe://cluster.local/ns/default/sa/workload"]);
    assert_eq!(workload.not_after.duration_since(workload.not_before).as_secs(), 3600);

    // Both renew: a new root (the CA issuer sees its Secret change), then a new leaf under it.
    renew(&kube, "cert-manager", "my-selfsigned-ca").await;
    ready(&roots, "my-selfsigned-ca", 2, &operator).await;
    let new_root = root_secrets.get("root-secret").await.unwrap();
    let serial =
        |s: &Secret| certsmith::pki::inspect::parse_chain(&field(s, "tls.crt")).unwrap().serial;
    assert_ne!(serial(&new_root), serial(&root), "the root was re-issued");
    renew(&kube, "default", "app").await;
    ready(&apps, "app", 2, &operator).await;
    let new_app = app_secrets.get("app-tls").await.unwrap();
    assert_ne!(serial(&new_app), serial(&app));
    assert_eq!(field(&new_app, "ca.crt"), field(&new_root, "tls.crt"), "signed by the new root");
    let (ok, said) = openssl_verify(&new_app);
    assert!(ok, "openssl verify after renewal: {said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ca_issuer_without_a_ca_key_pair_signs_nothing_and_says_why() {
    // The binary's shared issuing bed: this test's objects (ClusterIssuers `not-a-ca` and
    // `missing-ca`, Certificates `one` and `two`) are its own.
    let kube = &support::shared::issuing().kube;
    let client = kube.client().await;
    let issuers: Api<ClusterIssuer> = Api::all(client.clone());
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");

    // A Secret holding a leaf certificate and its key, made by hand: no CA.
    let dir = std::env::temp_dir().join(format!("certsmith-notca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args(["-keyout", "tls.key", "-out", "tls.crt", "-subj", "/CN=leaf", "-days", "1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(made.success());
    let file = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let (crt, key) = (file("tls.crt"), file("tls.key"));
    let args =
        ["create", "secret", "tls", "not-a-ca", "-n", "certsmith", "--cert", &crt, "--key", &key];
    kube.kubectl_ok(&args, "");
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        r#"
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: not-a-ca}
spec: {ca: {secretName: not-a-ca}}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: missing-ca}
spec: {ca: {secretName: missing-ca}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: one, namespace: default}
spec: {secretName: one-tls, dnsNames: [one.internal.example], issuerRef: {name: not-a-ca, kind: ClusterIssuer}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: two, namespace: default}
spec: {secretName: two-tls, dnsNames: [two.internal.example], issuerRef: {name: missing-ca, kind: ClusterIssuer}}
"#,
    );
    let (status, reason, message) = issuer_ready(&issuers, "not-a-ca").await;
    assert_eq!(status, ConditionStatus::False);
    assert_eq!(reason, "ErrInvalidKeyPair");
    assert_eq!(message, "Error getting keypair for CA issuer: certificate is not a CA");
    let (status, reason, message) = issuer_ready(&issuers, "missing-ca").await;
    assert_eq!((status, reason.as_str()), (ConditionStatus::False, "ErrGetKeyPair"));
    assert!(message.ends_with("secret certsmith/missing-ca not found"), "{message}");

    // Each Certificate waits, saying on what; nothing is signed, no Secret is written.
    let waits = [
        (
            "one",
            "Failed to parse signing CA keypair from secret certsmith/not-a-ca: certificate is not a CA",
        ),
        ("two", "Referenced secret certsmith/missing-ca not found"),
    ];
    for (name, why) in waits {
        eventually(30, &format!("{name} to say {why:?}"), || async {
            let c = certs.get(name).await.ok()?;
            let issuing = c.status?.conditions?.into_iter().find(|c| c.type_ == "Issuing")?;
            issuing.message?.contains(why).then_some(())
        })
        .await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let requests: Api<certsmith::api::CertificateRequest> = Api::namespaced(client, "default");
    for (name, why) in waits {
        assert!(
            secrets.get_opt(&format!("{name}-tls")).await.unwrap().is_none(),
            "{name} got a Secret"
        );
        let cr = requests.get(&format!("{name}-1")).await.unwrap();
        assert!(cr.status.as_ref().unwrap().certificate.is_none(), "{name} was signed");
        let c = cr.condition("Ready").unwrap();
        assert_eq!(c.reason.as_deref(), Some("Pending"));
        assert_eq!(c.message.as_deref(), Some(why));
    }
    let events = kube
        .kubectl_ok(&["get", "events", "-n", "default", "-o", "jsonpath={.items[*].reason}"], "");
    assert!(events.contains("SecretInvalidData") && events.contains("SecretMissing"), "{events}");
}
