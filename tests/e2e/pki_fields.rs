//! cert-manager v1.21's subject and name fields through the SelfSigned and CA issuers: a CA
//! Certificate with a literalSubject of repeated attributes and nameConstraints, and a leaf it
//! signs with a multi-valued literalSubject and an otherName SAN; read back with openssl, the
//! leaf verified against the CA, and neither issued again.

use crate::support;
use crate::support::acme::{eventually, ready};
use certsmith::api::Certificate;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::path::Path;
use std::process::Command;
use x509_parser::prelude::{FromDer, X509Certificate};

const NS: &str = "pki-fields";

/// Namespaced issuers and Certificates of this test's own namespace.
const OBJECTS: &str = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: root, namespace: pki-fields}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: constrained-ca, namespace: pki-fields}
spec:
  isCA: true
  literalSubject: "CN=Constrained CA,O=Example,O=Example Two"
  secretName: constrained-ca
  privateKey: {algorithm: ECDSA, size: 256}
  nameConstraints:
    critical: true
    permitted:
      dnsDomains: [example.com]
      ipRanges: [10.0.0.0/8]
    excluded:
      dnsDomains: [bad.example.com]
  issuerRef: {name: root}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: constrained, namespace: pki-fields}
spec: {ca: {secretName: constrained-ca}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: app, namespace: pki-fields}
spec:
  literalSubject: "CN=app.example.com,O=Org1+OU=Unit,O=Org2"
  dnsNames: [app.example.com]
  otherNames:
    - oid: 1.3.6.1.4.1.311.20.2.3
      utf8Value: app@example.com
  secretName: app
  issuerRef: {name: constrained}
"#;

