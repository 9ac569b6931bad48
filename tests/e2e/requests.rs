//! CertificateRequests made by other clients (as csi-driver and istio-csr make them): signed
//! for a certsmith ACME issuer once approved, never when denied; with the built-in approver
//! turned off, approval is left to someone else, and what it approves is signed only when the
//! API server set the requester (`chart_identity`).

use crate::support;

use crate::support::KubeBed;
use crate::support::acme::{Operator, eventually, issuing_bed};
use certsmith::api::CertificateRequest;
use certsmith::api::meta::ConditionStatus;
use kube::api::{Api, Patch, PatchParams};

/// A CSR for `names`, made by `openssl req` with a new P-256 key: (CSR PEM, key PEM).
fn openssl_csr(names: &[&str]) -> (String, String) {
    let dir =
        std::env::temp_dir().join(format!("certsmith-csr-{}-{}", std::process::id(), names[0]));
    std::fs::create_dir_all(&dir).unwrap();
    let sans = names.iter().map(|n| format!("DNS:{n}")).collect::<Vec<_>>().join(",");
    let status = std::process::Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args(["-keyout", "key.pem", "-out", "csr.pem", "-subj", &format!("/CN={}", names[0])])
        .args(["-addext", &format!("subjectAltName={sans}")])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    (read("csr.pem"), read("key.pem"))
}

fn request_yaml(name: &str, csr: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(csr);
    format!(
        "apiVersion: cert-manager.io/v1\nkind: CertificateRequest\nmetadata: {{name: {name}, namespace: default}}\n\
         spec:\n  request: {b64}\n  issuerRef: {{name: letsencrypt-prod, kind: ClusterIssuer, group: cert-manager.io}}\n  usages: [digital signature, key encipherment]\n"
    )
}

