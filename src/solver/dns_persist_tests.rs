//! The dns-persist-01 record, written and read as the draft's examples and Pebble's VA read it.

use super::*;

const ACCOUNT: &str = "https://ca.example/acct/123";

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

#[test]
fn the_record_certsmith_asks_for() {
    assert_eq!(
        record_name("*.example.test").unwrap().to_string(),
        "_validation-persist.example.test."
    );
    assert_eq!(
        record_name("www.example.test.").unwrap().to_string(),
        "_validation-persist.www.example.test."
    );
    assert_eq!(
        record_value("letsencrypt.org", ACCOUNT, false),
        "letsencrypt.org; accounturi=https://ca.example/acct/123"
    );
    assert_eq!(
        record_value("letsencrypt.org", ACCOUNT, true),
        "letsencrypt.org; accounturi=https://ca.example/acct/123; policy=wildcard"
    );
    // What certsmith asks for is what it accepts.
    for wildcard in [false, true] {
        let asked = record_value("ca.example", ACCOUNT, wildcard);
        assert_eq!(verdict(&[asked], "ca.example", ACCOUNT, wildcard, at(0)), Ok(()));
    }
}

#[test]
fn issue_values_parse_as_rfc_8659_says() {
    let cases: &[(&str, Result<IssueValue, &str>)] = &[
        // The draft's example, with its spacing.
        (
            "authority.example; accounturi=https://ca.example/acct/123; policy=wildcard; persistUntil=1767225600",
            Ok(IssueValue {
                issuer: "authority.example".into(),
                account_uri: Some(ACCOUNT.into()),
                policy: Some("wildcard".into()),
                persist_until: Some(1767225600),
            }),
        ),
        // Tags and the domain name are case-insensitive; unknown tags are ignored; a trailing
        // semicolon is allowed.
        (
            "Authority.Example;AccountURI=https://ca.example/acct/123;Policy=WILDCARD;future=x;",
            Ok(IssueValue {
                issuer: "authority.example".into(),
                account_uri: Some(ACCOUNT.into()),
                policy: Some("wildcard".into()),
                persist_until: None,
            }),
        ),
        (
            "authority.example",
            Ok(IssueValue { issuer: "authority.example".into(), ..Default::default() }),
        ),
        (
            "authority.example; accounturi=a; accounturi=b",
            Err("parameter accounturi appears twice"),
        ),
        ("authority.example; accounturi", Err("parameter \"accounturi\" is not tag=value")),
        ("authority.example; persistUntil=soon", Err("persistUntil \"soon\" is no Unix time")),
        ("authority.example; acc-uri=x", Err("parameter tag \"acc-uri\" is not alphanumeric")),
    ];
    for (record, want) in cases {
        assert_eq!(parse(record), want.clone().map_err(|e| e.to_string()), "{record}");
    }
}

#[test]
fn a_record_authorizes_only_this_account_with_this_ca() {
    let ok = |r: &str, wildcard: bool, now: i64| {
        verdict(&[r.into()], "ca.example", ACCOUNT, wildcard, at(now))
    };
    let base = "ca.example; accounturi=https://ca.example/acct/123";
    assert_eq!(ok(base, false, 0), Ok(()));
    // A wildcard needs policy=wildcard, which also serves the name itself.
    assert_eq!(
        ok(base, true, 0),
        Err(format!("{base:?} has no policy=wildcard, which a wildcard needs"))
    );
    assert_eq!(ok(&format!("{base}; policy=wildcard"), false, 0), Ok(()));
    // persistUntil bounds it.
    let until = format!("{base}; persistUntil=100");
    assert_eq!(ok(&until, false, 100), Ok(()));
    assert_eq!(
        ok(&until, false, 101),
        Err(format!("{until:?} was to persist until 100 (Unix time), which has passed"))
    );
    // Another account's record, or one without an account, authorizes nothing.
    let other = "ca.example; accounturi=https://ca.example/acct/999";
    assert_eq!(
        ok(other, false, 0),
        Err(format!("{other:?} names the account https://ca.example/acct/999"))
    );
    assert_eq!(ok("ca.example", false, 0), Err("\"ca.example\" names no accounturi".into()));
    // Another CA's record is not read at all.
    assert_eq!(
        ok("other.example; accounturi=x", false, 0),
        Err("no TXT record names ca.example".into())
    );
    // One good record among bad ones is enough (the CA reads them all).
    let records = [other.to_string(), "ca.example; x".into(), base.into()];
    assert_eq!(verdict(&records, "ca.example", ACCOUNT, false, at(0)), Ok(()));
    assert_eq!(
        verdict(&[], "ca.example", ACCOUNT, false, at(0)),
        Err("no TXT record names ca.example".into())
    );
}
