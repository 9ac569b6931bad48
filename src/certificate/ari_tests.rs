//! The renewal step's ARI rules, as tables: the window chosen, the floor under a CA's "renew
//! now", and what is said while it is held.

use super::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn cert_with(ari: Option<AriStatus>) -> Certificate {
    let mut c: Certificate = serde_yaml::from_str(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\n\
         spec: {secretName: s, issuerRef: {name: i}}",
    )
    .unwrap();
    c.status =
        Some(CertificateStatus { acme: Some(CertificateAcmeStatus { ari }), ..Default::default() });
    c
}

fn ari(checked: &str, next: &str, start: &str, end: &str) -> Option<AriStatus> {
    Some(AriStatus {
        last_checked: Some(Time(t(checked))),
        next_check: Some(Time(t(next))),
        suggested_window: Some(SuggestedWindow { start: Time(t(start)), end: Time(t(end)) }),
    })
}

fn issued(not_before: &str, not_after: &str) -> Issued {
    Issued {
        not_before: t(not_before),
        not_after: t(not_after),
        serial: "0a".into(),
        subject: String::new(),
        issuer: String::new(),
        common_name: None,
        dns_names: vec![],
        ip_addresses: vec![],
        uris: vec![],
        emails: vec![],
        other_names: vec![],
        public_key: vec![],
        chain_ends_in_root: false,
        last_in_chain: String::new(),
    }
}

#[test]
fn the_window_decides_the_renewal_of_the_certificate_it_was_fetched_for() {
    let issued = issued("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z");
    let now = t("2026-01-02T00:00:00Z");
    // (status, renewal time wanted, due at now)
    let table = [
        (None, None, true),
        // Fetched before this certificate was issued: about an earlier one.
        (
            ari(
                "2025-12-31T00:00:00Z",
                "2026-01-03T00:00:00Z",
                "2026-02-01T00:00:00Z",
                "2026-02-01T00:00:00Z",
            ),
            None,
            true,
        ),
        // A future window of a point: that point; re-checked at next_check.
        (
            ari(
                "2026-01-01T12:00:00Z",
                "2026-01-03T00:00:00Z",
                "2026-02-01T00:00:00Z",
                "2026-02-01T00:00:00Z",
            ),
            Some("2026-02-01T00:00:00Z"),
            false,
        ),
        (
            ari(
                "2026-01-01T12:00:00Z",
                "2026-01-01T18:00:00Z",
                "2026-02-01T00:00:00Z",
                "2026-02-01T00:00:00Z",
            ),
            Some("2026-02-01T00:00:00Z"),
            true,
        ),
        // A window that had begun when fetched: now (its start), but the certificate is
        // 12 h old: not before it is a day old (the floor of a 59-day certificate).
        (
            ari(
                "2026-01-01T12:00:00Z",
                "2026-01-03T00:00:00Z",
                "2026-01-01T06:00:00Z",
                "2026-01-05T00:00:00Z",
            ),
            Some("2026-01-02T00:00:00Z"),
            false,
        ),
        // Begun, and fetched when the certificate was past the floor: its start.
        (
            ari(
                "2026-01-10T12:00:00Z",
                "2026-01-11T00:00:00Z",
                "2026-01-10T06:00:00Z",
                "2026-01-15T00:00:00Z",
            ),
            Some("2026-01-10T06:00:00Z"),
            false,
        ),
        // A window that ended before the certificate was issued: none (2/3 of the life).
        (
            ari(
                "2026-01-01T12:00:00Z",
                "2026-01-03T00:00:00Z",
                "2025-12-30T00:00:00Z",
                "2025-12-31T00:00:00Z",
            ),
            None,
            false,
        ),
    ];
    for (i, (status, want, due_now)) in table.into_iter().enumerate() {
        let cert = cert_with(status);
        assert_eq!(renewal_time(&cert, &issued, None), want.map(t), "row {i}");
        assert_eq!(due(&cert, &issued, now), due_now, "row {i}");
        // Under `renewal.policy: Disabled` no window is ever fetched.
        let mut disabled = cert.clone();
        disabled.spec.renewal = Some(crate::api::certificate::CertificateRenewal {
            policy: Some(crate::api::certificate::RenewalPolicy::Disabled),
            windows: None,
        });
        assert!(!due(&disabled, &issued, now), "row {i}, Disabled");
    }
}

