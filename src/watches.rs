//! The operator's watches: one per kind, shared by every controller that needs it, and the filter
//! that keeps an issuer's unimportant changes from waking its Certificates.
//!
//! Each controller used to open its own watch of every kind it reacts to: 19 watches, each with
//! its initial list, and two caches of every CertificateRequest. Now a kind is listed and watched
//! once; its cache is the one the controllers read and the subscriptions fan its changes out.

use crate::api::{ClusterIssuer, Issuer, IssuerStatus};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};
use jiff::Timestamp;
use kube::api::{Api, ObjectMeta};
use kube::runtime::Controller;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Changes a watch holds for each subscriber before it waits for the slowest.
const BUFFER: usize = 1024;

/// The annotation `kubectl apply` keeps the applied object in (its spec again, as JSON).
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What a kind needs to be watched, cached and reconciled by the operator's controllers.
pub trait Kind:
    Resource<DynamicType = ()> + Clone + Debug + serde::de::DeserializeOwned + Send + Sync + 'static
{
}

impl<K> Kind for K where
    K: Resource<DynamicType = ()>
        + Clone
        + Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// One watch of a kind: its cache, one subscription per consumer, and the future that runs it
/// (to be polled for as long as the controllers run).
pub struct Shared<K: Resource<DynamicType = ()> + Clone + 'static> {
    pub store: Store<K>,
    subscriptions: Vec<BoxStream<'static, Arc<K>>>,
    pub run: BoxFuture<'static, ()>,
}

impl<K: Kind> Shared<K> {
    /// Watches `api` for `consumers` subscribers, each of which sees every object listed,
    /// changed or deleted (a deleted Secret must wake its Certificate). Managed fields and
    /// `kubectl apply`'s copy of the object are dropped from the cache: nothing reads them,
    /// and they are often most of an object.
    pub fn watch(api: Api<K>, config: watcher::Config, consumers: usize) -> Shared<K> {
        Self::watch_trimmed(api, config, consumers, |_| {})
    }

    /// As `watch`, with `trim` leaving out of each cached object what no reader needs.
    pub fn watch_trimmed(
        api: Api<K>,
        config: watcher::Config,
        consumers: usize,
        trim: fn(&mut K),
    ) -> Shared<K> {
        let events = watcher(api, config).backoff(crate::relist::backoff()).boxed();
        Self::from_events(events, consumers, trim)
    }

    /// A kind that is not watched (ClusterIssuers in single-namespace mode): its cache is
    /// ready and stays empty, its subscribers are never woken.
    pub fn empty(consumers: usize) -> Shared<K> {
        let listed = [Ok(watcher::Event::Init), Ok(watcher::Event::InitDone)];
        let events = futures::stream::iter(listed).chain(futures::stream::pending()).boxed();
        Self::from_events(events, consumers, |_| {})
    }

    fn from_events(
        events: BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>,
        consumers: usize,
        trim: fn(&mut K),
    ) -> Shared<K> {
        let (store, writer) = reflector::store();
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..consumers).map(|_| mpsc::channel::<Arc<K>>(BUFFER)).unzip();
        let run = events
            .modify(move |o| {
                let meta = o.meta_mut();
                meta.managed_fields = None;
                if let Some(annotations) = meta.annotations.as_mut() {
                    annotations.remove(LAST_APPLIED);
                }
                trim(o);
            })
            .reflect(writer)
            .touched_objects()
            .for_each(move |touched| {
                let senders = senders.clone();
                async move {
                    let Ok(object) = touched else { return };
                    let object = Arc::new(object);
                    for sender in &senders {
                        let _ = sender.send(object.clone()).await;
                    }
                }
            })
            .boxed();
        let subscriptions = receivers
            .into_iter()
            .map(|rx| {
                futures::stream::unfold(rx, |mut rx| async move { Some((rx.recv().await?, rx)) })
                    .boxed()
            })
            .collect();
        Shared { store, subscriptions, run }
    }

    /// The next unused subscription; each consumer takes one.
    pub fn subscribe(&mut self) -> BoxStream<'static, Arc<K>> {
        self.subscriptions.pop().expect("as many consumers as subscriptions")
    }

    /// A controller of this kind: woken by one of its subscriptions, reading its cache.
    pub fn controller(&mut self, config: kube::runtime::controller::Config) -> Controller<K> {
        Controller::for_shared_stream(self.subscribe(), self.store.clone()).with_config(config)
    }
}

