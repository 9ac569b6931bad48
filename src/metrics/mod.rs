//! Prometheus metrics and the probe endpoints: `/metrics`, `/healthz`, `/readyz`. Series that
//! mean what cert-manager's mean carry its names (`certmanager_*`, README "Metrics"), so its
//! alerts and dashboards keep working; certsmith's own carry `certsmith_`.

mod acme_client;
mod certificates;
mod challenges;
mod gauges;
mod issuers;

pub use acme_client::{AcmeClientMetrics, acme_action, acme_client};
pub use gauges::{CacheMetrics, Watched};

use futures::FutureExt as _;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{CounterVec, IntCounter, IntGaugeVec, Opts, Registry};
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
    sync_errors: CounterVec,
    in_flight: IntGaugeVec,
    caches: CacheMetrics,
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
            "The number of sync() calls made by a controller. Label: controller (fixed small set of controller names).",
            "controller",
        );
        let sync_errors = counters(
            "certmanager",
            "controller_sync_error_count",
            "The number of errors encountered during controller sync(). Label: controller. Use with controller_sync_call_count to derive error rates.",
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
        let caches = CacheMetrics::default();
        register(Box::<Clock>::default());
        Metrics {
            registry,
            issuances,
            http01_requests,
            acme_orders,
            orders_held,
            syncs,
            sync_errors,
            in_flight,
            caches,
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
/// cert-manager's dashboards subtract expiry times from; and v1.21's still exported
/// `certmanager_clock_time_seconds`, the same value typed as a counter, which older dashboards
/// query.
struct Clock {
    gauge: Desc,
    counter: Desc,
}

impl Default for Clock {
    fn default() -> Self {
        let desc = |name: &str, help: &str| {
            Desc::new(name.into(), help.into(), vec![], Default::default()).expect("valid metric")
        };
        Clock {
            gauge: desc(
                "certmanager_clock_time_seconds_gauge",
                "The clock time given in seconds (from 1970/01/01 UTC). Gauge form of the deprecated clock_time_seconds counter. No labels.",
            ),
            counter: desc(
                "certmanager_clock_time_seconds",
                "DEPRECATED: use clock_time_seconds_gauge instead. The clock time given in seconds (from 1970/01/01 UTC).",
            ),
        }
    }
}

impl Collector for Clock {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.gauge, &self.counter]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        use prometheus::proto::{Counter, Gauge, Metric, MetricType};
        // Whole seconds, as cert-manager's `Now().Unix()`.
        let now = jiff::Timestamp::now().as_second() as f64;
        let family = |desc: &Desc, kind: MetricType| {
            let mut metric = Metric::default();
            match kind {
                MetricType::COUNTER => {
                    let mut counter = Counter::default();
                    counter.set_value(now);
                    metric.set_counter(counter);
                }
                _ => {
                    let mut gauge = Gauge::default();
                    gauge.set_value(now);
                    metric.set_gauge(gauge);
                }
            }
            let mut family = MetricFamily::default();
            family.set_name(desc.fq_name.clone());
            family.set_help(desc.help.clone());
            family.set_field_type(kind);
            family.set_metric(vec![metric]);
            family
        };
        vec![family(&self.gauge, MetricType::GAUGE), family(&self.counter, MetricType::COUNTER)]
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

    /// A reconcile of `controller` that failed, other than on a conflict (cert-manager does not
    /// count those either: the next try, on a fresh cache, is expected to pass).
    fn sync_failed(&self, controller: &str) {
        self.sync_errors.with_label_values(&[sync_label(controller)]).inc();
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

    /// The caches the Certificate, Challenge and issuer gauges are read from; `None` when the
    /// controllers stop (a replica standing by exports none, as cert-manager's).
    pub fn watch(&self, watched: Option<Watched>) {
        self.caches.watch(watched);
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
        let (registry, caches) = (self.registry.clone(), self.caches.clone());
        let ready = self.ready.clone();
        let standby = self.standby.clone();
        axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(move || async move {
                    let encoded =
                        prometheus::TextEncoder::new().encode_to_string(&registry.gather());
                    match encoded {
                        Ok(mut body) => {
                            // The gauges read from the caches, written straight from them.
                            caches.write(&mut body);
                            (
                                StatusCode::OK,
                                [(axum::http::header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
                                body,
                            )
                                .into_response()
                        }
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

/// The `controller` label a controller's reconciles are counted under
/// ([`Metrics::reconciled`]): certsmith's one CertificateRequest controller counts as
/// cert-manager's ACME one, the others by the name they run under.
fn sync_label(controller: &str) -> &str {
    match controller {
        "certificaterequests" => "certificaterequests-issuer-acme",
        other => other,
    }
}

/// Whether `error`, or any error it wraps, is the API server's 409 Conflict.
fn conflict(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(kube::Error::Api(status)) = e.downcast_ref::<kube::Error>()
            && status.code == 409
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// `reconcile`, counted in `certsmith_controller_reconciles_in_flight` while it runs and, when
/// it fails other than on a conflict, in `certmanager_controller_sync_error_count`.
pub fn counted<K, C, E, F, Fut>(
    controller: &'static str,
    reconcile: F,
) -> impl FnMut(
    std::sync::Arc<K>,
    std::sync::Arc<C>,
) -> futures::future::BoxFuture<'static, Result<kube::runtime::controller::Action, E>>
where
    C: AsRef<Metrics> + Send + Sync + 'static,
    E: std::error::Error + 'static,
    F: Fn(std::sync::Arc<K>, std::sync::Arc<C>) -> Fut,
    Fut: Future<Output = Result<kube::runtime::controller::Action, E>> + Send + 'static,
{
    move |object, ctx| {
        let running = (*ctx).as_ref().in_flight(controller);
        let reconciled = reconcile(object, ctx.clone());
        async move {
            let result = reconciled.await;
            if let Err(e) = &result
                && !conflict(e)
            {
                (*ctx).as_ref().sync_failed(controller);
            }
            drop(running);
            result
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests;
