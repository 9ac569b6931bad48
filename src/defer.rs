//! Standing by while cert-manager runs: certsmith reconciles nothing while another controller's
//! leader Lease (cert-manager's `kube-system/cert-manager-controller` by default) is held and
//! renewed, nor while cert-manager's controllers change the objects certsmith would act on
//! (`activity`: whatever cert-manager's Lease is called, or with none), so the two never act on
//! the same objects; it takes over within one lease period once both are quiet.
//!
//! The Lease is judged as certsmith judges its own (`leader::held_by`): by when this process
//! last saw it change, so clock skew between nodes cannot make both act.

pub mod activity;

use crate::api::Order;
use crate::leader::{Seen, Timings};
use activity::{Activity, Write};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// cert-manager's default `--leader-election-lease-duration`, for a Lease that does not say.
const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(60);

/// The kinds watched for cert-manager's changes: only Orders. `managedFields` (managers and
/// their stamps) are whatever the last writer sent, so a kind a namespace editor may write
/// (Certificates and their status, CertificateRequests, Challenges) would let any tenant stop
/// certsmith cluster-wide by writing as `cert-manager-…` (or blind it with a stamp from the
/// future); editors may not write Orders. cert-manager changes an Order at every step of an
/// ACME issuance.
const KINDS: [&str; 1] = ["Order"];

/// Who holds `lease` at `now` (see `leader::held_by`); a Lease without a duration lasts
/// cert-manager's default.
pub fn holder(seen: &mut Option<Seen>, lease: Option<&Lease>, now: Instant) -> Option<String> {
    crate::leader::held_by(seen, lease, now, DEFAULT_LEASE_DURATION)
}

/// Publishes why this process stands by (`None` when it need not): the Lease `namespace/name`,
/// read every retry period (sooner when it would lapse sooner), and cert-manager's changes to
/// its kinds within one lease period (`activity`), watched. It starts standing by, so nothing
/// reconciles before the Lease is read and the kinds are listed; a Lease it may not read keeps
/// it standing by (never two controllers) and says how to fix that; other API errors keep the
/// last judgement. Each change of verdict is logged and recorded as an Event on certsmith's own
/// Lease `own`.
pub fn watch(
    client: kube::Client,
    scope: &crate::scope::Scope,
    (namespace, name): (String, String),
    own: ObjectReference,
    timings: &Timings,
) -> watch::Receiver<Option<String>> {
    let period = timings.retry_period;
    let unread = format!("standing by: Lease {namespace}/{name} not read yet");
    let (tx, rx) = watch::channel(Some(unread.clone()));
    let api: Api<Lease> = Api::namespaced(client.clone(), &namespace);
    let events = crate::events::Events::new(client.clone());
    let found = Arc::new(Mutex::new(Activity::new(timings.lease_duration, &KINDS)));
    let wake = Arc::new(Notify::new());
    // cert-manager's changes only where certsmith acts: in single-namespace mode the others
    // are not its business (nor may it list them).
    let orders = scope.api::<PartialObjectMeta<Order>>(client);
    tokio::spawn(changes(orders, found.clone(), wake.clone()));
    let window = timings.lease_duration;
    tokio::spawn(async move {
        let mut seen = None;
        // The Lease's verdict; `None` until it is first read.
        let mut lease: Option<Option<String>> = None;
        let mut first = true;
        let mut read_at = Instant::now();
        loop {
            if Instant::now() >= read_at {
                if let Some(now) = read(&api, (&namespace, &name), &mut seen).await {
                    lease = Some(now);
                }
                read_at = Instant::now() + next_look(seen.as_ref(), Instant::now(), period);
            }
            let now = Instant::now();
            let (decided, lapses) = {
                let found = found.lock().unwrap_or_else(|e| e.into_inner());
                (verdict(lease.as_ref(), &found, now, &unread), found.lapses_at(now))
            };
            match decided {
                Ok(verdict) if first || *tx.borrow() != verdict => {
                    let note = verdict.clone().unwrap_or_else(|| quiet(&namespace, &name, window));
                    // A start with nothing to defer to is the common case: logged, not
                    // recorded (an idle operator writes nothing but its own Lease).
                    if first && verdict.is_none() {
                        tracing::info!(standing_by = false, "{note}");
                    } else {
                        // Logged with the Event.
                        let standing = verdict.is_some();
                        let reason = if standing { "StandingBy" } else { "TakingOver" };
                        events.publish(&own, standing, reason, note).await;
                    }
                    first = false;
                    let _ = tx.send(verdict);
                }
                Ok(_) => {}
                // Not known yet: what is missing shows in /readyz, with no Event.
                Err(missing) => {
                    tx.send_if_modified(|v| replace(v, Some(missing)));
                }
            }
            // The next look: at the Lease's, or just after cert-manager's last change lapses
            // (certsmith takes over within one lease period of it, not a poll later), or at
            // once when a change is seen.
            let until = lapses.map_or(read_at, |l| read_at.min(l + Duration::from_millis(100)));
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = wake.notified() => {}
            }
        }
    });
    rx
}

