//! Standing by while cert-manager acts, whatever its Lease is called or wherever it lives.
//!
//! cert-manager names its leader Lease `cert-manager-controller` in the namespace of its
//! `--leader-election-namespace`, and may run without leader election at all: a Lease check
//! alone misses a cert-manager started with other flags than `--defer-to-lease` expects. So
//! certsmith also looks for its writes. Each cert-manager controller writes through a client
//! whose user agent is `cert-manager-<controller>/<version> …`, and the API server files each
//! change under that manager in the object's `managedFields`, stamped with the time of its
//! manager's last change. An Order changed by one of cert-manager's controllers within the last
//! lease period means cert-manager is running (only Orders: see `defer::KINDS`).
//!
//! A change seen on a watch counts from when certsmith saw it: clock skew cannot hide a running
//! cert-manager. A change found by a list (at start, or a watch's re-list) counts from the API
//! server's stamp, aged by certsmith's clock, and never from the future.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// cert-manager's controllers that write cert-manager's kinds (its `ControllerName`s); their
/// field managers are `cert-manager-` and the name. Projects of cert-manager's ecosystem that
/// run beside certsmith (approver-policy, csi-driver, istio-csr, external issuers) use names
/// of their own and are not among them.
const CONTROLLERS: [&str; 19] = [
    "certificates-issuing",
    "certificates-key-manager",
    "certificates-readiness",
    "certificates-request-manager",
    "certificates-revision-manager",
    "certificates-trigger",
    "certificaterequests-approver",
    "certificaterequests-issuer-acme",
    "certificaterequests-issuer-ca",
    "certificaterequests-issuer-selfsigned",
    "certificaterequests-issuer-vault",
    "certificaterequests-issuer-venafi",
    "orders",
    "challenges",
    "issuers",
    "clusterissuers",
    "ingress-shim",
    "gateway-shim",
    "listenerset",
];

/// Whether `manager` is one of cert-manager's controllers: `cert-manager-<controller>`, or
/// plain `cert-manager` (releases before per-controller user agents, and its shared client).
pub fn is_cert_manager(manager: &str) -> bool {
    manager == "cert-manager"
        || manager.strip_prefix("cert-manager-").is_some_and(|c| CONTROLLERS.contains(&c))
}

/// The newest change a cert-manager controller made to an object, from its `managedFields`:
/// when (by the API server's clock) and which manager. Pure.
pub fn newest_write(fields: &[ManagedFieldsEntry]) -> Option<(Timestamp, String)> {
    fields
        .iter()
        .filter(|f| f.manager.as_deref().is_some_and(is_cert_manager))
        .filter_map(|f| Some((f.time.as_ref()?.0, f.manager.clone()?)))
        .max_by_key(|(at, _)| *at)
}

/// One change by cert-manager: the object (`Certificate default/web`), its manager, and the
/// API server's stamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub object: String,
    pub manager: String,
    pub at: Timestamp,
}

/// What the watches of cert-manager's kinds have found: the newest change, and until when it
/// keeps certsmith standing by.
#[derive(Debug)]
pub struct Activity {
    window: Duration,
    /// Kinds not listed yet: until each is, certsmith cannot know, and stands by.
    unlisted: BTreeSet<&'static str>,
    /// The newest change seen (by the API server's stamp), and when it stops counting.
    newest: Option<(Write, Instant)>,
    /// The change that began the current run of activity: what the message names, so that it
    /// stays the same (one Event) while cert-manager keeps writing.
    first: Option<Write>,
}

