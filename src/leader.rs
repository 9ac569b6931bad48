//! Leader election on a `coordination.k8s.io/v1` Lease in the operator's namespace: only the
//! holder reconciles and talks to the ACME CA; every replica keeps serving challenges, metrics
//! and probes. Takeover is by the Lease's own clock: a holder that stops renewing for
//! `lease_duration` loses it, and the new leader resumes in-flight orders from status.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use std::time::Duration;
use tokio::sync::watch;

/// The Lease's name, in the operator's namespace.
pub const LEASE_NAME: &str = "certsmith";

#[derive(Clone, Debug)]
pub struct Timings {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

/// What to do with the Lease as found at `now`, for `me`. Pure.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// No Lease yet: create it, holding it.
    Create,
    /// Ours: renew it.
    Renew,
    /// Someone else's, and expired (or released): take it over.
    TakeOver,
    /// Someone else's and current: follow.
    Follow,
}

pub fn step(lease: Option<&Lease>, me: &str, now: Timestamp, lease_duration: Duration) -> Step {
    let Some(spec) = lease.and_then(|l| l.spec.as_ref()) else {
        return if lease.is_some() { Step::TakeOver } else { Step::Create };
    };
    if spec.holder_identity.as_deref() == Some(me) {
        return Step::Renew;
    }
    let duration = spec.lease_duration_seconds.map(|s| SignedDuration::from_secs(s.into()));
    let duration = duration.unwrap_or(SignedDuration::try_from(lease_duration).unwrap_or_default());
    match (spec.holder_identity.as_deref(), spec.renew_time.as_ref()) {
        (None | Some(""), _) | (_, None) => Step::TakeOver,
        (_, Some(renewed)) if renewed.0 + duration < now => Step::TakeOver,
        _ => Step::Follow,
    }
}

/// Campaigns for the Lease forever, publishing whether this replica leads. Leadership is never
/// given back voluntarily; a leader that cannot renew within `renew_deadline` says so, and the
/// caller stops (a fresh process is a clean follower).
pub fn campaign(
    client: kube::Client,
    namespace: &str,
    me: String,
    t: Timings,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    let api: Api<Lease> = Api::namespaced(client, namespace);
    tokio::spawn(async move {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            let leading = *tx.borrow();
            match try_once(&api, &me, &t).await {
                Ok(now_leading) => {
                    if now_leading {
                        last_renewal = tokio::time::Instant::now();
                    }
                    if now_leading != leading {
                        tracing::info!(identity = %me, leading = now_leading, "leadership changed");
                        let _ = tx.send(now_leading);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "leader election: lease request failed"),
            }
            if leading && last_renewal.elapsed() > t.renew_deadline {
                tracing::error!(identity = %me, "could not renew the lease in time; stepping down");
                let _ = tx.send(false);
            }
            tokio::time::sleep(t.retry_period).await;
        }
    });
    rx
}

/// One round: returns whether this replica holds the Lease afterwards.
async fn try_once(api: &Api<Lease>, me: &str, t: &Timings) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let current = api.get_opt(LEASE_NAME).await?;
    let step = step(current.as_ref(), me, now, t.lease_duration);
    let mut lease = current.unwrap_or_else(|| Lease {
        metadata: ObjectMeta { name: Some(LEASE_NAME.into()), ..Default::default() },
        spec: None,
    });
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    match step {
        Step::Follow => return Ok(false),
        Step::Renew => spec.renew_time = Some(MicroTime(now)),
        Step::Create | Step::TakeOver => {
            spec.holder_identity = Some(me.to_string());
            spec.acquire_time = Some(MicroTime(now));
            spec.renew_time = Some(MicroTime(now));
            spec.lease_duration_seconds = Some(t.lease_duration.as_secs() as i32);
            if step == Step::TakeOver {
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
        }
    }
    // Create, or replace conditional on the resourceVersion read: two replicas racing for an
    // expired Lease cannot both win.
    let result = if step == Step::Create {
        api.create(&PostParams::default(), &lease).await.map(|_| ())
    } else {
        api.replace(LEASE_NAME, &PostParams::default(), &lease).await.map(|_| ())
    };
    match result {
        Ok(()) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn lease(holder: Option<&str>, renewed: Option<&str>) -> Lease {
        Lease {
            metadata: Default::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(Into::into),
                renew_time: renewed.map(|r| MicroTime(r.parse().unwrap())),
                lease_duration_seconds: Some(15),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn who_leads() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let d = Duration::from_secs(15);
        let table = [
            (None, Step::Create),
            (Some(lease(Some("me"), Some("2026-01-01T00:00:00Z"))), Step::Renew),
            (Some(lease(Some("other"), Some("2026-01-01T00:00:50Z"))), Step::Follow),
            (Some(lease(Some("other"), Some("2026-01-01T00:00:44Z"))), Step::TakeOver),
            (Some(lease(Some("other"), None)), Step::TakeOver),
            (Some(lease(None, Some("2026-01-01T00:00:59Z"))), Step::TakeOver),
            (Some(lease(Some(""), Some("2026-01-01T00:00:59Z"))), Step::TakeOver),
        ];
        for (l, want) in table {
            assert_eq!(step(l.as_ref(), "me", now, d), want, "{l:?}");
        }
    }
}
