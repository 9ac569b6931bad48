//! cert-manager's single-namespace mode (`--namespace=a`), with the chart installed the way
//! cert-manager's users set it (`extraArgs: [--namespace=a]`) and the operator running as the
//! chart's ServiceAccount, whose namespaced kinds are then granted by a Role in `a` alone: a
//! Certificate in `a` is issued (by a SelfSigned Issuer, and through ACME and HTTP-01), one in
//! `b` is left untouched (and so is an Ingress there, while `a`'s gets its Certificate), and one in `a` naming a
//! ClusterIssuer says why it is not issued, in cert-manager's words.

use crate::chart_support::{can_i, render, service_account_kubeconfig};
use crate::support::KubeBed;
use crate::support::acme::{Operator, PebbleBed, eventually};
use certsmith::api::{Certificate, CertificateRequest, ClusterIssuer, Issuer};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde_json::Value;
use std::time::Duration;

const VALUES: &str = r#"{"extraArgs": ["--namespace=a"]}"#;

/// The rules of the role `kind`/`name` as rendered: (resources, verbs) pairs.
fn rules(docs: &[Value], kind: &str, name: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let role = docs.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == name);
    let Some(role) = role else { return vec![] };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().filter_map(|s| s.as_str().map(String::from)).collect()
    };
    let rules = role["rules"].as_array().unwrap();
    rules.iter().map(|r| (strings(&r["resources"]), strings(&r["verbs"]))).collect()
}

fn grants(rules: &[(Vec<String>, Vec<String>)], resource: &str) -> bool {
    rules.iter().any(|(resources, _)| resources.iter().any(|r| r == resource))
}

#[test]
fn the_chart_grants_the_namespaced_kinds_by_a_role_in_the_namespace_only() {
    let docs = render(VALUES);
    let role =
        docs.iter().find(|d| d["kind"] == "Role" && d["metadata"]["name"] == "certsmith-namespace");
    assert_eq!(role.expect("the Role certsmith-namespace")["metadata"]["namespace"], "a");
    let binding = docs
        .iter()
        .find(|d| d["kind"] == "RoleBinding" && d["metadata"]["name"] == "certsmith-namespace")
        .expect("its RoleBinding");
    assert_eq!(binding["metadata"]["namespace"], "a");
    assert_eq!(binding["subjects"][0]["name"], "certsmith");
    let namespaced = rules(&docs, "Role", "certsmith-namespace");
    let cluster = rules(&docs, "ClusterRole", "certsmith");
    for resource in [
        "certificates",
        "certificaterequests",
        "issuers",
        "orders",
        "challenges",
        "secrets",
        "ingresses",
    ] {
        assert!(grants(&namespaced, resource), "{resource} not in the Role");
        assert!(!grants(&cluster, resource), "{resource} still in the ClusterRole");
    }
    // Disabled in this mode: granted nowhere.
    assert!(!grants(&namespaced, "clusterissuers") && !grants(&cluster, "clusterissuers"));
    // Cluster-scoped, so cluster-wide still: the admission policies' objects and the cainjector's.
    assert!(grants(&cluster, "mutatingadmissionpolicies"));
    assert!(grants(&cluster, "customresourcedefinitions"));
    // The cainjector's Events (about cluster-scoped objects, so in `default`): there only.
    assert!(!grants(&cluster, "events"), "Events granted in every namespace");
    let events = rules(&docs, "Role", "certsmith-cainjector-events");
    assert!(grants(&events, "events"), "the cainjector's Events in default");

    // Without the flag: no such Role, and the ClusterRole grants what it always did.
    let docs = render("");
    assert!(rules(&docs, "Role", "certsmith-namespace").is_empty());
    let cluster = rules(&docs, "ClusterRole", "certsmith");
    assert!(grants(&cluster, "certificates") && grants(&cluster, "clusterissuers"));
}

const OBJECTS: &str = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: own, namespace: a}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: own, namespace: b}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: everyone}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: a}
spec: {secretName: web-tls, dnsNames: [web.a.example], issuerRef: {name: own}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: b}
spec: {secretName: web-tls, dnsNames: [web.b.example], issuerRef: {name: own}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: shared, namespace: a}
spec: {secretName: shared-tls, dnsNames: [shared.a.example], issuerRef: {name: everyone, kind: ClusterIssuer}}
"#;

/// An Ingress annotated for the shim in `namespace`.
fn ingress(namespace: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\n  namespace: {namespace}\n  \
         annotations: {{cert-manager.io/issuer: own}}\nspec:\n  tls: [{{secretName: shop-tls, hosts: [shop.{namespace}.example]}}]\n  \
         rules:\n  - host: shop.{namespace}.example\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, \
         backend: {{service: {{name: shop, port: {{number: 80}}}}}}}}\n"
    )
}

const ACME_CERTIFICATE: &str = r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: site, namespace: a}
spec: {secretName: site-tls, dnsNames: [site.a.example], issuerRef: {name: acme}}
"#;

