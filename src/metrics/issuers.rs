//! cert-manager v1.21's `certmanager_issuer_ready_status` and
//! `certmanager_clusterissuer_ready_status` (its `internal/collectors/issuer_collector.go` and
//! `clusterissuer_collector.go`): per issuer, 1 on its Ready condition's status, 0 on the
//! other two.

use super::gauges::{Family, ready_status};
use crate::api::{ClusterIssuer, Issuer};
use kube::ResourceExt;
use prometheus::proto::MetricFamily;
use std::sync::Arc;

/// In the order [`collect`] returns them.
pub(super) const FAMILIES: [Family; 2] = [
    Family {
        name: "certmanager_issuer_ready_status",
        help: "The ready status of the Issuer.",
        labels: &["name", "namespace", "condition"],
    },
    Family {
        name: "certmanager_clusterissuer_ready_status",
        help: "The ready status of the ClusterIssuer.",
        labels: &["name", "condition"],
    },
];

pub(super) fn collect(
    issuers: &[Arc<Issuer>],
    cluster_issuers: &[Arc<ClusterIssuer>],
) -> [MetricFamily; 2] {
    let mut namespaced = Vec::new();
    for issuer in issuers {
        let conditions = issuer.status.as_ref().and_then(|s| s.conditions.as_deref());
        for (condition, value) in ready_status(conditions) {
            let values = [issuer.name_any(), issuer.namespace().unwrap_or_default()];
            namespaced.push(([values.as_slice(), &[condition.into()]].concat(), value));
        }
    }
    let mut cluster = Vec::new();
    for issuer in cluster_issuers {
        let conditions = issuer.status.as_ref().and_then(|s| s.conditions.as_deref());
        for (condition, value) in ready_status(conditions) {
            cluster.push((vec![issuer.name_any(), condition.into()], value));
        }
    }
    [FAMILIES[0].build(namespaced), FAMILIES[1].build(cluster)]
}
