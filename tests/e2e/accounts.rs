//! ACME accounts against a Pebble that requires External Account Binding: EAB, caBundle,
//! skipTLSVerify and disableAccountKeyGeneration, each as the issuer's Ready condition shows it;
//! an app's TLS Secret never taken for an account key; and an operator killed as the CA
//! registers its account loses no key.

use crate::ca_proxy::CaProxy;
use crate::support;

use crate::support::KubeBed;
use crate::support::acme::{Operator, PebbleBed, eventually};
use crate::support::faults::Row;
use certsmith::api::{Certificate, ClusterIssuer};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

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

/// An app's TLS Secret `app-tls` in `default`, with an RSA key; its resourceVersion and data.
fn app_tls_secret(kube: &KubeBed) -> String {
    let dir = std::env::temp_dir().join(format!("certsmith-app-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (key, crt) = (dir.join("tls.key"), dir.join("tls.crt"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=app"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (key, crt) = (format!("--key={}", key.display()), format!("--cert={}", crt.display()));
    kube.kubectl_ok(&["create", "secret", "tls", "app-tls", &key, &crt], "");
    app_tls_secret_now(kube)
}

fn app_tls_secret_now(kube: &KubeBed) -> String {
    let path = "jsonpath={.metadata.resourceVersion} {.data}";
    kube.kubectl_ok(&["get", "secret", "app-tls", "-o", path], "")
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
        // An app's TLS Secret (an RSA key, which an account would have rolled over) named as
        // the account key: refused before the CA hears of it, and left as it is.
        (
            "app-tls",
            issuer(&pebble, "app-tls", "default", eab, true),
            "False",
            "Secret default/app-tls is not an ACME account key Secret: it is of type \
             kubernetes.io/tls; certsmith rolls over the key of a Secret that holds an account \
             key and nothing else",
        ),
    ];
    let app_tls = app_tls_secret(&kube);
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
    let columns = "custom-columns=R:.reason,O:.regarding.name";
    let events = kube.kubectl_ok(&["get", "events.events.k8s.io", "-o", columns], "");
    let refused = |l: &str| l.starts_with("ErrRegisterACMEAccount") && l.ends_with(" app-tls");
    assert!(events.lines().any(refused), "no Event on the app-tls Issuer:\n{events}");
    assert_eq!(app_tls_secret_now(&kube), app_tls, "the app's TLS Secret was written");

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

/// The crash the order of account creation is for: the operator SIGKILLed once the CA has
/// registered its new account, before the CA's answer reaches it (so before anything it would
/// do with that answer, as storing the key once was). The key was stored before the CA heard
/// of it: the restarted operator finds the same account by that key, registers none, and
/// issues through it.
#[tokio::test]
async fn an_operator_killed_as_the_ca_registers_its_account_loses_no_key() {
    let kube = KubeBed::start();
    kube.install_crds();
    kube.kubectl_ok(&["create", "namespace", "certsmith"], "");
    let pebble = PebbleBed::start(&[]);
    let proxy = CaProxy::start(&pebble).await;
    let client = kube.client().await;
    let mut row =
        Row::new("operator SIGKILLed between the CA registering its account and its answer");
    let mut first = Operator::start(&kube, &pebble, &[]);
    proxy.kill_on_registration(first.pid());
    let issuer = pebble.issuer_yaml("ClusterIssuer", "letsencrypt-prod", None);
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        &issuer.replace(&pebble.directory_url, &proxy.directory_url),
    );
    let account = eventually(30, "the CA registering an account", || async {
        proxy.registered().first().cloned()
    })
    .await;
    let killed = std::time::Instant::now();
    while !first.exited() {
        assert!(killed.elapsed().as_secs() < 5, "the operator still runs after registering");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // What the killed operator left: the key, and no word of the account.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "certsmith");
    let key_of = |s: Secret| s.data.and_then(|d| d.get("tls.key").cloned()).expect("tls.key");
    let key = key_of(secrets.get("letsencrypt-prod").await.expect("the account key Secret"));
    let issuers: Api<ClusterIssuer> = Api::all(client.clone());
    let status = issuers.get("letsencrypt-prod").await.unwrap().status.unwrap_or_default();
    assert_eq!(status.acme.and_then(|a| a.uri), None, "the killed operator recorded the account");

    let second = Operator::start(&kube, &pebble, &[]);
    let uri = eventually(30, "the ClusterIssuer Ready with its account", || async {
        let status = issuers.get("letsencrypt-prod").await.ok()?.status?;
        let ready =
            status.conditions.iter().flatten().any(|c| {
                c.type_ == "Ready" && c.status == certsmith::api::meta::ConditionStatus::True
            });
        ready.then(|| status.acme?.uri).flatten()
    })
    .await;
    assert_eq!(uri, account, "the restarted operator uses another account");
    let now = key_of(secrets.get("letsencrypt-prod").await.unwrap());
    assert_eq!(now, key, "the account key changed");
    // The CA binds that key to that account (looked up by the key alone).
    let bundle = std::fs::read(&pebble.ca_pem).unwrap();
    let http = certsmith::acme::client::http_client(Some(&bundle), false).unwrap();
    let mut ca =
        certsmith::acme::legacy::LegacyClient::new(http, &proxy.directory_url).await.unwrap();
    let pem = String::from_utf8(now.0).unwrap();
    let signing = certsmith::acme::jws::SigningKey::from_pem(&pem).unwrap();
    assert_eq!(ca.lookup(&signing).await.unwrap().as_deref(), Some(account.as_str()));
    // And issues through it, registering nothing more.
    let certs: Api<Certificate> = Api::namespaced(client, "default");
    kube.kubectl_ok(&["apply", "-f", "-"], &support::objects::certificate("after-crash").yaml());
    support::acme::ready(&certs, "after-crash", 1, &second).await;
    assert_eq!(proxy.registered(), std::slice::from_ref(&account), "accounts registered");
    row.figure(format!("1 account registered ({account}), the same after the restart; a Certificate issued through it"));
}
