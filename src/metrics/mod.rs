//! Prometheus metrics and the probe endpoints: `/metrics`, `/healthz`, `/readyz`. Series that
//! mean what cert-manager's mean carry its names (`certmanager_*`, README "Metrics"), so its
//! alerts and dashboards keep working; certsmith's own carry `certsmith_`.

mod acme_client;
mod certificates;

pub use acme_client::{AcmeClientMetrics, acme_client};
pub use certificates::CertificateMetrics;

use futures::FutureExt as _;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{CounterVec, Gauge, IntCounter, IntGaugeVec, Opts, Registry};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The operator's metrics; cheap to clone, shared by every part.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    issuances: CounterVec,
    http01_requests: CounterVec,
    acme_orders: IntCounter,
    orders_held: CounterVec,
    syncs: CounterVec,
    in_flight: IntGaugeVec,
    certificates: CertificateMetrics,
    ready: Arc<AtomicBool>,
    /// Why this replica reconciles nothing right now, for `/readyz` (it stays ready: probes
    /// must not restart a replica that is standing by on purpose).
    standby: Arc<std::sync::Mutex<Option<String>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let register = |c: Box<dyn Collector>| registry.register(c).expect("unique metric names");
        let counters = |namespace: &str, name: &str, help: &str, label: &str| {
            let vec = CounterVec::new(Opts::new(name, help).namespace(namespace), &[label])
                .expect("valid metric");
            register(Box::new(vec.clone()));
            vec
        };
        let issuances = counters(
            "certsmith",
            "issuances_total",
            "Issuance attempts by result (issued, failed)",
            "result",
        );
        let http01_requests = counters(
            "certsmith",
            "http01_requests_total",
            "HTTP-01 challenge requests by result (answered, unknown)",
            "result",
        );
        let orders_held = counters(
            "certsmith",
            "acme_orders_held_total",
            "New orders held back, by reason (budget: the account's order budget; rate_limited: the CA said rateLimited)",
            "reason",
        );
        let syncs = counters(
            "certmanager",
            "controller_sync_call_count",
            "The number of sync() calls made by a controller.",
            "controller",
        );
        let in_flight = IntGaugeVec::new(
            Opts::new(
                "controller_reconciles_in_flight",
                "Reconciles a controller runs right now (at most --concurrent-workers)",
            )
            .namespace("certsmith"),
            &["controller"],
        )
        .expect("valid metric");
        register(Box::new(in_flight.clone()));
        let acme_orders = IntCounter::with_opts(
            Opts::new("acme_orders_created_total", "ACME orders opened at a CA")
                .namespace("certsmith"),
        )
        .expect("valid metric");
        register(Box::new(acme_orders.clone()));
        let acme = acme_client();
        register(Box::new(acme.count.clone()));
        register(Box::new(acme.duration.clone()));
        let certificates = CertificateMetrics::default();
        register(Box::new(certificates.clone()));
        register(Box::<Clock>::default());
        Metrics {
            registry,
            issuances,
            http01_requests,
            acme_orders,
            orders_held,
            syncs,
            in_flight,
            certificates,
            ready: Arc::default(),
            standby: Arc::default(),
        }
    }
}

/// One running reconcile, counted in `certsmith_controller_reconciles_in_flight` while alive.
pub struct InFlight(prometheus::IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `certmanager_clock_time_seconds_gauge`: the process's clock at scrape time, which
/// cert-manager's dashboards subtract expiry times from.
struct Clock(Gauge);

impl Default for Clock {
    fn default() -> Self {
        let opts = Opts::new(
            "clock_time_seconds_gauge",
            "The clock time given in seconds (from 1970/01/01 UTC).",
        )
        .namespace("certmanager");
        Clock(Gauge::with_opts(opts).expect("valid metric"))
    }
}

impl Collector for Clock {
    fn desc(&self) -> Vec<&Desc> {
        self.0.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.0.set(jiff::Timestamp::now().as_millisecond() as f64 / 1000.0);
        self.0.collect()
    }
}

impl Metrics {
    pub fn issuance(&self, result: &str) {
        self.issuances.with_label_values(&[result]).inc();
    }

    pub fn http01_request(&self, result: &str) {
        self.http01_requests.with_label_values(&[result]).inc();
    }

    /// One reconcile of `controller` (cert-manager's controller names: `certificates`,
    /// `orders`, `challenges`, `issuers`, `clusterissuers`, `ingress-shim`, ...).
    pub fn reconciled(&self, controller: &str) {
        self.syncs.with_label_values(&[controller]).inc();
    }

    /// A reconcile of `controller` running until the guard is dropped.
    pub fn in_flight(&self, controller: &str) -> InFlight {
        let gauge = self.in_flight.with_label_values(&[controller]);
        gauge.inc();
        InFlight(gauge)
    }

    pub fn order_created(&self) {
        self.acme_orders.inc();
    }

    /// A new order held back instead of opened (`budget`, `rate_limited`), each time it is.
    pub fn order_held(&self, reason: &str) {
        self.orders_held.with_label_values(&[reason]).inc();
    }

    /// The Certificate cache the Certificate gauges are read from; `None` when the controllers
    /// stop (a replica standing by exports none, as cert-manager's).
    pub fn watch_certificates(
        &self,
        store: Option<kube::runtime::reflector::Store<crate::api::Certificate>>,
    ) {
        self.certificates.watch(store);
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
        use axum::response::IntoResponse;
        let registry = self.registry.clone();
        let ready = self.ready.clone();
        let standby = self.standby.clone();
        axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(move || async move {
                    let encoded =
                        prometheus::TextEncoder::new().encode_to_string(&registry.gather());
                    match encoded {
                        Ok(body) => (
                            StatusCode::OK,
                            [(axum::http::header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
                            body,
                        )
                            .into_response(),
                        Err(e) => {
                            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
                        }
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

/// `reconcile`, counted in `certsmith_controller_reconciles_in_flight` while it runs.
pub fn counted<K, C, E, F, Fut>(
    controller: &'static str,
    reconcile: F,
) -> impl FnMut(
    std::sync::Arc<K>,
    std::sync::Arc<C>,
) -> futures::future::BoxFuture<'static, Result<kube::runtime::controller::Action, E>>
where
    C: AsRef<Metrics> + Send + Sync + 'static,
    F: Fn(std::sync::Arc<K>, std::sync::Arc<C>) -> Fut,
    Fut: Future<Output = Result<kube::runtime::controller::Action, E>> + Send + 'static,
{
    move |object, ctx| {
        let running = (*ctx).as_ref().in_flight(controller);
        let reconciled = reconcile(object, ctx);
        async move {
            let result = reconciled.await;
            drop(running);
            result
        }
        .boxed()
    }
}
