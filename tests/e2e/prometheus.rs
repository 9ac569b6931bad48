//! A real Prometheus scrapes the operator and evaluates cert-manager's alerts
//! (monitoring/cert-manager-alerts.yaml): they fire for certsmith's Certificates as they would
//! for cert-manager's, and clear when the Certificates are deleted. The series cert-manager
//! v1.18–v1.21 added (dates, challenges, issuers, the ACME `action` label) are queried as a
//! dashboard built for v1.21 queries them.

use crate::support;

use crate::support::acme::{Operator, eventually, free_port, issuing_bed_with};
use crate::support::{KubeBed, repo};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Prometheus on a free port, scraping `target` every second with the project's alert rules
/// (their `for:` set to 0s, so that an alert fires at the first evaluation that matches).
struct Prometheus {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Prometheus {
    fn start(target: u16) -> Prometheus {
        let port = free_port();
        let dir = repo().join(format!("target/tmp/prometheus-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rules = std::fs::read_to_string(repo().join("monitoring/cert-manager-alerts.yaml"))
            .unwrap()
            .lines()
            .map(|l| if l.trim_start().starts_with("for:") { "    for: 0s" } else { l })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(dir.join("rules.yaml"), rules).unwrap();
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [rules.yaml]\n\
             scrape_configs:\n- job_name: cert-manager\n  static_configs: [{{targets: ['127.0.0.1:{target}']}}]\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus (Debian package prometheus; e2e/testbed/install.sh installs it)");
        Prometheus { child, port, dir }
    }

    fn api(&self, path: &str) -> Option<Value> {
        let out = Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{}/api/v1/{path}", self.port)])
            .output()
            .ok()?;
        serde_json::from_slice::<Value>(&out.stdout).ok()?.get("data").cloned()
    }

    /// The series an instant `query` returns, as (labels, value).
    fn query(&self, query: &str) -> Vec<(Value, f64)> {
        let url = format!("http://127.0.0.1:{}/api/v1/query", self.port);
        let Ok(out) = Command::new("curl")
            .args(["-sfG", &url, "--data-urlencode", &format!("query={query}")])
            .output()
        else {
            return vec![];
        };
        let data = serde_json::from_slice::<Value>(&out.stdout).ok().map(|v| v["data"].clone());
        let result = data.and_then(|d| d["result"].as_array().cloned()).unwrap_or_default();
        let value = |r: &Value| r["value"][1].as_str().and_then(|v| v.parse().ok());
        result.iter().filter_map(|r| Some((r["metric"].clone(), value(r)?))).collect()
    }

    /// The firing alerts, as (alertname, Certificate name).
    fn firing(&self) -> Vec<(String, String)> {
        let alerts = self.api("alerts").and_then(|d| d.get("alerts").cloned());
        let label = |a: &Value, k: &str| a["labels"][k].as_str().unwrap_or("").to_string();
        alerts
            .and_then(|a| a.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|a| a["state"] == "firing")
            .map(|a| (label(a, "alertname"), label(a, "name")))
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn alert(name: &str, cert: &str) -> (String, String) {
    (name.to_string(), cert.to_string())
}

#[tokio::test]
async fn cert_managers_alerts_fire_on_certsmiths_metrics_and_clear_when_certificates_go() {
    let kube = KubeBed::start();
    // Ten days: inside the expiry alert's 21, and far from a renewal during the test.
    let pebble = issuing_bed_with(&kube, &[("CERT_VALIDITY", "864000")]);
    let operator = Operator::start(&kube, &pebble, &[]);
    let prometheus = Prometheus::start(operator.metrics_port);
    // An Issuer whose DNS-01 name server refuses: its Challenge is never presented.
    let silent = format!(
        "    - dns01:\n        rfc2136:\n          nameserver: 127.0.0.1:{}\n",
        free_port()
    );
    let issuer = pebble.issuer_yaml("Issuer", "silent-dns", Some("default"));
    let issuer = issuer.split("    - http01:").next().unwrap().to_string() + &silent;
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        &(support::objects::certificate("shop").yaml()
            + &support::objects::certificate("orphan").cluster_issuer("no-such-issuer").yaml()
            + "---\n"
            + &issuer
            + "---\n"
            + &support::objects::certificate("stuck")
                .external_issuer("silent-dns", "Issuer", "cert-manager.io")
                .yaml()),
    );
    let certs = kube::Api::namespaced(kube.client().await, "default");
    support::acme::ready(&certs, "shop", 1, &operator).await;

    // Alerts follow scrapes and evaluations (a second each): shop's not-ready alert, from a
    // scrape before it turned Ready, may still fire for a moment; it must clear.
    let wanted =
        [alert("CertManagerCertExpirySoon", "shop"), alert("CertManagerCertNotReady", "orphan")];
    eventually(60, "the expiry and not-ready alerts to fire", || async {
        let firing = prometheus.firing();
        wanted.iter().all(|w| firing.contains(w)).then_some(())
    })
    .await;
    eventually(30, "a Ready certificate's not-ready alert to clear", || async {
        let firing = prometheus.firing();
        let shop = firing.contains(&alert("CertManagerCertNotReady", "shop"));
        (!shop && wanted.iter().all(|w| firing.contains(w))).then_some(())
    })
    .await;

    // v1.18–v1.21's series, as Prometheus stored them.
    let issued = certs.get("shop").await.unwrap().status.unwrap();
    let second = |t: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        t.unwrap().0.as_second() as f64
    };
    let (not_before, not_after) = (second(issued.not_before), second(issued.not_after));
    let one = |labels: &[(&str, &str)]| -> (Value, f64) {
        (labels.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect(), 1.0)
    };
    let queries = [
        ("certmanager_certificate_not_before_timestamp_seconds{name=\"shop\"}", not_before),
        ("certmanager_certificate_not_after_timestamp_seconds{name=\"shop\"}", not_after),
        ("certmanager_certificate_expiration_timestamp_seconds{name=\"shop\"}", not_after),
    ];
    for (query, want) in queries {
        let got = eventually(30, query, || async {
            let got = prometheus.query(query);
            (!got.is_empty()).then_some(got)
        })
        .await;
        assert_eq!(got.iter().map(|s| s.1).collect::<Vec<_>>(), [want], "{query}");
    }
    let pick = |s: &(Value, f64), keys: &[&str]| -> (Value, f64) {
        // Prometheus keeps no empty label (`status=""`): it reads back as absent.
        let label = |k: &str| s.0.get(k).cloned().unwrap_or_else(|| Value::from(""));
        (keys.iter().map(|k| (k.to_string(), label(k))).collect(), s.1)
    };
    let expected: [(&str, &[&str], (Value, f64)); 3] = [
        (
            "certmanager_clusterissuer_ready_status{name=\"letsencrypt-prod\"} == 1",
            &["name", "condition"],
            one(&[("name", "letsencrypt-prod"), ("condition", "True")]),
        ),
        (
            "certmanager_issuer_ready_status{name=\"silent-dns\"} == 1",
            &["name", "namespace", "condition"],
            one(&[("name", "silent-dns"), ("namespace", "default"), ("condition", "True")]),
        ),
        // Not presented, so no state yet: cert-manager's Unknown, `""`; the reason says why.
        (
            "certmanager_certificate_challenge_status{domain=\"stuck.example.com\",reason=~\".+\"} == 1",
            &["domain", "namespace", "processing", "status", "type"],
            one(&[
                ("domain", "stuck.example.com"),
                ("namespace", "default"),
                ("processing", "false"),
                ("status", ""),
                ("type", "DNS-01"),
            ]),
        ),
    ];
    for (query, keys, want) in expected {
        eventually(60, query, || async {
            let got: Vec<_> = prometheus.query(query).iter().map(|s| pick(s, keys)).collect();
            (got == [want.clone()]).then_some(())
        })
        .await;
    }
    // Each of the eight challenge states has its series for the stuck Challenge.
    let states =
        prometheus.query("certmanager_certificate_challenge_status{domain=\"stuck.example.com\"}");
    assert_eq!(states.len(), 8, "{states:?}");
    // v1.19+: requests are labelled by ACME action, not path.
    let actions = prometheus.query("sum by (action) (certmanager_http_acme_client_request_count)");
    let actions: Vec<&str> = actions.iter().filter_map(|s| s.0["action"].as_str()).collect();
    for action in [
        "register_account",
        "authorize_order",
        "get_authorization",
        "accept_challenge",
        "create_order_cert",
        "fetch_cert",
    ] {
        assert!(actions.contains(&action), "no {action} among {actions:?}");
    }
    assert!(!actions.contains(&"unnamed_action"), "a request without action: {actions:?}");
    let with_path =
        prometheus.query("count(certmanager_http_acme_client_request_count{path!=\"\"})");
    assert!(with_path.is_empty(), "series with a path label: {with_path:?}");

    // The exposition passes promtool's checks, with every family present (ACME requests made).
    let body = operator.get("/metrics").expect("/metrics");
    for family in [
        "certmanager_certificate_expiration_timestamp_seconds",
        "certmanager_certificate_renewal_timestamp_seconds",
        "certmanager_certificate_not_before_timestamp_seconds",
        "certmanager_certificate_not_after_timestamp_seconds",
        "certmanager_certificate_ready_status",
        "certmanager_certificate_challenge_status",
        "certmanager_issuer_ready_status",
        "certmanager_clusterissuer_ready_status",
        "certmanager_http_acme_client_request_count",
        "certmanager_http_acme_client_request_duration_seconds",
        "certmanager_controller_sync_call_count",
        "certmanager_clock_time_seconds_gauge",
        "certmanager_clock_time_seconds",
    ] {
        assert!(body.contains(&format!("# TYPE {family} ")), "{family} missing:\n{body}");
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    use std::io::Write as _;
    promtool.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&checked.stdout) + String::from_utf8_lossy(&checked.stderr);
    // promtool parses it all; its naming lint flags only the names cert-manager chose (a
    // counter ending in `_count`, a gauge ending in `_gauge`), which its dashboards query and
    // which certsmith therefore keeps. Anything else it says is a fault.
    let cert_managers_names = [
        "certmanager_clock_time_seconds_gauge metric name should not include type 'gauge'",
        "certmanager_clock_time_seconds counter metrics should have \"_total\" suffix",
        "certmanager_controller_sync_error_count counter metrics should have \"_total\" suffix",
        "certmanager_controller_sync_error_count non-histogram and non-summary metrics should not have \"_count\" suffix",
        "certmanager_controller_sync_call_count counter metrics should have \"_total\" suffix",
        "certmanager_controller_sync_call_count non-histogram and non-summary metrics should not have \"_count\" suffix",
        "certmanager_http_acme_client_request_count counter metrics should have \"_total\" suffix",
        "certmanager_http_acme_client_request_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    ];
    let other: Vec<&str> =
        said.lines().filter(|l| !l.trim().is_empty() && !cert_managers_names.contains(l)).collect();
    assert!(other.is_empty(), "promtool check metrics: {said}");
    assert!(!said.contains("error"), "promtool could not parse /metrics: {said}");

    kube.kubectl_ok(&["delete", "certificate", "shop", "orphan", "stuck"], "");
    eventually(60, "the alerts to clear once the Certificates are deleted", || async {
        let left: Vec<_> =
            prometheus.firing().into_iter().filter(|(_, c)| c == "shop" || c == "orphan").collect();
        left.is_empty().then_some(())
    })
    .await;
    let body = operator.get("/metrics").expect("/metrics");
    assert!(!body.contains("name=\"shop\""), "series of a deleted Certificate remain:\n{body}");
}
