//! `cargo bench --bench scale`: N Certificates (env `N`, default 1,000) from one ClusterIssuer on
//! the bed's Pebble, created at once. Prints Certificates/s against a bare instant-acme client
//! issuing N on the same Pebble with the same parallelism (env `PARALLEL`, default 20: Pebble 2.4
//! can deadlock under many parallel clients, so it stays modest, and the operator runs with
//! `--acme-max-concurrent-orders=PARALLEL`); the operator's CPU, RSS and peak RSS, descriptors
//! and API connections once all are Ready and after a restart with all present; API requests per
//! issuance by verb from the audit log; idle requests per minute (env `IDLE_SECS`, default 60).
//! Prints numbers; asserts nothing.

// The benchmarks' bare ACME client.
#[path = "../harness/bare.rs"]
mod bare;
// The end-to-end tests' harness; a bench uses only its bed, Pebble and operator.
#[path = "../../tests/e2e/support/mod.rs"]
#[allow(dead_code)]
mod support;
mod where_it_goes;

use bare::BareClient;
use certsmith::api::Certificate;
use futures::StreamExt;
use kube::api::{Api, PostParams};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use support::KubeBed;
use support::acme::{Operator, issuing_bed};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let (n, parallel, idle) = (env("N", 1000), env("PARALLEL", 20), env("IDLE_SECS", 60));
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
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

    println!("scale: {n} Certificates (RSA 2048, one DNS name each), parallelism {parallel}");
    let audit_start = Audit::read(&kube).len();
    let bed_before = where_it_goes::Cpu::read(&kube, &pebble, operator.pid());
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let certs = certs.clone();
            async move {
                let cert: Certificate = serde_yaml::from_str(&format!(
                    "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: scale-{i}}}\nspec: \
                     {{secretName: scale-{i}-tls, dnsNames: [scale-{i}.example.com], issuerRef: \
                     {{name: letsencrypt-prod, kind: ClusterIssuer}}}}"
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
        let ready = ready(&certs).await;
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
        // so they are kept to one a second.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let operator_secs = start.elapsed().as_secs_f64();
    // Late writes of the last issuances (clean-up, Events) count too.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let issuing = Audit::read(&kube).since(audit_start);
    let cpu = Proc(operator.pid()).cpu_secs();
    let after_issuing = Proc(operator.pid()).snapshot(&kube);
    let bed_cpu = where_it_goes::Cpu::read(&kube, &pebble, operator.pid()).since(&bed_before);
    let cached = where_it_goes::cached_bytes(&client).await;

    let idle_start = Audit::read(&kube).len();
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let idling = Audit::read(&kube).since(idle_start);

    let orders_before = pebble.orders_opened();
    operator.kill();
    let restart_start = Audit::read(&kube).len();
    let operator = Operator::start(&kube, &pebble, &args);
    let synced = |op: &Operator| {
        op.metric("certmanager_controller_sync_call_count{controller=\"certificates\"}")
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while synced(&operator) < n as f64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let restarted = Audit::read(&kube).since(restart_start);
    let after_restart = Proc(operator.pid()).snapshot(&kube);
    let new_orders = pebble.orders_opened() - orders_before;
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
    println!("  new orders at the CA after the restart: {new_orders}");
    println!("  API requests per issuance (audit log, Events included, Lease excluded):");
    issuing.per(n as f64, |r| !r.lease());
    println!("  idle for {idle} s, API requests per minute:");
    idling.per(idle as f64 / 60.0, |_| true);
    println!("  the restart (until {n} Certificates synced + 10 s), API requests in all:");
    restarted.per(1.0, |r| !r.lease());

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

async fn ready(certs: &Api<Certificate>) -> usize {
    let Ok(list) = certs.list(&Default::default()).await else { return 0 };
    list.items
        .iter()
        .filter(|c| {
            c.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.type_ == "Ready" && c.status == certsmith::api::meta::ConditionStatus::True
                })
            })
        })
        .count()
}

