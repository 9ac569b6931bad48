//! Status transitions of a Certificate, computed from the old status (pure; time passed in).

use crate::api::CertificateStatus;
use crate::api::meta::{self, ConditionStatus};
use crate::pki::inspect::Issued;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn set_condition(
    status: &mut CertificateStatus,
    type_: &str,
    value: ConditionStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    meta::set_condition(&mut status.conditions, type_, value, reason, message, generation, now);
}

fn remove_condition(status: &mut CertificateStatus, type_: &str) {
    if let Some(cs) = status.conditions.as_mut() {
        cs.retain(|c| c.type_ != type_);
    }
}

/// The Certificate holds a valid certificate: Ready, not issuing, the dates and the renewal.
pub fn up_to_date(
    old: &CertificateStatus,
    issued: &Issued,
    renewal: Timestamp,
    generation: Option<i64>,
    now: Timestamp,
) -> CertificateStatus {
    let mut s = old.clone();
    s.not_before = Some(Time(issued.not_before));
    s.not_after = Some(Time(issued.not_after));
    // Under `renewal.policy: Disabled` there is no renewal time, as cert-manager leaves it.
    s.renewal_time = (renewal != crate::renewal::NEVER).then_some(Time(renewal));
    let message = "Certificate is up to date and has not expired";
    set_condition(&mut s, "Ready", ConditionStatus::True, "Ready", message, generation, now);
    remove_condition(&mut s, "Issuing");
    s
}

/// Whether the status says an issuance is under way (Issuing=True) for `reason`.
pub fn issuing_for(status: &CertificateStatus, reason: &str) -> bool {
    status.conditions.iter().flatten().any(|c| {
        c.type_ == "Issuing"
            && c.status == ConditionStatus::True
            && c.reason.as_deref() == Some(reason)
    })
}

/// The reason of the issuance under way, if one is.
pub fn issuing_reason(status: &CertificateStatus) -> Option<&str> {
    let issuing = status.conditions.iter().flatten().find(|c| c.type_ == "Issuing");
    issuing.filter(|c| c.status == ConditionStatus::True).and_then(|c| c.reason.as_deref())
}

/// Just issued: as up to date, plus a new revision, and the attempt bookkeeping cleared.
pub fn issued(
    old: &CertificateStatus,
    issued: &Issued,
    renewal: Timestamp,
    generation: Option<i64>,
    now: Timestamp,
) -> CertificateStatus {
    let mut s = up_to_date(old, issued, renewal, generation, now);
    s.revision = Some(old.revision.unwrap_or(0) + 1);
    s.failed_issuance_attempts = None;
    s.last_failure_time = None;
    s.next_private_key_secret_name = None;
    s
}

/// An issuance starts (or goes on) for `reason`. A Certificate that was never Ready says so
/// at once, for `kubectl get certificates` (cert-manager does the same), and goes on saying
/// what the issuance waits on while it is not Ready for that same reason.
pub fn issuing(
    old: &CertificateStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> CertificateStatus {
    let mut s = old.clone();
    set_condition(&mut s, "Issuing", ConditionStatus::True, reason, message, generation, now);
    let ready = s.conditions.iter().flatten().find(|c| c.type_ == "Ready");
    if ready
        .is_none_or(|c| c.status == ConditionStatus::False && c.reason.as_deref() == Some(reason))
    {
        set_condition(&mut s, "Ready", ConditionStatus::False, reason, message, generation, now);
    }
    s
}

/// An issuance failed: counted, timed, and said on Issuing. Ready says it too, unless the
/// Secret still holds a valid certificate (cert-manager's rule: a failed renewal of a working
/// certificate is not an outage).
pub fn failed(
    old: &CertificateStatus,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> CertificateStatus {
    let mut s = old.clone();
    s.failed_issuance_attempts = Some(old.failed_issuance_attempts.unwrap_or(0) + 1);
    s.last_failure_time = Some(Time(now));
    set_condition(&mut s, "Issuing", ConditionStatus::False, "Failed", message, generation, now);
    let still_valid = s.not_after.as_ref().is_some_and(|t| t.0 > now)
        && s.conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True);
    if still_valid {
        return s;
    }
    let ready_message = format!("Issuing failed: {message}");
    let ready = if old.not_after.is_some() { "Failed" } else { "DoesNotExist" };
    set_condition(&mut s, "Ready", ConditionStatus::False, ready, &ready_message, generation, now);
    s
}

/// Something the user must fix before certsmith can issue (an invalid spec, a missing issuer,
/// a Secret it does not own): Ready=False with `reason`, no attempt counted.
pub fn blocked(
    old: &CertificateStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> CertificateStatus {
    let mut s = old.clone();
    set_condition(&mut s, "Ready", ConditionStatus::False, reason, message, generation, now);
    remove_condition(&mut s, "Issuing");
    s
}

/// Requeue at `at`, but at least every 12 hours: a periodic look at the Secret costs one GET,
/// and the runtime's delay queue cannot hold the years a CA-issued certificate may last.
pub fn requeue_at(at: Timestamp, now: Timestamp) -> kube::runtime::controller::Action {
    let wait = at
        .duration_since(now)
        .clamp(jiff::SignedDuration::from_secs(1), jiff::SignedDuration::from_hours(12));
    kube::runtime::controller::Action::requeue(wait.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_when_the_status_changes() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let s = blocked(&CertificateStatus::default(), "IssuerNotFound", "a", Some(1), t0);
        let s = blocked(&s, "IssuerNotReady", "b", Some(1), t1);
        let ready = &s.conditions.as_ref().unwrap()[0];
        assert_eq!(ready.last_transition_time, Some(Time(t0)));
        assert_eq!(ready.reason.as_deref(), Some("IssuerNotReady"));
        let s = failed(&s, "boom", Some(1), t1);
        assert_eq!(s.failed_issuance_attempts, Some(1));
        let s = failed(&s, "boom", Some(1), t1);
        assert_eq!(s.failed_issuance_attempts, Some(2));
        let types: Vec<_> = s.conditions.iter().flatten().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Issuing", "Ready"]);
    }
}
