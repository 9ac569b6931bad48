//! cert-manager v1.18+'s controller flags on the bed, with an operator started with them:
//! `--extra-certificate-annotations` copies an Ingress's named annotations onto its
//! Certificate, and `--enable-certificate-owner-ref` makes the Secret the Certificate's, so the
//! controller manager's garbage collector deletes it with the Certificate; and the approver
//! approves an external issuer's requests when `--approve-signer-names` names its signer.

use crate::support::KubeBed;
use crate::support::acme::{Operator, eventually, issuing_bed, ready};
use certsmith::api::{Certificate, CertificateRequest};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

const OBJECTS: &str = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: default}
spec: {selfSigned: {}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: default
  annotations:
    cert-manager.io/issuer: selfsigned
    team: payments
    unrelated: not-copied
spec:
  tls: [{secretName: shop-tls, hosts: [shop.flags.example]}]
  rules:
  - host: shop.flags.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn extra_annotations_reach_the_certificate_and_the_secret_goes_with_it() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let flags = [
        "--extra-certificate-annotations=team,cost-center",
        "--enable-certificate-owner-ref",
        "--approve-signer-names=issuers.cert-manager.io/*,fooissuers.example.com/*",
    ];
    let operator = Operator::start(&kube, &pebble, &flags);
    kube.kubectl_ok(&["apply", "-f", "-"], OBJECTS);
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let cert = ready(&certs, "shop-tls", 1, &operator).await;
    let annotations = cert.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get("team").map(String::as_str), Some("payments"));
    assert!(!annotations.contains_key("unrelated"), "only the named ones: {annotations:?}");

    let secret = secrets.get("shop-tls").await.unwrap();
    let owner = &secret.metadata.owner_references.expect("an owner reference")[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Certificate", "shop-tls"));
    assert_eq!(owner.uid, cert.metadata.uid.clone().unwrap());
    assert_eq!(owner.controller, Some(true));

    // A changed annotation follows; then the Certificate goes and takes its Secret with it.
    kube.kubectl_ok(&["annotate", "ingress", "shop", "team=checkout", "--overwrite"], "");
    eventually(30, "the Certificate's annotation to follow", || async {
        let c = certs.get("shop-tls").await.ok()?;
        (c.metadata.annotations?.get("team")? == "checkout").then_some(())
    })
    .await;
    kube.kubectl_ok(&["delete", "ingress", "shop"], "");
    eventually(30, "the Certificate to go with its Ingress", || async {
        certs.get_opt("shop-tls").await.ok()?.is_none().then_some(())
    })
    .await;
    eventually(60, "the garbage collector to delete the Secret", || async {
        secrets.get_opt("shop-tls").await.ok()?.is_none().then_some(())
    })
    .await;

    // An external issuer's request, its signer named: approved as cert-manager's approver
    // does; another external signer's is left to its own approver.
    let requests: Api<CertificateRequest> = Api::namespaced(kube.client().await, "default");
    let key = rcgen::KeyPair::generate().unwrap();
    for (name, kind) in [("foo", "FooIssuer"), ("bar", "BarIssuer")] {
        let mut cr = crate::chart_admission::request_for(name, &key);
        cr.metadata.annotations = None;
        cr.spec.issuer_ref = serde_json::from_value(serde_json::json!(
            {"name": name, "kind": kind, "group": "example.com"}
        ))
        .unwrap();
        requests.create(&Default::default(), &cr).await.unwrap();
    }
    let approved = |cr: &CertificateRequest| {
        let conditions = cr.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        conditions.iter().find(|c| c.type_ == "Approved").map(|c| c.reason.clone())
    };
    eventually(30, "the named signer's request approved", || async {
        let cr = requests.get("foo").await.ok()?;
        (approved(&cr)? == Some("cert-manager.io".into())).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(approved(&requests.get("bar").await.unwrap()), None, "not a named signer");

    // The flag turned off again: the Secret's owner reference is taken away, the Secret kept.
    let kept = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: kept, namespace: default}\n\
                spec: {secretName: kept, commonName: kept.flags.example, issuerRef: {name: selfsigned}}\n";
    kube.kubectl_ok(&["apply", "-f", "-"], kept);
    ready(&certs, "kept", 1, &operator).await;
    let owners = |s: Secret| s.metadata.owner_references.unwrap_or_default().len();
    assert_eq!(owners(secrets.get("kept").await.unwrap()), 1);
    operator.kill();
    let operator = Operator::start(&kube, &pebble, &[]);
    eventually(60, "the owner reference to go", || async {
        (owners(secrets.get("kept").await.ok()?) == 0).then_some(())
    })
    .await;
    let cert = certs.get("kept").await.unwrap();
    assert_eq!(cert.status.unwrap().revision, Some(1), "the same certificate");
    drop(operator);
}

/// cert-manager v1.21's `waitInsteadOfSelfCheck`: the Challenge says it waits instead of
/// self-checking, records `presentedAt`, and is accepted at the CA no sooner than the wait.
#[tokio::test(flavor = "multi_thread")]
async fn a_solver_that_waits_instead_of_self_checking_waits() {
    let bed = crate::support::shared::issuing();
    let ns = "solver-wait";
    bed.kube.kubectl_ok(&["create", "namespace", ns], "");
    let issuer = bed.pebble.issuer_yaml("Issuer", "waits", Some(ns));
    let issuer =
        issuer.replace("    - http01:\n", "    - waitInsteadOfSelfCheck: 4s\n      http01:\n");
    let certificate = format!(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: waited, namespace: {ns}}}\n\
         spec: {{secretName: waited, dnsNames: [waited.example.com], issuerRef: {{name: waits}}}}\n"
    );
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &format!("{issuer}---\n{certificate}"));
    let client = bed.kube.client().await;
    let challenges: Api<certsmith::api::Challenge> = Api::namespaced(client.clone(), ns);
    let said = eventually(30, "the Challenge to say it waits", || async {
        let list = challenges.list(&Default::default()).await.ok()?;
        let status = list.items.first()?.status.clone()?;
        let reason = status.reason.clone()?;
        reason.contains("instead of self-checking").then_some((reason, status.presented_at))
    })
    .await;
    assert_eq!(
        said.0,
        "Waiting 4s after the challenge was presented instead of self-checking it (waitInsteadOfSelfCheck)"
    );
    assert!(said.1.is_some(), "presentedAt recorded");
    let certs: Api<Certificate> = Api::namespaced(client, ns);
    ready(&certs, "waited", 1, &bed.operator).await;
}
