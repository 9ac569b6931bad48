//! Faults a cluster and a CA throw at the operator, each a row of the fault table
//! (`e2e/faults.sh` prints it): API server outages, a CA that goes away and comes back reset,
//! a CA that refuses half the nonces it hands out.

use crate::support;
use crate::support::KubeBed;
use crate::support::acme::{Operator, eventually, issuing_bed, issuing_bed_with};
use crate::support::faults::Row;
use certsmith::api::{Certificate, Order};
use kube::api::{Api, ListParams};
use std::time::{Duration, Instant};

/// The chart's lease timings: an outage longer than the renew deadline (40 s) ends the process.
const CHART_LEASE: [&str; 3] = [
    "--leader-election-lease-duration=60s",
    "--leader-election-renew-deadline=40s",
    "--leader-election-retry-period=15s",
];

fn certificates(names: &[String], issuer: &str) -> String {
    let cert = |name: &String| support::objects::certificate(name).cluster_issuer(issuer).yaml();
    names.iter().map(cert).collect()
}

fn is_ready(c: &Certificate) -> bool {
    let conditions = c.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|cs| {
        cs.iter().any(|c| c.type_ == "Ready" && c.reason.as_deref() == Some("Ready"))
    })
}

/// Whether every Certificate in `names` turns Ready within `secs`.
async fn ready_within(certs: &Api<Certificate>, names: &[String], secs: u64) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        let wanted = |c: &&Certificate| c.metadata.name.as_ref().is_some_and(|n| names.contains(n));
        if let Ok(list) = certs.list(&ListParams::default()).await
            && list.items.iter().filter(wanted).filter(|c| is_ready(c)).count() == names.len()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Seconds until every Certificate in `names` is Ready, or a panic after `secs`.
async fn all_ready(certs: &Api<Certificate>, names: &[String], secs: u64) -> f64 {
    let start = Instant::now();
    eventually(secs, "every Certificate Ready", || async {
        let list = certs.list(&ListParams::default()).await.ok()?;
        let wanted = |c: &&Certificate| c.metadata.name.as_ref().is_some_and(|n| names.contains(n));
        let ready = list.items.iter().filter(wanted).filter(|c| is_ready(c)).count();
        (ready == names.len()).then_some(())
    })
    .await;
    start.elapsed().as_secs_f64()
}

/// An API server outage of 5 s, then one of 60 s: a Certificate created right after the API
/// server returns is Ready within 50 s (a retry period and a restart included), whether the
/// operator lived through the outage or exited on its lost Lease and was started again (as a
/// kubelet does).
#[tokio::test]
async fn api_server_outages_are_recovered_from_at_once() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let start =
        || Operator::start_named(Some("certsmith-0"), &kube.kubeconfig(), &pebble, &CHART_LEASE);
    let mut operator = start();
    let certs: Api<Certificate> = Api::namespaced(kube.client().await, "default");
    let first = vec!["before-outage".to_string()];
    kube.kubectl_ok(&["apply", "-f", "-"], &certificates(&first, "letsencrypt-prod"));
    all_ready(&certs, &first, 60).await;
    for down in [5, 60] {
        let mut row = Row::new(format!("API server down {down} s, then back"));
        kube.outage(down);
        let names = vec![format!("after-{down}s")];
        kube.kubectl_ok(&["apply", "-f", "-"], &certificates(&names, "letsencrypt-prod"));
        // The leader steps down (and the process exits, as its kubelet would restart it) at
        // its first try after the renew deadline (40 s since its last renewal), which may come
        // up to a retry period (15 s) after the API server is back: on a loaded machine a
        // "5 s" outage takes longer. Started again whenever that happens.
        let (mut restarted, start_wait) = (false, Instant::now());
        loop {
            if operator.exited() {
                operator = start();
                restarted = true;
            }
            if ready_within(&certs, &names, 1).await {
                break;
            }
            assert!(start_wait.elapsed() < Duration::from_secs(50), "not Ready in 50 s");
        }
        let took = start_wait.elapsed().as_secs_f64();
        let process =
            if restarted { "exited on its lost Lease, started again" } else { "same process" };
        row.figure(format!(
            "Certificate created after the return Ready in {took:.1} s ({process})"
        ));
    }
}

/// Pebble refusing half the nonces it hands out: every refusal is retried with a fresh nonce,
/// so 20 Certificates turn Ready through (nearly) one order each; no order is given up after
/// the CA issued its certificate.
#[tokio::test]
async fn half_the_nonces_refused_costs_no_orders() {
    let mut row = Row::new("Pebble refusing 50% of nonces, 20 Certificates");
    let kube = KubeBed::start();
    let pebble = issuing_bed_with(&kube, &[("PEBBLE_HARSH", "1")]);
    let _operator = Operator::start(&kube, &pebble, &[]);
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let names: Vec<String> = (0..20).map(|i| format!("nonce-{i}")).collect();
    kube.kubectl_ok(&["apply", "-f", "-"], &certificates(&names, "letsencrypt-prod"));
    let took = all_ready(&certs, &names, 300).await;
    let orders = Api::<Order>::namespaced(client, "default");
    let in_cluster = orders.list(&ListParams::default()).await.unwrap().items.len();
    let at_ca = pebble.orders_opened();
    row.figure(format!("all Ready in {took:.1} s; {in_cluster} Orders, {at_ca} opened at the CA"));
    assert!(at_ca <= 22, "{at_ca} orders opened at the CA for 20 Certificates");
}

/// Pebble gone for 20 s, then back with a fresh state: the Certificate created meanwhile is
/// not failed (no backoff to wait out), the account is registered again, and it is Ready
/// within 30 s of the CA's return.
#[tokio::test]
async fn a_ca_that_comes_back_is_used_at_once() {
    let mut row = Row::new("Pebble down 20 s, back with a fresh state");
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let _operator = Operator::start(&kube, &pebble, &[]);
    let certs: Api<Certificate> = Api::namespaced(kube.client().await, "default");
    let first = vec!["before-ca-outage".to_string()];
    kube.kubectl_ok(&["apply", "-f", "-"], &certificates(&first, "letsencrypt-prod"));
    all_ready(&certs, &first, 60).await;
    let names = vec!["during-ca-outage".to_string()];
    let mut outage = pebble.outage(20);
    tokio::time::sleep(Duration::from_secs(2)).await;
    kube.kubectl_ok(&["apply", "-f", "-"], &certificates(&names, "letsencrypt-prod"));
    assert!(outage.wait().unwrap().success(), "restart-pebble.sh failed");
    let took = all_ready(&certs, &names, 30).await;
    let c = certs.get(&names[0]).await.unwrap();
    let failed = c.status.and_then(|s| s.failed_issuance_attempts);
    row.figure(format!("Ready {took:.1} s after the CA returned; failed attempts: {failed:?}"));
    assert_eq!(failed, None, "the outage was counted as a failed issuance");
}
