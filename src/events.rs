//! Events on the objects each step acts on: cert-manager's reasons and wording, one Event per
//! distinct message, a repeated message counted in its Event's series; each also a log line.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a message's recorder is kept: past kube's own 6-minute series window, after
/// which it would start a new Event anyway.
const KEEP: Duration = Duration::from_secs(600);

/// kube's `Recorder` counts any Event with the same object and reason as a repeat of the
/// first, keeping the first one's message: "created Certificate a" then "created Certificate
/// b" on one Ingress would show only `a`, twice. So each distinct message gets a recorder
/// of its own, which counts only true repeats.
pub struct Events {
    client: kube::Client,
    reporter: Reporter,
    recorders: Mutex<HashMap<u64, (Recorder, Instant)>>,
}

impl Events {
    /// The pod's name is the reporting instance, as cert-manager's.
    pub fn new(client: kube::Client) -> Events {
        let instance = std::env::var("POD_NAME").ok();
        let reporter = Reporter { controller: "certsmith".into(), instance };
        Events { client, reporter, recorders: Mutex::default() }
    }

    /// Publishes an Event on `object`; a failure to publish is logged, never fatal.
    pub async fn publish(
        &self,
        object: &ObjectReference,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        // Each Event is a step a user can follow in the log as well, with the same words; the
        // Events never carry key material, so neither does this line.
        let kind = object.kind.as_deref().unwrap_or_default();
        let (namespace, name) =
            (object.namespace.as_deref(), object.name.as_deref().unwrap_or_default());
        match warning {
            false => tracing::info!(kind, namespace, name, reason, "{note}"),
            true => tracing::warn!(kind, namespace, name, reason, "{note}"),
        }
        // Events of cluster-scoped objects live in `default`; a 1.20 API server refuses them
        // unless the reference names that namespace too.
        let mut object = object.clone();
        if object.namespace.is_none() {
            object.namespace = Some("default".into());
        }
        let recorder = self.recorder(&object, warning, reason, &note);
        let event = Event {
            type_: if warning { EventType::Warning } else { EventType::Normal },
            reason: reason.into(),
            note: Some(note),
            action: reason.into(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &object).await {
            tracing::warn!(error = %e, reason, "could not publish an Event");
        }
    }

    fn recorder(
        &self,
        object: &ObjectReference,
        warning: bool,
        reason: &str,
        note: &str,
    ) -> Recorder {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&object.uid, &object.kind, &object.namespace, &object.name, warning, reason, note)
            .hash(&mut hasher);
        let key = hasher.finish();
        let now = Instant::now();
        let mut recorders = self.recorders.lock().unwrap_or_else(|e| e.into_inner());
        recorders.retain(|_, (_, used)| now.duration_since(*used) < KEEP);
        let (recorder, used) = recorders
            .entry(key)
            .or_insert_with(|| (Recorder::new(self.client.clone(), self.reporter.clone()), now));
        *used = now;
        recorder.clone()
    }
}
