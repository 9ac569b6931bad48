//! The ingress-shim end to end: annotated Ingresses (the seed tutorial's first) become Ready
//! Certificates and valid Secrets; Certificates follow the Ingress; bad input changes nothing.

use crate::support;

use crate::support::acme::{Operator, PebbleBed, eventually, issuing_bed};
use crate::support::{KubeBed, fixture};
use certsmith::api::Certificate;
use certsmith::pki::inspect::parse_chain;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use std::sync::OnceLock;

struct Bed {
    kube: KubeBed,
    _pebble: PebbleBed,
    operator: Operator,
}

fn bed() -> &'static Bed {
    static BED: OnceLock<Bed> = OnceLock::new();
    BED.get_or_init(|| {
        let kube = KubeBed::start();
        let pebble = issuing_bed(&kube);
        let flags =
            ["--default-issuer-name", "letsencrypt-prod", "--default-issuer-kind", "ClusterIssuer"];
        let operator = Operator::start(&kube, &pebble, &flags);
        Bed { kube, _pebble: pebble, operator }
    })
}

fn namespace(name: &str) -> String {
    bed().kube.kubectl_ok(&["create", "namespace", name], "");
    name.to_string()
}

fn apply(ns: &str, yaml: &str) {
    bed().kube.kubectl_ok(&["apply", "-n", ns, "-f", "-"], yaml);
}

fn ingress(name: &str, annotations: &str, tls: &[(&str, &[&str])]) -> String {
    let tls: Vec<String> = tls
        .iter()
        .map(|(secret, hosts)| format!("{{secretName: {secret}, hosts: [{}]}}", hosts.join(", ")))
        .collect();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  annotations: {{{annotations}}}\n\
         spec:\n  ingressClassName: nginx\n  tls: [{}]\n  rules:\n  - host: shop.example.com\n    http:\n      paths:\n      \
         - {{path: /, pathType: Prefix, backend: {{service: {{name: shop, port: {{number: 80}}}}}}}}\n",
        tls.join(", ")
    )
}

async fn ready(certs: &Api<Certificate>, name: &str, revision: i64) -> Certificate {
    support::acme::ready(certs, name, revision, &bed().operator).await
}

async fn secret_names(secrets: &Api<Secret>, name: &str) -> Vec<String> {
    let s = secrets.get(name).await.unwrap();
    let chain = String::from_utf8(s.data.unwrap()["tls.crt"].0.clone()).unwrap();
    parse_chain(&chain).unwrap().identifiers()
}

#[tokio::test]
async fn the_seed_ingress_gets_a_certificate_it_owns_and_a_valid_secret() {
    let bed = bed();
    let ns = namespace("seed");
    apply(&ns, &fixture("seed-auto-tls-ingress.yaml"));
    let client = bed.kube.client().await;
    let cert = ready(&Api::namespaced(client.clone(), &ns), "app-tls-cert", 1).await;
    let owner = &cert.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("Ingress", "auto-tls-ingress", Some(true))
    );
    let secrets: Api<Secret> = Api::namespaced(client, &ns);
    assert_eq!(secret_names(&secrets, "app-tls-cert").await, ["app.example.com"]);
    // What cert-manager's runbooks look at: one approved, Ready request, one valid order, and
    // nothing of the challenge left.
    let get = |what: &str, columns: &str| {
        bed.kube.kubectl_ok(
            &["get", what, "-n", &ns, "-o", &format!("custom-columns={columns}"), "--no-headers"],
            "",
        )
    };
    let requests = get(
        "certificaterequests",
        r#"A:.status.conditions[?(@.type=="Approved")].status,R:.status.conditions[?(@.type=="Ready")].status"#,
    );
    assert_eq!(requests.trim(), "True   True", "{requests}");
    assert_eq!(get("orders", "S:.status.state").trim(), "valid");
    eventually(30, "no Challenge and no solver Ingress left", || async {
        let left = get("challenges,ingresses", "N:.metadata.name");
        (left.trim() == "auto-tls-ingress").then_some(())
    })
    .await;
}

#[tokio::test]
async fn one_certificate_per_tls_block_and_tls_acme_uses_the_default_issuer() {
    let bed = bed();
    let ns = namespace("multi");
    let blocks: &[(&str, &[&str])] = &[
        ("api-tls", &["api.example.com"]),
        ("admin-tls", &["admin.example.com"]),
        ("docs-tls", &["docs.example.com"]),
    ];
    apply(
        &ns,
        &ingress("multi-host-ingress", "cert-manager.io/cluster-issuer: letsencrypt-prod", blocks),
    );
    apply(
        &ns,
        &ingress("acme", "kubernetes.io/tls-acme: 'true'", &[("acme-tls", &["acme.example.com"])]),
    );
    let certs: Api<Certificate> = Api::namespaced(bed.kube.client().await, &ns);
    for name in ["api-tls", "admin-tls", "docs-tls"] {
        ready(&certs, name, 1).await;
    }
    let acme = ready(&certs, "acme-tls", 1).await;
    assert_eq!(acme.spec.issuer_ref.name, "letsencrypt-prod");
    assert_eq!(acme.spec.issuer_ref.kind.as_deref(), Some("ClusterIssuer"));
}

