//! Certificate metrics under cert-manager's names, read from the Certificate cache at scrape
//! time: a deleted Certificate's series are gone at the next scrape, with no bookkeeping.

use crate::api::Certificate;
use crate::api::meta::ConditionStatus;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};
use std::sync::{Arc, Mutex};

const LABELS: [&str; 5] = ["name", "namespace", "issuer_name", "issuer_kind", "issuer_group"];

/// cert-manager's three Certificate gauges: name and help.
const FAMILIES: [(&str, &str); 3] = [
    (
        "certmanager_certificate_expiration_timestamp_seconds",
        "The date after which the certificate expires. Expressed as a Unix Epoch Time.",
    ),
    (
        "certmanager_certificate_renewal_timestamp_seconds",
        "The number of seconds before expiration time the certificate should renew.",
    ),
    ("certmanager_certificate_ready_status", "The ready status of the certificate."),
];

/// cert-manager's three Certificate gauges, built at each scrape from whichever Certificate
/// cache the running controllers hold (none while this replica stands by, as cert-manager's
/// non-leaders). Nothing is kept between scrapes: a gauge vector would hold five series of
/// label strings per Certificate for the life of the process (about 2 MB for 1,000).
#[derive(Clone)]
pub struct CertificateMetrics {
    store: Arc<Mutex<Option<Store<Certificate>>>>,
    descs: Arc<[Desc; 3]>,
}

impl Default for CertificateMetrics {
    fn default() -> Self {
        let desc = |(name, help): (&str, &str)| {
            let mut labels: Vec<String> = LABELS.iter().map(|l| l.to_string()).collect();
            if name.ends_with("ready_status") {
                labels.push("condition".into());
            }
            Desc::new(name.into(), help.into(), labels, Default::default()).expect("valid metric")
        };
        CertificateMetrics { store: Arc::default(), descs: Arc::new(FAMILIES.map(desc)) }
    }
}

impl CertificateMetrics {
    pub fn watch(&self, store: Option<Store<Certificate>>) {
        *self.store.lock().unwrap_or_else(|e| e.into_inner()) = store;
    }
}

/// One gauge sample: `labels` (name, value) sorted by name, as the registry's vectors write them.
fn sample(mut labels: Vec<(&str, &str)>, value: f64) -> Metric {
    labels.sort_unstable_by_key(|(name, _)| *name);
    let pairs = labels
        .into_iter()
        .map(|(name, value)| {
            let mut pair = LabelPair::default();
            pair.set_name(name.into());
            pair.set_value(value.into());
            pair
        })
        .collect();
    let mut gauge = Gauge::default();
    gauge.set_value(value);
    let mut metric = Metric::from_label(pairs);
    metric.set_gauge(gauge);
    metric
}

