//! The ACME side: the HTTP client for a CA, accounts, and the order for one Certificate.

pub mod account;
pub mod adopt;
pub mod client;
pub mod jws;
pub mod legacy;
pub mod order;
pub mod proxy;
pub mod retry_after;
pub mod signed;

use std::time::Duration;

/// What can go wrong talking to an ACME CA, worded for a status condition.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("the ACME server {server} could not be reached: {detail}")]
    Unreachable { server: String, detail: String },
    #[error("the ACME server refused: {0}")]
    Refused(instant_acme::Error),
    #[error("caBundle holds no PEM certificate certsmith can read")]
    BadCaBundle,
    #[error("building the HTTP client: {0}")]
    Tls(String),
    #[error("{0}")]
    Account(String),
    #[error("the order {url} is {state}: {detail}")]
    OrderFailed { url: String, state: String, detail: String },
    #[error("reading a Secret: {0}")]
    Kube(#[from] kube::Error),
}

impl AcmeError {
    /// Classifies an instant-acme error: an ACME problem document is the CA refusing; anything
    /// else (connection, TLS, timeout) is the CA not being reached.
    pub fn from_acme(server: &str, e: instant_acme::Error) -> AcmeError {
        match e {
            instant_acme::Error::Api(_) => AcmeError::Refused(e),
            other => AcmeError::Unreachable { server: server.to_string(), detail: causes(&other) },
        }
    }
}

impl AcmeError {
    /// Whether the CA no longer knows the account (a CA reset, a deactivated account): the
    /// cached account is then useless and must be looked up or registered again.
    pub fn account_gone(&self) -> bool {
        self.problem() == Some("accountDoesNotExist")
    }

    /// The problem document the CA refused with.
    fn refusal(&self) -> Option<&instant_acme::Problem> {
        match self {
            AcmeError::Refused(instant_acme::Error::Api(p)) => Some(p),
            _ => None,
        }
    }

    /// The ACME problem type the CA answered with, without its namespace.
    fn problem(&self) -> Option<&str> {
        self.refusal()?.r#type.as_deref()?.strip_prefix("urn:ietf:params:acme:error:")
    }

    /// Until when the CA asked not to be asked again, when it said `rateLimited`: the time its
    /// message names ("retry after 2026-01-01 03:00:00 UTC", as Let's Encrypt words it), else
    /// half an hour from `now`.
    pub fn rate_limited_until(&self, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
        if self.problem() != Some("rateLimited") {
            return None;
        }
        let named = self.refusal()?.detail.as_deref().and_then(|d| {
            let after = d.split_once("retry after ")?.1;
            let stamp = after.get(..19)?;
            let civil: jiff::civil::DateTime = stamp.replace(' ', "T").parse().ok()?;
            civil.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
        });
        named.or_else(|| now.checked_add(jiff::SignedDuration::from_mins(30)).ok())
    }

    /// How soon to ask again when the CA decided nothing: it could not be reached, it refused
    /// a nonce again after instant-acme's own retries (RFC 8555 §6.5: nothing was done), or it
    /// failed inside. The step waits and is retried in place: failing it would count against
    /// the Certificate's backoff and, after finalize, throw away a certificate the CA issued.
    pub fn transient(&self) -> Option<Duration> {
        match (self, self.problem()) {
            (AcmeError::Unreachable { .. }, _) => Some(Duration::from_secs(15)),
            (_, Some("badNonce")) => Some(Duration::from_secs(1)),
            (_, Some("serverInternal")) => Some(Duration::from_secs(10)),
            _ => None,
        }
    }
}

/// An error and its causes, `: `-joined: connection errors keep the useful part (refused,
/// certificate unknown) in their sources.
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

/// The API server's own words for a refused request, without the client's debug dump.
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} (HTTP {})", status.message, status.code),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(type_: &str, detail: &str) -> AcmeError {
        let problem = serde_json::json!({"type": format!("urn:ietf:params:acme:error:{type_}"), "detail": detail});
        AcmeError::Refused(instant_acme::Error::Api(serde_json::from_value(problem).unwrap()))
    }

    #[test]
    fn what_the_ca_decided_and_how_long_to_wait() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let le = "too many new orders (300) from this account in the last 3h0m0s, retry after \
                  2026-01-01 02:15:00 UTC: see https://letsencrypt.org/docs/rate-limits/";
        let limited = refused("rateLimited", le);
        assert_eq!(limited.rate_limited_until(now), Some("2026-01-01T02:15:00Z".parse().unwrap()));
        let vague = refused("rateLimited", "slow down");
        assert_eq!(vague.rate_limited_until(now), Some("2026-01-01T00:30:00Z".parse().unwrap()));
        assert_eq!(limited.transient(), None);
        let table = [
            ("badNonce", Some(1)),
            ("serverInternal", Some(10)),
            ("unauthorized", None),
            ("accountDoesNotExist", None),
        ];
        for (type_, retry) in table {
            let e = refused(type_, "");
            assert_eq!(e.transient().map(|d| d.as_secs()), retry, "{type_}");
            assert_eq!(e.rate_limited_until(now), None);
        }
        assert!(refused("accountDoesNotExist", "").account_gone());
        let down = AcmeError::Unreachable { server: "s".into(), detail: "refused".into() };
        assert_eq!(down.transient(), Some(Duration::from_secs(15)));
    }
}
