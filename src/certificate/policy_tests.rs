//! The needs-issuance chain, one row per reason.

use super::*;
use crate::api::CertificateStatus;
use crate::api::meta::{Condition, ConditionStatus};
use crate::certificate::secret::tls_secret;
use crate::pki::inspect::parse_chain;
use crate::pki::key::to_pem;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rcgen::{CertificateParams, KeyPair};

/// What the Secret step's cache keeps of `s`.
fn facts(s: &Secret) -> SecretFacts {
    SecretFacts::from(s.clone())
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn certificate(extra: &str) -> Certificate {
    let mut c: Certificate = serde_yaml::from_str(&format!(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: web, namespace: default, generation: 1}}\n\
         spec:\n  secretName: web-tls\n  issuerRef: {{name: le, kind: ClusterIssuer}}\n  dnsNames: [a.example.com]\n{extra}"
    ))
    .unwrap();
    c.status = Some(CertificateStatus::default());
    c
}

/// A Secret as certsmith would have written it for `cert`, valid Jan 1 to Apr 1 2026.
fn secret_for(cert: &Certificate, names: &[&str], key: &KeyPair) -> Secret {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.not_before = rcgen::date_time_ymd(2026, 1, 1);
    params.not_after = rcgen::date_time_ymd(2026, 4, 1);
    let pem = params.self_signed(key).unwrap().pem();
    let issued = parse_chain(&pem).unwrap();
    tls_secret(cert, &pem, &to_pem(key, None).unwrap(), &issued, None)
}

fn rsa() -> KeyPair {
    KeySpec::Rsa(2048).generate().unwrap()
}

fn with_failure(mut cert: Certificate, attempts: i64, at: &str, generation: i64) -> Certificate {
    let status = cert.status.get_or_insert_default();
    status.failed_issuance_attempts = Some(attempts);
    status.last_failure_time = Some(Time(ts(at)));
    status.conditions = Some(vec![Condition {
        type_: "Ready".into(),
        status: ConditionStatus::False,
        last_transition_time: None,
        reason: Some("Failed".into()),
        message: None,
        observed_generation: Some(generation),
    }]);
    cert
}

fn reason(d: &Decision) -> &'static str {
    match d {
        Decision::NotOwned { .. } => "NotOwned",
        Decision::UpToDate { .. } => "UpToDate",
        Decision::Issue { reason, .. } => reason,
        Decision::Backoff { .. } => "Backoff",
    }
}

