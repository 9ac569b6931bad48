//! What every controller shares: the client, the settings, the account cache, the responder's
//! view of the challenges, metrics, Events, and the clock (injected, so decisions are testable).

use crate::acme::account::Accounts;
use crate::api::{Certificate, CertificateRequest, ClusterIssuer, Issuer, Order};
use crate::config::Config;
use crate::http01::responder::Challenges;
use crate::issuer::IssuerView;
use crate::metrics::Metrics;
use crate::order::budget::Budgets;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::reflector::{ObjectRef, Store};

pub struct Context {
    pub client: kube::Client,
    pub config: Config,
    pub accounts: Accounts,
    pub challenges: Challenges,
    /// What the operator's watches last saw: reconciles read from here.
    pub cache: Stores,
    /// Chains just written, for the step that reads them next (the caches keep finished Orders
    /// and requests without theirs).
    pub chains: crate::chains::Chains,
    /// What each step keeps in memory for itself (a saving, never the truth): its own type,
    /// read and written only by that step.
    pub certificates: crate::certificate::memory::Memory,
    /// CA issuers' key pairs, by their Secret's version (the CertificateRequest step's).
    pub ca_keys: crate::certificate_request::local::CaKeys,
    /// Each ACME account's order budget (the Order step's).
    pub budgets: Budgets,
    /// The namespaces whose responder Service was made sure of lately (the HTTP-01 solver's).
    pub solver_services: crate::http01::solver_service::Ensured,
    /// Whether requests carry their requester's identity (the CertificateRequest step's).
    pub identities: crate::admission::Identities,
    pub metrics: Metrics,
    pub events: crate::events::Events,
    pub clock: fn() -> Timestamp,
}

/// The caches of the operator's shared watches, one per kind.
pub struct Stores {
    pub certificates: Store<Certificate>,
    pub requests: Store<CertificateRequest>,
    pub orders: Store<Order>,
    pub issuers: Store<Issuer>,
    pub cluster_issuers: Store<ClusterIssuer>,
    /// The Secrets labelled as cert-manager's (certsmith's and cert-manager's own), as facts.
    pub secrets: Store<crate::certificate::facts::SecretFacts>,
    /// Whether every cache above holds its first full list ([`Stores::watch_ready`] sets it).
    pub all_ready: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Stores {
    /// Resolves once every cache holds its first full list (at once after that). Reconciles
    /// read issuers, requests, Orders and Secrets from them: not before they hold every one, or
    /// a Certificate would be told its issuer does not exist, each would read its own Secret,
    /// and an Order or a Challenge would be taken for one certsmith did not make.
    pub async fn ready(&self) {
        let _ = self.all_ready.subscribe().wait_for(|ready| *ready).await;
    }

    /// Sets [`Stores::ready`] once every cache is ready, looking every 50 ms rather than
    /// waiting on them: a store's readiness (kube-runtime's `DelayedInit`, one oneshot
    /// receiver) wakes only the last of several waiters, and kube's controllers wait on their
    /// own stores too; a reconcile that waited beside them was never woken (the scale bench's
    /// restart at 10,000 Certificates: five Certificate reconciles in flight for good).
    pub async fn watch_ready(&self) {
        use futures::FutureExt;
        loop {
            let ready = [
                self.certificates.wait_until_ready().now_or_never().is_some(),
                self.requests.wait_until_ready().now_or_never().is_some(),
                self.orders.wait_until_ready().now_or_never().is_some(),
                self.issuers.wait_until_ready().now_or_never().is_some(),
                self.cluster_issuers.wait_until_ready().now_or_never().is_some(),
                self.secrets.wait_until_ready().now_or_never().is_some(),
            ];
            if ready.iter().all(|r| *r) {
                self.all_ready.send_replace(true);
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Context {
    pub fn new(
        client: kube::Client,
        config: Config,
        challenges: Challenges,
        stores: Stores,
        metrics: Metrics,
    ) -> Context {
        Context {
            events: crate::events::Events::new(client.clone()),
            client,
            config,
            accounts: Accounts::default(),
            challenges,
            cache: stores,
            chains: Default::default(),
            ca_keys: Default::default(),
            solver_services: Default::default(),
            identities: Default::default(),
            budgets: Budgets::default(),
            certificates: Default::default(),
            metrics,
            clock: Timestamp::now,
        }
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The issuer `r` names for an object in `namespace`, from the cache; `None` when it does
    /// not exist or is of a group certsmith does not serve.
    pub fn issuer(
        &self,
        r: &crate::api::meta::IssuerReference,
        namespace: &str,
    ) -> Option<IssuerView> {
        let cluster_namespace = self.config.cluster_resource_namespace();
        match crate::issuer::referenced_kind(r)? {
            // None in single-namespace mode, as its cache is: see `Scope::refuses` for why.
            "ClusterIssuer" if !self.config.scope().cluster_issuers() => None,
            "ClusterIssuer" => {
                let found = self.cache.cluster_issuers.get(&ObjectRef::new(&r.name))?;
                Some(IssuerView::cluster_issuer(&found, cluster_namespace))
            }
            _ => {
                let found = self.cache.issuers.get(&ObjectRef::new(&r.name).within(namespace))?;
                Some(IssuerView::issuer(&found))
            }
        }
    }

    /// The issuer's ACME account, as read within the last minute, else read now (see
    /// [`Accounts::get`]).
    pub async fn account(
        &self,
        issuer: &IssuerView,
    ) -> Result<(instant_acme::Account, crate::api::issuer::AcmeIssuerStatus), crate::acme::AcmeError>
    {
        self.accounts.get(&self.client, &self.events, issuer).await
    }

    /// Publishes an Event on `object`; a failure to publish is logged, never fatal.
    pub async fn event(&self, object: &ObjectReference, warning: bool, reason: &str, note: String) {
        self.events.publish(object, warning, reason, note).await
    }
}

impl AsRef<Metrics> for Context {
    fn as_ref(&self) -> &Metrics {
        &self.metrics
    }
}