fn replace(value: &mut Option<String>, new: Option<String>) -> bool {
    let changed = *value != new;
    *value = new;
    changed
}

/// Whether and why to stand by at `now`, from the Lease's verdict (`None`: not read yet) and
/// cert-manager's changes `found`; `Err` with what is missing while either is not known yet
/// (standing by all the same). The Lease's reason comes first. Pure.
pub fn verdict(
    lease: Option<&Option<String>>,
    found: &Activity,
    now: Instant,
    unread: &str,
) -> Result<Option<String>, String> {
    let by_lease = lease.ok_or_else(|| unread.to_string())?;
    let by_changes = found.judge(now);
    if !found.all_listed() {
        return Err(by_changes.unwrap_or_default());
    }
    Ok(by_lease.clone().or(by_changes))
}

/// The Lease's verdict now; `None` to keep the last one (the API did not answer).
async fn read(
    api: &Api<Lease>,
    (namespace, name): (&str, &str),
    seen: &mut Option<Seen>,
) -> Option<Option<String>> {
    match api.get_opt(name).await {
        Ok(lease) => {
            Some(holder(seen, lease.as_ref(), Instant::now()).map(|h| message(namespace, name, &h)))
        }
        Err(kube::Error::Api(e)) if e.code == 403 => Some(Some(format!(
            "standing by: certsmith may not read Lease {namespace}/{name} to know whether \
             cert-manager runs ({}); grant it get on that Lease, or turn deferring off with \
             --defer-to-lease=",
            e.message
        ))),
        Err(e) => {
            tracing::warn!(error = %e, "reading the Lease to defer to");
            None
        }
    }
}

