//! `cargo bench --bench scale`: N Certificates (env `N`, default 1,000) created at once, through
//! one ClusterIssuer on the bed's Pebble (env `ISSUER=acme`, the default; RSA 2048 keys) or
//! through a namespace's CA Issuer (`ISSUER=ca`; ECDSA P-256 keys, so that key generation does
//! not hide the operator's own cost). Prints Certificates/s (for ACME against a bare
//! instant-acme client issuing N on the same Pebble with the same parallelism: env `PARALLEL`,
//! default 20, and the operator runs with `--acme-max-concurrent-orders=PARALLEL`); CPU per
//! Certificate by process; the operator's RSS (anonymous and peak), descriptors and API
//! connections once all are Ready and after a SIGKILL and restart with all present; the
//! restart's time to the first reconcile and until every Certificate was reconciled, its API
//! requests, new orders and new CertificateRequests; API requests per issuance by verb and
//! resource from the audit log (Events apart); idle requests per minute (env `IDLE_SECS`,
//! default 60); and issue 30's goals beside the figures. `ISSUER=renew-now`: a CA saying "renew
//! now" to every certificate, and the orders it gets (`renew_now.rs`). Prints numbers; asserts
//! nothing.

// The benchmarks' bare ACME client.
#[path = "../harness/bare.rs"]
mod bare;
// The end-to-end tests' harness; a bench uses only its bed, Pebble and operator.
mod measure;
mod renew_now;
#[path = "../../tests/e2e/support/mod.rs"]
#[allow(dead_code)]
mod support;
mod where_it_goes;

use measure::{Audit, Proc};