async fn decide(api: &Api<CertificateRequest>, name: &str, type_: &str) {
    let patch = serde_json::json!({"status": {"conditions": [{
        "type": type_, "status": "True", "reason": "Test", "message": format!("{type_} by the test"),
        "lastTransitionTime": jiff::Timestamp::now().to_string(),
    }]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

#[tokio::test]
async fn hand_made_requests_are_signed_when_approved_and_never_when_denied() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    // certsmith signs what an external approver approved only when the API server set its
    // requester: the chart's MutatingAdmissionPolicy, served from Kubernetes 1.36 (the v1.33
    // smoke run checks the other side: approved, and still not signed).
    let trusted = crate::chart_identity::install_request_policies(&kube).await;
    let _operator =
        Operator::start(&kube, &pebble, &["--controllers=*,-certificaterequests-approver"]);
    let client = kube.client().await;
    let api: Api<CertificateRequest> = Api::namespaced(client.clone(), "default");

    let (csr, key) = openssl_csr(&["byhand.example.com", "www.byhand.example.com"]);
    kube.kubectl_ok(&["apply", "-f", "-"], &request_yaml("byhand", &csr));
    let (denied_csr, _) = openssl_csr(&["denied.example.com"]);
    kube.kubectl_ok(&["apply", "-f", "-"], &request_yaml("denied", &denied_csr));

    // With the built-in approver off, nothing happens until someone approves.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    for name in ["byhand", "denied"] {
        let cr = api.get(name).await.unwrap();
        assert!(cr.condition("Approved").is_none(), "{name} was approved by certsmith");
        assert!(cr.status.as_ref().and_then(|s| s.certificate.as_ref()).is_none());
    }
    decide(&api, "byhand", "Approved").await;
    decide(&api, "denied", "Denied").await;

    if !trusted {
        let held = eventually(60, "the approved request held", || async {
            let cr = api.get("byhand").await.ok()?;
            let message = cr.condition("Ready")?.message.clone()?;
            message.contains("serves no MutatingAdmissionPolicy").then_some(cr)
        })
        .await;
        assert!(held.status.unwrap().certificate.is_none(), "signed on a requester not verified");
        let orders = kube.kubectl_ok(&["get", "orders", "-n", "default", "-o", "name"], "");
        assert_eq!(orders, "", "an Order for a request not to be signed");
        return;
    }
    let signed = eventually(60, "the approved request signed", || async {
        let cr = api.get("byhand").await.ok()?;
        let ready = cr.condition("Ready")?.status == ConditionStatus::True;
        let chain = cr.status?.certificate?.0;
        ready.then(|| String::from_utf8(chain).unwrap())
    })
    .await;
    let issued = certsmith::pki::inspect::parse_chain(&signed).unwrap();
    assert_eq!(issued.identifiers(), ["byhand.example.com", "www.byhand.example.com"]);
    let key = certsmith::pki::key::parse_pem(&key).unwrap();
    assert!(issued.matches_key(&key), "the certificate is not for the CSR's key");

    let denied = eventually(30, "the denied request failed", || async {
        let cr = api.get("denied").await.ok()?;
        (cr.condition("Ready")?.reason.as_deref() == Some("Denied")).then_some(cr)
    })
    .await;
    assert!(denied.status.unwrap().certificate.is_none(), "a denied request was signed");
    let orders = kube.kubectl_ok(&["get", "orders", "-n", "default", "-o", "name"], "");
    assert_eq!(orders.lines().count(), 1, "only the approved request has an Order: {orders}");
}

#[tokio::test]
async fn an_external_issuers_signature_still_becomes_the_certificates_secret() {
    // The binary's shared issuing bed: this test's objects (`ext`) are its own.
    let bed = support::shared::issuing();
    let (kube, operator) = (&bed.kube, &bed.operator);
    let client = kube.client().await;
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        &support::objects::certificate("ext")
            .external_issuer("step", "StepIssuer", "certmanager.step.sm")
            .yaml(),
    );
    let api: Api<CertificateRequest> = Api::namespaced(client.clone(), "default");
    let cr = eventually(30, "the CertificateRequest for the external issuer", || async {
        api.get_opt("ext-1").await.ok()?
    })
    .await;
    // certsmith neither approves nor signs a request for an issuer group it does not serve.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let untouched = api.get("ext-1").await.unwrap();
    assert!(
        untouched.status.as_ref().and_then(|s| s.conditions.as_ref()).is_none_or(|c| c.is_empty())
    );
    // The external issuer (here, the test with its own CA and openssl) approves and signs it.
    let csr = certsmith::pki::request::read(&cr.spec.request.0).unwrap();
    assert_eq!(csr.dns_names, ["ext.example.com"]);
    let dir = std::env::temp_dir().join(format!("certsmith-ext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("csr.pem"), &cr.spec.request.0).unwrap();
    let openssl = |args: &[&str]| {
        let ok =
            std::process::Command::new("openssl").args(args).current_dir(&dir).status().unwrap();
        assert!(ok.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=external test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "csr.pem",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-copy_extensions",
        "copy",
        "-out",
        "leaf.pem",
    ]);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let (leaf, ca) = (read("leaf.pem"), read("ca.pem"));
    let now = jiff::Timestamp::now().to_string();
    let patch = serde_json::json!({"status": {
        "conditions": [
            {"type": "Approved", "status": "True", "reason": "External", "message": "ok", "lastTransitionTime": now},
            {"type": "Ready", "status": "True", "reason": "Issued", "message": "signed", "lastTransitionTime": now},
        ],
        "certificate": base64_of(&leaf),
        "ca": base64_of(&ca),
    }});
    api.patch_status("ext-1", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let certs: Api<certsmith::api::Certificate> = Api::namespaced(client.clone(), "default");
    support::acme::ready(&certs, "ext", 1, operator).await;
    let secret = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client, "default")
        .get("ext-tls")
        .await
        .unwrap();
    let data = secret.data.unwrap();
    assert_eq!(String::from_utf8(data["tls.crt"].0.clone()).unwrap(), leaf);
    assert_eq!(String::from_utf8(data["ca.crt"].0.clone()).unwrap(), ca);
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
