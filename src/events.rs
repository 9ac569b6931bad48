//! Events on the objects each step acts on: cert-manager's reasons and wording, one Event per
//! distinct message, a repeated message counted in its Event's series; each also a log line.
//!
//! Not kube's `Recorder`: it counts any Event with the same object and reason as a repeat of
//! the first and keeps the first one's message ("created Certificate a" then "created
//! Certificate b" on one Ingress would show only `a`, twice), and it keeps each Event it sent,
//! a few KiB apiece. Here a message is remembered by its hash, with the name and count of its
//! Event: about a hundred bytes.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a message's Event takes its repeats into its series; after that a repeat starts a
/// new Event (kube's and client-go's window).
const SERIES: Duration = Duration::from_secs(360);
/// At most this many messages remembered: an issuance publishes about ten distinct ones, so
/// 1,000 Certificates issued at once would otherwise remember 10,000 for six minutes. Past it
/// the least recently used goes; its next repeat then starts a new Event (client-go's
/// correlator bounds its cache the same way).
const MOST: usize = 1024;

/// The Event a message went out as.
struct Sent {
    namespace: String,
    name: String,
    count: i32,
}

pub struct Events {
    client: kube::Client,
    instance: String,
    sent: Mutex<HashMap<u64, (Sent, Instant)>>,
}

/// cert-manager's reporting controller is its component; certsmith's is itself.
const CONTROLLER: &str = "certsmith";