#[test]
fn needs_issuance_chain() {
    let key = rsa();
    let cert = certificate("");
    let good = secret_for(&cert, &["a.example.com"], &key);
    let now = ts("2026-02-01T00:00:00Z");

    let mut unannotated = good.clone();
    unannotated.metadata.annotations = None;
    let mut other_owner = good.clone();
    other_owner
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(ANN_CERTIFICATE_NAME.into(), "other".into());
    let mut empty = good.clone();
    empty.data = None;
    let mut bad_key = good.clone();
    bad_key
        .data
        .as_mut()
        .unwrap()
        .insert("tls.key".into(), k8s_openapi::ByteString(b"nope".to_vec()));
    let mut wrong_key = good.clone();
    let other_key = to_pem(&rsa(), None).unwrap();
    wrong_key
        .data
        .as_mut()
        .unwrap()
        .insert("tls.key".into(), k8s_openapi::ByteString(other_key.into_bytes()));
    let mut old_issuer = good.clone();
    old_issuer.metadata.annotations.as_mut().unwrap().insert(ANN_ISSUER_NAME.into(), "old".into());
    let fewer_names = secret_for(&cert, &["b.example.com"], &key);
    let ecdsa_cert = certificate("  privateKey: {algorithm: ECDSA}");
    let mut manual = cert.clone();
    manual.status.as_mut().unwrap().conditions = Some(vec![Condition {
        type_: "Issuing".into(),
        status: ConditionStatus::True,
        last_transition_time: None,
        reason: Some(MANUALLY_TRIGGERED.into()),
        message: None,
        observed_generation: Some(1),
    }]);
    let mut bumped = with_failure(cert.clone(), 3, "2026-02-01T00:00:00Z", 1);
    bumped.metadata.generation = Some(2);

    let recent = with_failure(cert.clone(), 3, "2026-01-31T23:59:00Z", 1);
    // `certsmith renew` after a failure, while the Secret does not exist yet.
    let mut renewed_after_failure = recent.clone();
    let conditions = renewed_after_failure.status.as_mut().unwrap().conditions.as_mut().unwrap();
    conditions.extend(manual.status.as_ref().unwrap().conditions.clone().unwrap());
    let older = with_failure(cert.clone(), 3, "2026-01-31T22:15:00Z", 1);
    // The spec changed (generation 2), and the renewal it asked for failed while the old
    // certificate was still valid: Ready stays at generation 1, Issuing says the failure.
    let mut failed_after_change = with_failure(cert.clone(), 1, "2026-01-31T23:59:30Z", 1);
    failed_after_change.metadata.generation = Some(2);
    let conditions = failed_after_change.status.as_mut().unwrap().conditions.as_mut().unwrap();
    conditions[0].status = ConditionStatus::True;
    conditions[0].reason = Some("Ready".into());
    conditions.push(Condition {
        type_: "Issuing".into(),
        status: ConditionStatus::False,
        last_transition_time: None,
        reason: Some("Failed".into()),
        message: None,
        observed_generation: Some(2),
    });
    let table: Vec<(&str, &Certificate, Option<&Secret>, Timestamp, &str)> = vec![
        ("no Secret", &cert, None, now, "DoesNotExist"),
        ("Secret without annotation", &cert, Some(&unannotated), now, "NotOwned"),
        ("Secret of another Certificate", &cert, Some(&other_owner), now, "NotOwned"),
        ("Secret without data", &cert, Some(&empty), now, "MissingData"),
        ("unreadable key", &cert, Some(&bad_key), now, "InvalidKeyPair"),
        ("key of another certificate", &cert, Some(&wrong_key), now, "InvalidKeyPair"),
        ("issued by another issuer", &cert, Some(&old_issuer), now, "IncorrectIssuer"),
        ("issued for other names", &cert, Some(&fewer_names), now, "SecretMismatch"),
        ("spec asks another key type", &ecdsa_cert, Some(&good), now, "SecretMismatch"),
        ("expired", &cert, Some(&good), ts("2026-04-02T00:00:00Z"), "Expired"),
        ("renewal time reached", &cert, Some(&good), ts("2026-03-02T00:00:01Z"), "Renewing"),
        ("manual renew", &manual, Some(&good), now, MANUALLY_TRIGGERED),
        ("up to date", &cert, Some(&good), now, "UpToDate"),
        ("failed a minute ago, 3rd time", &recent, None, now, "Backoff"),
        ("the same, then renewed by hand", &renewed_after_failure, None, now, "DoesNotExist"),
        ("failed, then the spec changed", &bumped, None, now, "DoesNotExist"),
        ("failed 105 minutes ago, 3rd time", &older, None, now, "DoesNotExist"),
        ("the spec changed, then its renewal failed", &failed_after_change, None, now, "Backoff"),
    ];
    for (what, cert, secret, now, want) in table {
        let got = decide(cert, secret.map(facts).as_ref(), None, now);
        assert_eq!(reason(&got), want, "{what}: {got:?}");
    }
}

#[test]
fn decisions_carry_times_and_messages() {
    let key = rsa();
    let cert = certificate("");
    let good = secret_for(&cert, &["a.example.com"], &key);
    match decide(&cert, Some(&facts(&good)), None, ts("2026-02-01T00:00:00Z")) {
        Decision::UpToDate { renewal_time, issued, .. } => {
            assert_eq!(renewal_time, ts("2026-03-02T00:00:00Z"));
            assert_eq!(issued.dns_names, ["a.example.com"]);
        }
        other => panic!("{other:?}"),
    }
    let failed = with_failure(cert.clone(), 3, "2026-01-31T23:59:00Z", 1);
    match decide(&failed, None, None, ts("2026-02-01T00:00:00Z")) {
        Decision::Backoff { retry_at, .. } => assert_eq!(retry_at, ts("2026-02-01T01:39:00Z")),
        other => panic!("{other:?}"),
    }
    let mut unannotated = good.clone();
    unannotated.metadata.annotations = None;
    match decide(&cert, Some(&facts(&unannotated)), None, ts("2026-02-01T00:00:00Z")) {
        Decision::NotOwned { message } => assert_eq!(
            message,
            "Secret \"web-tls\" exists and was not created for this Certificate (it has no \
             cert-manager.io/certificate-name annotation); certsmith will not overwrite it. \
             Delete it, or set spec.secretName to a free name"
        ),
        other => panic!("{other:?}"),
    }
    let fewer = secret_for(&cert, &["b.example.com"], &key);
    match decide(&cert, Some(&facts(&fewer)), None, ts("2026-02-01T00:00:00Z")) {
        Decision::Issue { message, .. } => assert_eq!(
            message,
            "Issuing certificate as Secret was previously issued for [b.example.com], not [a.example.com]"
        ),
        other => panic!("{other:?}"),
    }
}

