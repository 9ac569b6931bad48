//! `ISSUER=renew-now`: issue 30's renewal storm, measured. N Certificates (env `N`, default
//! 100 in this mode) are issued by acme2certifier, which then answers every ARI request, the
//! fresh certificates' included, with a window already open ("renew now") for `RENEW_SECS`
//! (default 300). Prints the orders the CA was asked to open per Certificate before and while
//! it says so, how many Certificates show the hold (and why), and its Events. Asserts nothing.

use crate::support::a2c::A2c;
use crate::support::acme::Operator;
use certsmith::api::Certificate;
use certsmith::certificate::ari::RENEW_NOW_HELD;
use futures::StreamExt;
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub async fn run(n: u64, secs: u64) {
    let (a2c, kube, pebble) = A2c::issuing_bed();
    let operator = Operator::start(&kube, &pebble, &[]);
    let certs: Api<Certificate> = Api::namespaced(kube.client().await, "default");
    println!("renew-now: {n} Certificates through acme2certifier, then \"renew now\" for {secs} s");
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let certs = certs.clone();
            async move {
                let cert: Certificate = serde_yaml::from_str(&format!(
                    "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: storm-{i}}}\n\
                     spec: {{secretName: storm-{i}-tls, dnsNames: [storm-{i}.example.com], \
                     issuerRef: {{name: ari, kind: ClusterIssuer}}}}"
                ))
                .unwrap();
                certs.create(&PostParams::default(), &cert).await.unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<()>()
        .await;
    while super::ready(&certs).await < n as usize {
        let waited = start.elapsed();
        assert!(waited < Duration::from_secs(1800), "not all Ready within 30 minutes");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let issued_in = start.elapsed().as_secs_f64();
    let before = a2c.orders();
    a2c.restart(true);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let during = a2c.orders() - before;

    let mut held = BTreeMap::<String, usize>::new();
    for c in certs.list(&Default::default()).await.unwrap().items {
        let conditions = c.status.and_then(|s| s.conditions).unwrap_or_default();
        let hold = conditions.into_iter().find(|c| c.type_ == RENEW_NOW_HELD);
        let why = hold.map(|c| c.reason.unwrap_or_default()).unwrap_or("(no hold)".into());
        *held.entry(why).or_default() += 1;
    }
    let columns = "custom-columns=R:.reason";
    let events = kube.kubectl_ok(&["get", "events.events.k8s.io", "-o", columns], "");
    let held_events = events.lines().filter(|l| l.trim() == "RenewNowHeld").count();
    let metrics = operator.get("/metrics").unwrap_or_default();
    let renewal_info: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("certmanager_http_acme_client_request_count{"))
        .filter(|l| l.contains("action=\"get_renewal_info\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let per = |orders: usize| orders as f64 / n as f64;
    println!(
        "  issued: {n} Ready in {issued_in:.1} s, {before} orders ({:.2} per Certificate)",
        per(before)
    );
    println!(
        "  while the CA said renew now for {secs} s: {during} orders ({:.2} per Certificate)",
        per(during)
    );
    println!(
        "  Certificates by {RENEW_NOW_HELD} reason: {held:?}; RenewNowHeld Events: {held_events}"
    );
    println!("  renewal-info requests the operator made in all (its metric): {renewal_info}");
    println!("  goal (issue 30): no certificate renewed on ARI alone while younger than the floor");
    println!(
        "    orders while the CA said renew now: {during} (goal 0): {}",
        if during == 0 { "met" } else { "NOT met" }
    );
}
