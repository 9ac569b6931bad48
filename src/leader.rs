//! Leader election on a `coordination.k8s.io/v1` Lease in the operator's namespace: only the
//! holder reconciles and talks to the ACME CA; every replica keeps serving challenges, metrics
//! and probes. A holder that stops renewing for `lease_duration` loses it, and the new leader
//! resumes in-flight orders from status; a leader that stops cleanly (SIGTERM) releases it, so
//! the next replica leads at once.
//!
//! Expiry is judged as client-go judges it: by when this process last saw the Lease change, on
//! its own monotonic clock, never by the holder's `renewTime` against the local wall clock —
//! clock skew between nodes cannot make two leaders.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The Lease's name, in the operator's namespace.
pub const LEASE_NAME: &str = "certsmith";

#[derive(Clone, Debug)]
pub struct Timings {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

/// What a Lease said when this process last saw it change, and when (its own clock) that was.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    record: (String, Option<String>, Option<i32>),
    at: Instant,
    duration: Duration,
}

impl Seen {
    /// When the Lease lapses unless it changes before.
    pub fn lapses_at(&self) -> Instant {
        self.at + self.duration
    }
}

/// Who holds `lease` at `now`, given what was `seen` before (updated in place): `None` when
/// nobody does (no Lease, released, or unchanged for longer than its duration, or
/// `default_duration` when it gives none). A Lease first seen counts as renewed then. Pure.
pub fn held_by(
    seen: &mut Option<Seen>,
    lease: Option<&Lease>,
    now: Instant,
    default_duration: Duration,
) -> Option<String> {
    let spec = lease.and_then(|l| l.spec.as_ref());
    let Some((spec, holder)) =
        spec.and_then(|s| Some((s, s.holder_identity.clone()?))).filter(|(_, h)| !h.is_empty())
    else {
        *seen = None;
        return None;
    };
    // renewTime is compared as the holder wrote it: only whether it changed matters.
    let renewed = spec.renew_time.as_ref().map(|t| t.0.to_string());
    let record = (holder.clone(), renewed, spec.lease_transitions);
    let duration = spec
        .lease_duration_seconds
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(s as u64))
        .unwrap_or(default_duration);
    let seen = match seen {
        Some(s) if s.record == record => s,
        other => other.insert(Seen { record, at: now, duration }),
    };
    seen.duration = duration;
    (now < seen.lapses_at()).then_some(holder)
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

pub fn step(
    lease: Option<&Lease>,
    me: &str,
    seen: &mut Option<Seen>,
    now: Instant,
    lease_duration: Duration,
) -> Step {
    let Some(spec) = lease.and_then(|l| l.spec.as_ref()) else {
        return if lease.is_some() { Step::TakeOver } else { Step::Create };
    };
    if spec.holder_identity.as_deref() == Some(me) {
        return Step::Renew;
    }
    if spec.holder_identity.as_deref().is_some_and(|h| predecessor(h, me)) {
        return Step::TakeOver;
    }
    match held_by(seen, lease, now, lease_duration) {
        Some(_) => Step::Follow,
        None => Step::TakeOver,
    }
}

/// Whether `holder` is an earlier container of this replica's own pod. A kubelet starts a
/// container again only after the last one exited, so that Lease is taken at once rather than
/// waited out: a leader that exited on a lost Lease (an API server outage) is followed by a
/// process that reconciles as soon as the API server answers. Only identities named after a
/// pod (`<pod>_<suffix>`; pod names cannot hold `_`) are compared.
fn predecessor(holder: &str, me: &str) -> bool {
    match (holder.split_once('_'), me.split_once('_')) {
        (Some((theirs, _)), Some((mine, _))) => theirs == mine,
        _ => false,
    }
}

