//! The ACME side: the HTTP client for a CA, accounts, and the order for one Certificate.

pub mod account;
pub mod adopt;
pub mod client;
pub mod jws;
pub mod legacy;
pub mod order;
pub mod retry_after;
pub mod solver;

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

    /// The ACME problem type the CA answered with, without its namespace.
    fn problem(&self) -> Option<&str> {
        match self {
            AcmeError::Refused(instant_acme::Error::Api(p)) => {
                p.r#type.as_deref()?.strip_prefix("urn:ietf:params:acme:error:")
            }
            _ => None,
        }
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