impl Activity {
    /// Changes count for `window` (the lease period); `kinds` must be listed before any verdict.
    pub fn new(window: Duration, kinds: &[&'static str]) -> Activity {
        let unlisted = kinds.iter().copied().collect();
        Activity { window, unlisted, newest: None, first: None }
    }

    /// `kind`'s first list is complete. Returns whether that was the last one missing.
    pub fn listed(&mut self, kind: &str) -> bool {
        self.unlisted.remove(kind) && self.unlisted.is_empty()
    }

    /// Whether every kind has been listed: only then is a verdict known.
    pub fn all_listed(&self) -> bool {
        self.unlisted.is_empty()
    }

    /// A change found on an object: `listed` when a list found it (then aged by the wall clock
    /// `wall`), else seen on a watch at `now`. Only a change newer than every one before counts
    /// (a stamp left from long ago by a cert-manager since removed comes back on every write
    /// certsmith makes to that object). Returns whether certsmith must now stand by when it
    /// need not before. Pure.
    pub fn observe(&mut self, write: Write, listed: bool, now: Instant, wall: Timestamp) -> bool {
        if self.newest.as_ref().is_some_and(|(w, _)| w.at >= write.at) {
            return false;
        }
        let was = self.active(now);
        let remaining = if listed {
            let age = wall.duration_since(write.at);
            let age = Duration::try_from(age).unwrap_or(Duration::ZERO);
            self.window.saturating_sub(age)
        } else {
            self.window
        };
        if !was {
            self.first = None;
        }
        self.newest = Some((write.clone(), now + remaining));
        let is = self.active(now);
        if is && self.first.is_none() {
            self.first = Some(write);
        }
        is && !was
    }

    fn active(&self, now: Instant) -> bool {
        self.newest.as_ref().is_some_and(|(_, until)| now < *until)
    }

    /// Why certsmith stands by at `now`, if it must: a kind not listed yet, or cert-manager's
    /// change within the window. Pure.
    pub fn judge(&self, now: Instant) -> Option<String> {
        if !self.unlisted.is_empty() {
            let kinds: Vec<&str> = self.unlisted.iter().copied().collect();
            return Some(format!(
                "standing by: {} not listed yet (certsmith looks there for changes by \
                 cert-manager)",
                kinds.join(", ")
            ));
        }
        let first = self.first.as_ref().filter(|_| self.active(now))?;
        Some(format!(
            "standing by: cert-manager is running: {} was changed by {} at {} (its \
             managedFields); certsmith reconciles nothing until cert-manager has changed nothing \
             for {}s",
            first.object,
            first.manager,
            first.at,
            self.window.as_secs()
        ))
    }

    /// When the verdict changes unless cert-manager writes again: the newest change lapses.
    pub fn lapses_at(&self, now: Instant) -> Option<Instant> {
        self.newest.as_ref().map(|(_, until)| *until).filter(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn entry(manager: &str, at: &str) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            time: Some(Time(at.parse().unwrap())),
            ..Default::default()
        }
    }

    #[test]
    fn only_cert_manager_controllers_count_and_the_newest_wins() {
        // (managedFields as (manager, time), the newest by cert-manager)
        type Row<'a> = (&'a [(&'a str, &'a str)], Option<(&'a str, &'a str)>);
        let table: [Row; 6] = [
            (&[], None),
            // certsmith, kubectl, and cert-manager's ecosystem beside certsmith.
            (
                &[
                    ("certsmith", "2026-01-01T00:00:09Z"),
                    ("kubectl-client-side-apply", "2026-01-01T00:00:09Z"),
                    ("cert-manager-approver-policy", "2026-01-01T00:00:09Z"),
                    ("cert-manager-csi-driver", "2026-01-01T00:00:09Z"),
                    ("cert-manager-cainjector", "2026-01-01T00:00:09Z"),
                ],
                None,
            ),
            (
                &[("cert-manager-certificates-issuing", "2026-01-01T00:00:01Z")],
                Some(("cert-manager-certificates-issuing", "2026-01-01T00:00:01Z")),
            ),
            (
                &[
                    ("cert-manager-certificates-readiness", "2026-01-01T00:00:05Z"),
                    ("certsmith", "2026-01-01T00:00:09Z"),
                    ("cert-manager-certificates-trigger", "2026-01-01T00:00:03Z"),
                ],
                Some(("cert-manager-certificates-readiness", "2026-01-01T00:00:05Z")),
            ),
            // cert-manager before per-controller user agents.
            (
                &[("cert-manager", "2026-01-01T00:00:02Z")],
                Some(("cert-manager", "2026-01-01T00:00:02Z")),
            ),
            (
                &[("cert-manager-orders", "2026-01-01T00:00:02Z")],
                Some(("cert-manager-orders", "2026-01-01T00:00:02Z")),
            ),
        ];
        for (fields, want) in table {
            let fields: Vec<_> = fields.iter().map(|(m, t)| entry(m, t)).collect();
            let want = want.map(|(m, t)| (t.parse::<Timestamp>().unwrap(), m.to_string()));
            assert_eq!(newest_write(&fields), want, "{fields:?}");
        }
    }