/// What a Certificate or request depends on in its issuer: the spec (generation), the Ready
/// condition, the ACME account. An annotation, a label or a status timestamp is not among them.
pub fn issuer_key(meta: &ObjectMeta, status: Option<&IssuerStatus>) -> u64 {
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| (format!("{:?}", c.status), c.reason.clone()));
    let account = status.and_then(|s| s.acme.as_ref()).map(|a| a.uri.clone());
    let mut h = DefaultHasher::new();
    (meta.uid.as_deref(), meta.generation, ready, account).hash(&mut h);
    h.finish()
}

/// Passes on only the objects whose `key` changed since this stream last saw them. An object
/// seen for the first time passes only if it was created at or after `since`: the objects that
/// existed before were seen by each dependant's own first reconcile, so a restart (or a watch's
/// re-list) does not reconcile every Certificate once more per issuer.
pub fn changed<K, S>(
    stream: S,
    key: impl Fn(&K) -> u64 + Send + 'static,
    since: Timestamp,
) -> impl Stream<Item = Arc<K>> + Send
where
    K: Resource + Send + Sync + 'static,
    S: Stream<Item = Arc<K>> + Send,
{
    let mut seen: HashMap<String, u64> = HashMap::new();
    stream.filter(move |o| {
        let k = key(o);
        let id = o.uid().unwrap_or_else(|| format!("{:?}/{}", o.namespace(), o.name_any()));
        let pass = match seen.insert(id, k) {
            Some(before) => before != k,
            None => o.creation_timestamp().is_none_or(|t| t.0.as_second() >= since.as_second()),
        };
        futures::future::ready(pass)
    })
}

