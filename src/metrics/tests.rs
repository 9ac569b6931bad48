//! The operator's own families, on the exposition text: the clock, and how reconciles are
//! counted.

use super::*;
use crate::error::Error;
use kube::runtime::controller::Action;

struct Ctx(Metrics);

/// What a reconcile ends with.
type Outcome = fn() -> Result<Action, Error>;

impl AsRef<Metrics> for Ctx {
    fn as_ref(&self) -> &Metrics {
        &self.0
    }
}

fn api(code: u16) -> kube::Error {
    kube::Error::Api(kube::core::Status::failure("refused", "Conflict").with_code(code).boxed())
}

#[test]
fn the_clock_is_exported_as_both_of_cert_managers_families() {
    let metrics = Metrics::default();
    let before = jiff::Timestamp::now().as_second();
    let text = prometheus::TextEncoder::new().encode_to_string(&metrics.registry.gather()).unwrap();
    let after = jiff::Timestamp::now().as_second();
    for (family, kind) in [
        ("certmanager_clock_time_seconds", "counter"),
        ("certmanager_clock_time_seconds_gauge", "gauge"),
    ] {
        assert!(text.contains(&format!("# TYPE {family} {kind}\n")), "{family}: {text}");
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{family} ")))
            .and_then(|v| v.parse::<i64>().ok());
        assert!(value.is_some_and(|v| (before..=after).contains(&v)), "{family}: {text}");
    }
}

#[tokio::test]
async fn failed_syncs_are_counted_as_cert_manager_counts_them() {
    let ctx = Arc::new(Ctx(Metrics::default()));
    let table: [(&str, Outcome, &str); 5] = [
        ("orders", || Err(Error::Kube(api(500))), "orders"),
        ("orders", || Ok(Action::await_change()), ""),
        // A conflict: the cache was behind; cert-manager does not count it either.
        ("orders", || Err(Error::Kube(api(409))), ""),
        ("challenges", || Err(Error::Solver(crate::solver::Error::Kube(api(409)))), ""),
        ("certificaterequests", || Err(Error::Kube(api(403))), "certificaterequests-issuer-acme"),
    ];
    let mut want = std::collections::BTreeMap::<&str, u32>::new();
    for (controller, outcome, counted_as) in table {
        let mut run = counted(controller, move |_: Arc<()>, _: Arc<Ctx>| async move { outcome() });
        let _ = run(Arc::new(()), ctx.clone()).await;
        if !counted_as.is_empty() {
            *want.entry(counted_as).or_default() += 1;
        }
        let text =
            prometheus::TextEncoder::new().encode_to_string(&ctx.0.registry.gather()).unwrap();
        let got: std::collections::BTreeMap<&str, u32> = text
            .lines()
            .filter_map(|l| l.strip_prefix("certmanager_controller_sync_error_count{controller=\""))
            .filter_map(|l| l.split_once("\"} "))
            .map(|(c, n)| (c, n.parse().unwrap()))
            .collect();
        assert_eq!(got, want, "after {controller}: {text}");
    }
}