#[tokio::test]
async fn certificates_follow_the_ingress_and_secrets_survive() {
    let bed = bed();
    let ns = namespace("follow");
    let ci = "cert-manager.io/cluster-issuer: letsencrypt-prod";
    apply(
        &ns,
        &ingress(
            "shop",
            ci,
            &[("shop-tls", &["shop.example.com"]), ("extra-tls", &["extra.example.com"])],
        ),
    );
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client, &ns);
    ready(&certs, "shop-tls", 1).await;
    ready(&certs, "extra-tls", 1).await;

    // A host added: the Certificate follows and is re-issued for both names.
    apply(
        &ns,
        &ingress(
            "shop",
            ci,
            &[
                ("shop-tls", &["shop.example.com", "www.shop.example.com"]),
                ("extra-tls", &["extra.example.com"]),
            ],
        ),
    );
    ready(&certs, "shop-tls", 2).await;
    assert_eq!(
        secret_names(&secrets, "shop-tls").await,
        ["shop.example.com", "www.shop.example.com"]
    );

    // A tls entry removed: its Certificate goes, its Secret stays.
    apply(
        &ns,
        &ingress("shop", ci, &[("shop-tls", &["shop.example.com", "www.shop.example.com"])]),
    );
    eventually(30, "extra-tls deleted", || async {
        certs.get_opt("extra-tls").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(
        secrets.get_opt("extra-tls").await.unwrap().is_some(),
        "the Secret of a removed tls entry was deleted"
    );
    // cert-manager's Events on the Ingress, one per change, none for an apply that changed nothing.
    let events = eventually(30, "the shim's Events", || async {
        let columns = "custom-columns=R:.reason,M:.message";
        let out = bed.kube.kubectl_ok(&["get", "events", "-n", &ns, "-o", columns], "");
        out.contains("DeleteCertificate").then_some(out)
    })
    .await;
    for line in [
        "CreateCertificate Successfully created Certificate \"shop-tls\"",
        "CreateCertificate Successfully created Certificate \"extra-tls\"",
        "UpdateCertificate Successfully updated Certificate \"shop-tls\"",
        "DeleteCertificate Successfully deleted unrequired Certificate \"extra-tls\" (its Secret is kept)",
    ] {
        let seen = events.lines().filter(|l| squeeze(l) == line).count();
        assert_eq!(seen, 1, "'{line}' seen {seen} times in:\n{events}");
    }

    // The Ingress deleted: the garbage collector takes its Certificate; the Secret stays.
    bed.kube.kubectl_ok(&["delete", "ingress", "shop", "-n", &ns], "");
    eventually(60, "shop-tls garbage-collected", || async {
        certs.get_opt("shop-tls").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(
        secrets.get_opt("shop-tls").await.unwrap().is_some(),
        "the Secret of a deleted Ingress was deleted"
    );
}

#[tokio::test]
async fn bad_input_gives_an_event_and_changes_nothing() {
    let bed = bed();
    let ns = namespace("bad");
    let ci = "cert-manager.io/cluster-issuer: letsencrypt-prod";
    apply(&ns, &ingress("good", ci, &[("good-tls", &["good.example.com"])]));
    let certs: Api<Certificate> = Api::namespaced(bed.kube.client().await, &ns);
    ready(&certs, "good-tls", 1).await;
    // After Ready the CA's renewal window (ARI) is written too, where the CRD keeps it: take
    // the Certificate once it has stayed the same for three seconds (30 s at most).
    let mut before = certs.get("good-tls").await.unwrap();
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let now = certs.get("good-tls").await.unwrap();
        let settled = now.metadata.resource_version == before.metadata.resource_version;
        before = now;
        if settled {
            break;
        }
    }
    // A malformed annotation: an Event, and the existing Certificate untouched.
    apply(
        &ns,
        &ingress(
            "good",
            &format!("{ci}, cert-manager.io/duration: 90x"),
            &[("good-tls", &["good.example.com", "more.example.com"])],
        ),
    );
    // A Certificate of the same name that another Ingress does not own: left alone.
    apply(&ns, &ingress("thief", ci, &[("good-tls", &["thief.example.com"])]));
    let events = eventually(30, "both BadConfig Events", || async {
        let out = bed.kube.kubectl_ok(
            &[
                "get",
                "events",
                "-n",
                &ns,
                "-o",
                "custom-columns=R:.reason,O:.involvedObject.name,M:.message",
            ],
            "",
        );
        (out.contains("cert-manager.io/duration") && out.contains("not owned by this Ingress"))
            .then_some(out)
    })
    .await;
    assert!(events.contains("BadConfig"), "{events}");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let after = certs.get("good-tls").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "the Certificate was changed"
    );
}

#[tokio::test]
async fn two_certificates_validate_through_one_edited_ingress_and_its_rules_come_back() {
    let bed = bed();
    let ns = namespace("inplace");
    let client = bed.kube.client().await;
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), &ns);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Ingress>::new()));
    let recorder = {
        let (seen, ingresses) = (seen.clone(), ingresses.clone());
        tokio::spawn(async move {
            let mut stream =
                watcher(ingresses, watcher::Config::default()).applied_objects().boxed();
            while let Some(Ok(ing)) = stream.next().await {
                seen.lock().unwrap().push(ing);
            }
        })
    };
    let annotations = "cert-manager.io/cluster-issuer: letsencrypt-prod, acme.cert-manager.io/http01-edit-in-place: 'true'";
    apply(
        &ns,
        &ingress(
            "edited",
            annotations,
            &[
                ("edited-a-tls", &["a.edited.example.com"]),
                ("edited-b-tls", &["b.edited.example.com"]),
            ],
        ),
    );
    let certs = Api::namespaced(client.clone(), &ns);
    ready(&certs, "edited-a-tls", 1).await;
    ready(&certs, "edited-b-tls", 1).await;
    let original = ingresses.get("edited").await.unwrap().spec.unwrap().rules.unwrap();
    recorder.abort();
    let seen = seen.lock().unwrap().clone();
    for host in ["a.edited.example.com", "b.edited.example.com"] {
        let rule = seen.iter().find_map(|i| {
            let rules = i.spec.as_ref()?.rules.clone()?;
            rules.iter().find(|r| r.host.as_deref() == Some(host)).cloned()
        });
        let rule = rule.unwrap_or_else(|| panic!("the challenge rule for {host} was never added"));
        let path = &rule.http.unwrap().paths[0];
        assert!(path.path.as_deref().unwrap().starts_with("/.well-known/acme-challenge/"));
        assert_eq!(path.backend.service.as_ref().unwrap().name, "certsmith-acme-http01");
    }
    assert_eq!(original.len(), 1, "rules left behind: {original:?}");
    assert_eq!(original[0].host.as_deref(), Some("shop.example.com"));
    let types =
        bed.kube.kubectl_ok(&["get", "services", "-A", "-o", "jsonpath={.items[*].spec.type}"], "");
    assert!(!types.contains("ExternalName"), "an ExternalName Service exists: {types}");
    let svc = bed.kube.kubectl_ok(
        &[
            "get",
            "service",
            "certsmith-acme-http01",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.type}/{.spec.selector}",
        ],
        "",
    );
    assert_eq!(svc, "ClusterIP/", "the responder Service is a ClusterIP without selector");
}