use bare::BareClient;
use certsmith::api::Certificate;
use futures::StreamExt;
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::KubeBed;
use support::acme::{Operator, issuing_bed};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let (n, parallel, idle) = (env("N", 1000), env("PARALLEL", 20), env("IDLE_SECS", 60));
    if std::env::var("ISSUER").is_ok_and(|i| i == "renew-now") {
        return renew_now::run(env("N", 100), env("RENEW_SECS", 300)).await;
    }
    let ca = std::env::var("ISSUER").is_ok_and(|i| i == "ca");
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    if ca {
        kube.kubectl_ok(&["apply", "-f", "-"], CA_ISSUER);
    }
    let args = [
        format!("--acme-max-concurrent-orders={parallel}"),
        // Let's Encrypt's 300 orders per 3 hours would hold the rest for hours: the bench
        // measures throughput, not the budget.
        "--acme-order-budget=1000000".into(),
        // cert-manager's Lease timings, which the test helper shortens unless told.
        "--leader-election-lease-duration=60s".into(),
        "--leader-election-renew-deadline=40s".into(),
        "--leader-election-retry-period=15s".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let operator = Operator::start(&kube, &pebble, &args);
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");

    if ca {
        wait_ready(&certs, "bench-ca").await;
        println!("scale: {n} Certificates (ECDSA P-256, one DNS name each) through a CA Issuer");
    } else {
        println!("scale: {n} Certificates (RSA 2048, one DNS name each), parallelism {parallel}");
    }
    let issuer_ref = match ca {
        true => "{name: bench-ca}, privateKey: {algorithm: ECDSA, size: 256}",
        false => "{name: letsencrypt-prod, kind: ClusterIssuer}",
    };
    let audit_start = Audit::read(&kube).len();
    let bed_before = where_it_goes::Cpu::read(&kube, &pebble, operator.pid());
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let certs = certs.clone();
            async move {
                let issuer_ref = issuer_ref;
                let cert: Certificate = serde_yaml::from_str(&format!(
                    "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: scale-{i}}}\nspec: \
                     {{secretName: scale-{i}-tls, dnsNames: [scale-{i}.example.com], issuerRef: \
                     {issuer_ref}}}"
                ))
                .unwrap();
                certs.create(&PostParams::default(), &cert).await.unwrap();
            }
        })
        .buffer_unordered(32)
        .collect::<()>()
        .await;
    let (mut last_ready, mut since) = (0, Instant::now());
    loop {
        // The bench's own CA Certificate is Ready too.
        let ready = ready(&certs).await - usize::from(ca);
        if ready as u64 >= n {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3600), "{ready}/{n} Ready after an hour");
        if ready != last_ready {
            (last_ready, since) = (ready, Instant::now());
        } else if since.elapsed() > Duration::from_secs(120) {
            // Stuck: say where, once a stall, for whoever looks into it.
            println!("  no progress for 2 minutes at {ready}/{n} Ready; reconciles in flight:");
            let gauge = "certsmith_controller_reconciles_in_flight";
            for line in operator.get("/metrics").unwrap_or_default().lines() {
                if line.starts_with(gauge) {
                    println!("    {line}");
                }
            }
            // Pebble 2.4 can deadlock under load: does its directory still answer?
            let pebble_answers = std::process::Command::new("curl")
                .args(["-sf", "-m", "5", "-o", "/dev/null", "--cacert"])
                .arg(&pebble.ca_pem)
                .arg(&pebble.directory_url)
                .status()
                .is_ok_and(|s| s.success());
            println!("    Pebble's directory answers within 5 s: {pebble_answers}");
            let orders: Api<certsmith::api::Order> = Api::namespaced(client.clone(), "default");
            let mut why = BTreeMap::<String, usize>::new();
            for o in orders.list(&Default::default()).await.map(|l| l.items).unwrap_or_default() {
                let status = o.status.unwrap_or_default();
                let state = status.state.map(|s| s.as_str().to_string()).unwrap_or_default();
                let reason = status.reason.unwrap_or_default();
                *why.entry(format!("{state:?} {reason}")).or_default() += 1;
            }
            println!("    Orders by state and reason: {why:?}");
            // Its store deadlocked, no order of anyone's gets on: no figure can come of this run.
            assert!(
                BareClient::store_answers(&pebble).await,
                "Pebble's account store stopped answering at {ready}/{n} Ready: Pebble 2.4's \
                 own lock deadlock (its goroutine dump on SIGQUIT shows every handler waiting \
                 in MemoryStore), not the operator's; run the bench again"
            );
            since = Instant::now();
        }
        // Each look lists every Certificate: the API server's CPU below counts these lists too,
        // so they are kept to one a second, and one per 2,000 Certificates' seconds beyond.
        tokio::time::sleep(Duration::from_secs((n / 2000).max(1))).await;
    }
    let operator_secs = start.elapsed().as_secs_f64();
    // Late writes of the last issuances (clean-up, Events) count too.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let issuing = Audit::read(&kube).since(audit_start);
    let cpu = Proc(operator.pid()).cpu_secs();
    let after_issuing = Proc(operator.pid()).snapshot(&kube);
    let after_issuing_kib = Proc(operator.pid()).rss_kib();
    let bed_cpu = where_it_goes::Cpu::read(&kube, &pebble, operator.pid()).since(&bed_before);
    let cached = where_it_goes::cached_bytes(&client).await;

    let idle_start = Audit::read(&kube).len();
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let idling = Audit::read(&kube).since(idle_start);

    let orders_before = pebble.orders_opened();
    let requests_before = count_requests(&client).await;
    operator.kill();
    let restart_start = Audit::read(&kube).len();
    let restarted_at = Instant::now();
    let operator = Operator::start(&kube, &pebble, &args);
    let synced = |op: &Operator| {
        op.metric("certmanager_controller_sync_call_count{controller=\"certificates\"}")
    };
    // A SIGKILLed leader's Lease runs out before the new process leads (60 s, cert-manager's
    // lease duration; a rolling upgrade's SIGTERM releases it at once): the reconcile times
    // are also given from the moment the new process leads.
    let (mut leading, mut first, mut all) = (None, None, None);
    let deadline = Instant::now() + Duration::from_secs(600);
    while all.is_none() && Instant::now() < deadline {
        if leading.is_none() && operator.logs().contains("leadership changed") {
            leading = Some(restarted_at.elapsed());
        }
        let count = synced(&operator);
        if count > 0.0 && first.is_none() {
            first = Some(restarted_at.elapsed());
        }
        if count >= (n + u64::from(ca)) as f64 {
            all = Some(restarted_at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let restarted = Audit::read(&kube).since(restart_start);
    let after_restart = Proc(operator.pid()).snapshot(&kube);
    let after_restart_kib = Proc(operator.pid()).rss_kib();
    let new_orders = pebble.orders_opened() - orders_before;
    let new_requests = count_requests(&client).await - requests_before;
    drop(operator);

    let op_rate = n as f64 / operator_secs;
    println!("  certsmith: {n} Ready in {operator_secs:.1} s = {op_rate:.2} Certificates/s");
    println!("  operator CPU while issuing: {:.1} ms per Certificate", cpu * 1000.0 / n as f64);
    println!("  CPU per Certificate while issuing, by process (2 cores: the sum bounds the rate):");
    bed_cpu.print(n as f64);
    println!("  after all Ready:   {after_issuing}");
    println!("  what the operator's caches hold (JSON without managedFields, chains::trim_*):");
    for (kind, count, bytes) in cached {
        println!(
            "    {count:>6} {kind:<20} {:>8.1} KiB, {:>6.0} bytes each",
            bytes as f64 / 1024.0,
            bytes as f64 / count.max(1) as f64
        );
    }
    println!("  after a restart:   {after_restart}");
    let secs = |d: Option<Duration>| {
        d.map_or("not within 600 s".into(), |d| format!("{:.1} s", d.as_secs_f64()))
    };
    println!(
        "  the restart: leading after {}, first reconcile after {}, every Certificate reconciled after {}",
        secs(leading),
        secs(first),
        secs(all)
    );
    let led = |d: Option<Duration>| Some(d?.saturating_sub(leading.unwrap_or_default()));
    let (first, all) = (led(first), led(all));
    println!(
        "  from leading: first reconcile after {}, every Certificate reconciled after {}",
        secs(first),
        secs(all)
    );
    println!(
        "  after the restart: {new_orders} new orders at the CA, {new_requests} new CertificateRequests"
    );
    println!("  API requests per issuance (audit log, Lease excluded), Events apart:");
    issuing.per(n as f64, |r| !r.lease() && !r.event());
    println!("  and Events per issuance:");
    issuing.per(n as f64, |r| r.event());
    println!("  idle for {idle} s, API requests per minute:");
    idling.per(idle as f64 / 60.0, |_| true);
    println!("  the restart (until {n} Certificates synced + 10 s), API requests in all:");
    restarted.per(1.0, |r| !r.lease());

    goals(n, &after_issuing_kib, after_restart_kib, (first, all), cpu * 1000.0 / n as f64);
    if ca {
        return;
    }
    let bare = BareClient::start(&pebble).await;
    let bare_before = where_it_goes::Cpu::read(&kube, &pebble, std::process::id());
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let bare = &bare;
            async move { bare.issue(&format!("bare-{i}.example.com")).await }
        })
        .buffer_unordered(parallel as usize)
        .collect::<Vec<f64>>()
        .await;
    let bare_secs = start.elapsed().as_secs_f64();
    let bare_rate = n as f64 / bare_secs;
    let bare_cpu = where_it_goes::Cpu::read(&kube, &pebble, std::process::id()).since(&bare_before);
    println!("  bare instant-acme client: {n} in {bare_secs:.1} s = {bare_rate:.2} certificates/s");
    println!("  CPU per certificate of the bare client's run (\"operator\" is the bench process):");
    bare_cpu.print(n as f64);
    println!("  ratio certsmith / bare: {:.2}x", op_rate / bare_rate);
}

