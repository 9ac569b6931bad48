//! Checks for the names a certificate may carry: DNS names, e-mail addresses, URIs, durations.

use std::time::Duration;

/// Why `name` is not a DNS name a certificate can carry, or `None` when it is one.
/// A wildcard is allowed only as the whole leftmost label (`*.example.com`).
pub fn dns_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Some("is an IP address; put it in ipAddresses".into());
    }
    if name.len() > 253 {
        return Some("must be no more than 253 characters".into());
    }
    let rest = name.strip_prefix("*.").unwrap_or(name);
    for label in rest.split('.') {
        if label.is_empty() {
            return Some("must not contain empty labels (leading, trailing or double dots)".into());
        }
        if label.len() > 63 {
            return Some(format!("label {label:?} is longer than 63 characters"));
        }
        if label.contains('*') {
            return Some("a wildcard must be the whole leftmost label, as in *.example.com".into());
        }
        if label.chars().any(|c| c.is_ascii_uppercase()) {
            return Some("must be lowercase".into());
        }
        if !label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Some(
                "must consist of lowercase letters, digits, '-' and '.' (IDNs in punycode)".into(),
            );
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("label {label:?} must not start or end with '-'"));
        }
    }
    None
}

/// Why `addr` is not a plain e-mail address (`local@domain`), or `None`.
pub fn email_problem(addr: &str) -> Option<String> {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Some("must be an address such as user@example.com".into());
    };
    if local.is_empty() || local.contains(|c: char| c.is_whitespace() || "<>\"@".contains(c)) {
        return Some("must be only the address itself, as in user@example.com".into());
    }
    dns_name_problem(domain).map(|p| format!("domain {p}"))
}

/// Why `uri` is not an absolute URI (with a scheme), or `None`.
pub fn uri_problem(uri: &str) -> Option<String> {
    match uri.parse::<http::Uri>() {
        Ok(u) if u.scheme().is_some() => None,
        Ok(_) => {
            Some("must be an absolute URI with a scheme, as in spiffe://cluster.local/ns/a".into())
        }
        Err(e) => Some(format!("is not a URI: {e}")),
    }
}

/// A Go `time.ParseDuration` string (`2160h`, `1h30m`) as a duration; negative ones are errors.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    // kube's parser multiplies in f64 and panics past what a Duration holds: a tenant's
    // `99999999999999999999h` must be refused, not crash the reconcile. 15 digits in a row is
    // beyond any duration a certificate needs (and what an f64 holds exactly).
    let mut run = 0;
    for c in s.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run > 15 {
            return Err("is too long: at most 15 digits in a row".into());
        }
    }
    let d: kube::core::Duration = s
        .parse()
        .map_err(|_| "must be a duration such as 2160h or 1h30m (units h, m, s, ms, us, ns)")?;
    if d.is_negative() {
        return Err("must not be negative".into());
    }
    Ok(d.into())
}

/// A duration as Go prints it (`2160h0m0s`, `5m0s`), for messages users compare with their YAML.
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        let table = [
            ("example.com", None),
            ("*.example.com", None),
            ("a-b.example.com", None),
            ("xn--bcher-kva.example", None),
            ("", Some("must not be empty")),
            ("Example.com", Some("must be lowercase")),
            ("a..b", Some("must not contain empty labels (leading, trailing or double dots)")),
            (
                "example.com.",
                Some("must not contain empty labels (leading, trailing or double dots)"),
            ),
            ("foo.*.com", Some("a wildcard must be the whole leftmost label, as in *.example.com")),
            ("*foo.com", Some("a wildcard must be the whole leftmost label, as in *.example.com")),
            ("-a.com", Some("label \"-a\" must not start or end with '-'")),
            (
                "a_b.com",
                Some("must consist of lowercase letters, digits, '-' and '.' (IDNs in punycode)"),
            ),
            ("10.0.0.1", Some("is an IP address; put it in ipAddresses")),
        ];
        for (name, want) in table {
            assert_eq!(dns_name_problem(name).as_deref(), want, "{name:?}");
        }
        assert!(dns_name_problem(&format!("{}.com", "a".repeat(64))).is_some());
    }

    #[test]
    fn emails_and_uris() {
        assert_eq!(email_problem("a@example.com"), None);
        assert!(email_problem("example.com").is_some());
        assert!(email_problem("Joe <a@example.com>").is_some());
        assert_eq!(uri_problem("spiffe://cluster.local/ns/a/sa/b"), None);
        assert!(uri_problem("/relative").is_some());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2160h"), Ok(Duration::from_secs(2160 * 3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("90x").is_err());
        assert!(parse_duration("-1h").is_err());
        assert_eq!(go_duration(Duration::from_secs(2160 * 3600)), "2160h0m0s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(7)), "7s");
    }
}
