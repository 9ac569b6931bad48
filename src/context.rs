//! What every controller shares: the client, the settings, the account cache, the responder's
//! view of the challenges, metrics, Events, and the clock (injected, so decisions are testable).

use crate::acme::account::Accounts;
use crate::api::{CertificateRequest, Order};
use crate::config::Config;
use crate::http01::responder::Challenges;
use crate::metrics::Metrics;
use crate::order::budget::Budgets;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::reflector::Store;

pub struct Context {
    pub client: kube::Client,
    pub config: Config,
    pub accounts: Accounts,
    pub challenges: Challenges,
    /// Every CertificateRequest, as the Certificate controller's watch last saw it.
    pub requests: Store<CertificateRequest>,
    /// Every Order, as the Order controller's watch last saw it.
    pub orders: Store<Order>,
    /// Each ACME account's order budget.
    pub budgets: Budgets,
    /// ACME servers whose directory has no renewalInfo (ARI).
    pub without_ari: std::sync::Mutex<std::collections::HashSet<String>>,
    /// ARI status by Certificate uid, for a cluster whose (older) CRD prunes `status.acme`.
    pub ari_pruned:
        std::sync::Mutex<std::collections::HashMap<String, crate::api::certificate::AriStatus>>,
    pub metrics: Metrics,
    pub events: crate::events::Events,
    pub clock: fn() -> Timestamp,
}

impl Context {
    pub fn new(
        client: kube::Client,
        config: Config,
        challenges: Challenges,
        requests: Store<CertificateRequest>,
        orders: Store<Order>,
        metrics: Metrics,
    ) -> Context {
        Context {
            events: crate::events::Events::new(client.clone()),
            client,
            config,
            accounts: Accounts::default(),
            challenges,
            requests,
            orders,
            budgets: Budgets::default(),
            without_ari: Default::default(),
            ari_pruned: Default::default(),
            metrics,
            clock: Timestamp::now,
        }
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Publishes an Event on `object`; a failure to publish is logged, never fatal.
    pub async fn event(&self, object: &ObjectReference, warning: bool, reason: &str, note: String) {
        self.events.publish(object, warning, reason, note).await
    }
}

/// The error policy every controller shares. A conflict means the cache was behind this
/// controller's own last write: retry soon. Anything else is logged and retried in seconds.
pub fn retry_after_error(
    controller: &str,
    name: &str,
    namespace: Option<String>,
    error: &(dyn std::error::Error + 'static),
) -> kube::runtime::controller::Action {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(kube::Error::Api(status)) = e.downcast_ref::<kube::Error>()
            && status.code == 409
        {
            return kube::runtime::controller::Action::requeue(std::time::Duration::from_millis(
                200,
            ));
        }
        source = e.source();
    }
    tracing::warn!(controller, name, namespace = ?namespace, %error, "reconcile failed");
    kube::runtime::controller::Action::requeue(std::time::Duration::from_secs(5))
}
