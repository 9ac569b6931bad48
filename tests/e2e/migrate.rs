//! Taking over from a running cert-manager, on cert-manager's own CRDs: certsmith stands by
//! while cert-manager's leader Lease is renewed, or while its controllers change Certificates
//! (its Lease elsewhere, or none), then adopts its account (an RSA key rolled over
//! to P-256, same account URL), its Certificate, request and Secret without a new order; an EAB
//! account is never registered again and no crash mid-rollover loses a key; `migrate --check`
//! plans it all and `migrate --back` rolls the accounts back for cert-manager.

use crate::support;
use crate::support::KubeBed;
use crate::support::acme::{Operator, PebbleBed, eventually, ready};
use crate::support::cert_manager::{self as cm, account_of};
use certsmith::acme::jws::SigningKey;
use certsmith::api::{Certificate, ClusterIssuer, Order};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub(crate) fn certsmith(kube: &KubeBed, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certsmith"))
        .args(args)
        .env("KUBECONFIG", kube.kubeconfig())
        .output()
        .unwrap()
}

fn text(secret: &Secret, key: &str) -> Option<String> {
    let data = secret.data.as_ref()?.get(key)?;
    Some(String::from_utf8(data.0.clone()).unwrap())
}

/// resourceVersions of what cert-manager left, to show certsmith did not write them.
async fn versions(client: &kube::Client) -> Vec<Option<String>> {
    let secrets = |ns| Api::<Secret>::namespaced(client.clone(), ns);
    vec![
        secrets("default").get("web-tls").await.unwrap().metadata.resource_version,
        secrets("cert-manager").get("letsencrypt-prod").await.unwrap().metadata.resource_version,
        Api::<Certificate>::namespaced(client.clone(), "default")
            .get("web-tls")
            .await
            .unwrap()
            .metadata
            .resource_version,
        Api::<ClusterIssuer>::all(client.clone())
            .get("letsencrypt-prod")
            .await
            .unwrap()
            .metadata
            .resource_version,
    ]
}

/// cert-manager's leader Lease, renewed every second until `stop` is set.
fn run_cert_manager_lease(client: kube::Client) -> tokio::sync::watch::Sender<bool> {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let leases: Api<Lease> = Api::namespaced(client, "kube-system");
    tokio::spawn(async move {
        loop {
            let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.000000Z").to_string();
            let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "cert-manager-controller"},
                "spec": {"holderIdentity": "cert-manager-5d4f7c8b9-x2k8p_7c1e", "leaseDurationSeconds": 3,
                         "renewTime": now}});
            let pp = PatchParams::apply("cert-manager-stand-in").force();
            leases.patch("cert-manager-controller", &pp, &Patch::Apply(&lease)).await.unwrap();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stopped.changed() => return,
            }
        }
    });
    stop
}

/// cert-manager's orders controller changing Order `default/web-1-cm`'s status every second,
/// under its field manager, until `stop` is set; returns once the first change is made.
async fn run_cert_manager_writes(client: kube::Client) -> tokio::sync::watch::Sender<bool> {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let orders: Api<Order> = Api::namespaced(client, "default");
    let order = json!({"apiVersion": "acme.cert-manager.io/v1", "kind": "Order",
        "metadata": {"name": "web-1-cm"},
        "spec": {"request": "Q1NS", "issuerRef": {"name": "letsencrypt-prod"}}});
    let pp = PatchParams::apply("cert-manager-orders").force();
    orders.patch("web-1-cm", &pp, &Patch::Apply(&order)).await.unwrap();
    let change = move || {
        let (orders, pp) = (orders.clone(), pp.clone());
        async move {
            // A new reason each time: an unchanged field would not move the manager's stamp.
            let now = jiff::Timestamp::now();
            let status = json!({"apiVersion": "acme.cert-manager.io/v1", "kind": "Order",
                "metadata": {"name": "web-1-cm"},
                "status": {"state": "pending", "reason": format!("waiting ({now})")}});
            orders.patch_status("web-1-cm", &pp, &Patch::Apply(&status)).await.unwrap();
        }
    };
    change().await;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => change().await,
                _ = stopped.changed() => return,
            }
        }
    });
    stop
}

