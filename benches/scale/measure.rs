//! What the scale bench measures, read from outside the operator: its audited API requests
//! (the API server's audit log) and its process (/proc: CPU, RSS, descriptors, connections).

use crate::support::KubeBed;
use std::collections::{BTreeMap, HashSet};

/// One audited request from the operator (user agent `certsmith/…`).
pub struct Request {
    pub verb: String,
    pub resource: String,
}

impl Request {
    pub fn lease(&self) -> bool {
        self.resource == "leases"
    }

    pub fn event(&self) -> bool {
        self.resource == "events"
    }
}

/// The operator's audited requests, each once (a watch is logged when its response starts
/// and again when it ends).
pub struct Audit(Vec<Request>);

impl Audit {
    pub fn read(kube: &KubeBed) -> Audit {
        // The API server rotates its log (audit-<time>.log, then audit.log): all of them, in
        // order, or a run of 10,000 counts only what came after the last rotation.
        let mut files: Vec<_> = std::fs::read_dir(&kube.dir)
            .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        files.retain(|f: &String| f.starts_with("audit") && f.ends_with(".log"));
        files.sort();
        let log: String = files
            .iter()
            .map(|f| std::fs::read_to_string(kube.dir.join(f)).unwrap_or_default())
            .collect();
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

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn since(self, start: usize) -> Audit {
        Audit(self.0.into_iter().skip(start).collect())
    }

    /// Prints the requests `counted` picks divided by `per`: writes, reads, watches, then each
    /// verb and resource.
    pub fn per(&self, per: f64, counted: impl Fn(&Request) -> bool) {
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
pub struct Proc(pub u32);

impl Proc {
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.0)).unwrap_or_default()
    }

    /// User + system CPU time.
    pub fn cpu_secs(&self) -> f64 {
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

    /// RSS and peak RSS, in KiB.
    pub fn rss_kib(&self) -> (u64, u64) {
        (self.status_kib("VmRSS:"), self.status_kib("VmHWM:"))
    }

    /// RSS, peak RSS, open descriptors, and TCP connections to the API server.
    pub fn snapshot(&self, kube: &KubeBed) -> String {
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