/// Whether `c` says Ready=True.
fn is_ready(c: &Certificate) -> bool {
    let conditions = c.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == certsmith::api::meta::ConditionStatus::True)
}

async fn ready(certs: &Api<Certificate>) -> usize {
    let Ok(list) = certs.list(&Default::default()).await else { return 0 };
    list.items.iter().filter(|c| is_ready(c)).count()
}

/// The bench's own CA: a SelfSigned Issuer, a CA Certificate, a CA Issuer on its Secret.
const CA_ISSUER: &str = "
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: bench-selfsigned, namespace: default}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: bench-ca, namespace: default}
spec:
  isCA: true
  commonName: scale bench CA
  secretName: bench-ca
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: bench-selfsigned}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: bench-ca, namespace: default}
spec: {ca: {secretName: bench-ca}}
";

async fn wait_ready(certs: &Api<Certificate>, name: &str) {
    for _ in 0..600 {
        if certs.get(name).await.is_ok_and(|c| is_ready(&c)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{name} not Ready within 2 minutes");
}

async fn count_requests(client: &kube::Client) -> i64 {
    let api: Api<certsmith::api::CertificateRequest> = Api::all(client.clone());
    let params = kube::api::ListParams::default().limit(500);
    let mut count = 0;
    let mut page = api.list_metadata(&params).await.unwrap();
    loop {
        count += page.items.len() as i64;
        match page.metadata.continue_.clone().filter(|c| !c.is_empty()) {
            Some(token) => {
                page = api.list_metadata(&params.clone().continue_token(&token)).await.unwrap()
            }
            None => return count,
        }
    }
}

/// Issue 30's goals, printed beside the figures they judge (RSS in KiB: all Ready and peak
/// of the first process, after the restart; the restart's times; operator CPU per issuance).
fn goals(
    n: u64,
    ready: &(u64, u64),
    restarted: (u64, u64),
    (first, all): (Option<Duration>, Option<Duration>),
    cpu_ms: f64,
) {
    let mib = |k: u64| k as f64 / 1024.0;
    let rss_goal = if n >= 10_000 {
        64.0
    } else if n >= 1_000 {
        30.0
    } else {
        f64::INFINITY
    };
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "  goals (issue 30; at N = 1,000 RSS <= 30 MiB, at 10,000 <= 64 MiB, peak <= 96 MiB):"
    );
    println!(
        "    RSS all Ready {:.1} MiB (goal {rss_goal} MiB): {}",
        mib(ready.0),
        met(mib(ready.0) <= rss_goal)
    );
    println!(
        "    RSS after the restart {:.1} MiB (goal {rss_goal} MiB): {}",
        mib(restarted.0),
        met(mib(restarted.0) <= rss_goal)
    );
    println!(
        "    peak RSS of the restarted process {:.1} MiB (goal 96 MiB): {}",
        mib(restarted.1),
        met(mib(restarted.1) <= 96.0)
    );
    let within = |d: Option<Duration>, s: u64| d.is_some_and(|d| d <= Duration::from_secs(s));
    println!("    first reconcile within 2 s of leading: {}", met(within(first, 2)));
    println!("    every Certificate reconciled within 60 s of leading: {}", met(within(all, 60)));
    println!(
        "    operator CPU per issuance {cpu_ms:.1} ms (goal 10 ms beyond key generation): see the key's share above"
    );
}