/// certsmith's writes but those to Leases and Events.
fn writes(kube: &KubeBed) -> Vec<String> {
    let by = kube.writes_by("certsmith/").into_iter();
    by.filter(|w| !w.contains("/leases") && !w.contains("/events")).collect()
}

/// cert-manager run with its Lease in another namespace (`--leader-election-namespace`) or
/// without leader election: no Lease where `--defer-to-lease` looks, but its controllers'
/// changes to a Certificate keep certsmith standing by, saying which; certsmith takes over one
/// lease period after the last change, and stands by again at the next.
#[tokio::test]
async fn certsmith_stands_by_while_cert_manager_changes_orders_whatever_its_lease() {
    let kube = KubeBed::start();
    if !cm::install_crds(&kube) {
        return;
    }
    let client = kube.client().await;
    let pebble = PebbleBed::start(&[]);
    kube.kubectl_ok(&["apply", "-f", "-"], &support::objects::certificate("web").yaml());
    let cert_manager = run_cert_manager_writes(client.clone()).await;
    let op = Operator::start(&kube, &pebble, &[]);
    let standby = eventually(20, "/readyz saying cert-manager runs", || async {
        op.get("/readyz").filter(|b| b.contains("standing by: cert-manager is running"))
    })
    .await;
    let why = "Order default/web-1-cm was changed by cert-manager-orders";
    assert!(standby.contains(why), "{standby}");
    // Longer than a lease period (4 s): still standing by, having written nothing.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(op.get("/readyz").is_some_and(|b| b.contains(why)), "no longer standing by");
    assert_eq!(writes(&kube), Vec::<String>::new(), "writes while cert-manager ran");

    // cert-manager stopped: certsmith takes over and acts (the Certificate's issuer is missing,
    // which it writes in its status).
    drop(cert_manager);
    let stopped = Instant::now();
    eventually(20, "/readyz without standing by", || async {
        op.get("/readyz").filter(|b| b == "ready")
    })
    .await;
    println!("took over {:?} after cert-manager's last change", stopped.elapsed());
    eventually(20, "certsmith writing the Certificate", || async {
        writes(&kube).iter().any(|w| w.contains("/certificates/web")).then_some(())
    })
    .await;

    // cert-manager back: certsmith stops acting at its first change.
    let _cert_manager = run_cert_manager_writes(client.clone()).await;
    eventually(10, "/readyz standing by again", || async {
        op.get("/readyz").filter(|b| b.contains(why))
    })
    .await;
    let before = writes(&kube).len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(writes(&kube)[before..], [] as [String; 0], "writes after cert-manager came back");
}

