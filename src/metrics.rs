//! Prometheus metrics and the probe endpoints: `/metrics`, `/healthz`, `/readyz`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabel {
    controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertificateLabel {
    namespace: String,
    name: String,
}

/// The operator's metrics; cheap to clone, shared by every part.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    issuances: Family<ResultLabel, Counter>,
    http01_requests: Family<ResultLabel, Counter>,
    acme_orders: Counter,
    reconciles: Family<ControllerLabel, Counter>,
    expiry: Family<CertificateLabel, Gauge>,
    ready: Arc<AtomicBool>,
    /// Why this replica reconciles nothing right now, for `/readyz` (it stays ready: probes
    /// must not restart a replica that is standing by on purpose).
    standby: Arc<std::sync::Mutex<Option<String>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("certsmith");
        let issuances = Family::<ResultLabel, Counter>::default();
        registry.register(
            "issuances",
            "Issuance attempts by result (issued, failed)",
            issuances.clone(),
        );
        let http01_requests = Family::<ResultLabel, Counter>::default();
        registry.register(
            "http01_requests",
            "Challenge requests by result (answered, unknown)",
            http01_requests.clone(),
        );
        let acme_orders = Counter::default();
        registry.register("acme_orders_created", "ACME orders opened at a CA", acme_orders.clone());
        let reconciles = Family::<ControllerLabel, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by controller (certificate, issuer, ingress-shim)",
            reconciles.clone(),
        );
        let expiry = Family::<CertificateLabel, Gauge>::default();
        registry.register(
            "certificate_expiration_timestamp_seconds",
            "notAfter of each Ready certificate",
            expiry.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            issuances,
            http01_requests,
            acme_orders,
            reconciles,
            expiry,
            ready: Arc::default(),
            standby: Arc::default(),
        }
    }
}

impl Metrics {
    pub fn issuance(&self, result: &str) {
        self.issuances.get_or_create(&ResultLabel { result: result.into() }).inc();
    }

    pub fn http01_request(&self, result: &str) {
        self.http01_requests.get_or_create(&ResultLabel { result: result.into() }).inc();
    }

    pub fn reconciled(&self, controller: &str) {
        self.reconciles.get_or_create(&ControllerLabel { controller: controller.into() }).inc();
    }

    pub fn order_created(&self) {
        self.acme_orders.inc();
    }

    pub fn expires(&self, namespace: &str, name: &str, not_after: jiff::Timestamp) {
        let label = CertificateLabel { namespace: namespace.into(), name: name.into() };
        self.expiry.get_or_create(&label).set(not_after.as_second());
    }

    /// `/readyz` answers 200 once the responder's view of the challenges is loaded.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    pub fn set_standby(&self, why: Option<String>) {
        *self.standby.lock().unwrap_or_else(|e| e.into_inner()) = why;
    }

    pub fn router(&self) -> axum::Router {
        use axum::http::StatusCode;
        let registry = self.registry.clone();
        let ready = self.ready.clone();
        let standby = self.standby.clone();
        axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(move || async move {
                    let mut out = String::new();
                    match prometheus_client::encoding::text::encode(&mut out, &registry) {
                        Ok(()) => (StatusCode::OK, out),
                        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                    }
                }),
            )
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route(
                "/readyz",
                axum::routing::get(move || async move {
                    let why = standby.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    match (ready.load(Ordering::Relaxed), why) {
                        (true, None) => (StatusCode::OK, "ready".to_string()),
                        (true, Some(why)) => (StatusCode::OK, format!("ready; {why}")),
                        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "loading".to_string()),
                    }
                }),
            )
    }
}
