//! The Secret's extra outputs on the bed: `additionalOutputFormats` and `keystores`, read back
//! with `openssl pkcs12` and `keytool` (Debian's JDK) using the password from the Secret; a
//! format taken out of the spec leaves the Secret without a new certificate; a keystore whose
//! password Secret is gone is said with cert-manager's Event and comes back with it.

use crate::support;

use crate::support::acme::{eventually, ready};
use certsmith::api::Certificate;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::path::Path;
use std::process::Command;

const PASSWORD: &str = "s3cret-pass";

/// The JKS key entry's alias: `app`, or the default `certificate` on cert-manager v1.14.7's
/// CRDs, which have no `alias` field (the API server refuses it).
fn alias() -> &'static str {
    let old = std::env::var("CERTSMITH_TEST_CRDS").is_ok_and(|c| c.ends_with("v1.14.7"));
    if old { "certificate" } else { "app" }
}

/// A namespace's own CA (a SelfSigned Issuer, a CA Certificate, a CA Issuer) and a leaf asking
/// for every output. Passwords come from a Secret: v1.14.7's CRDs have no literal `password`.
fn objects(ns: &str) -> String {
    let alias = match alias() {
        "certificate" => String::new(),
        named => format!("\n      alias: {named}"),
    };
    format!(
        r#"
apiVersion: v1
kind: Secret
metadata: {{name: store-password, namespace: {ns}}}
stringData: {{password: {PASSWORD}}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: selfsigned, namespace: {ns}}}
spec: {{selfSigned: {{}}}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: root, namespace: {ns}}}
spec:
  isCA: true
  commonName: outputs test CA
  secretName: root
  privateKey: {{algorithm: ECDSA, size: 256}}
  issuerRef: {{name: selfsigned}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: ca, namespace: {ns}}}
spec: {{ca: {{secretName: root}}}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: app, namespace: {ns}}}
spec:
  secretName: app-tls
  dnsNames: [app.outputs.example]
  issuerRef: {{name: ca}}
  additionalOutputFormats: [{{type: CombinedPEM}}, {{type: DER}}]
  keystores:
    pkcs12:
      create: true
      profile: Modern2023
      passwordSecretRef: {{name: store-password, key: password}}
    jks:
      create: true{alias}
      passwordSecretRef: {{name: store-password, key: password}}
"#
    )
}

fn field(secret: &Secret, key: &str) -> Vec<u8> {
    secret.data.as_ref().and_then(|d| d.get(key)).map(|b| b.0.clone()).unwrap_or_default()
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).current_dir(dir).output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} {args:?}: {said}");
    said
}

/// The public key of a PEM private key, as openssl prints it.
fn public_key(dir: &Path, key_file: &str, inform: &str) -> String {
    run(dir, "openssl", &["pkey", "-inform", inform, "-in", key_file, "-pubout"])
}

