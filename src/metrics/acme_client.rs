//! The ACME client's requests, counted and timed under cert-manager's names
//! (`certmanager_http_acme_client_request_*`), whichever issuer or client made them.

use prometheus::{CounterVec, HistogramOpts, HistogramVec, Opts};
use std::sync::OnceLock;
use std::time::Duration;

const LABELS: [&str; 5] = ["scheme", "host", "path", "method", "status"];

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
                "The number of requests made by the ACME client.",
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
                "The HTTP request latencies in seconds for the ACME client.",
            )
            .namespace("certmanager")
            .subsystem("http"),
            &LABELS,
        )
        .expect("valid metric"),
    })
}

impl AcmeClientMetrics {
    /// One request: `status` None when no response came (cert-manager's 999).
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
            &path_label(uri.path()),
            method.as_str(),
            &status,
        ];
        self.count.with_label_values(&labels).inc();
        self.duration.with_label_values(&labels).observe(took.as_secs_f64());
    }
}

/// The path's first two segments, as cert-manager labels it: an order's or authorization's
/// own URL would make a series per object. Where the second is itself an object's ID (Pebble's
/// `/my-order/<id>`, `/authZ/<id>`), it goes too: each order would add series that are never
/// dropped, some KiB of memory per issuance for as long as the process lives.
fn path_label(path: &str) -> String {
    let mut segments: Vec<&str> = path.split('/').take(3).collect();
    if segments.len() == 3 && is_id(segments[2]) {
        segments.pop();
    }
    segments.join("/")
}

/// A path segment that names one object rather than a kind of resource: a number, or a long
/// token with digits in it (resource names such as `new-order` or `authz-v3` are neither).
fn is_id(segment: &str) -> bool {
    let digits = segment.bytes().filter(u8::is_ascii_digit).count();
    digits > 0 && (digits == segment.len() || segment.len() >= 16)
}

#[cfg(test)]
mod tests {
    use super::path_label;

    #[test]
    fn paths_keep_two_segments() {
        for (path, label) in [
            ("/directory", "/directory"),
            ("/acme/new-order", "/acme/new-order"),
            ("/acme/order/12/34", "/acme/order"),
            ("/my-order/Xy1", "/my-order/Xy1"),
            ("/acme/authz-v3/123", "/acme/authz-v3"),
            ("/acme/acct/123", "/acme/acct"),
            ("/acct/123", "/acct"),
            // Pebble's: the object's ID is the second segment.
            ("/my-order/4nXbT0-qzL3Vq9pRZ2yX8A6kQmE1cW7uJ5sHfDgOaIv", "/my-order"),
            ("/certZ/2f0a9c3e51b7d4866e1f", "/certZ"),
            ("/draft-ietf-acme-ari-03/renewalInfo/aBc.123", "/draft-ietf-acme-ari-03/renewalInfo"),
            ("/sign-me-up", "/sign-me-up"),
            ("/", "/"),
            ("", ""),
        ] {
            assert_eq!(path_label(path), label, "{path}");
        }
    }
}