/// Follows the changes to every object of kind `K` that `api` lists, metadata only, telling
/// `found` those made by cert-manager's controllers and waking the verdict when one makes
/// certsmith stand by. Nothing of the objects is kept.
async fn changes<K>(api: Api<PartialObjectMeta<K>>, found: Arc<Mutex<Activity>>, wake: Arc<Notify>)
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K: Send + Sync + 'static,
{
    let kind = K::kind(&()).to_string();
    // Served from the API server's cache: a list at start costs etcd nothing.
    let config = watcher::Config::default().any_semantic();
    let mut stream = watcher(api, config).backoff(crate::relist::backoff()).boxed();
    let lock = || found.lock().unwrap_or_else(|e| e.into_inner());
    while let Some(event) = stream.next().await {
        let (object, listed) = match event {
            Ok(watcher::Event::InitApply(o)) => (o, true),
            Ok(watcher::Event::Apply(o)) => (o, false),
            Ok(watcher::Event::InitDone) => {
                if lock().listed(&kind) {
                    wake.notify_one();
                }
                continue;
            }
            Ok(_) => continue,
            // Until the kind is listed certsmith stands by for it: say why. After, the watch
            // comes back on its own and the verdict stands meanwhile.
            Err(e) if !lock().all_listed() => {
                tracing::warn!(kind, error = %e, "listing for changes by cert-manager");
                continue;
            }
            Err(e) => {
                tracing::debug!(kind, error = %e, "watching for changes by cert-manager");
                continue;
            }
        };
        let fields = object.metadata.managed_fields.as_deref().unwrap_or_default();
        let Some((at, manager)) = activity::newest_write(fields) else { continue };
        let object =
            format!("{kind} {}/{}", object.namespace().unwrap_or_default(), object.name_any());
        let write = Write { object, manager, at };
        if lock().observe(write, listed, Instant::now(), jiff::Timestamp::now()) {
            wake.notify_one();
        }
    }
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

/// Why certsmith stands by while the Lease is held: the words for the log, the Event and
/// `/readyz`.
pub fn message(namespace: &str, name: &str, holder: &str) -> String {
    format!(
        "standing by: Lease {namespace}/{name} is held by {holder:?} (cert-manager is running); \
         certsmith reconciles nothing until it lapses"
    )
}

/// Why certsmith reconciles: neither the Lease nor cert-manager's changes hold it back.
pub fn quiet(namespace: &str, name: &str, window: Duration) -> String {
    format!(
        "Lease {namespace}/{name} is not held and cert-manager changed none of its kinds in the \
         last {}s: certsmith reconciles",
        window.as_secs()
    )
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

    #[test]
    fn standing_by_until_both_the_lease_and_the_changes_are_known_and_quiet() {
        let t0 = Instant::now();
        let wall: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let s = Duration::from_secs;
        let held = Some(message("kube-system", "cert-manager-controller", "cm-1"));
        let change = Write {
            object: "Order default/web-1".into(),
            manager: "cert-manager-orders".into(),
            at: wall,
        };
        let mut found = Activity::new(s(60), &KINDS);
        // (Lease read, kinds listed, a change seen on a watch, at, verdict: Err(words) while
        // unknown, else standing by for the words, or reconciling)
        type Row<'a> = (Option<Option<String>>, bool, bool, u64, Result<Option<&'a str>, &'a str>);
        let table: [Row; 7] = [
            (None, false, false, 0, Err("not read yet")),
            (Some(None), false, false, 0, Err("Order not listed")),
            (Some(held.clone()), true, false, 1, Ok(Some("is held by \"cm-1\""))),
            (Some(None), true, false, 2, Ok(None)),
            // cert-manager with its Lease elsewhere (or none): its change alone keeps certsmith
            // standing by, for one lease period.
            (
                Some(None),
                true,
                true,
                3,
                Ok(Some("Order default/web-1 was changed by cert-manager-orders")),
            ),
            (Some(held), true, false, 4, Ok(Some("is held by"))),
            (Some(None), true, false, 64, Ok(None)),
        ];
        for (lease, listed, changed, at, want) in table {
            let now = t0 + s(at);
            if listed {
                KINDS.iter().for_each(|k| _ = found.listed(k));
            }
            if changed {
                assert!(found.observe(change.clone(), false, now, wall));
            }
            let got = verdict(lease.as_ref(), &found, now, "standing by: Lease not read yet");
            match (&got, want) {
                (Err(why), Err(words)) => assert!(why.contains(words), "{why}"),
                (Ok(None), Ok(None)) => {}
                (Ok(Some(why)), Ok(Some(words))) => assert!(why.contains(words), "{why}"),
                _ => panic!("at {at}: {got:?}, want {want:?}"),
            }
        }
        let quiet = quiet("kube-system", "cert-manager-controller", s(60));
        assert!(quiet.contains("changed none of its kinds in the last 60s"), "{quiet}");
    }
}
