//! DNS-01 through acme-dns (`dns01.acmeDNS`), with no mock in the path: acme-dns's own server
//! (start-acmedns.sh, built by build-acmedns.sh) holds two accounts registered through its
//! `POST /register`, their JSON in the issuers' Secrets as its users keep it; BIND (which Pebble
//! and certsmith's check resolve through) holds the `_acme-challenge` CNAMEs into acme-dns's zone
//! and forwards that zone to it. certsmith runs as the chart's ServiceAccount. A wildcard through
//! an Issuer (its Secret in its namespace) and a name through a ClusterIssuer (its Secret in the
//! cluster resource namespace) are issued by Pebble; a wrong password shows acme-dns's refusal
//! on the Challenge, the Certificate and an Event, the password nowhere. Nothing is removed from
//! acme-dns afterwards: its API has no delete, and later values replace these.

use crate::chart_admission::install_chart;
use crate::chart_support::service_account_kubeconfig;
use crate::support::acme::{Operator, PebbleBed, eventually, ready};
use crate::support::{self, KubeBed, issued_names, start, state_var, txt};
use certsmith::api::{Certificate, Challenge};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::process::Command;

/// An ACME issuer for `pebble` whose one solver is acme-dns at `host`, its accounts in the
/// Secret `secret` (entry `acmedns.json`).
fn issuer(
    pebble: &PebbleBed,
    kind: &str,
    name: &str,
    ns: Option<&str>,
    host: &str,
    secret: &str,
) -> String {
    let base = pebble.issuer_yaml(kind, name, ns);
    let head = &base[..base.find("    solvers:\n").unwrap()];
    format!(
        "{head}    solvers:\n    - dns01:\n        acmeDNS:\n          host: {host}\n          \
         accountSecretRef: {{name: {secret}, key: acmedns.json}}\n---\n"
    )
}

/// A Secret holding `json` as `acmedns.json`.
fn accounts_secret(ns: &str, name: &str, json: &serde_json::Value) -> String {
    let json = serde_json::to_string(json).unwrap();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         stringData: {{acmedns.json: {}}}\n---\n",
        serde_json::to_string(&json).unwrap()
    )
}