#[tokio::test]
async fn certsmith_takes_over_from_a_running_cert_manager_without_a_new_order() {
    let kube = KubeBed::start();
    if !cm::install_crds(&kube) {
        return;
    }
    let client = kube.client().await;
    // Validation always passes: cert-manager's own solver is not part of this test bed.
    let pebble = PebbleBed::start(&[("PEBBLE_VA_ALWAYS_VALID", "1")]);
    let account_key = cm::rsa_key();
    let account = cm::register(&pebble, &account_key, None).await;
    cm::leave_cluster_issuer(&kube, &pebble, "letsencrypt-prod", &account_key, &account, None)
        .await;
    cm::leave_issued_ingress(&kube, &pebble, &account_key, &account, "web.example.com").await;
    let cert_manager = run_cert_manager_lease(client.clone());
    let before = versions(&client).await;

    let plan = certsmith(&kube, &["migrate", "--check"]);
    let report = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.status.success(), "migrate --check: {report}");
    for words in [
        format!(
            "ok    ClusterIssuer/letsencrypt-prod: account {account} adopted: its RSA-2048 key will be rolled over"
        ),
        "ok    Certificate default/web-tls: adopted as it is: Secret web-tls kept".to_string(),
        "2 objects: certsmith can take over all of them".to_string(),
    ] {
        assert!(report.contains(&words), "{words:?} missing from:\n{report}");
    }

    // cert-manager runs: certsmith stands by, writes nothing, and says why.
    let op = Operator::start(&kube, &pebble, &["--cluster-resource-namespace=cert-manager"]);
    // (Before that, while the Lease is read and cert-manager's kinds listed, it stands by
    // saying what it has yet to read.)
    let standby = eventually(20, "/readyz saying it stands by for the Lease", || async {
        op.get("/readyz").filter(|b| b.contains("is held by"))
    })
    .await;
    assert!(standby.contains("kube-system/cert-manager-controller"), "{standby}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(versions(&client).await, before, "certsmith wrote while cert-manager led");
    let writes: Vec<String> = kube
        .writes_by("certsmith/")
        .into_iter()
        .filter(|w| !w.contains("/leases") && !w.contains("/events"))
        .collect();
    assert_eq!(writes, Vec::<String>::new(), "writes while standing by");

    // cert-manager scaled to zero: its Lease lapses (3 s) and certsmith takes over.
    drop(cert_manager);
    let lapsed = Instant::now();
    eventually(20, "/readyz without standing by", || async {
        op.get("/readyz").filter(|b| b == "ready")
    })
    .await;
    println!("took over {:?} after cert-manager's last renewal", lapsed.elapsed());
    let issuers: Api<ClusterIssuer> = Api::all(client.clone());
    let account_secrets: Api<Secret> = Api::namespaced(client.clone(), "cert-manager");
    let secret = eventually(30, "the account key rolled over", || async {
        let s = account_secrets.get("letsencrypt-prod").await.ok()?;
        text(&s, "tls.key.certsmith-previous").is_some().then_some(s)
    })
    .await;
    let new_key = text(&secret, "tls.key").unwrap();
    assert!(SigningKey::from_pem(&new_key).unwrap().is_p256());
    assert_eq!(text(&secret, "tls.key.certsmith-previous").as_deref(), Some(account_key.as_str()));
    assert_eq!(text(&secret, "tls.key.certsmith-next"), None);
    assert_eq!(account_of(&pebble, &new_key).await.as_deref(), Some(account.as_str()));
    assert_eq!(account_of(&pebble, &account_key).await, None, "the old key is unbound");
    let issuer = eventually(30, "the ClusterIssuer Ready with the same account", || async {
        let i = issuers.get("letsencrypt-prod").await.ok()?;
        let status = i.status.clone()?;
        (status.acme.as_ref()?.last_private_key_hash.is_some()).then_some(status)
    })
    .await;
    assert_eq!(issuer.acme.and_then(|a| a.uri).as_deref(), Some(account.as_str()));
    let events = kube.kubectl_ok(
        &["get", "events", "-A", "--field-selector", "reason=AccountKeyRolledOver", "-o", "name"],
        "",
    );
    assert!(!events.trim().is_empty(), "no AccountKeyRolledOver Event");

    // The Certificate is adopted as it is: Ready, Secret untouched, no order.
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    tokio::time::sleep(Duration::from_secs(3)).await;
    ready(&certs, "web-tls", 1, &op).await;
    let now = versions(&client).await;
    assert_eq!(now[0], before[0], "the TLS Secret was rewritten");
    let orders: Api<Order> = Api::namespaced(client.clone(), "default");
    assert_eq!(orders.list(&Default::default()).await.unwrap().items.len(), 0, "a new order");
    assert_eq!(op.metric("certsmith_acme_orders_created"), 0.0);

    // A renewal goes through the same account, now signed with the P-256 key.
    let out = certsmith(&kube, &["renew", "web-tls"]);
    assert!(out.status.success());
    ready(&certs, "web-tls", 2, &op).await;
    let orders = orders.list(&Default::default()).await.unwrap().items;
    assert_eq!(orders.len(), 1);
    let secret = account_secrets.get("letsencrypt-prod").await.unwrap();
    assert_eq!(text(&secret, "tls.key"), Some(new_key.clone()), "the account key changed again");
    assert_eq!(account_of(&pebble, &new_key).await.as_deref(), Some(account.as_str()));

    // cert-manager started again by mistake: certsmith stops acting at once.
    let _cert_manager = run_cert_manager_lease(client.clone());
    eventually(20, "/readyz standing by again", || async {
        op.get("/readyz").filter(|b| b.contains("standing by"))
    })
    .await;
    let writes = kube.writes_by("certsmith/").len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let certs_after: Vec<String> = kube
        .writes_by("certsmith/")
        .into_iter()
        .skip(writes)
        .filter(|w| !w.contains("/leases") && !w.contains("/events"))
        .collect();
    assert_eq!(certs_after, Vec::<String>::new(), "writes after cert-manager came back");
}

