//! Renewal schedule: when a certificate is renewed, and how long a failed issuance waits.

pub mod windows;

use jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// When to renew a certificate valid from `not_before` to `not_after`, by cert-manager's rule:
/// `renewBefore` when it is shorter than the actual lifetime, else `renewBeforePercentage` of
/// the actual lifetime, else a third of it; truncated to the second because status stores
/// seconds and a renewal time rounded up would never be reached.
pub fn renewal_time(
    not_before: Timestamp,
    not_after: Timestamp,
    renew_before: Option<Duration>,
    renew_before_percentage: Option<i32>,
) -> Timestamp {
    let lifetime = not_after.duration_since(not_before);
    let before = match (renew_before, renew_before_percentage) {
        (Some(rb), _)
            if rb > Duration::ZERO
                && SignedDuration::try_from(rb).is_ok_and(|rb| rb < lifetime) =>
        {
            SignedDuration::try_from(rb).unwrap_or(lifetime / 3)
        }
        (_, Some(pct)) if (1..=99).contains(&pct) => {
            SignedDuration::from_secs_f64(lifetime.as_secs_f64() * f64::from(pct) / 100.0)
        }
        _ => lifetime / 3,
    };
    let at = not_after - before;
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

/// The renewal time of a certificate valid from `not_before` to `not_after` issued for `spec`
/// by its `renewBefore` or `renewBeforePercentage` alone (no policy, no windows).
pub fn base_for_spec(
    spec: &crate::api::CertificateSpec,
    not_before: Timestamp,
    not_after: Timestamp,
) -> Timestamp {
    let renew_before =
        spec.renew_before.as_deref().and_then(|s| crate::validation::names::parse_duration(s).ok());
    renewal_time(not_before, not_after, renew_before, spec.renew_before_percentage)
}

/// "Never": the renewal time of a certificate under `renewal.policy: Disabled` (status has no
/// renewalTime then, and nothing is renewed for its age).
pub const NEVER: Timestamp = Timestamp::MAX;

/// The renewal time of a certificate issued for `spec`, valid from `not_before` to
/// `not_after`: its renewBefore rule (`base_for_spec`), within its renewal windows.
pub fn for_spec(
    spec: &crate::api::CertificateSpec,
    not_before: Timestamp,
    not_after: Timestamp,
) -> Timestamp {
    gated(spec, not_before, not_after, base_for_spec(spec, not_before, not_after)).0
}

/// When a renewal due at `due` (the renewBefore rule, or the CA's ARI window) happens under
/// `spec.renewal` (cert-manager v1.21): never under `Disabled`; with windows, at `due` when one
/// is open then, else when the next one opens. A window that opens too late (or cannot be read:
/// validation refuses that first) leaves `due`, with why.
pub fn gated(
    spec: &crate::api::CertificateSpec,
    not_before: Timestamp,
    not_after: Timestamp,
    due: Timestamp,
) -> (Timestamp, Option<String>) {
    use crate::api::certificate::RenewalPolicy;
    let Some(renewal) = &spec.renewal else { return (due, None) };
    if renewal.policy == Some(RenewalPolicy::Disabled) {
        return (NEVER, None);
    }
    let windows = renewal.windows.iter().flatten().map(windows::parse);
    let windows = match windows.collect::<Result<Vec<_>, _>>() {
        Ok(w) if w.is_empty() => return (due, None),
        Ok(w) => w,
        Err(e) => return (due, Some(format!("error parsing window: {}", e.detail()))),
    };
    match windows::start(due, not_before, not_after, &windows) {
        Ok(at) => (at, None),
        Err(why) => (due, Some(why)),
    }
}

/// Whether `spec` turns renewal for age off (`renewal.policy: Disabled`).
pub fn disabled(spec: &crate::api::CertificateSpec) -> bool {
    spec.renewal.as_ref().and_then(|r| r.policy)
        == Some(crate::api::certificate::RenewalPolicy::Disabled)
}

/// How long to wait after the `failed_attempts`-th consecutive failure, as Let's Encrypt's
/// integration guide asks of clients: 1 minute, 10 minutes, 100 minutes, then daily. At most
/// three failures fall in any hour, under the CA's limit of five failed validations per name
/// per account per hour; a spec change or `certsmith renew` still retries at once.
pub fn backoff(failed_attempts: i64) -> SignedDuration {
    match failed_attempts {
        ..=1 => SignedDuration::from_mins(1),
        2 => SignedDuration::from_mins(10),
        3 => SignedDuration::from_mins(100),
        _ => MAX_BACKOFF,
    }
}

/// No failed issuance waits longer than a day before it is tried again.
pub const MAX_BACKOFF: SignedDuration = SignedDuration::from_hours(24);

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn renewal_times() {
        let nb = ts("2026-01-01T00:00:00Z");
        let na90 = ts("2026-04-01T00:00:00Z"); // 90 days
        let h = |n: u64| Some(Duration::from_secs(n * 3600));
        let table = [
            // (notAfter, renewBefore, percentage, renewal time)
            (na90, None, None, "2026-03-02T00:00:00Z"), // a third of 90d = 30d before
            (na90, h(24 * 10), None, "2026-03-22T00:00:00Z"), // 10d before
            (na90, None, Some(50), "2026-02-15T00:00:00Z"), // half way
            (na90, h(24 * 100), None, "2026-03-02T00:00:00Z"), // longer than the life: a third
            (na90, None, Some(100), "2026-03-02T00:00:00Z"), // out of range: a third
            (na90, h(24), Some(50), "2026-03-31T00:00:00Z"), // renewBefore wins
            (ts("2026-01-01T00:02:00Z"), None, None, "2026-01-01T00:01:20Z"), // 2-minute cert
            // a lifetime that does not divide evenly is truncated to the second
            (ts("2026-01-01T00:00:10Z"), None, None, "2026-01-01T00:00:06Z"),
        ];
        for (na, rb, pct, want) in table {
            assert_eq!(renewal_time(nb, na, rb, pct), ts(want), "{na} {rb:?} {pct:?}");
        }
    }

    #[test]
    fn backoff_follows_lets_encrypts_schedule_and_never_fails_five_times_an_hour() {
        let mins = |n| SignedDuration::from_mins(n);
        let table = [(0, mins(1)), (1, mins(1)), (2, mins(10)), (3, mins(100)), (4, MAX_BACKOFF)];
        for (attempts, want) in table {
            assert_eq!(backoff(attempts), want, "{attempts}");
        }
        assert_eq!(backoff(i64::MAX), MAX_BACKOFF);
        // Failing every time, attempts at 0, 1, 11, 111 min, …: never five in one hour.
        let mut at = vec![SignedDuration::ZERO];
        for n in 1..10 {
            at.push(at[n - 1] + backoff(n as i64));
        }
        for w in at.windows(5) {
            assert!(w[4] - w[0] > SignedDuration::from_hours(1), "{w:?}");
        }
    }
}

