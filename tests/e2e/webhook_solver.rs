//! DNS-01 through a cert-manager webhook solver (`dns01.webhook`), with no mock in the path:
//! the bed's solver (start-webhook.sh) is cert-manager v1.21.1's own webhook server library,
//! registered as an aggregated API of the bed's API server, writing into BIND through
//! cert-manager's own RFC 2136 provider with a TSIG secret it reads from the request's
//! `resourceNamespace`. certsmith runs as the chart's ServiceAccount, whose only grant on the
//! solver's group is the chart's `dns01WebhookGroups`. A wildcard issued through an Issuer and a
//! name through a ClusterIssuer prove Pebble saw both records (and so which namespace each
//! request named); the records are gone afterwards; a config the solver refuses shows the
//! solver's own words on the Challenge and the Certificate.

use crate::chart_admission::install_chart;
use crate::chart_support::{can_i, render, service_account_kubeconfig};
use crate::support::acme::{Operator, PebbleBed, eventually, ready};
use crate::support::{self, KubeBed, issued_names, start, state_var, txt};
use certsmith::api::{Certificate, Challenge};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::process::Command;

/// An ACME issuer for `pebble` whose one solver is the bed's webhook solver with `config`.
fn issuer(pebble: &PebbleBed, kind: &str, name: &str, ns: Option<&str>, config: &str) -> String {
    let base = pebble.issuer_yaml(kind, name, ns);
    let head = &base[..base.find("    solvers:\n").unwrap()];
    format!(
        "{head}    solvers:\n    - dns01:\n        webhook:\n          groupName: acme.certsmith.test\n          \
         solverName: rfc2136\n          config: {config}\n---\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wildcard_through_cert_managers_webhook_library_and_its_refusal_in_its_words() {
    let bind = start("start-bind.sh", &[]);
    let port = state_var(&bind, "DNS_PORT");
    let kube = KubeBed::start();
    let webhook = start("start-webhook.sh", &[("KUBE_STATE", kube.dir.to_str().unwrap())]);
    assert_eq!(state_var(&webhook, "WEBHOOK_GROUP"), "acme.certsmith.test");

    // By default the chart grants nothing on any solver's group (a solver's chart may): no
    // rule of the form a webhook grant takes (every resource of a group); with the group named
    // in dns01WebhookGroups, exactly that one.
    let wildcard_rules = |values: &str| -> Vec<serde_json::Value> {
        render(values)
            .iter()
            .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
            .flat_map(|d| d["rules"].as_array().cloned().unwrap_or_default())
            .filter(|r| r["resources"].as_array().is_some_and(|rs| rs.iter().any(|x| x == "*")))
            .collect()
    };
    assert_eq!(wildcard_rules(""), Vec::<serde_json::Value>::new());
    let named = wildcard_rules(r#"{"dns01WebhookGroups": ["acme.certsmith.test"]}"#);
    assert_eq!(
        named,
        vec![
            serde_json::json!({"apiGroups": ["acme.certsmith.test"], "resources": ["*"], "verbs": ["create"]})
        ]
    );
    // … and with dns01WebhookGroups, create on the groups it names; nothing more on them.
    install_chart(&kube, r#"{"dns01WebhookGroups": ["acme.certsmith.test"]}"#);
    let certsmith = "system:serviceaccount:certsmith:certsmith";
    for (check, granted) in [
        ("create rfc2136.acme.certsmith.test", true),
        ("get rfc2136.acme.certsmith.test", false),
        ("create rfc2136.acme.other.test", false),
    ] {
        assert_eq!(can_i(&kube, certsmith, "--all-namespaces", check), granted, "can-i {check}");
    }

    let pebble = PebbleBed::start(&[
        ("PEBBLE_DNS_SERVER", &format!("127.0.0.1:{port}")),
        ("PEBBLE_ALTERNATE_ROOTS", "1"),
    ]);
    let tsig = |ns: &str, name: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\n\
             stringData: {{secret: \"{}\"}}\n---\n",
            state_var(&bind, "TSIG_SHA256_SECRET")
        )
    };
    let config = |secret: &str| {
        format!(
            "{{nameserver: '127.0.0.1:{port}', tsigKeyName: certsmith-sha256, \
             tsigAlgorithm: HMACSHA256, tsigSecretSecretRef: {{name: {secret}, key: secret}}}}"
        )
    };
    kube.kubectl_ok(&["create", "namespace", "team"], "");
    // The Issuer's Secret in its own namespace; the ClusterIssuer's (another name) in the
    // cluster resource namespace (the operator's, certsmith), though its Certificate is in
    // team: the solver finds each only in the namespace certsmith sends.
    let yaml = format!(
        "{}{}{}{}{}",
        tsig("team", "tsig"),
        tsig("certsmith", "tsig-cluster"),
        issuer(&pebble, "Issuer", "hook", Some("team"), &config("tsig")),
        issuer(&pebble, "ClusterIssuer", "hook", None, &config("tsig-cluster")),
        issuer(&pebble, "ClusterIssuer", "hook-refused", None, "{}"),
    );
    kube.kubectl_ok(&["apply", "-f", "-"], &yaml);
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: wild, namespace: team}
spec:
  secretName: wild-tls
  dnsNames: ["*.example.test", example.test]
  issuerRef: {name: hook, kind: Issuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: cluster, namespace: team}
spec:
  secretName: cluster-tls
  dnsNames: [cluster.example.test]
  issuerRef: {name: hook, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: refused, namespace: team}
spec:
  secretName: refused-tls
  dnsNames: [refused.example.test]
  issuerRef: {name: hook-refused, kind: ClusterIssuer}
"#,
    );

    let kubeconfig = service_account_kubeconfig(&kube, "certsmith", "certsmith").await;
    let recursive = format!("127.0.0.1:{port}");
    let operator = Operator::start_with_kubeconfig(
        &kubeconfig,
        &pebble,
        &["--dns01-recursive-nameservers", &recursive, "--dns01-recursive-nameservers-only"],
    );
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "team");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team");

    ready(&certs, "wild", 1, &operator).await;
    ready(&certs, "cluster", 1, &operator).await;
    let names = issued_names(&secrets, "wild-tls", &pebble.root_pem()).await;
    assert!(names.contains(&"*.example.test".to_string()), "{names:?}");

    // The solver removed the records once the challenges were decided (CleanUp).
    eventually(30, "the TXT records removed", || async {
        let left = txt(&port, "_acme-challenge.example.test")
            + &txt(&port, "_acme-challenge.cluster.example.test");
        left.is_empty().then_some(())
    })
    .await;

    // A config the solver refuses: its own message on the Challenge, then the Certificate.
    let words = "bed webhook: config names no nameserver";
    let challenges: Api<Challenge> = Api::namespaced(client, "team");
    let said = eventually(60, "the solver's refusal on the Challenge", || async {
        let list = challenges.list(&Default::default()).await.ok()?;
        let ch = list.items.into_iter().find(|c| c.spec.dns_name == "refused.example.test")?;
        ch.status?.reason.filter(|r| r.contains(words))
    })
    .await;
    eventually(30, "the refusal on the Certificate", || async {
        let c = certs.get("refused").await.ok()?;
        let issuing = c.status?.conditions?.into_iter().find(|c| c.type_ == "Issuing")?;
        issuing.message.filter(|m| m.contains(words)).map(|_| ())
    })
    .await;
    let events = kube.kubectl_ok(
        &["get", "events", "-n", "team", "--field-selector", "reason=PresentError", "-o", "name"],
        "",
    );
    assert!(!events.is_empty(), "no PresentError Event for: {said}");
    assert!(txt(&port, "_acme-challenge.refused.example.test").is_empty());

    // Deleting it is not held up by the solver that never presented.
    kube.kubectl_ok(&["delete", "certificate", "refused", "-n", "team"], "");
    eventually(60, "the refused Challenge gone", || async {
        let list = challenges.list(&Default::default()).await.ok()?;
        (!list.items.iter().any(|c| c.spec.dns_name == "refused.example.test")).then_some(())
    })
    .await;
    drop(operator);
    let _ = Command::new(support::testbed_script("stop-webhook.sh")).arg(&webhook).status();
    let _ = Command::new(support::testbed_script("stop-bind.sh")).arg(&bind).status();
}