/// `controller` woken by a change of an issuer its objects use (`users` names them by the
/// issuer's kind, namespace and name), when the change matters to them (watches::changed).
pub fn woken_by_issuers<K>(
    controller: Controller<K>,
    (issuers, cluster_issuers): (&mut Shared<Issuer>, &mut Shared<ClusterIssuer>),
    since: jiff::Timestamp,
    users: impl Fn(&'static str, Option<String>, String) -> Vec<ObjectRef<K>>
    + Clone
    + Send
    + Sync
    + 'static,
) -> Controller<K>
where
    K: Kind,
{
    let key = |i: &Issuer| issuer_key(&i.metadata, i.status.as_ref());
    let cluster_key = |i: &ClusterIssuer| issuer_key(&i.metadata, i.status.as_ref());
    let cluster_users = users.clone();
    controller
        .watches_shared_stream(changed(cluster_issuers.subscribe(), cluster_key, since), move |i| {
            cluster_users("ClusterIssuer", None, i.name_any())
        })
        .watches_shared_stream(changed(issuers.subscribe(), key, since), move |i| {
            users("Issuer", i.namespace(), i.name_any())
        })
}

/// The objects in `store` that `uses` what changed (a Certificate or request its issuer, an
/// issuer its CA Secret): what that change triggers.
pub fn users<K>(store: &reflector::Store<K>, uses: impl Fn(&K) -> bool) -> Vec<ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone,
{
    store.state().iter().filter(|i| uses(i)).map(|i| ObjectRef::from_obj(&**i)).collect()
}

/// The controller owner of an object (by `refs`, in `namespace`), from the operator's cache of
/// its kind, if it is the very object named (same uid).
pub fn controller_of<K>(
    store: &kube::runtime::reflector::Store<K>,
    namespace: &str,
    refs: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
) -> Option<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let r = refs.iter().find(|r| r.controller == Some(true) && r.kind == K::kind(&()))?;
    let found = store.get(&kube::runtime::reflector::ObjectRef::new(&r.name).within(namespace))?;
    (found.meta().uid.as_deref() == Some(r.uid.as_str())).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ClusterIssuer;

    fn issuer(yaml: &str) -> Arc<ClusterIssuer> {
        Arc::new(serde_yaml::from_str(yaml).unwrap())
    }

    #[tokio::test]
    async fn a_kind_not_watched_is_ready_empty_and_wakes_no_one() {
        let mut shared = Shared::<ClusterIssuer>::empty(1);
        let mut subscription = shared.subscribe();
        tokio::spawn(shared.run);
        shared.store.wait_until_ready().await.unwrap();
        assert!(shared.store.state().is_empty());
        let woken = tokio::time::timeout(std::time::Duration::from_millis(50), subscription.next());
        assert!(woken.await.is_err(), "a subscriber was woken");
    }

    #[tokio::test]
    async fn only_spec_ready_and_account_changes_pass() {
        let since: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let base = "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: le, uid: u1, generation: 1, \
                    creationTimestamp: '2025-12-31T00:00:00Z'}\nspec: {selfSigned: {}}\n";
        let ready = |status: &str, reason: &str| {
            format!(
                "status: {{conditions: [{{type: Ready, status: '{status}', reason: {reason}, \
                 lastTransitionTime: '2026-01-01T00:00:00Z'}}]}}\n"
            )
        };
        let table: Vec<(String, bool)> = vec![
            // Existed before the controllers started: its first sight wakes nothing.
            (base.into(), false),
            (base.replace("name: le,", "name: le, annotations: {a: b},"), false),
            (format!("{base}{}", ready("True", "IsReady")), true),
            (
                format!("{base}{}", ready("True", "IsReady").replace("00:00:00Z'", "00:05:00Z'")),
                false,
            ),
            (format!("{base}{}", ready("False", "ErrInitIssuer")), true),
            (base.replace("generation: 1", "generation: 2"), true),
            (
                base.replace("generation: 1", "generation: 2")
                    .replace("name: le,", "name: le, labels: {c: d},"),
                false,
            ),
            // Created since: its first sight wakes the Certificates that waited for it.
            (base.replace("uid: u1", "uid: u2").replace("2025-12-31", "2026-01-01"), true),
        ];
        let items: Vec<Arc<ClusterIssuer>> = table.iter().map(|(y, _)| issuer(y)).collect();
        let key = |i: &ClusterIssuer| issuer_key(&i.metadata, i.status.as_ref());
        let passed: Vec<Arc<ClusterIssuer>> =
            changed(futures::stream::iter(items.clone()), key, since).collect().await;
        for (item, (yaml, want)) in items.iter().zip(&table) {
            assert_eq!(passed.iter().any(|p| Arc::ptr_eq(p, item)), *want, "{yaml}");
        }
    }

    #[tokio::test]
    async fn the_cache_keeps_neither_managed_fields_nor_kubectls_copy() {
        let mut cert = crate::api::Certificate::new("web", Default::default());
        cert.metadata.namespace = Some("n".into());
        cert.metadata.managed_fields = Some(vec![Default::default()]);
        cert.metadata.annotations = Some(
            [(LAST_APPLIED, "{\"spec\":{}}"), ("team", "a")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
        );
        let listed = [
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(cert)),
            Ok(watcher::Event::InitDone),
        ];
        let events = futures::stream::iter(listed).boxed();
        let shared = Shared::from_events(events, 1, |_| {});
        let store = shared.store.clone();
        // The subscriber's buffer holds the one change, so the run ends with the list.
        shared.run.await;
        let cached = store.get(&ObjectRef::new("web").within("n")).unwrap();
        assert_eq!(cached.metadata.managed_fields, None);
        let annotations = cached.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(annotations.keys().collect::<Vec<_>>(), ["team"]);
    }
}
