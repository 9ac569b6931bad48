//! Renewal windows as tables: when a renewal due at a given time starts, and what is refused.

use super::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn window(cron: &str, duration: &str, tz: Option<&str>) -> Window {
    let w = RenewalWindow {
        cron: cron.into(),
        window_duration: duration.into(),
        timezone: tz.map(str::to_string),
    };
    parse(&w).unwrap_or_else(|e| panic!("{cron}: {e:?}"))
}

/// A window as written: cron, windowDuration, timezone.
type Spec = (&'static str, &'static str, Option<&'static str>);

#[test]
fn a_renewal_starts_inside_a_window_or_when_the_next_opens() {
    // A 90-day certificate due on Monday 2 March 2026 at 00:00 UTC (2/3 of its life).
    let (nb, na, due) =
        (t("2026-01-01T00:00:00Z"), t("2026-04-01T00:00:00Z"), t("2026-03-02T00:00:00Z"));
    let table: [(&[Spec], Result<&str, ()>); 10] = [
        // Saturday nights only: the next Saturday.
        (&[("0 2 * * 6", "4h", None)], Ok("2026-03-07T02:00:00Z")),
        // Open on Mondays from midnight: due inside it.
        (&[("0 0 * * 1", "2h", None)], Ok("2026-03-02T00:00:00Z")),
        // Opened on Sunday 23:30 for an hour: still open.
        (&[("30 23 * * 0", "1h", None)], Ok("2026-03-02T00:00:00Z")),
        // Weekdays at 01:00: an hour later.
        (&[("0 1 * * 1-5", "1h", None)], Ok("2026-03-02T01:00:00Z")),
        // Saturday 02:00 in Denver (UTC−7 before 8 March).
        (&[("0 2 * * SAT", "4h", Some("America/Denver"))], Ok("2026-03-07T09:00:00Z")),
        (&[("@daily", "1h", None)], Ok("2026-03-02T00:00:00Z")),
        // robfig: the 1st of the month or a Friday, whichever comes first.
        (&[("0 0 1 * 5", "1h", None)], Ok("2026-03-06T00:00:00Z")),
        // 29 February: none before the certificate ends.
        (&[("0 0 29 2 *", "1h", None)], Err(())),
        // Two windows: the earlier to open.
        (&[("0 2 * * 6", "4h", None), ("0 3 * * 3", "1h", None)], Ok("2026-03-04T03:00:00Z")),
        // Every 24 h from the search's start (notBefore − 1 h): 23:00 for an hour, its end
        // included.
        (&[("@every 24h", "1h", None)], Ok("2026-03-02T00:00:00Z")),
    ];
    for (i, (windows, want)) in table.into_iter().enumerate() {
        let parsed: Vec<Window> = windows.iter().map(|(c, d, z)| window(c, d, *z)).collect();
        let got = start(due, nb, na, &parsed);
        match want {
            Ok(w) => assert_eq!(got, Ok(t(w)), "row {i}"),
            Err(()) => assert_eq!(
                got.unwrap_err(),
                "cannot find a time with the given windows between 2026-01-01T00:00:00Z and 2026-04-01T00:00:00Z for: 2026-03-02T00:00:00Z",
                "row {i}"
            ),
        }
    }
}

#[test]
fn days_of_the_week_are_robfigs() {
    let table = [
        ("0", Ok("1")),
        ("1-5", Ok("2-6")),
        ("*/2", Ok("*/2")),
        ("MON,wed", Ok("MON,wed")),
        ("?", Ok("*")),
        ("0,6", Ok("1,7")),
        ("7", Err("end of range (7) above maximum (6): 7")),
    ];
    for (field, want) in table {
        assert_eq!(
            days_of_week(field),
            want.map(str::to_string).map_err(str::to_string),
            "{field}"
        );
    }
}

#[test]
fn windows_that_cannot_be_read_say_which_field() {
    let bad = |cron: &str, duration: &str, tz: Option<&str>| {
        let w = RenewalWindow {
            cron: cron.into(),
            window_duration: duration.into(),
            timezone: tz.map(str::to_string),
        };
        parse(&w).err().map(|e| e.field())
    };
    assert_eq!(bad("0 2 * * 6", "4h", Some("Mars/Olympus")), Some("timezone"));
    assert_eq!(bad("0 2 * * 6", "0s", None), Some("windowDuration"));
    assert_eq!(bad("* * * *", "1h", None), Some("cron"));
    assert_eq!(bad("61 * * * *", "1h", None), Some("cron"));
    assert_eq!(bad("@fortnightly", "1h", None), Some("cron"));
    assert_eq!(bad("0 2 * * 6", "4h", Some("Europe/Berlin")), None);
}

#[test]
fn windows_longer_than_time_itself_open_nothing_and_do_not_panic() {
    let (nb, na, due) =
        (t("2026-01-01T00:00:00Z"), t("2026-04-01T00:00:00Z"), t("2026-03-02T00:00:00Z"));
    for duration in ["100000000h", "999999999999999h"] {
        let w = window("0 2 * * 6", duration, None);
        assert!(start(due, nb, na, &[w]).is_err(), "{duration}");
    }
    let w = window("@every 1000000h", "1h", None);
    let _ = start(due, nb, na, &[w]);
    let huge = RenewalWindow {
        cron: "0 2 * * 6".into(),
        window_duration: "99999999999999999999h".into(),
        timezone: None,
    };
    assert_eq!(parse(&huge).err(), Some(Invalid::Duration));
}