#[test]
fn the_floor_is_a_third_of_the_life_within_an_hour_and_a_day() {
    let table = [
        // (lifetime, floor)
        ("2026-01-01T02:00:00Z", SignedDuration::from_hours(1)),
        ("2026-01-02T00:00:00Z", SignedDuration::from_hours(8)),
        ("2026-01-03T00:00:00Z", SignedDuration::from_hours(16)),
        // Let's Encrypt's 6-day "shortlived" and 90-day certificates: a day.
        ("2026-01-07T00:00:00Z", SignedDuration::from_hours(24)),
        ("2026-04-01T00:00:00Z", SignedDuration::from_hours(24)),
    ];
    for (not_after, want) in table {
        assert_eq!(floor(&issued("2026-01-01T00:00:00Z", not_after)), want, "{not_after}");
    }
}

/// A CA that answers every certificate, fresh ones included, with "renew now" (as
/// acme2certifier's renewal_force: from a year before the end to the end): the fresh
/// certificate is renewed at its floor, said in the condition; a window about the certificate
/// it replaced renews nothing; past the floor the CA is followed at once and nothing is held.
#[test]
fn renew_now_is_held_for_a_young_certificate_and_ignored_when_it_predates_it() {
    let six_days = issued("2026-01-01T00:00:00Z", "2026-01-07T00:00:00Z");
    let table = [
        // (checked, window start, window end, renewal time, held reason)
        (
            "2026-01-01T00:01:00Z",
            "2025-01-07T00:00:00Z",
            "2026-01-07T00:00:00Z",
            Some("2026-01-02T00:00:00Z"),
            Some("YoungerThanFloor"),
        ),
        (
            "2026-01-03T00:00:00Z",
            "2026-01-02T12:00:00Z",
            "2026-01-07T00:00:00Z",
            Some("2026-01-02T12:00:00Z"),
            None,
        ),
        (
            "2026-01-01T00:01:00Z",
            "2025-12-30T00:00:00Z",
            "2025-12-31T23:59:00Z",
            None,
            Some("WindowEndedBeforeIssuance"),
        ),
        // A window still to come is no "renew now": picked inside it, nothing held.
        (
            "2026-01-01T00:01:00Z",
            "2026-01-04T00:00:00Z",
            "2026-01-04T00:00:00Z",
            Some("2026-01-04T00:00:00Z"),
            None,
        ),
    ];
    for (i, (checked, start, end, want, held)) in table.into_iter().enumerate() {
        let cert = cert_with(ari(checked, "2026-01-08T00:00:00Z", start, end));
        assert_eq!(renewal_time(&cert, &six_days, None), want.map(t), "row {i}");
        let got = renew_now_held(&cert, &six_days, None);
        assert_eq!(got.as_ref().map(|h| h.0), held, "row {i}");
        if let Some((_, message)) = got {
            assert!(message.contains(&format!("{start} to {end}")), "row {i}: {message}");
        }
    }
}

#[test]
fn a_certificate_shorter_than_the_floor_renews_on_its_own_schedule() {
    // 90 seconds (the renewal test's Pebble): the floor (1 h) is past its end, so "renew now"
    // renews at 2/3 of its life, as without ARI; never held until it has expired.
    let short = issued("2026-01-01T00:00:00Z", "2026-01-01T00:01:30Z");
    let cert = cert_with(ari(
        "2026-01-01T00:00:01Z",
        "2026-01-01T00:01:00Z",
        "2025-12-31T00:00:00Z",
        "2026-01-01T00:01:30Z",
    ));
    assert_eq!(renewal_time(&cert, &short, None), Some(t("2026-01-01T00:01:00Z")));
    let later = cert_with(ari(
        "2026-01-01T00:00:01Z",
        "2026-01-01T00:01:00Z",
        "2026-01-01T00:01:10Z",
        "2026-01-01T00:01:10Z",
    ));
    assert_eq!(
        renewal_time(&later, &short, None),
        Some(t("2026-01-01T00:01:10Z")),
        "a later window"
    );
}