fn field(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

#[tokio::test(flavor = "multi_thread")]
async fn literal_subjects_other_names_and_name_constraints_are_issued() {
    let bed = support::shared::issuing();
    let kube = &bed.kube;
    kube.kubectl_ok(&["create", "namespace", NS], "");
    kube.kubectl_ok(&["apply", "-f", "-"], OBJECTS);
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), NS);
    let secrets: Api<Secret> = Api::namespaced(client, NS);
    ready(&certs, "constrained-ca", 1, &bed.operator).await;
    ready(&certs, "app", 1, &bed.operator).await;

    let ca = secrets.get("constrained-ca").await.unwrap();
    let app = secrets.get("app").await.unwrap();
    let dir = std::env::temp_dir().join(format!("certsmith-pki-fields-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), field(&ca, "tls.crt")).unwrap();
    std::fs::write(dir.join("app.pem"), field(&app, "tls.crt")).unwrap();
    std::fs::write(dir.join("app-ca.pem"), field(&app, "ca.crt")).unwrap();

    // The CA: its subject as written (both O values), its own issuer, the name constraints.
    let (ok, text) = openssl(&dir, &["x509", "-in", "ca.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("Subject: O = Example Two, O = Example, CN = Constrained CA"), "{text}");
    assert!(text.contains("X509v3 Name Constraints: critical"), "{text}");
    let constraints = "Permitted:\n                  DNS:example.com\n                  IP:10.0.0.0/255.0.0.0\n                Excluded:\n                  DNS:bad.example.com";
    assert!(text.contains(constraints), "{text}");

    // The leaf: a multi-valued RDN between repeated attributes, the otherName SAN.
    let (ok, text) = openssl(&dir, &["x509", "-in", "app.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("Subject: O = Org2, O = Org1 + OU = Unit, CN = app.example.com"),
        "{text}"
    );
    assert!(text.contains("DNS:app.example.com, othername: UPN::app@example.com"), "{text}");
    assert!(text.contains("Issuer: O = Example Two, O = Example, CN = Constrained CA"), "{text}");
    // Issuer and subject compared byte for byte: chains are built on these bytes.
    let (ca_der, app_der) = (pem_der(&field(&ca, "tls.crt")), pem_der(&field(&app, "tls.crt")));
    let (_, ca_cert) = X509Certificate::from_der(&ca_der).unwrap();
    let (_, leaf) = X509Certificate::from_der(&app_der).unwrap();
    assert_eq!(leaf.issuer().as_raw(), ca_cert.subject().as_raw());
    assert_eq!(ca_cert.issuer().as_raw(), ca_cert.subject().as_raw());
    let want = certsmith::pki::dn::parse("CN=app.example.com,O=Org1+OU=Unit,O=Org2").unwrap();
    assert_eq!(leaf.subject().as_raw(), certsmith::pki::dn::to_der(&want).unwrap());

    // openssl accepts the leaf under the constrained CA (its names are within example.com).
    assert_eq!(field(&app, "ca.crt"), field(&ca, "tls.crt"), "ca.crt is the CA");
    let (ok, said) = openssl(&dir, &["verify", "-CAfile", "app-ca.pem", "app.pem"]);
    assert!(ok, "openssl verify: {said}");

    // Nothing to issue again: the issued certificates and requests match their specs.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    for name in ["constrained-ca", "app"] {
        let c = certs.get(name).await.unwrap();
        assert_eq!(c.status.and_then(|s| s.revision), Some(1), "{name} was issued again");
    }

    // A changed literalSubject is issued again, with the new subject.
    let patch = r#"{"spec":{"literalSubject":"CN=app.example.com,O=Org3"}}"#;
    kube.kubectl_ok(&["patch", "certificate", "app", "-n", NS, "--type", "merge", "-p", patch], "");
    ready(&certs, "app", 2, &bed.operator).await;
    let subject = eventually(30, "the new subject in the Secret", || async {
        let s = secrets.get("app").await.ok()?;
        let der = pem_der(&field(&s, "tls.crt"));
        let (_, c) = X509Certificate::from_der(&der).ok()?;
        let subject = c.subject().to_string();
        subject.contains("Org3").then_some(subject)
    })
    .await;
    assert_eq!(subject, "O=Org3, CN=app.example.com");
}

fn pem_der(text: &str) -> Vec<u8> {
    pem::parse(text).unwrap().into_contents()
}

/// Through an ACME issuer: the literalSubject's CN is one of the order's names (ACME CAs put
/// their own subject in), and otherNames, which no ACME CA issues, are reported, not ordered.
#[tokio::test(flavor = "multi_thread")]
async fn through_acme_the_literal_common_name_is_ordered_and_other_names_reported() {
    let bed = support::shared::issuing();
    let kube = &bed.kube;
    let ns = "pki-fields-acme";
    kube.kubectl_ok(&["create", "namespace", ns], "");
    let certificate = |name: &str, extra: &str| {
        format!(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: {name}, namespace: {ns}}}\n\
             spec:\n  secretName: {name}\n  dnsNames: [www.literal.example.com]\n  \
             issuerRef: {{name: letsencrypt-prod, kind: ClusterIssuer}}\n{extra}"
        )
    };
    let literal =
        certificate("literal", "  literalSubject: CN=literal.example.com,O=Org1+OU=Unit\n");
    let other = certificate("other", "  otherNames: [{oid: 1.2.3.4, utf8Value: x}]\n");
    kube.kubectl_ok(&["apply", "-f", "-"], &format!("{literal}\n---\n{other}"));
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), ns);
    ready(&certs, "literal", 1, &bed.operator).await;
    let secret = Api::<Secret>::namespaced(client, ns).get("literal").await.unwrap();
    let issued = certsmith::pki::inspect::parse_chain(&field(&secret, "tls.crt")).unwrap();
    assert_eq!(issued.identifiers(), ["literal.example.com", "www.literal.example.com"]);

    let why = eventually(30, "other to say why it is not issued", || async {
        let c = certs.get("other").await.ok()?;
        let ready = c.status?.conditions?.into_iter().find(|c| c.type_ == "Ready")?;
        (ready.reason.as_deref() == Some("Unsupported")).then_some(ready.message?)
    })
    .await;
    assert!(
        why.contains("spec.otherNames: ACME CAs issue only DNS names and IP addresses"),
        "{why}"
    );
}