    #[test]
    fn changes_keep_certsmith_standing_by_for_one_window_from_when_they_are_seen() {
        let t0 = Instant::now();
        let wall0: Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let s = Duration::from_secs;
        let w = |object: &str, at: &str| Write {
            object: object.into(),
            manager: "cert-manager-certificates-readiness".into(),
            at: at.parse().unwrap(),
        };
        let mut a = Activity::new(s(60), &["Certificate", "Order"]);
        // Not listed yet: stand by, whatever was seen.
        assert!(a.judge(t0).unwrap().contains("Certificate, Order not listed yet"));
        // (write, found by a list, at (s after t0), newly standing by, standing by after, names)
        type Row<'a> = (Option<Write>, bool, u64, bool, Option<&'a str>);
        let table: [Row; 11] = [
            // Listed: a change 50 s old by this clock counts for 10 s more; one older, not.
            (Some(w("Certificate a/old", "2026-01-01T00:08:00Z")), true, 0, false, None),
            (Some(w("Certificate a/x", "2026-01-01T00:09:10Z")), true, 0, true, Some("a/x")),
            (None, false, 9, false, Some("a/x")),
            (None, false, 11, false, None),
            // A minute old by our clock (the API server's runs behind): seen on a watch, it
            // counts from now all the same.
            (Some(w("Order b/y", "2026-01-01T00:09:20Z")), false, 20, true, Some("b/y")),
            // More changes: the verdict keeps naming the first (one Event), the window moves.
            (Some(w("Certificate a/x", "2026-01-01T00:09:30Z")), false, 70, false, Some("b/y")),
            (None, false, 129, false, Some("b/y")),
            (None, false, 131, false, None),
            // A stale stamp (certsmith wrote an object cert-manager left long ago): nothing.
            (Some(w("Certificate a/old", "2026-01-01T00:08:00Z")), false, 140, false, None),
            // A stamp from the future by our clock, found by a list: counts from now.
            (Some(w("Certificate c/z", "2026-01-01T01:00:00Z")), true, 150, true, Some("c/z")),
            (None, false, 209, false, Some("c/z")),
        ];
        assert!(!a.listed("Certificate"));
        assert!(a.listed("Order"));
        for (write, listed, at, newly, names) in table {
            let now = t0 + s(at);
            let wall = wall0.checked_add(jiff::SignedDuration::from_secs(at as i64)).unwrap();
            if let Some(write) = write {
                let said = format!("{write:?} at {at}");
                assert_eq!(a.observe(write, listed, now, wall), newly, "{said}");
            }
            let said = a.judge(now);
            match names {
                Some(n) => assert!(said.as_deref().is_some_and(|m| m.contains(n)), "{said:?}"),
                None => assert_eq!(said, None, "at {at}"),
            }
        }
        let said = a.judge(t0 + s(209)).unwrap();
        assert!(said.contains("Certificate c/z was changed by cert-manager-certificates-readiness at 2026-01-01T01:00:00Z"), "{said}");
        assert!(said.ends_with("until cert-manager has changed nothing for 60s"), "{said}");
        assert_eq!(a.lapses_at(t0 + s(209)), Some(t0 + s(210)));
        assert_eq!(a.lapses_at(t0 + s(211)), None);
    }
}