/// One Certificate's values, as cert-manager exports them: 0 for a date not yet known, and
/// `ready_status` 1 on the Ready condition's current status (Unknown when it has none) and 0
/// on the other two.
#[derive(Debug, PartialEq)]
struct Row {
    labels: [String; 5],
    not_after: f64,
    renewal: f64,
    ready: [(&'static str, f64); 3],
}

impl Row {
    fn of(cert: &Certificate) -> Row {
        let issuer = &cert.spec.issuer_ref;
        let status = cert.status.as_ref();
        let seconds = |t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
            t.map_or(0.0, |t| t.0.as_second() as f64)
        };
        let current = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map_or(ConditionStatus::Unknown, |c| c.status);
        let one = |s: ConditionStatus| if s == current { 1.0 } else { 0.0 };
        Row {
            labels: [
                cert.name_any(),
                cert.namespace().unwrap_or_default(),
                issuer.name.clone(),
                issuer.kind.clone().unwrap_or_default(),
                issuer.group.clone().unwrap_or_default(),
            ],
            not_after: seconds(status.and_then(|s| s.not_after.as_ref())),
            renewal: seconds(status.and_then(|s| s.renewal_time.as_ref())),
            ready: [
                ("True", one(ConditionStatus::True)),
                ("False", one(ConditionStatus::False)),
                ("Unknown", one(ConditionStatus::Unknown)),
            ],
        }
    }
}

impl Collector for CertificateMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let [mut expiration, mut renewal, mut ready] = [(); 3].map(|_| Vec::new());
        for cert in store.iter().flat_map(|s| s.state()) {
            let row = Row::of(&cert);
            let labels: Vec<(&str, &str)> =
                LABELS.into_iter().zip(row.labels.iter().map(String::as_str)).collect();
            expiration.push(sample(labels.clone(), row.not_after));
            renewal.push(sample(labels.clone(), row.renewal));
            for (condition, value) in row.ready {
                let mut labels = labels.clone();
                labels.push(("condition", condition));
                ready.push(sample(labels, value));
            }
        }
        FAMILIES
            .into_iter()
            .zip([expiration, renewal, ready])
            .map(|((name, help), metrics)| {
                let mut family = MetricFamily::default();
                family.set_name(name.into());
                family.set_help(help.into());
                family.set_field_type(MetricType::GAUGE);
                family.set_metric(metrics);
                family
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(yaml: &str) -> Certificate {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn rows_follow_cert_managers_values() {
        let base = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web, namespace: shop}\n\
                    spec: {secretName: web-tls, dnsNames: [a.example], issuerRef: {name: le, kind: ClusterIssuer, group: cert-manager.io}}\n";
        let cases = [
            ("", 0.0, 0.0, [0.0, 0.0, 1.0]),
            ("status: {conditions: [{type: Issuing, status: 'True'}]}", 0.0, 0.0, [0.0, 0.0, 1.0]),
            (
                "status: {notAfter: '2026-12-01T00:00:00Z', renewalTime: '2026-11-01T00:00:00Z', conditions: [{type: Ready, status: 'True'}]}",
                1_796_083_200.0,
                1_793_491_200.0,
                [1.0, 0.0, 0.0],
            ),
            ("status: {conditions: [{type: Ready, status: 'False'}]}", 0.0, 0.0, [0.0, 1.0, 0.0]),
        ];
        for (status, not_after, renewal, ready) in cases {
            let row = Row::of(&cert(&format!("{base}{status}")));
            assert_eq!(row.labels, ["web", "shop", "le", "ClusterIssuer", "cert-manager.io"]);
            assert_eq!((row.not_after, row.renewal), (not_after, renewal), "{status}");
            assert_eq!(row.ready.map(|r| r.1), ready, "{status}");
        }
    }

    #[test]
    fn a_scrape_writes_each_cached_certificate() {
        let (store, mut writer) = kube::runtime::reflector::store::<Certificate>();
        let metrics = CertificateMetrics::default();
        let registry = prometheus::Registry::new();
        registry.register(Box::new(metrics.clone())).unwrap();
        let scrape =
            || prometheus::TextEncoder::new().encode_to_string(&registry.gather()).unwrap();
        assert_eq!(scrape(), "", "no cache while standing by: no series");
        metrics.watch(Some(store));
        let yaml = |name: &str, status: &str| {
            cert(&format!(
                "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: {name}, namespace: shop}}\n\
                 spec: {{secretName: s, issuerRef: {{name: le, kind: ClusterIssuer}}}}\n{status}"
            ))
        };
        let web = yaml(
            "web",
            "status: {notAfter: '2026-12-01T00:00:00Z', conditions: [{type: Ready, status: 'True'}]}",
        );
        for c in [&web, &yaml("api", "")] {
            writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(c.clone()));
        }
        let text = scrape();
        let labels = r#"issuer_group="",issuer_kind="ClusterIssuer",issuer_name="le",name="web",namespace="shop""#;
        for line in [
            format!("certmanager_certificate_expiration_timestamp_seconds{{{labels}}} 1796083200"),
            format!("certmanager_certificate_renewal_timestamp_seconds{{{labels}}} 0"),
            r#"certmanager_certificate_ready_status{condition="True",issuer_group="",issuer_kind="ClusterIssuer",issuer_name="le",name="web",namespace="shop"} 1"#.into(),
            r#"certmanager_certificate_ready_status{condition="Unknown",issuer_group="",issuer_kind="ClusterIssuer",issuer_name="le",name="api",namespace="shop"} 1"#.into(),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 10, "{text}");
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Delete(web));
        let text = scrape();
        assert!(!text.contains(r#"name="web""#), "a deleted Certificate's series go: {text}");
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 5, "{text}");
    }
}