/// One audited request from the operator (user agent `certsmith/…`).
struct Request {
    verb: String,
    resource: String,
}

impl Request {
    fn lease(&self) -> bool {
        self.resource == "leases"
    }
}

/// The operator's audited requests, each once (a watch is logged when its response starts
/// and again when it ends).
struct Audit(Vec<Request>);

impl Audit {
    fn read(kube: &KubeBed) -> Audit {
        let log = std::fs::read_to_string(kube.dir.join("audit.log")).unwrap_or_default();
        let mut seen = HashSet::new();
        let requests = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["userAgent"].as_str().is_some_and(|a| a.starts_with("certsmith/")))
            .filter(|e| seen.insert(e["auditID"].as_str().unwrap_or("").to_string()))
            .map(|e| {
                let o = &e["objectRef"];
                let sub = o["subresource"].as_str().map(|s| format!("/{s}")).unwrap_or_default();
                Request {
                    verb: e["verb"].as_str().unwrap_or("").to_string(),
                    resource: format!("{}{sub}", o["resource"].as_str().unwrap_or("")),
                }
            })
            .collect();
        Audit(requests)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn since(self, start: usize) -> Audit {
        Audit(self.0.into_iter().skip(start).collect())
    }

    /// Prints the requests `counted` picks divided by `per`: writes, reads, watches, then each
    /// verb and resource.
    fn per(&self, per: f64, counted: impl Fn(&Request) -> bool) {
        let picked: Vec<&Request> = self.0.iter().filter(|r| counted(r)).collect();
        let is =
            |verbs: &[&str]| picked.iter().filter(|r| verbs.contains(&r.verb.as_str())).count();
        let (writes, reads) = (is(&["create", "update", "patch", "delete"]), is(&["get", "list"]));
        println!(
            "    {:>8.2} writes  {:>8.2} reads (get, list)  {:>8.2} watches",
            writes as f64 / per,
            reads as f64 / per,
            is(&["watch"]) as f64 / per
        );
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for r in picked {
            *by.entry(format!("{} {}", r.verb, r.resource)).or_default() += 1;
        }
        for (what, count) in by {
            println!("      {:>8.2}  {what}", count as f64 / per);
        }
    }
}

/// The operator process, seen through /proc.
struct Proc(u32);

impl Proc {
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.0)).unwrap_or_default()
    }

    /// User + system CPU time.
    fn cpu_secs(&self) -> f64 {
        let stat = self.read("stat");
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = self.read("status");
        let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default();
        line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// RSS, peak RSS, open descriptors, and TCP connections to the API server.
    fn snapshot(&self, kube: &KubeBed) -> String {
        let fds: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", self.0))
            .map(|d| {
                d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                    .map(|l| l.to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let sockets: HashSet<&str> =
            fds.iter().filter_map(|l| l.strip_prefix("socket:[")?.strip_suffix(']')).collect();
        let port = api_port(kube);
        let connections = ["net/tcp", "net/tcp6"]
            .iter()
            .flat_map(|f| self.read(f).lines().skip(1).map(str::to_string).collect::<Vec<_>>())
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let remote_port =
                    f[2].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
                // state 01: established
                remote_port == Some(port) && f[3] == "01" && sockets.contains(f[9])
            })
            .count();
        // RssAnon is the heap and the stacks; the rest is the binary's pages and libraries.
        format!(
            "RSS {:.1} MiB ({:.1} MiB anonymous), peak RSS {:.1} MiB, {} open descriptors, \
             {connections} API connections",
            self.status_kib("VmRSS:") as f64 / 1024.0,
            self.status_kib("RssAnon:") as f64 / 1024.0,
            self.status_kib("VmHWM:") as f64 / 1024.0,
            fds.len(),
        )
    }
}

fn api_port(kube: &KubeBed) -> u16 {
    let config = std::fs::read_to_string(kube.kubeconfig()).unwrap();
    let server = config.split("server: \"").nth(1).unwrap().split('"').next().unwrap();
    server.rsplit(':').next().unwrap().parse().unwrap()
}