/// Whether acme-dns is built (build-acmedns.sh builds it only from a checkout: the Go module
/// proxy does not serve it). Without it the test says so and passes, unless
/// CERTSMITH_REQUIRE_ACMEDNS=1.
fn acme_dns_built() -> bool {
    let env = support::testbed_script("env.sh");
    let out = Command::new("bash")
        .args(["-c", &format!(". {}; echo \"$ACMEDNS_BIN_DIR/acme-dns\"", env.display())])
        .output()
        .unwrap();
    let bin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    if std::path::Path::new(&bin).exists() {
        return true;
    }
    let why = format!("{bin} is not built (e2e/testbed/build-acmedns.sh, ACMEDNS_SRC)");
    assert!(std::env::var("CERTSMITH_REQUIRE_ACMEDNS").as_deref() != Ok("1"), "{why}");
    eprintln!("SKIPPED acme_dns: {why}");
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wildcard_through_acme_dns_and_its_refusal_without_the_password() {
    if !acme_dns_built() {
        return;
    }
    let adns =
        start("start-acmedns.sh", &[("ACMEDNS_DOMAINS", "example.test cluster.example.test")]);
    let (api, zone) = (state_var(&adns, "ACMEDNS_API"), state_var(&adns, "ACMEDNS_ZONE"));
    let forward = format!("{zone} {}", state_var(&adns, "ACMEDNS_DNS_PORT"));
    let cnames = state_var(&adns, "ACMEDNS_CNAMES");
    let bind = start("start-bind.sh", &[("FORWARD_ZONE", &forward), ("EXTRA_RECORDS", &cnames)]);
    let port = state_var(&bind, "DNS_PORT");
    let accounts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_var(&adns, "ACMEDNS_ACCOUNTS")).unwrap())
            .unwrap();
    let password = accounts["example.test"]["password"].as_str().unwrap().to_string();
    // The name the bed's CNAME points at, and acme-dns answers through BIND.
    let fulldomain = accounts["example.test"]["fulldomain"].as_str().unwrap().to_string();
    assert!(fulldomain.ends_with(&format!(".{zone}")), "{fulldomain}");

    let kube = KubeBed::start();
    install_chart(&kube, "");
    let pebble = PebbleBed::start(&[
        ("PEBBLE_DNS_SERVER", &format!("127.0.0.1:{port}")),
        ("PEBBLE_ALTERNATE_ROOTS", "1"),
    ]);
    kube.kubectl_ok(&["create", "namespace", "team"], "");
    // A wrong password (acme-dns's keys are 40 characters) for the first account's user.
    let wrong_password = format!("{:X<40}", "WrongPassw0rd");
    let mut wrong = accounts["example.test"].clone();
    wrong["password"] = wrong_password.clone().into();
    let yaml = format!(
        "{}{}{}{}{}{}",
        // The Issuer's Secret in its namespace; the ClusterIssuer's in the cluster resource
        // namespace (the operator's), though its Certificate is in team.
        accounts_secret("team", "acme-dns", &accounts),
        accounts_secret("certsmith", "acme-dns-cluster", &accounts),
        accounts_secret(
            "team",
            "acme-dns-wrong",
            &serde_json::json!({"refused.example.test": wrong})
        ),
        issuer(&pebble, "Issuer", "adns", Some("team"), &api, "acme-dns"),
        issuer(&pebble, "ClusterIssuer", "adns", None, &api, "acme-dns-cluster"),
        issuer(&pebble, "Issuer", "adns-wrong", Some("team"), &api, "acme-dns-wrong"),
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
  issuerRef: {name: adns, kind: Issuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: cluster, namespace: team}
spec:
  secretName: cluster-tls
  dnsNames: [cluster.example.test]
  issuerRef: {name: adns, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: refused, namespace: team}
spec:
  secretName: refused-tls
  dnsNames: [refused.example.test]
  issuerRef: {name: adns-wrong, kind: Issuer}
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
    for (secret, name) in [("wild-tls", "*.example.test"), ("cluster-tls", "cluster.example.test")]
    {
        let names = issued_names(&secrets, secret, &pebble.root_pem()).await;
        assert!(names.contains(&name.to_string()), "{names:?}");
    }
    // Nothing was removed (acme-dns cannot): the values stay at the CNAME's target until later
    // ones replace them.
    assert!(!txt(&port, "_acme-challenge.example.test").is_empty(), "acme-dns's value is gone");

    // A wrong password: acme-dns's own refusal on the Challenge, then the Certificate.
    let words = "refused the update for refused.example.test: HTTP 401: forbidden";
    let challenges: Api<Challenge> = Api::namespaced(client, "team");
    let said = eventually(60, "acme-dns's refusal on the Challenge", || async {
        let list = challenges.list(&Default::default()).await.ok()?;
        let ch = list.items.into_iter().find(|c| c.spec.dns_name == "refused.example.test")?;
        ch.status?.reason.filter(|r| r.contains(words))
    })
    .await;
    assert!(said.contains(&format!("acme-dns at {api} ")), "{said}");
    let condition = eventually(60, "the refusal on the Certificate", || async {
        let c = certs.get("refused").await.ok()?;
        let issuing = c.status?.conditions?.into_iter().find(|c| c.type_ == "Issuing")?;
        issuing.message.filter(|m| m.contains(words))
    })
    .await;
    let events = kube.kubectl_ok(
        &[
            "get",
            "events",
            "-n",
            "team",
            "--field-selector",
            "reason=PresentError",
            "-o",
            "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
        ],
        "",
    );
    assert!(events.contains(words), "no PresentError Event with acme-dns's words: {events}");
    // The password, right or wrong, nowhere: not the Challenge, the Certificate, an Event, nor
    // the operator's log.
    let all_challenges =
        serde_json::to_string(&challenges.list(&Default::default()).await.unwrap()).unwrap();
    let all_certs = serde_json::to_string(&certs.list(&Default::default()).await.unwrap()).unwrap();
    let every_event = kube.kubectl_ok(&["get", "events", "-A", "-o", "json"], "");
    for (what, text) in [
        ("Challenges", &all_challenges),
        ("Certificates", &all_certs),
        ("Events", &every_event),
        ("the operator's log", &operator.logs()),
        ("the condition", &condition),
    ] {
        for secret in [&password, &wrong_password] {
            assert!(!text.contains(secret.as_str()), "a password in {what}");
        }
    }

    drop(operator);
    let _ = Command::new(support::testbed_script("stop-bind.sh")).arg(&bind).status();
    let _ = Command::new(support::testbed_script("stop-acmedns.sh")).arg(&adns).status();
}