#[tokio::test(flavor = "multi_thread")]
async fn keystores_and_output_formats_open_with_openssl_and_keytool() {
    let bed = support::shared::issuing();
    let ns = "outputs";
    bed.kube.kubectl_ok(&["create", "namespace", ns], "");
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &objects(ns));
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), ns);
    ready(&certs, "app", 1, &bed.operator).await;
    let secrets: Api<Secret> = Api::namespaced(client, ns);
    let secret = secrets.get("app-tls").await.unwrap();

    let dir = std::env::temp_dir().join(format!("certsmith-outputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for key in ["tls.crt", "tls.key", "ca.crt", "key.der", "tls-combined.pem"] {
        std::fs::write(dir.join(key), field(&secret, key)).unwrap();
    }
    for key in ["keystore.p12", "truststore.p12", "keystore.jks", "truststore.jks"] {
        assert!(!field(&secret, key).is_empty(), "{key} written");
        std::fs::write(dir.join(key), field(&secret, key)).unwrap();
    }
    let (key, chain) = (field(&secret, "tls.key"), field(&secret, "tls.crt"));
    assert!(key.starts_with(b"-----BEGIN RSA PRIVATE KEY-----"), "PKCS#1, cert-manager's default");
    assert_eq!(field(&secret, "tls-combined.pem"), [&key[..], b"\n", &chain[..]].concat());
    let public = public_key(&dir, "tls.key", "PEM");
    assert_eq!(public_key(&dir, "key.der", "DER"), public, "key.der is tls.key");

    // PKCS#12 (Modern2023): the key and the leaf open with the password; the CA is trusted.
    let pass = format!("pass:{PASSWORD}");
    let p12 = ["pkcs12", "-in", "keystore.p12", "-passin", &pass, "-nodes"];
    let opened = run(&dir, "openssl", &p12);
    std::fs::write(dir.join("p12.pem"), &opened).unwrap();
    assert_eq!(public_key(&dir, "p12.pem", "PEM"), public, "the keystore's key");
    let leaf = pem::parse(&chain).unwrap();
    assert!(opened.contains(&pem::encode(&leaf).replace("\r\n", "\n")), "the leaf: {opened}");
    let wrong = Command::new("openssl")
        .args(["pkcs12", "-in", "keystore.p12", "-passin", "pass:wrong", "-nodes"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "a wrong password opens nothing");
    let ca = pem::parse(field(&secret, "ca.crt")).unwrap();
    let trust =
        run(&dir, "openssl", &["pkcs12", "-in", "truststore.p12", "-passin", &pass, "-nokeys"]);
    assert!(trust.contains(&pem::encode(&ca).replace("\r\n", "\n")), "the CA: {trust}");

    // JKS and PKCS#12 through Java's own reader.
    let keytool = |file: &str, kind: &str| {
        let args = ["-list", "-v", "-keystore", file, "-storetype", kind, "-storepass", PASSWORD];
        run(&dir, "keytool", &args)
    };
    let jks = keytool("keystore.jks", "JKS");
    assert!(
        jks.contains(&format!("Alias name: {}", alias()))
            && jks.contains("Entry type: PrivateKeyEntry"),
        "{jks}"
    );
    assert!(
        jks.contains("Alias name: ca") && jks.contains("Entry type: trustedCertEntry"),
        "{jks}"
    );
    assert!(jks.contains("Certificate chain length: 1"), "{jks}");
    let jks_trust = keytool("truststore.jks", "JKS");
    assert!(jks_trust.contains("Your keystore contains 1 entry"), "{jks_trust}");
    let p12_java = keytool("keystore.p12", "PKCS12");
    assert!(p12_java.contains("Entry type: PrivateKeyEntry"), "{p12_java}");
    assert!(p12_java.contains("Certificate chain length: 2"), "the leaf and the CA: {p12_java}");

    // A format taken out of the spec leaves the Secret, not the certificate.
    let patch = r#"{"spec":{"additionalOutputFormats":[{"type":"CombinedPEM"}]}}"#;
    bed.kube
        .kubectl_ok(&["patch", "certificate", "app", "-n", ns, "--type=merge", "-p", patch], "");
    eventually(30, "key.der to leave the Secret", || async {
        let s = secrets.get("app-tls").await.ok()?;
        field(&s, "key.der").is_empty().then_some(())
    })
    .await;
    let kept = secrets.get("app-tls").await.unwrap();
    assert_eq!(field(&kept, "tls.crt"), chain, "no new certificate");
    assert!(!field(&kept, "tls-combined.pem").is_empty());

    // The password Secret gone and a keystore lost: said with cert-manager's Event; the
    // keystore comes back once the password does, with the same certificate.
    bed.kube.kubectl_ok(&["delete", "secret", "store-password", "-n", ns], "");
    let remove = r#"[{"op":"remove","path":"/data/keystore.jks"}]"#;
    bed.kube.kubectl_ok(&["patch", "secret", "app-tls", "-n", ns, "--type=json", "-p", remove], "");
    eventually(30, "a KeystorePasswordSecretNotFound Event", || async {
        let selector = "reason=KeystorePasswordSecretNotFound";
        let args = ["get", "events", "-n", ns, "--field-selector", selector, "-o", "name"];
        (!bed.kube.kubectl_ok(&args, "").trim().is_empty()).then_some(())
    })
    .await;
    // Only the password comes back: nothing certsmith watches changes, so it must look again.
    let password = objects(ns).split("---").next().unwrap().to_string();
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &password);
    eventually(60, "keystore.jks to be written again", || async {
        let s = secrets.get("app-tls").await.ok()?;
        (!field(&s, "keystore.jks").is_empty()).then_some(())
    })
    .await;
    let back = secrets.get("app-tls").await.unwrap();
    assert_eq!(field(&back, "tls.crt"), chain, "still no new certificate");
    let cert = certs.get("app").await.unwrap();
    assert_eq!(cert.status.unwrap().revision, Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Opens a PKCS#12 file with Python's `cryptography` (the bed's venv; its wheel's OpenSSL reads
/// PBMAC1, Debian's OpenSSL 3.0 and JDK 17 do not) and prints the key's public half and the
/// certificates' subjects; fails on a MAC that does not verify.
const OPEN_P12: &str = r#"
import sys
from cryptography.hazmat.primitives.serialization import pkcs12, Encoding, PublicFormat
data = open(sys.argv[1], "rb").read()
key, cert, extra = pkcs12.load_key_and_certificates(data, sys.argv[2].encode())
print(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode())
for c in [cert, *extra]:
    print(c.subject.rfc4514_string())
"#;

/// `Modern2026`: go-pkcs12's newest profile, a PBMAC1 MAC (RFC 9579), read by a real OpenSSL
/// that knows PBMAC1 with the password from the Secret, and refused with another password.
/// cert-manager's v1.14.7 CRDs have no such profile (the API server refuses it).
#[tokio::test(flavor = "multi_thread")]
async fn a_modern2026_keystore_opens_with_a_pbmac1_reader() {
    if std::env::var("CERTSMITH_TEST_CRDS").is_ok_and(|c| c.ends_with("v1.14.7")) {
        eprintln!("skipped: cert-manager v1.14.7's CRDs have no Modern2026 profile");
        return;
    }
    let bed = support::shared::issuing();
    let ns = "outputs-2026";
    bed.kube.kubectl_ok(&["create", "namespace", ns], "");
    let leaf = r#"
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: modern, namespace: NS}
spec:
  secretName: modern-tls
  dnsNames: [modern.outputs.example]
  issuerRef: {name: ca}
  keystores:
    pkcs12:
      create: true
      profile: Modern2026
      passwordSecretRef: {name: store-password, key: password}
"#;
    // The CA of `objects` without its leaf, and this one.
    let mut manifest: Vec<String> = objects(ns).split("---").take(4).map(str::to_owned).collect();
    manifest.push(leaf.replace("NS", ns));
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &manifest.join("---"));
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), ns);
    ready(&certs, "modern", 1, &bed.operator).await;
    let secret = Api::<Secret>::namespaced(client, ns).get("modern-tls").await.unwrap();
    let dir = std::env::temp_dir().join(format!("certsmith-outputs-2026-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tls.key"), field(&secret, "tls.key")).unwrap();
    std::fs::write(dir.join("keystore.p12"), field(&secret, "keystore.p12")).unwrap();
    std::fs::write(dir.join("open.py"), OPEN_P12).unwrap();
    let python = support::kube_bin_dir().parent().unwrap().join("venv/bin/python");
    let python = python.to_str().unwrap();
    let opened = run(&dir, python, &["open.py", "keystore.p12", PASSWORD]);
    assert!(opened.contains(&public_key(&dir, "tls.key", "PEM")), "the key: {opened}");
    assert!(opened.contains("CN=outputs test CA"), "the leaf and the CA: {opened}");
    let wrong = Command::new(python)
        .args(["open.py", "keystore.p12", "wrong"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "a wrong password fails the MAC");
    // Not a legacy MAC that any reader would accept: PBMAC1's OID is in the MacData.
    let asn1 = run(&dir, "openssl", &["asn1parse", "-inform", "DER", "-in", "keystore.p12"]);
    assert!(asn1.contains("PBMAC1") || asn1.contains("1.2.840.113549.1.5.14"), "{asn1}");
    let _ = std::fs::remove_dir_all(&dir);
}
