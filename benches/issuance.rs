//! `cargo bench --bench issuance`: how long a Certificate takes to become a Ready Secret
//! through the operator, against the same flow done by a bare instant-acme client on the same
//! Pebble, so the operator's overhead shows as a ratio. Prints numbers; asserts nothing.

// The benchmarks' bare ACME client, of which this one uses less than the scale benchmark.
#[path = "harness/bare.rs"]
#[allow(dead_code)]
mod bare;
// The end-to-end tests' harness; a bench uses only its bed, Pebble and operator.
#[path = "../tests/e2e/support/mod.rs"]
#[allow(dead_code)]
mod support;

use bare::BareClient;
use certsmith::api::Certificate;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::time::{Duration, Instant};
use support::KubeBed;
use support::acme::{Operator, PebbleBed, issuing_bed};

const ROUNDS: usize = 20;

#[tokio::main]
async fn main() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);

    let operator = Operator::start(&kube, &pebble, &[]);
    let before = writes(&kube);
    let via_operator = through_operator(&kube).await;
    // Late writes of the last issuance (cleanup, Events) count too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = writes(&kube);
    drop(operator);
    let bare = bare_client(&pebble).await;

    let (op50, op95) = (percentile(&via_operator, 50), percentile(&via_operator, 95));
    let (bare50, bare95) = (percentile(&bare, 50), percentile(&bare, 95));
    println!(
        "issuance latency over {ROUNDS} certificates (RSA 2048, one DNS name, Pebble on loopback)"
    );
    println!(
        "  certsmith, Certificate created -> Secret ready: p50 {op50:>7.1} ms  p95 {op95:>7.1} ms"
    );
    println!(
        "  bare instant-acme client, new order -> chain:  p50 {bare50:>7.1} ms  p95 {bare95:>7.1} ms"
    );
    println!("  operator overhead: p50 x{:.2}  p95 x{:.2}", op50 / bare50, op95 / bare95);
    let new = &after[before.len()..];
    println!(
        "  API writes per issuance (audit log, Events included, Lease renewals excluded): {:.1}",
        new.len() as f64 / ROUNDS as f64
    );
    let mut by_kind: std::collections::BTreeMap<String, usize> = Default::default();
    for w in new {
        let verb = w.split(' ').next().unwrap_or("");
        let path = w.split(' ').nth(1).unwrap_or("").split('?').next().unwrap_or("");
        let parts: Vec<&str> = path.split('/').collect();
        // .../namespaces/<ns>/<resource>[/<name>[/status]]
        let at =
            parts.iter().position(|p| *p == "namespaces").map(|i| i + 2).unwrap_or(parts.len() - 1);
        let resource = parts.get(at).copied().unwrap_or("");
        let sub = if path.ends_with("/status") { "/status" } else { "" };
        *by_kind.entry(format!("{verb} {resource}{sub}")).or_default() += 1;
    }
    for (what, n) in by_kind {
        println!("    {:>5.1}  {what}", n as f64 / ROUNDS as f64);
    }
}

/// The operator's writes so far, without its Lease renewals.
fn writes(kube: &KubeBed) -> Vec<String> {
    kube.writes_by("certsmith/").into_iter().filter(|w| !w.contains("/leases/")).collect()
}

/// Creates the Certificates one at a time and times each until its Secret exists and the
/// Certificate is Ready.
async fn through_operator(kube: &KubeBed) -> Vec<f64> {
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let mut times = Vec::new();
    for i in 0..ROUNDS {
        let cert: Certificate = serde_yaml::from_str(&format!(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: bench-{i}, namespace: default}}\n\
             spec: {{secretName: bench-{i}-tls, dnsNames: [bench-{i}.example.com], issuerRef: {{name: letsencrypt-prod, kind: ClusterIssuer}}}}"
        ))
        .unwrap();
        let start = Instant::now();
        certs.create(&Default::default(), &cert).await.unwrap();
        loop {
            let ready = certs
                .get(&format!("bench-{i}"))
                .await
                .unwrap()
                .status
                .and_then(|s| s.conditions)
                .is_some_and(|cs| {
                    cs.iter().any(|c| c.type_ == "Ready" && c.reason.as_deref() == Some("Ready"))
                });
            if ready && secrets.get_opt(&format!("bench-{i}-tls")).await.unwrap().is_some() {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "bench-{i} not ready in 60s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times
}

/// The same issuance with instant-acme alone, one at a time.
async fn bare_client(pebble: &PebbleBed) -> Vec<f64> {
    let bare = BareClient::start(pebble).await;
    let mut times = Vec::new();
    for i in 0..ROUNDS {
        times.push(bare.issue(&format!("bare-{i}.example.com")).await);
    }
    times
}

fn percentile(samples: &[f64], p: usize) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p as f64 / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