/// When to renew inside an ACME Renewal Information window (RFC 9773 §4.2: a uniformly random
/// time in it): the certificate's serial picks the point, so the choice is random across
/// certificates yet the same at every reconcile and after a restart, with nothing stored.
pub fn ari_pick(start: Timestamp, end: Timestamp, serial: &str) -> Timestamp {
    let span = end.duration_since(start);
    if span <= SignedDuration::ZERO {
        return start;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, serial.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    let fraction = u64::from_be_bytes(first) as f64 / u64::MAX as f64;
    let at = start + SignedDuration::from_secs_f64(span.as_secs_f64() * fraction);
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

#[cfg(test)]
mod ari_tests {
    use super::*;

    #[test]
    fn the_pick_is_inside_the_window_stable_and_spread() {
        let start: Timestamp = "2026-01-10T00:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-01-12T00:00:00Z".parse().unwrap();
        let picks: Vec<Timestamp> =
            (0..200).map(|i| ari_pick(start, end, &format!("{i:x}"))).collect();
        assert!(picks.iter().all(|p| *p >= start && *p <= end));
        assert_eq!(ari_pick(start, end, "0a1b"), ari_pick(start, end, "0a1b"));
        // Spread over the window: both halves get a fair share.
        let early = picks.iter().filter(|p| **p < start + SignedDuration::from_hours(24)).count();
        assert!((60..=140).contains(&early), "{early} of 200 in the first half");
        // A window that is a point, or backwards, is its start.
        assert_eq!(ari_pick(end, start, "1"), end);
    }
}
