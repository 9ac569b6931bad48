//! The controllers' one error type: what ends a reconcile early (an API request that failed, a
//! solver's cleanup that must be retried, key or certificate work that failed) and the one
//! policy every controller retries it by. A user's mistake is not an error here: it ends as a
//! condition and an Event, and the reconcile succeeds.

use kube::ResourceExt;
use kube::runtime::controller::Action;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Solver(#[from] crate::solver::Error),
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
}

impl Error {
    /// What failed, for the log and metrics: `api`, `solver` or `pki`.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "api",
            Error::Solver(_) => "solver",
            Error::Pki(_) => "pki",
        }
    }

    /// The failure in the words a condition or Event would use (the API server's message
    /// without the client's framing).
    pub fn message(&self) -> String {
        match self {
            Error::Kube(e) => crate::acme::api_message(e),
            Error::Solver(e) => e.message(),
            Error::Pki(e) => e.to_string(),
        }
    }
}

/// The error policy of every controller, `controller` naming it in the log. A conflict means
/// the cache was behind this controller's own last write: retried soon. Anything else is
/// logged and retried in seconds.
pub fn policy<K: ResourceExt>(controller: &str, object: &Arc<K>, error: &Error) -> Action {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(kube::Error::Api(status)) = e.downcast_ref::<kube::Error>()
            && status.code == 409
        {
            return Action::requeue(Duration::from_millis(200));
        }
        source = e.source();
    }
    let (name, namespace, kind) = (object.name_any(), object.namespace(), error.label());
    tracing::warn!(controller, name, namespace = ?namespace, kind, %error, "reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> Error {
        Error::Kube(kube::Error::Api(
            kube::core::Status::failure("refused", "Conflict").with_code(code).boxed(),
        ))
    }

    #[test]
    fn a_conflict_is_retried_soon_anything_else_in_seconds() {
        let object = Arc::new(crate::api::Order::new("o", Default::default()));
        let soon = Action::requeue(Duration::from_millis(200));
        assert_eq!(policy("orders", &object, &api(409)), soon);
        let nested = Error::Solver(crate::solver::Error::Kube(kube::Error::Api(
            kube::core::Status::failure("refused", "Conflict").with_code(409).boxed(),
        )));
        assert_eq!(policy("challenges", &object, &nested), soon);
        assert_eq!(policy("orders", &object, &api(500)), Action::requeue(Duration::from_secs(5)));
        assert_eq!(api(500).label(), "api");
    }
}
