//! The ACME side: the HTTP client for a CA, accounts, and the order for one Certificate.

pub mod account;
pub mod adopt;
pub mod client;
pub mod jws;
pub mod legacy;
pub mod order;
pub mod retry_after;
pub mod solver;

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
        matches!(self, AcmeError::Refused(instant_acme::Error::Api(p))
            if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:accountDoesNotExist"))
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
