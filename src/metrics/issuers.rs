//! cert-manager v1.21's `certmanager_issuer_ready_status` and
//! `certmanager_clusterissuer_ready_status` (its `internal/collectors/issuer_collector.go` and
//! `clusterissuer_collector.go`): per issuer, 1 on its Ready condition's status, 0 on the
//! other two.

use super::gauges::{Family, ready_status};
use crate::api::{ClusterIssuer, Issuer};
use std::sync::Arc;

/// In the order [`write`] writes them.
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

/// Both families for `issuers` and `cluster_issuers`, onto `out`.
pub(super) fn write(
    out: &mut String,
    issuers: &[Arc<Issuer>],
    cluster_issuers: &[Arc<ClusterIssuer>],
) {
    let namespaced = issuers.iter().flat_map(|issuer| {
        let conditions = issuer.status.as_ref().and_then(|s| s.conditions.as_deref());
        let meta = &issuer.metadata;
        let (name, namespace) = (meta.name.as_deref(), meta.namespace.as_deref());
        let (name, namespace) = (name.unwrap_or_default(), namespace.unwrap_or_default());
        ready_status(conditions).map(|(condition, value)| (vec![name, namespace, condition], value))
    });
    FAMILIES[0].write(out, namespaced);
    let cluster = cluster_issuers.iter().flat_map(|issuer| {
        let conditions = issuer.status.as_ref().and_then(|s| s.conditions.as_deref());
        let name = issuer.metadata.name.as_deref().unwrap_or_default();
        ready_status(conditions).map(|(condition, value)| (vec![name, condition], value))
    });
    FAMILIES[1].write(out, cluster);
}
