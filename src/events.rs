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
/// At most this many recorders (each holds its last Event): an issuance publishes about ten
/// distinct messages, so 1,000 Certificates issued at once would otherwise keep 10,000 Events
/// in memory for ten minutes. Past it the least recently used goes; a repeat of its message
/// then starts a new Event instead of counting in the old one's series (client-go's correlator
/// bounds its cache the same way).
const MOST: usize = 1024;

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
        if !recorders.contains_key(&key) {
            make_room(&mut recorders, now);
        }
        let (recorder, used) = recorders
            .entry(key)
            .or_insert_with(|| (Recorder::new(self.client.clone(), self.reporter.clone()), now));
        *used = now;
        recorder.clone()
    }
}

/// Drops the recorders unused for `KEEP`, then the least recently used while there are `MOST`.
fn make_room<V>(recorders: &mut HashMap<u64, (V, Instant)>, now: Instant) {
    recorders.retain(|_, (_, used)| now.duration_since(*used) < KEEP);
    while recorders.len() >= MOST {
        let oldest = recorders.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| *k);
        let Some(oldest) = oldest else { break };
        recorders.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorders_are_bounded_by_age_and_count_least_recently_used_first() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut recorders: HashMap<u64, ((), Instant)> = HashMap::new();
        for k in 0..MOST as u64 {
            recorders.insert(k, ((), at(k % 100)));
        }
        // Key 0 used again lately: kept over the others used at second 0.
        recorders.insert(0, ((), at(300)));
        make_room(&mut recorders, at(300));
        assert_eq!(recorders.len(), MOST - 1, "room for the one to add");
        assert!(recorders.contains_key(&0), "used lately");
        let least = (100..MOST as u64).step_by(100).filter(|k| recorders.contains_key(k)).count();
        assert_eq!(least, 9, "one of the ten used least recently (at 0 s) is gone");
        assert!((1..100).all(|k| recorders.contains_key(&k)), "used later: kept");
        // Ten minutes after their last use, all but the one used at 300 s are gone.
        make_room(&mut recorders, at(99 + KEEP.as_secs()));
        assert_eq!(recorders.keys().copied().collect::<Vec<_>>(), vec![0]);
    }
}