#[test]
fn a_hold_is_news_once_per_certificate_and_reason() {
    let issued = issued("2026-01-02T00:00:00Z", "2026-01-08T00:00:00Z");
    let with = |reason: &str, since: &str| {
        let mut status = CertificateStatus::default();
        let (held, at) = (ConditionStatus::True, t(since));
        meta::set_condition(&mut status.conditions, RENEW_NOW_HELD, held, reason, "m", None, at);
        status
    };
    let none = CertificateStatus::default();
    let (young, ended) = (Some("YoungerThanFloor"), Some("WindowEndedBeforeIssuance"));
    let (this, before) = ("2026-01-02T00:01:00Z", "2026-01-01T00:01:00Z");
    let table = [
        // (stored, reason now, (stale, news))
        (none.clone(), young, (false, true)),
        (none, None, (false, false)),
        (with("YoungerThanFloor", this), young, (false, false)),
        (with("YoungerThanFloor", this), ended, (false, true)),
        (with("YoungerThanFloor", this), None, (false, false)),
        // Set for the certificate this one replaced: the CA repeats itself to the new one.
        (with("YoungerThanFloor", before), young, (true, true)),
        (with("YoungerThanFloor", before), None, (true, false)),
    ];
    for (i, (stored, reason, want)) in table.into_iter().enumerate() {
        assert_eq!(held_anew(&stored, reason, &issued), want, "row {i}");
    }
}

/// A window renews once: the replacement made while it was open carries it on its request
/// (`ANN_RENEWED_IN`); the CA repeating that very window for the replacement renews nothing
/// and is said, while a new window (the CA asking again, for this certificate) is followed.
#[test]
fn a_window_renews_once() {
    let six_days = issued("2026-01-01T00:00:00Z", "2026-01-07T00:00:00Z");
    let (start, end) = ("2025-12-31T00:00:00Z", "2026-01-31T00:00:00Z");
    let cert = cert_with(ari("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", start, end));
    let same = format!("{}/{}", t(start), t(end));
    // Made in the window: the replacement's request names it.
    let before = issued("2025-12-01T00:00:00Z", "2026-01-02T00:00:00Z");
    let old = cert_with(ari("2025-12-31T01:00:00Z", "2026-01-01T00:00:00Z", start, end));
    assert_eq!(renewing_in(&old, &before, t("2026-01-01T00:00:00Z")), Some(same.clone()));
    assert_eq!(renewing_in(&old, &before, t("2025-12-30T00:00:00Z")), None, "not yet open");
    // The same window, repeated for the replacement: nothing renews for it.
    assert_eq!(renewal_time(&cert, &six_days, Some(&same)), None);
    let held = renew_now_held(&cert, &six_days, Some(&same)).unwrap();
    assert_eq!(held.0, "WindowAlreadyRenewed");
    assert!(held.1.contains("renews once"), "{}", held.1);
    // Another window (the CA asks again, for this certificate): followed, past the floor.
    let other = format!("{}/{}", t("2025-12-30T00:00:00Z"), t(end));
    assert_eq!(renewal_time(&cert, &six_days, Some(&other)), Some(t("2026-01-02T00:00:00Z")));
    let held = renew_now_held(&cert, &six_days, Some(&other)).map(|h| h.0);
    assert_eq!(held, Some("YoungerThanFloor"), "held until the floor, as any window");
    // The request's annotation, read back.
    let mut cr: CertificateRequest = serde_yaml::from_str(
        "apiVersion: cert-manager.io/v1\nkind: CertificateRequest\nmetadata: {name: c-2}\n\
         spec: {request: '', issuerRef: {name: i}}",
    )
    .unwrap();
    assert_eq!(renewed_in(Some(&cr)), None);
    cr.metadata.annotations = Some([(ANN_RENEWED_IN.to_string(), same.clone())].into());
    assert_eq!(renewed_in(Some(&cr)), Some(same.as_str()));
}
