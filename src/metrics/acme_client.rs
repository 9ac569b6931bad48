//! The ACME client's requests, counted and timed under cert-manager v1.19+'s names and labels
//! (`certmanager_http_acme_client_request_*`), whichever issuer or client made them. The
//! `action` label is the logical ACME operation the request belongs to, set by the caller with
//! [`acme_action`] as cert-manager sets it in the request's context: the nonce and directory
//! requests made on the way carry the action they serve.

use prometheus::{CounterVec, HistogramOpts, HistogramVec, Opts};
use std::sync::OnceLock;
use std::time::Duration;

const LABELS: [&str; 5] = ["scheme", "host", "action", "method", "status"];

/// cert-manager's label for a request made outside any named action.
const UNNAMED: &str = "unnamed_action";

tokio::task_local! {
    static ACTION: &'static str;
}

/// Runs `request`, labelling the ACME requests it makes with `action`: cert-manager's names
/// (`authorize_order`, `get_order`, `get_authorization`, `accept_challenge`,
/// `create_order_cert`, `fetch_cert`, `register_account`, `get_registration`,
/// `update_registration`, `discover`, `get_renewal_info`, ...).
pub async fn acme_action<F: Future>(action: &'static str, request: F) -> F::Output {
    ACTION.scope(action, request).await
}

/// The two families; one per process, because ACME clients are built wherever an issuer is
/// used, far from the operator's wiring. Every registry that wants them registers them.
#[derive(Clone)]
pub struct AcmeClientMetrics {
    pub(super) count: CounterVec,
    pub(super) duration: HistogramVec,
}

pub fn acme_client() -> &'static AcmeClientMetrics {
    static METRICS: OnceLock<AcmeClientMetrics> = OnceLock::new();
    METRICS.get_or_init(|| AcmeClientMetrics {
        count: CounterVec::new(
            Opts::new(
                "acme_client_request_count",
                "Total number of outbound ACME HTTP requests. Labels: scheme (http/https), host (ACME host), action (logical ACME operation), method (HTTP verb), status (HTTP status code).",
            )
            .namespace("certmanager")
            .subsystem("http"),
            &LABELS,
        )
        .expect("valid metric"),
        // cert-manager's is a summary; the Rust client has none. A histogram keeps `_sum` and
        // `_count` (what rate-based latency panels divide) and adds buckets.
        duration: HistogramVec::new(
            HistogramOpts::new(
                "acme_client_request_duration_seconds",
                "Latency of outbound ACME HTTP requests in seconds. Labels: scheme (http/https), host (ACME host), action (logical ACME operation), method (HTTP verb), status (HTTP status code). Use with acme_client_request_count for rate/error analysis.",
            )
            .namespace("certmanager")
            .subsystem("http"),
            &LABELS,
        )
        .expect("valid metric"),
    })
}

impl AcmeClientMetrics {
    /// One request: `status` None when no response came (cert-manager's 999). Called while the
    /// request's future is polled, so inside its caller's [`acme_action`].
    pub fn observe(
        &self,
        uri: &http::Uri,
        method: &http::Method,
        status: Option<u16>,
        took: Duration,
    ) {
        let status = status.unwrap_or(999).to_string();
        let labels = [
            uri.scheme_str().unwrap_or(""),
            uri.host().unwrap_or(""),
            ACTION.try_with(|a| *a).unwrap_or(UNNAMED),
            method.as_str(),
            &status,
        ];
        self.count.with_label_values(&labels).inc();
        self.duration.with_label_values(&labels).observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_carry_the_action_they_serve() {
        // The metrics are the process's: the host is this test's own, so other tests' requests
        // do not count here.
        let registry = prometheus::Registry::new();
        let metrics = acme_client();
        registry.register(Box::new(metrics.count.clone())).unwrap();
        let observe = |path: &str, method: http::Method, status| {
            let uri: http::Uri = format!("https://ca.action-test{path}").parse().unwrap();
            metrics.observe(&uri, &method, status, Duration::from_millis(5));
        };
        acme_action("authorize_order", async {
            observe("/nonce-plz", http::Method::HEAD, Some(200));
            observe("/order-plz", http::Method::POST, Some(201));
        })
        .await;
        acme_action("get_order", async { observe("/my-order/4nXbT0", http::Method::POST, None) })
            .await;
        observe("/directory", http::Method::GET, Some(200));
        let text = prometheus::TextEncoder::new().encode_to_string(&registry.gather()).unwrap();
        let series = |action: &str, method: &str, status: &str, n: u32| {
            format!(
                r#"certmanager_http_acme_client_request_count{{action="{action}",host="ca.action-test",method="{method}",scheme="https",status="{status}"}} {n}"#
            )
        };
        for line in [
            series("authorize_order", "HEAD", "200", 1),
            series("authorize_order", "POST", "201", 1),
            series("get_order", "POST", "999", 1),
            series("unnamed_action", "GET", "200", 1),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("path="), "v1.19+ has no path label: {text}");
    }
}
