//! ACME accounts against a Pebble that requires External Account Binding: EAB, caBundle,
//! skipTLSVerify and disableAccountKeyGeneration, each as the issuer's Ready condition shows it.

use crate::support;

use crate::support::KubeBed;
use crate::support::acme::{Operator, PebbleBed, eventually};
use crate::support::faults::Row;

/// The HMAC key Pebble is given, base64url as a CA hands it out.
const HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

fn issuer(pebble: &PebbleBed, name: &str, ns: &str, acme_extra: &str, with_ca: bool) -> String {
    let yaml = pebble.issuer_yaml("Issuer", name, Some(ns));
    let yaml = if with_ca {
        yaml
    } else {
        yaml.lines()
            .filter(|l| !l.trim_start().starts_with("caBundle:"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    yaml.replace("    privateKeySecretRef:", &format!("{acme_extra}    privateKeySecretRef:"))
}

fn ready(kube: &KubeBed, ns: &str, name: &str) -> Option<(String, String, String)> {
    let out = kube.kubectl(
        &["get", "issuer", name, "-n", ns, "-o", "jsonpath={.status.conditions[0].status}|{.status.conditions[0].reason}|{.status.conditions[0].message}"],
        "",
    );
    let text = String::from_utf8(out.stdout).ok()?;
    let mut parts = text.splitn(3, '|').map(str::to_string);
    let (s, r, m) = (parts.next()?, parts.next()?, parts.next()?);
    (!s.is_empty()).then_some((s, r, m))
}

#[tokio::test]
async fn account_registration_follows_the_issuer_spec() {
    let kube = KubeBed::start();
    kube.install_crds();
    kube.kubectl_ok(&["create", "namespace", "certsmith"], "");
    let pebble = PebbleBed::start(&[("EAB_KID", "kid-1"), ("EAB_HMAC", HMAC)]);
    let _operator = Operator::start(&kube, &pebble, &[]);
    kube.kubectl_ok(
        &["create", "secret", "generic", "eab", &format!("--from-literal=secret={HMAC}")],
        "",
    );
    let eab =
        "    externalAccountBinding: {keyID: kid-1, keySecretRef: {name: eab, key: secret}}\n";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "with-eab",
            issuer(&pebble, "with-eab", "default", eab, true),
            "True",
            "The ACME account was registered with the ACME server",
        ),
        (
            "without-eab",
            issuer(&pebble, "without-eab", "default", "", true),
            "False",
            "externalAccountRequired",
        ),
        (
            "skip-tls",
            issuer(
                &pebble,
                "skip-tls",
                "default",
                &format!("    skipTLSVerify: true\n{eab}"),
                false,
            ),
            "True",
            "registered",
        ),
        (
            "untrusted",
            issuer(&pebble, "untrusted", "default", eab, false),
            "False",
            "could not be reached",
        ),
        (
            "no-keygen",
            issuer(
                &pebble,
                "no-keygen",
                "default",
                &format!("    disableAccountKeyGeneration: true\n{eab}"),
                true,
            ),
            "False",
            "does not exist and disableAccountKeyGeneration is set",
        ),
    ];
    for (_, yaml, _, _) in &cases {
        kube.kubectl_ok(&["apply", "-f", "-"], yaml);
    }
    for (name, _, want_status, want_message) in cases {
        let (status, reason, message) =
            eventually(30, &format!("issuer {name} reporting"), || async {
                ready(&kube, "default", name).filter(|(s, _, _)| s == want_status)
            })
            .await;
        println!("{name}: {status} {reason}: {message}");
        assert!(message.contains(want_message), "{name}: {status} {reason}: {message}");
        if status == "False" {
            assert_eq!(reason, "ErrRegisterACMEAccount", "{name}");
        }
    }
    // The registered account's key is where cert-manager keeps it, and status names the account.
    let key =
        kube.kubectl_ok(&["get", "secret", "with-eab", "-o", "jsonpath={.data.tls\\.key}"], "");
    assert!(!key.is_empty());
    let uri = kube.kubectl_ok(
        &[
            "get",
            "issuer",
            "with-eab",
            "-o",
            "jsonpath={.status.acme.uri}|{.status.acme.lastRegisteredEmail}",
        ],
        "",
    );
    assert!(uri.starts_with("https://127.0.0.1") && uri.ends_with("|admin@example.com"), "{uri}");
    let events =
        kube.kubectl_ok(&["get", "events", "-o", "custom-columns=R:.reason,O:.regarding.name"], "");
    assert!(events.contains("ErrRegisterACMEAccount"), "{events}");

    // Solver fields that mean something only with cert-manager's solver pods: the Issuer is
    // Ready all the same, and names them in its own condition and an Event until they go.
    let pods = "          class: nginx\n          serviceType: NodePort\n          \
                podTemplate: {spec: {nodeSelector: {pool: edge}}}\n";
    let with =
        issuer(&pebble, "with-eab", "default", eab, true).replace("          class: nginx\n", pods);
    let ignored = |kube: &KubeBed| {
        let path =
            "jsonpath={.status.conditions[?(@.type==\"certsmith.io/IgnoredFields\")].message}";
        kube.kubectl_ok(&["get", "issuer", "with-eab", "-o", path], "")
    };
    kube.kubectl_ok(&["apply", "-f", "-"], &with);
    let said = eventually(30, "the IgnoredFields condition", || async {
        Some(ignored(&kube)).filter(|m| !m.is_empty())
    })
    .await;
    for field in
        ["http01.ingress.podTemplate has no effect", "http01.ingress.serviceType has no effect"]
    {
        assert!(said.contains(&format!("spec.acme.solvers[0].{field}")), "{said}");
    }
    assert_eq!(ready(&kube, "default", "with-eab").unwrap().0, "True");
    // The Event goes out once the condition is written.
    eventually(30, "the IgnoredFields Event", || async {
        let columns = "custom-columns=R:.reason,T:.type,M:.note";
        let events = kube.kubectl_ok(&["get", "events.events.k8s.io", "-o", columns], "");
        events
            .lines()
            .any(|l| {
                l.starts_with("IgnoredFields") && l.contains("Warning") && l.contains("podTemplate")
            })
            .then_some(())
    })
    .await;
    kube.kubectl_ok(&["apply", "-f", "-"], &issuer(&pebble, "with-eab", "default", eab, true));
    eventually(30, "the IgnoredFields condition gone", || async {
        ignored(&kube).is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_ca_that_forgot_the_account_gets_it_registered_again() {
    use certsmith::api::Certificate;
    let kube = KubeBed::start();
    kube.install_crds();
    kube.kubectl_ok(&["create", "namespace", "certsmith"], "");
    // A CA that requires External Account Binding: registering again needs the binding.
    let pebble = PebbleBed::start(&[("EAB_KID", "kid-1"), ("EAB_HMAC", HMAC)]);
    let literal = format!("--from-literal=secret={HMAC}");
    kube.kubectl_ok(&["create", "secret", "generic", "eab", "-n", "certsmith", &literal], "");
    let eab =
        "    externalAccountBinding: {keyID: kid-1, keySecretRef: {name: eab, key: secret}}\n";
    let issuer = pebble.issuer_yaml("ClusterIssuer", "letsencrypt-prod", None);
    let issuer =
        issuer.replace("    privateKeySecretRef:", &format!("{eab}    privateKeySecretRef:"));
    kube.kubectl_ok(&["apply", "-f", "-"], &issuer);
    let first = Operator::start(&kube, &pebble, &[]);
    let client = kube.client().await;
    let certs: kube::Api<Certificate> = kube::Api::namespaced(client, "default");
    let cert = |name: &str| support::objects::certificate(name).yaml();
    kube.kubectl_ok(&["apply", "-f", "-"], &cert("before"));
    support::acme::ready(&certs, "before", 1, &first).await;
    // A restarted operator finds its account at a CA that accepts nothing without EAB.
    let mut row = Row::new("operator restarted, CA requiring EAB");
    first.kill();
    let operator = Operator::start(&kube, &pebble, &[]);
    kube.kubectl_ok(&["apply", "-f", "-"], &cert("restarted"));
    support::acme::ready(&certs, "restarted", 1, &operator).await;
    row.figure("the account found again, a Certificate issued after the restart");
    drop(row);
    // The CA is reset: the account certsmith has cached is gone.
    let mut row = Row::new("Pebble restarted with a fresh state (EAB required)");
    pebble.restart();
    kube.kubectl_ok(&["apply", "-f", "-"], &cert("after"));
    support::acme::ready(&certs, "after", 1, &operator).await;
    let renew = std::process::Command::new(env!("CARGO_BIN_EXE_certsmith"))
        .args(["renew", "before"])
        .env("KUBECONFIG", kube.kubeconfig())
        .status()
        .unwrap();
    assert!(renew.success());
    support::acme::ready(&certs, "before", 2, &operator).await;
    let orders = operator.metric("certsmith_acme_orders_created");
    row.figure(format!("account registered again; {orders} orders for 3 issuances"));
    assert_eq!(orders, 3.0, "orders thrown away");
}
