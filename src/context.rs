//! What every controller shares: the client, the settings, the account cache, the responder's
//! view of the challenges, metrics, Events, and the clock (injected, so decisions are testable).

use crate::acme::account::Accounts;
use crate::config::Config;
use crate::http01::responder::Challenges;
use crate::metrics::Metrics;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

pub struct Context {
    pub client: kube::Client,
    pub config: Config,
    pub accounts: Accounts,
    pub challenges: Challenges,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub clock: fn() -> Timestamp,
}

impl Context {
    pub fn new(
        client: kube::Client,
        config: Config,
        challenges: Challenges,
        metrics: Metrics,
    ) -> Context {
        let reporter =
            Reporter { controller: "certsmith".into(), instance: std::env::var("POD_NAME").ok() };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            config,
            accounts: Accounts::default(),
            challenges,
            metrics,
            clock: Timestamp::now,
        }
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Publishes an Event on `object`; a failure to publish is logged, never fatal.
    pub async fn event(&self, object: &ObjectReference, warning: bool, reason: &str, note: String) {
        let event = Event {
            type_: if warning { EventType::Warning } else { EventType::Normal },
            reason: reason.into(),
            note: Some(note),
            action: reason.into(),
            secondary: None,
        };
        // Events of cluster-scoped objects live in `default`; a 1.20 API server refuses them
        // unless the reference names that namespace too.
        let mut object = object.clone();
        if object.namespace.is_none() {
            object.namespace = Some("default".into());
        }
        if let Err(e) = self.recorder.publish(&event, &object).await {
            tracing::warn!(error = %e, reason, "could not publish an Event");
        }
    }
}
