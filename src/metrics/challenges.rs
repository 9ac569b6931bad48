//! cert-manager v1.21's `certmanager_certificate_challenge_status` (its
//! `internal/collectors/acme_collector.go`): for each Challenge, one series per ACME state, 1
//! on the Challenge's current state and 0 on the others.

use super::gauges::Family;
use crate::api::Challenge;
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

/// The family for `challenges`, onto `out`.
pub(super) fn write(out: &mut String, challenges: &[Arc<Challenge>]) {
    let rows = challenges.iter().flat_map(|challenge| {
        let status = challenge.status.as_ref();
        let current = status.and_then(|s| s.state).map_or("", |s| s.as_str());
        // The type as the API writes it: `HTTP-01`, `DNS-01`.
        let kind = match challenge.spec.type_ {
            crate::api::order::ChallengeType::Http01 => "HTTP-01",
            crate::api::order::ChallengeType::Dns01 => "DNS-01",
        };
        let processing = status.and_then(|s| s.processing).unwrap_or(false);
        let meta = &challenge.metadata;
        let labels = [
            challenge.spec.dns_name.as_str(),
            status.and_then(|s| s.reason.as_deref()).unwrap_or_default(),
            if processing { "true" } else { "false" },
            meta.name.as_deref().unwrap_or_default(),
            meta.namespace.as_deref().unwrap_or_default(),
            kind,
        ];
        STATES.map(|state| {
            let value = if state == current { 1.0 } else { 0.0 };
            ([[state].as_slice(), &labels].concat(), value)
        })
    });
    CHALLENGE_STATUS.write(out, rows);
}
