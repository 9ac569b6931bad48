//! cert-manager v1.21's `certmanager_certificate_challenge_status` (its
//! `internal/collectors/acme_collector.go`): for each Challenge, one series per ACME state, 1
//! on the Challenge's current state and 0 on the others.

use super::gauges::Family;
use crate::api::Challenge;
use kube::ResourceExt;
use prometheus::proto::MetricFamily;
use std::sync::Arc;

pub(super) const CHALLENGE_STATUS: Family = Family {
    name: "certmanager_certificate_challenge_status",
    help: "The status of certificate challenges",
    labels: &["status", "domain", "reason", "processing", "name", "namespace", "type"],
};

/// cert-manager's states in its order; `""` is its `Unknown`, the state of a Challenge that
/// has none yet.
const STATES: [&str; 8] =
    ["ready", "valid", "errored", "expired", "invalid", "processing", "", "pending"];

pub(super) fn collect(challenges: &[Arc<Challenge>]) -> MetricFamily {
    let mut rows = Vec::new();
    for challenge in challenges {
        let status = challenge.status.as_ref();
        let current = status.and_then(|s| s.state).map_or("", |s| s.as_str());
        // The type as the API writes it: `HTTP-01`, `DNS-01`.
        let kind = serde_json::to_value(challenge.spec.type_).unwrap_or_default();
        let labels = [
            challenge.spec.dns_name.clone(),
            status.and_then(|s| s.reason.clone()).unwrap_or_default(),
            status.and_then(|s| s.processing).unwrap_or(false).to_string(),
            challenge.name_any(),
            challenge.namespace().unwrap_or_default(),
            kind.as_str().unwrap_or_default().to_string(),
        ];
        for state in STATES {
            let mut values = vec![state.to_string()];
            values.extend(labels.iter().cloned());
            rows.push((values, if state == current { 1.0 } else { 0.0 }));
        }
    }
    CHALLENGE_STATUS.build(rows)
}