#[tokio::test]
async fn the_http01_class_annotation_shapes_the_solver_ingress() {
    let bed = bed();
    let ns = namespace("classy");
    let client = bed.kube.client().await;
    let solvers: Api<Ingress> = Api::namespaced(client.clone(), &ns);
    let classes = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let recorder = {
        let classes = classes.clone();
        let cfg = watcher::Config::default().labels("acme.cert-manager.io/http01-solver=true");
        tokio::spawn(async move {
            let mut stream = watcher(solvers, cfg).applied_objects().boxed();
            while let Some(Ok(ing)) = stream.next().await {
                let rules = ing.spec.as_ref().and_then(|s| s.rules.clone()).unwrap_or_default();
                if rules.iter().any(|r| r.host.as_deref() == Some("classy.example.com")) {
                    let class = ing
                        .metadata
                        .annotations
                        .unwrap_or_default()
                        .get("kubernetes.io/ingress.class")
                        .cloned();
                    classes.lock().unwrap().push(class.unwrap_or_default());
                }
            }
        })
    };
    let annotations = "cert-manager.io/cluster-issuer: letsencrypt-prod, acme.cert-manager.io/http01-ingress-class: traefik";
    apply(&ns, &ingress("classy", annotations, &[("classy-tls", &["classy.example.com"])]));
    ready(&Api::namespaced(client, &ns), "classy-tls", 1).await;
    recorder.abort();
    let classes = classes.lock().unwrap().clone();
    assert!(
        !classes.is_empty() && classes.iter().all(|c| c == "traefik"),
        "solver classes: {classes:?}"
    );
}

/// A table row with its column padding reduced to single spaces.
fn squeeze(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}