/// The Ready condition of Certificate `name`: (status, reason, message).
fn ready_of(cert: &Certificate) -> Option<(String, String, String)> {
    let conditions = cert.status.as_ref()?.conditions.as_ref()?;
    let c = conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((
        format!("{:?}", c.status),
        c.reason.clone().unwrap_or_default(),
        c.message.clone().unwrap_or_default(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn one_namespace_is_served_another_left_alone_and_a_cluster_issuer_refused() {
    let bed = KubeBed::start();
    for namespace in ["a", "b"] {
        bed.kubectl_ok(&["create", "namespace", namespace], "");
    }
    crate::chart_admission::install_chart(&bed, VALUES);
    let certsmith = "system:serviceaccount:certsmith:certsmith";
    let can = |namespace: &str, check: &str| can_i(&bed, certsmith, namespace, check);
    assert!(can("--namespace=a", "list certificates.cert-manager.io"));
    assert!(can("--namespace=a", "create secrets"));
    assert!(!can("--namespace=b", "list certificates.cert-manager.io"));
    assert!(!can("--namespace=b", "get secrets"));
    assert!(!can("--all-namespaces", "watch certificates.cert-manager.io"));
    assert!(!can("--all-namespaces", "list clusterissuers.cert-manager.io"));

    bed.kubectl_ok(&["apply", "-f", "-"], OBJECTS);
    let kubeconfig = service_account_kubeconfig(&bed, "certsmith", "certsmith").await;
    let pebble = PebbleBed::start(&[]);
    // Through ACME and HTTP-01 too: the account Secret, the solver Ingress, the namespace's
    // responder Service and the slices copied from the release namespace's, all granted.
    bed.kubectl_ok(&["apply", "-f", "-"], &pebble.issuer_yaml("Issuer", "acme", Some("a")));
    bed.kubectl_ok(&["apply", "-f", "-"], ACME_CERTIFICATE);
    // The ingress-shim's sources: only `a`'s gets a Certificate.
    for namespace in ["a", "b"] {
        bed.kubectl_ok(&["apply", "-f", "-"], &ingress(namespace));
    }
    let started = std::time::Instant::now();
    let operator = Operator::start_with_kubeconfig(&kubeconfig, &pebble, &["--namespace=a"]);
    let client = bed.client().await;
    let certs = |namespace: &str| Api::<Certificate>::namespaced(client.clone(), namespace);

    // In `a`, through its Issuer: issued.
    let issued = eventually(60, "a/web Ready", || async {
        let c = certs("a").get("web").await.ok()?;
        (ready_of(&c)?.1 == "Ready").then_some(c)
    })
    .await;
    assert_eq!(issued.status.unwrap().revision, Some(1));
    eventually(90, "a/site Ready through ACME", || async {
        let c = certs("a").get("site").await.ok()?;
        (ready_of(&c)?.1 == "Ready").then_some(())
    })
    .await;
    nothing_forbidden(&operator);

    // In `a`, naming a ClusterIssuer: cert-manager's words on the Certificate and in an Event,
    // and nothing requested.
    let words = "cannot get ClusterIssuer named \"everyone\" as cert-manager is scoped to a \
                 single namespace (--namespace=a)";
    let refused = eventually(30, "a/shared refused", || async {
        let c = certs("a").get("shared").await.ok()?;
        ready_of(&c).filter(|r| r.1 == "IssuerNotFound")
    })
    .await;
    assert_eq!(refused, ("False".to_string(), "IssuerNotFound".to_string(), words.to_string()));
    let events = bed.kubectl_ok(&["get", "events.events.k8s.io", "-n", "a", "-o", "json"], "");
    let events: Value = serde_json::from_str(&events).unwrap();
    let said = events["items"].as_array().unwrap().iter().any(|e| {
        e["regarding"]["name"] == "shared" && e["reason"] == "IssuerNotFound" && e["note"] == words
    });
    assert!(said, "no IssuerNotFound Event on a/shared:\n{events:#}");

    // What is not the operator's stays as it was made, a few seconds on: `b`'s Certificate and
    // Issuer, and the ClusterIssuer, carry no status; no request, no Secret in `b`.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let shim_a = certs("a").get_opt("shop-tls").await.unwrap();
    assert!(shim_a.is_some(), "a's Ingress got no Certificate");
    let shim_b = certs("b").get_opt("shop-tls").await.unwrap();
    assert!(shim_b.is_none(), "b's Ingress got a Certificate");
    let other = certs("b").get("web").await.unwrap();
    assert!(other.status.is_none(), "b/web was touched: {:?}", other.status);
    let b_issuer = Api::<Issuer>::namespaced(client.clone(), "b").get("own").await.unwrap();
    assert!(b_issuer.status.is_none(), "b/own was touched: {:?}", b_issuer.status);
    let a_issuer = Api::<Issuer>::namespaced(client.clone(), "a").get("own").await.unwrap();
    assert!(a_issuer.status.is_some(), "a/own was not reconciled");
    let cluster = Api::<ClusterIssuer>::all(client.clone()).get("everyone").await.unwrap();
    assert!(cluster.status.is_none(), "the ClusterIssuer was reconciled: {:?}", cluster.status);
    let requests =
        |namespace: &str| Api::<CertificateRequest>::namespaced(client.clone(), namespace);
    let lp = ListParams::default();
    assert!(requests("b").list(&lp).await.unwrap().items.is_empty());
    let in_a: Vec<String> = requests("a")
        .list(&lp)
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| r.metadata.name.clone().unwrap())
        .collect();
    assert!(in_a.contains(&"web-1".to_string()) && in_a.contains(&"site-1".to_string()));
    assert!(!in_a.iter().any(|r| r.starts_with("shared")), "a request for a/shared: {in_a:?}");
    let secrets = Api::<Secret>::namespaced(client.clone(), "b").list(&lp).await.unwrap();
    assert!(
        secrets.items.iter().all(|s| s.metadata.name.as_deref() != Some("web-tls")),
        "a Secret was written in b"
    );

    // Nothing the namespaced grant refuses was asked for (every watch was scoped).
    nothing_forbidden(&operator);
    let logs = operator.logs();
    assert!(logs.contains("scoped to a single namespace"), "{logs}");
    eprintln!("single_namespace: issued and checked in {:?}", started.elapsed());
}

/// The operator's log says nothing was forbidden.
fn nothing_forbidden(operator: &Operator) {
    let logs = operator.logs();
    assert!(!logs.to_lowercase().contains("forbidden"), "a request was refused:\n{logs}");
}