impl Events {
    /// The pod's name is the reporting instance, as cert-manager's.
    pub fn new(client: kube::Client) -> Events {
        let instance = std::env::var("POD_NAME").unwrap_or_else(|_| CONTROLLER.into());
        Events { client, instance, sent: Mutex::default() }
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
        let key = message_key(&object, warning, reason, &note);
        let now = Timestamp::now();
        let repeat = self.repeat(key, Instant::now());
        let sent = match repeat {
            Some(sent) => match self.count(sent, now).await {
                // Its Event is gone (expired, or deleted): the repeat starts a new one.
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    self.create(&object, warning, reason, note, now).await
                }
                counted => counted,
            },
            None => self.create(&object, warning, reason, note, now).await,
        };
        match sent {
            Ok(sent) => {
                let mut all = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                all.insert(key, (sent, Instant::now()));
            }
            Err(e) => tracing::warn!(error = %e, reason, "could not publish an Event"),
        }
    }

    /// The Event this message went out as within the series window, taken out of memory
    /// while it is counted (put back when the count is written).
    fn repeat(&self, key: u64, now: Instant) -> Option<Sent> {
        let mut all = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        make_room(&mut all, now);
        all.remove(&key).map(|(sent, _)| sent)
    }

    /// One more of a message: its Event's series counts it.
    async fn count(&self, sent: Sent, now: Timestamp) -> Result<Sent, kube::Error> {
        let count = sent.count + 1;
        let api: Api<Event> = Api::namespaced(self.client.clone(), &sent.namespace);
        let patch = serde_json::json!({
            "series": {"count": count, "lastObservedTime": MicroTime(now)},
        });
        api.patch(&sent.name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        Ok(Sent { count, ..sent })
    }

    async fn create(
        &self,
        object: &ObjectReference,
        warning: bool,
        reason: &str,
        note: String,
        now: Timestamp,
    ) -> Result<Sent, kube::Error> {
        let namespace = object.namespace.clone().unwrap_or_default();
        let name =
            format!("{}.{:x}", object.name.as_deref().unwrap_or(CONTROLLER), now.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            action: Some(reason.into()),
            reason: Some(reason.into()),
            note: Some(note),
            event_time: Some(MicroTime(now)),
            regarding: Some(object.clone()),
            reporting_controller: Some(CONTROLLER.into()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(if warning { "Warning" } else { "Normal" }.into()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        api.create(&PostParams::default(), &event).await?;
        Ok(Sent { namespace, name, count: 1 })
    }
}

/// What makes two Events the same message.
fn message_key(object: &ObjectReference, warning: bool, reason: &str, note: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&object.uid, &object.kind, &object.namespace, &object.name, warning, reason, note)
        .hash(&mut hasher);
    hasher.finish()
}

/// Forgets the messages older than the series window, then the least recently used while
/// there are `MOST`.
fn make_room<V>(sent: &mut HashMap<u64, (V, Instant)>, now: Instant) {
    sent.retain(|_, (_, used)| now.duration_since(*used) < SERIES);
    while sent.len() >= MOST {
        let oldest = sent.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| *k);
        let Some(oldest) = oldest else { break };
        sent.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::Arc;

    /// A client that takes every Event, refusing series updates with 404 when `gone`, and
    /// what it was asked: method, path, and the series count a patch wrote.
    fn api(gone: bool) -> (kube::Client, Arc<Mutex<Vec<String>>>) {
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = asked.clone();
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let log = log.clone();
            async move {
                let (method, path) = (req.method().clone(), req.uri().path().to_string());
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let seen = match method.as_str() {
                    "PATCH" => format!("PATCH {path} count {}", body["series"]["count"]),
                    _ => format!("{method} {path} {}", body["note"].as_str().unwrap_or("")),
                };
                log.lock().unwrap().push(seen);
                let (code, answer) = match (method.as_str(), gone) {
                    ("PATCH", true) => (
                        404,
                        serde_json::json!({"kind": "Status", "code": 404, "reason": "NotFound"}),
                    ),
                    _ => (200, body),
                };
                let answer = bytes::Bytes::from(serde_json::to_vec(&answer).unwrap());
                let response = http::Response::builder().status(code);
                Ok::<_, std::convert::Infallible>(
                    response.body(http_body_util::Full::new(answer)).unwrap(),
                )
            }
        });
        (kube::Client::new(service, "default"), asked)
    }

    #[tokio::test]
    async fn a_repeated_message_is_counted_in_its_events_series_a_new_one_is_a_new_event() {
        let object = |namespace: Option<&str>| ObjectReference {
            kind: Some("Challenge".into()),
            namespace: namespace.map(str::to_string),
            name: Some("c".into()),
            uid: Some("u".into()),
            ..Default::default()
        };
        let (n, cluster) = (object(Some("n")), object(None));
        let posted = |ns: &str, note: &str| {
            format!("POST /apis/events.k8s.io/v1/namespaces/{ns}/events {note}")
        };
        for gone in [false, true] {
            let (client, asked) = api(gone);
            let events = Events::new(client);
            for (object, note) in [(&n, "a"), (&n, "a"), (&n, "a"), (&n, "b"), (&cluster, "a")] {
                events.publish(object, true, "Failed", note.into()).await;
            }
            let asked = asked.lock().unwrap().clone();
            let (first, second) = (&asked[0], &asked[1]);
            assert_eq!(first, &posted("n", "a"), "{asked:?}");
            let name = "/apis/events.k8s.io/v1/namespaces/n/events/c.";
            assert!(second.starts_with(&format!("PATCH {name}")), "{asked:?}");
            let want: Vec<String> = if gone {
                // Its Event went away: each repeat tries to count, then starts a new one.
                vec![posted("n", "a"), posted("n", "a"), posted("n", "b"), posted("default", "a")]
            } else {
                vec![posted("n", "b"), posted("default", "a")]
            };
            let posts: Vec<String> =
                asked.iter().filter(|a| a.starts_with("POST")).cloned().collect();
            assert_eq!(posts[1..], want[..], "{asked:?}");
            let counts: Vec<&str> =
                asked.iter().filter_map(|a| a.rsplit_once(" count ").map(|(_, c)| c)).collect();
            assert_eq!(counts, if gone { vec!["2", "2"] } else { vec!["2", "3"] }, "{asked:?}");
        }
    }

    #[test]
    fn messages_are_bounded_by_age_and_count_least_recently_used_first() {
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
        // Six minutes after their last use, all but the one used at 300 s are gone.
        make_room(&mut recorders, at(99 + SERIES.as_secs()));
        assert_eq!(recorders.keys().copied().collect::<Vec<_>>(), vec![0]);
    }
}
