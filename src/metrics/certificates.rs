//! Certificate metrics under cert-manager's names, read from the Certificate cache at scrape
//! time: a deleted Certificate's series are gone at the next scrape, with no bookkeeping.

use crate::api::Certificate;
use crate::api::meta::ConditionStatus;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, Opts};
use std::sync::{Arc, Mutex};

const LABELS: [&str; 5] = ["name", "namespace", "issuer_name", "issuer_kind", "issuer_group"];
const READY_LABELS: [&str; 6] =
    ["name", "namespace", "condition", "issuer_name", "issuer_kind", "issuer_group"];

/// cert-manager's three Certificate gauges, filled from whichever Certificate cache the running
/// controllers hold (none while this replica stands by, as cert-manager's non-leaders).
#[derive(Clone)]
pub struct CertificateMetrics {
    store: Arc<Mutex<Option<Store<Certificate>>>>,
    expiration: GaugeVec,
    renewal: GaugeVec,
    ready: GaugeVec,
    // One scrape fills the vectors at a time: two at once would mix their resets.
    filling: Arc<Mutex<()>>,
}

impl Default for CertificateMetrics {
    fn default() -> Self {
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            GaugeVec::new(Opts::new(name, help).namespace("certmanager"), labels)
                .expect("valid metric")
        };
        CertificateMetrics {
            store: Arc::default(),
            expiration: gauge(
                "certificate_expiration_timestamp_seconds",
                "The date after which the certificate expires. Expressed as a Unix Epoch Time.",
                &LABELS,
            ),
            renewal: gauge(
                "certificate_renewal_timestamp_seconds",
                "The number of seconds before expiration time the certificate should renew.",
                &LABELS,
            ),
            ready: gauge(
                "certificate_ready_status",
                "The ready status of the certificate.",
                &READY_LABELS,
            ),
            filling: Arc::default(),
        }
    }
}

impl CertificateMetrics {
    pub fn watch(&self, store: Option<Store<Certificate>>) {
        *self.store.lock().unwrap_or_else(|e| e.into_inner()) = store;
    }

    fn fill(&self) {
        self.expiration.reset();
        self.renewal.reset();
        self.ready.reset();
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for cert in store.iter().flat_map(|s| s.state()) {
            let row = Row::of(&cert);
            let labels: Vec<&str> = row.labels.iter().map(String::as_str).collect();
            self.expiration.with_label_values(&labels).set(row.not_after);
            self.renewal.with_label_values(&labels).set(row.renewal);
            for (condition, value) in row.ready {
                let mut labels = labels.clone();
                labels.insert(2, condition);
                self.ready.with_label_values(&labels).set(value);
            }
        }
    }
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
        [&self.expiration, &self.renewal, &self.ready].into_iter().flat_map(|v| v.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let _one = self.filling.lock().unwrap_or_else(|e| e.into_inner());
        self.fill();
        [&self.expiration, &self.renewal, &self.ready]
            .into_iter()
            .flat_map(|v| v.collect())
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
}
