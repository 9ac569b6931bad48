//! Standing by while cert-manager leads: certsmith reconciles nothing while another controller's
//! leader Lease (cert-manager's `kube-system/cert-manager-controller` by default) is held and
//! renewed, so the two never act on the same objects, and takes over within one lease period
//! once it lapses.
//!
//! The Lease is judged as certsmith judges its own (`leader::held_by`): by when this process
//! last saw it change, so clock skew between nodes cannot make both act.

use crate::leader::Seen;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::Api;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// cert-manager's default `--leader-election-lease-duration`, for a Lease that does not say.
const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(60);

/// Who holds `lease` at `now` (see `leader::held_by`); a Lease without a duration lasts
/// cert-manager's default.
pub fn holder(seen: &mut Option<Seen>, lease: Option<&Lease>, now: Instant) -> Option<String> {
    crate::leader::held_by(seen, lease, now, DEFAULT_LEASE_DURATION)
}

/// Watches the Lease `namespace/name` every `period`, publishing why this process stands by
/// (`None` when nothing holds the Lease). It starts standing by, so nothing reconciles before
/// the first answer; a Lease it may not read keeps it standing by (never two controllers) and
/// says how to fix that; other API errors keep the last judgement. Each change is logged and
/// recorded as an Event on certsmith's own Lease `own`.
pub fn watch(
    client: kube::Client,
    (namespace, name): (String, String),
    own: ObjectReference,
    period: Duration,
) -> watch::Receiver<Option<String>> {
    let first = format!("standing by: Lease {namespace}/{name} not read yet");
    let (tx, rx) = watch::channel(Some(first));
    let api: Api<Lease> = Api::namespaced(client.clone(), &namespace);
    let events = crate::events::Events::new(client);
    tokio::spawn(async move {
        let mut seen = None;
        let mut first = true;
        loop {
            let now = match api.get_opt(&name).await {
                Ok(lease) => Some(
                    holder(&mut seen, lease.as_ref(), Instant::now())
                        .map(|h| message(&namespace, &name, Some(&h))),
                ),
                Err(kube::Error::Api(e)) if e.code == 403 => Some(Some(format!(
                    "standing by: certsmith may not read Lease {namespace}/{name} to know whether \
                     cert-manager runs ({}); grant it get on that Lease, or turn the check off \
                     with --defer-to-lease=",
                    e.message
                ))),
                Err(e) => {
                    tracing::warn!(error = %e, "reading the Lease to defer to");
                    None
                }
            };
            if let Some(now) = now.filter(|now| first || *tx.borrow() != *now) {
                let note = now.clone().unwrap_or_else(|| message(&namespace, &name, None));
                // A start with nothing to defer to is the common case: logged, not recorded
                // (an idle operator writes nothing but its own Lease).
                let quiet = first && now.is_none();
                first = false;
                if quiet {
                    tracing::info!(standing_by = false, "{note}");
                } else {
                    // Logged with the Event.
                    let reason = if now.is_some() { "StandingBy" } else { "TakingOver" };
                    events.publish(&own, now.is_some(), reason, note).await;
                }
                let _ = tx.send(now);
            }
            // While it is held, the next look is no later than when it would lapse: certsmith
            // takes over within one lease period of the last renewal, not a poll later.
            tokio::time::sleep(next_look(seen.as_ref(), Instant::now(), period)).await;
        }
    });
    rx
}

/// How long until the next look at the Lease: `period`, or less when the Lease seen would lapse
/// sooner (a little after it would, so that look finds it lapsed). Never a hot loop: a lapse
/// already past waits the full period. Pure.
pub fn next_look(seen: Option<&Seen>, now: Instant, period: Duration) -> Duration {
    match seen.map(|s| s.lapses_at()).filter(|at| *at > now) {
        Some(at) => (at - now + Duration::from_millis(100)).min(period),
        None => period,
    }
}

/// The words for the log, the Event and `/readyz`.
pub fn message(namespace: &str, name: &str, holder: Option<&str>) -> String {
    match holder {
        Some(h) => format!(
            "standing by: Lease {namespace}/{name} is held by {h:?} (cert-manager is running); \
             certsmith reconciles nothing until it lapses"
        ),
        None => format!("Lease {namespace}/{name} is not held: certsmith reconciles"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn lease(holder: &str, renewed: &str, seconds: i32) -> Lease {
        Lease {
            metadata: Default::default(),
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                renew_time: Some(MicroTime(renewed.parse().unwrap())),
                lease_duration_seconds: Some(seconds),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_lease_is_held_while_it_keeps_changing_whatever_its_clock_says() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // The holder's clock is a year behind: only changes count.
        let a = lease("cm-1", "2025-01-01T00:00:00Z", 60);
        let b = lease("cm-1", "2025-01-01T00:00:10Z", 60);
        let released = lease("", "2025-01-01T00:00:10Z", 60);
        let mut seen = None;
        let table: [(Option<&Lease>, Duration, Option<&str>); 8] = [
            (None, s(0), None),
            // First sight: held for one duration from now.
            (Some(&a), s(0), Some("cm-1")),
            (Some(&a), s(59), Some("cm-1")),
            (Some(&b), s(70), Some("cm-1")),
            (Some(&b), s(129), Some("cm-1")),
            // Unchanged for a full duration: lapsed (cert-manager scaled to zero).
            (Some(&b), s(131), None),
            (Some(&released), s(132), None),
            (Some(&a), s(133), Some("cm-1")),
        ];
        for (l, at, want) in table {
            assert_eq!(holder(&mut seen, l, t0 + at).as_deref(), want, "{l:?} at {at:?}");
        }
        // Seen renewed at 133 s with a 60 s duration: looked at again just after 193 s at the
        // latest; once lapsed, every period.
        let period = s(15);
        let ms = Duration::from_millis;
        assert_eq!(next_look(seen.as_ref(), t0 + s(133), period), period);
        assert_eq!(next_look(seen.as_ref(), t0 + s(190), period), s(3) + ms(100));
        assert_eq!(next_look(seen.as_ref(), t0 + s(194), period), period);
        assert_eq!(next_look(None, t0, period), period);
    }
}