/// This process's identity: the pod's name (the user agent names it too) and a random suffix,
/// so that a restarted container never mistakes its predecessor's Lease for its own. Outside a
/// pod (no POD_NAME) there is no `_`: no other process counts as this one's predecessor.
pub fn identity() -> String {
    let mut bytes = [0u8; 4];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match std::env::var("POD_NAME") {
        Ok(pod) if !pod.is_empty() => format!("{pod}_{suffix}"),
        _ => format!("certsmith-{suffix}"),
    }
}

/// A campaign for the Lease: whether this replica leads, and the means to give it back.
pub struct Campaign {
    pub leading: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
    api: Api<Lease>,
    me: String,
}

/// Campaigns for the Lease until released, publishing whether this replica leads. A leader
/// that cannot renew within `renew_deadline` says so, and the caller stops (a fresh process is a
/// clean follower).
pub fn campaign(client: kube::Client, namespace: &str, me: String, t: Timings) -> Campaign {
    let (tx, rx) = watch::channel(false);
    let api: Api<Lease> = Api::namespaced(client, namespace);
    let (task_api, task_me) = (api.clone(), me.clone());
    let task = tokio::spawn(async move {
        let (api, me) = (task_api, task_me);
        let mut last_renewal = tokio::time::Instant::now();
        let (mut seen, mut held) = (None, None);
        loop {
            let leading = *tx.borrow();
            // As client-go: a leader's attempt may take what is left of its renew deadline, so
            // a request that hangs cannot keep it leading past it (and beside a new leader).
            let budget = match leading {
                true => t.renew_deadline.saturating_sub(last_renewal.elapsed()),
                false => t.renew_deadline,
            };
            let attempt = try_once(&api, &me, &mut seen, &mut held, &t);
            let attempt = tokio::time::timeout(budget.max(Duration::from_millis(10)), attempt);
            match attempt
                .await
                .unwrap_or_else(|_| Err(kube::Error::Service("no answer in time".into())))
            {
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
            if leading && last_renewal.elapsed() >= t.renew_deadline {
                tracing::error!(identity = %me, "could not renew the lease in time; stepping down");
                let _ = tx.send(false);
            }
            tokio::time::sleep(t.retry_period).await;
        }
    });
    Campaign { leading: rx, task, api, me }
}

impl Campaign {
    /// Stops campaigning and, when this replica holds the Lease, gives it back (no holder, as
    /// client-go releases), so that another replica leads at its next try, not a lease later.
    pub async fn release(self) {
        self.task.abort();
        let Ok(Some(mut lease)) = self.api.get_opt(LEASE_NAME).await else { return };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.me.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
        match self.api.replace(LEASE_NAME, &PostParams::default(), &lease).await {
            Ok(_) => tracing::info!(identity = %self.me, "released the leader Lease"),
            Err(e) => tracing::warn!(error = %e, "could not release the leader Lease"),
        }
    }
}

/// One round: returns whether this replica holds the Lease afterwards. `held` is the Lease as
/// this replica last wrote it: a leader renews from it without reading the Lease first (a write
/// in between fails the replace's resourceVersion check, and the next round reads).
async fn try_once(
    api: &Api<Lease>,
    me: &str,
    seen: &mut Option<Seen>,
    held: &mut Option<Lease>,
    t: &Timings,
) -> Result<bool, kube::Error> {
    let now = jiff::Timestamp::now();
    let current = match held.take() {
        Some(mine) => Some(mine),
        None => api.get_opt(LEASE_NAME).await?,
    };
    let step = step(current.as_ref(), me, seen, Instant::now(), t.lease_duration);

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
        api.create(&PostParams::default(), &lease).await
    } else {
        api.replace(LEASE_NAME, &PostParams::default(), &lease).await
    };
    match result {
        Ok(written) => {
            *held = Some(written);
            Ok(true)
        }
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_renewal_that_hangs_steps_down_by_the_renew_deadline() {
        use http::{Request, Response};
        use kube::client::Body;
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(service, "default");
        let t = Timings {
            lease_duration: Duration::from_secs(60),
            renew_deadline: Duration::from_secs(40),
            retry_period: Duration::from_secs(15),
        };
        let mut c = campaign(client, "certsmith", "me".into(), t);
        let answer = |status: u16, body: serde_json::Value| {
            Response::builder()
                .status(status)
                .body(Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap()
        };
        // No Lease yet: created, so this replica leads.
        let (request, reply) = handle.next_request().await.unwrap();
        assert_eq!(request.method(), "GET");
        reply.send_response(answer(
            404,
            serde_json::json!({"kind": "Status", "code": 404, "reason": "NotFound"}),
        ));
        let (request, reply) = handle.next_request().await.unwrap();
        assert_eq!(request.method(), "POST");
        let lease = serde_json::json!({"metadata": {"name": LEASE_NAME, "resourceVersion": "1"},
            "spec": {"holderIdentity": "me", "leaseDurationSeconds": 60}});
        reply.send_response(answer(201, lease));
        c.leading.changed().await.unwrap();
        assert!(*c.leading.borrow());
        let renewed = tokio::time::Instant::now();
        // The renewal is never answered (a request that hangs).
        let (request, _never) = handle.next_request().await.unwrap();
        assert_eq!(request.method(), "PUT");
        let stepped_down = tokio::time::timeout(Duration::from_secs(300), c.leading.changed());
        stepped_down.await.expect("still leading 5 minutes after a hung renewal").unwrap();
        assert!(!*c.leading.borrow());
        let after = renewed.elapsed();
        assert!(after <= Duration::from_secs(41), "stepped down {after:?} after the renewal");
    }
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
    fn who_leads_judged_by_what_this_process_saw_change() {
        let t0 = Instant::now();
        let d = Duration::from_secs(15);
        // The other holder's clock is far behind; it keeps renewing, so it keeps leading.
        let other = |renewed: &str| lease(Some("other"), Some(renewed));
        let mut seen = None;
        let s = Duration::from_secs;
        let table = [
            (None, s(0), Step::Create),
            (Some(lease(Some("me"), Some("2020-01-01T00:00:00Z"))), s(0), Step::Renew),
            (Some(other("2020-01-01T00:00:00Z")), s(0), Step::Follow),
            (Some(other("2020-01-01T00:00:00Z")), s(14), Step::Follow),
            (Some(other("2020-01-01T00:00:02Z")), s(20), Step::Follow),
            (Some(other("2020-01-01T00:00:02Z")), s(34), Step::Follow),
            (Some(other("2020-01-01T00:00:02Z")), s(36), Step::TakeOver),
            (Some(lease(Some("other"), None)), s(37), Step::Follow),
            (Some(lease(None, Some("2026-01-01T00:00:59Z"))), s(38), Step::TakeOver),
            (Some(lease(Some(""), Some("2026-01-01T00:00:59Z"))), s(39), Step::TakeOver),
        ];
        for (l, at, want) in table {
            assert_eq!(step(l.as_ref(), "me", &mut seen, t0 + at, d), want, "{l:?} at {at:?}");
        }
        assert_ne!(identity(), identity());
    }

    #[test]
    fn the_lease_of_an_earlier_container_of_the_same_pod_is_taken_at_once() {
        let now = Instant::now();
        let d = Duration::from_secs(15);
        let current = |holder: &str| lease(Some(holder), Some("2026-01-01T00:00:00Z"));
        let table = [
            ("certsmith-0_1a2b3c4d", "certsmith-0_99aa88bb", Step::TakeOver),
            ("certsmith-1_1a2b3c4d", "certsmith-0_99aa88bb", Step::Follow),
            ("certsmith-1a2b3c4d", "certsmith-99aa88bb", Step::Follow),
            ("certsmith-0_1a2b3c4d", "certsmith-0_1a2b3c4d", Step::Renew),
        ];
        for (holder, me, want) in table {
            let step = step(Some(&current(holder)), me, &mut None, now, d);
            assert_eq!(step, want, "{holder} seen by {me}");
        }
    }
}