/// The HMAC key Pebble is given for EAB, base64url as a CA hands it out.
const HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

#[tokio::test]
async fn an_eab_account_is_never_registered_again_and_no_crash_mid_rollover_loses_a_key() {
    use base64::Engine as _;
    let kube = KubeBed::start();
    if !cm::install_crds(&kube) {
        return;
    }
    let client = kube.client().await;
    let pebble = PebbleBed::start(&[("EAB_KID", "kid-1"), ("EAB_HMAC", HMAC)]);
    let hmac = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(HMAC).unwrap();
    let literal = format!("--from-literal=secret={HMAC}");
    kube.kubectl_ok(&["create", "secret", "generic", "eab", "-n", "cert-manager", &literal], "");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "cert-manager");
    // Two accounts, each caught by a crash in the middle of its rollover: `before` after the
    // next key was stored but before the CA heard of it; `after` once the CA had accepted it
    // but before the Secret said so.
    let mut accounts = Vec::new();
    for name in ["before", "after"] {
        let old = cm::rsa_key();
        let url = cm::register(&pebble, &old, Some(("kid-1", &hmac))).await;
        cm::leave_cluster_issuer(&kube, &pebble, name, &old, &url, Some("kid-1")).await;
        let pkcs8 = SigningKey::generate_p256().unwrap();
        let next = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8));
        if name == "after" {
            let (o, n) =
                (SigningKey::from_pem(&old).unwrap(), SigningKey::from_pem(&next).unwrap());
            cm::ca(&pebble).await.roll_over(&o, &url, &n).await.unwrap();
        }
        let data = json!({"stringData": {"tls.key.certsmith-next": next}});
        secrets.patch(name, &PatchParams::default(), &Patch::Merge(data)).await.unwrap();
        accounts.push((name, old, url, next));
    }

    let op = Operator::start(
        &kube,
        &pebble,
        &["--cluster-resource-namespace=cert-manager", "--defer-to-lease="],
    );
    let issuers: Api<ClusterIssuer> = Api::all(client.clone());
    for (name, old, url, next) in &accounts {
        let secret = eventually(30, "the rollover finished", || async {
            let s = secrets.get(name).await.ok()?;
            text(&s, "tls.key.certsmith-previous").is_some().then_some(s)
        })
        .await;
        // The key stored before the crash is the one the account now has: nothing was lost,
        // nothing registered anew.
        assert_eq!(text(&secret, "tls.key").as_ref(), Some(next), "{name}");
        assert_eq!(text(&secret, "tls.key.certsmith-previous").as_ref(), Some(old), "{name}");
        assert_eq!(text(&secret, "tls.key.certsmith-next"), None, "{name}");
        assert_eq!(account_of(&pebble, next).await.as_ref(), Some(url), "{name}");
        let uri = eventually(30, "the ClusterIssuer Ready", || async {
            let status = issuers.get(name).await.ok()?.status?;
            let ready = status.conditions.iter().flatten().any(|c| {
                c.type_ == "Ready" && c.status == certsmith::api::meta::ConditionStatus::True
            });
            ready.then(|| status.acme?.uri).flatten()
        })
        .await;
        assert_eq!(&uri, url, "{name}");
    }

    // A Certificate issues through the EAB account, as any other.
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        &support::objects::certificate("eab").cluster_issuer("after").yaml(),
    );
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    ready(&certs, "eab", 1, &op).await;
    drop(op);

    // The way back: cert-manager signs with RSA only.
    let back = certsmith(&kube, &["migrate", "--back"]);
    let report = String::from_utf8_lossy(&back.stdout);
    assert!(back.status.success(), "migrate --back:\n{report}");
    for (name, old, url, next) in &accounts {
        let secret = secrets.get(name).await.unwrap();
        assert_eq!(text(&secret, "tls.key").as_ref(), Some(old), "{name}");
        assert_eq!(text(&secret, "tls.key.certsmith-next").as_ref(), Some(next), "{name}");
        assert_eq!(account_of(&pebble, old).await.as_ref(), Some(url), "{name}");
        assert!(report.contains(&format!("ClusterIssuer/{name}: account {url} rolled back")));
    }
}