/// A CA saying "renew now" to a certificate issued minutes ago (a window from a year before
/// its end to its end): up to date until the ARI floor (a day for a 90-day certificate), then
/// renewed; the 2/3 rule would say March 2.
#[test]
fn a_renew_now_window_does_not_renew_a_fresh_certificate_before_the_floor() {
    use crate::api::certificate::{AriStatus, CertificateAcmeStatus, SuggestedWindow};
    let key = rsa();
    let mut cert = certificate("");
    let good = secret_for(&cert, &["a.example.com"], &key);
    let ari = AriStatus {
        last_checked: Some(Time(ts("2026-01-01T00:05:00Z"))),
        next_check: Some(Time(ts("2026-01-01T00:05:10Z"))),
        suggested_window: Some(SuggestedWindow {
            start: Time(ts("2025-04-01T00:00:00Z")),
            end: Time(ts("2026-04-01T00:00:00Z")),
        }),
    };
    cert.status.get_or_insert_default().acme = Some(CertificateAcmeStatus { ari: Some(ari) });
    match decide(&cert, Some(&facts(&good)), None, ts("2026-01-01T00:10:00Z")) {
        Decision::UpToDate { renewal_time, .. } => {
            assert_eq!(renewal_time, ts("2026-01-02T00:00:00Z"))
        }
        other => panic!("renewed a fresh certificate on ARI alone: {other:?}"),
    }
    let d = decide(&cert, Some(&facts(&good)), None, ts("2026-01-02T00:00:00Z"));
    assert_eq!(reason(&d), "Renewing", "{d:?}");
}

/// cert-manager v1.21's `spec.renewal`: `Disabled` never renews for age, even expired, but a
/// spec change still issues; windows move a renewal due on Monday 2 March (2/3 of the life) to
/// the Saturday window, and one due inside a window stays.
#[test]
fn renewal_policy_and_windows_decide_when_a_renewal_starts() {
    let key = rsa();
    let disabled = certificate("  renewal: {policy: Disabled}\n");
    let good = secret_for(&disabled, &["a.example.com"], &key);
    for now in ["2026-03-02T00:00:01Z", "2026-04-02T00:00:00Z"] {
        match decide(&disabled, Some(&facts(&good)), None, ts(now)) {
            Decision::UpToDate { renewal_time, .. } => {
                assert_eq!(renewal_time, crate::renewal::NEVER, "{now}")
            }
            other => panic!("{now}: {other:?}"),
        }
    }
    let fewer = secret_for(&disabled, &["b.example.com"], &key);
    assert_eq!(
        reason(&decide(&disabled, Some(&facts(&fewer)), None, ts("2026-02-01T00:00:00Z"))),
        "SecretMismatch"
    );

    let saturdays =
        "  renewal: {policy: RenewBefore, windows: [{cron: '0 2 * * 6', windowDuration: 4h}]}\n";
    let windowed = certificate(saturdays);
    let good = secret_for(&windowed, &["a.example.com"], &key);
    match decide(&windowed, Some(&facts(&good)), None, ts("2026-03-02T00:00:01Z")) {
        Decision::UpToDate { renewal_time, .. } => {
            assert_eq!(renewal_time, ts("2026-03-07T02:00:00Z"), "the next Saturday window")
        }
        other => panic!("{other:?}"),
    }
    match decide(&windowed, Some(&facts(&good)), None, ts("2026-03-07T02:00:00Z")) {
        Decision::Issue { reason, message } => {
            assert_eq!(reason, "Renewing");
            assert_eq!(
                message,
                "Renewing certificate as renewal was scheduled at 2026-03-07T02:00:00Z"
            );
        }
        other => panic!("{other:?}"),
    }
    let mondays =
        "  renewal: {policy: RenewBefore, windows: [{cron: '0 0 * * MON', windowDuration: 2h}]}\n";
    let open = certificate(mondays);
    let d = decide(
        &open,
        Some(&facts(&secret_for(&open, &["a.example.com"], &key))),
        None,
        ts("2026-03-02T00:00:01Z"),
    );
    assert_eq!(reason(&d), "Renewing", "due inside an open window: {d:?}");
}
