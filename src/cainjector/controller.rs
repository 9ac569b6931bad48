//! cainjector, step 4: one controller per target kind. Load (the target's annotations from a
//! metadata watch, its source read by GET), decide (`sources`, `merge`: pure), apply (the
//! caBundle fields only, by server-side apply).
//!
//! What is watched, and why it is bounded: the four target kinds by their metadata only
//! (managedFields dropped), so a cluster's big CRD schemas are never held; and every Secret's
//! metadata, kept nowhere, only to wake the targets that read a Secret when it changes (a
//! renewal that rotates `ca.crt`, or `allow-direct-injection` added). Sources are read by GET
//! when a target is reconciled, which happens for annotated targets only; each is looked at
//! again every `RECHECK`, which drops expired CAs and repairs anything a missed event left.

use super::merge::merge;
use super::sources::{self, Source};
use super::targets::{self, Slot, Target};
use crate::api::Certificate;
use crate::error::Error;
use crate::metrics::Metrics;
use futures::{Stream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use kube::ResourceExt;
use kube::api::{Api, ListParams, PartialObjectMeta, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How often an injected target is looked at again without a change.
const RECHECK: Duration = Duration::from_secs(3600);
/// Objects per list page of the metadata watches.
const PAGE: u32 = 100;

/// What the target controllers share.
pub struct Injector {
    pub client: kube::Client,
    pub events: crate::events::Events,
    pub metrics: Metrics,
    /// The API server's CA as certsmith's client trusts it (PEM); `None` with system roots.
    pub apiserver_ca: Option<Vec<u8>>,
    /// The namespaces whose Secrets and Certificates may be sources (`--namespace`).
    pub scope: crate::scope::Scope,
    pub clock: fn() -> Timestamp,
}

impl AsRef<Metrics> for Injector {
    fn as_ref(&self) -> &Metrics {
        &self.metrics
    }
}

/// A Secret changed: which, and the Certificate it says it belongs to.
#[derive(Clone, Debug)]
pub struct SecretChange {
    pub namespace: String,
    pub name: String,
    pub certificate: Option<String>,
}

/// Follows every Secret's metadata in `scope` (nothing kept) and tells `changes` of each change
/// after the first list (targets are reconciled when they are listed anyway).
pub async fn secret_changes(
    client: kube::Client,
    scope: crate::scope::Scope,
    changes: broadcast::Sender<SecretChange>,
) {
    let api = scope.api::<PartialObjectMeta<Secret>>(client);
    let config = watcher::Config::default().page_size(PAGE).any_semantic();
    let mut stream = watcher(api, config).backoff(crate::relist::backoff()).boxed();
    while let Some(event) = stream.next().await {
        let secret = match event {
            Ok(watcher::Event::Apply(s)) => s,
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "cainjector: watching Secrets");
                continue;
            }
        };
        let certificate = secret.annotations().get(sources::ANN_CERTIFICATE_NAME).cloned();
        let (namespace, name) = (secret.namespace().unwrap_or_default(), secret.name_any());
        let _ = changes.send(SecretChange { namespace, name, certificate });
    }
}

/// Whether certsmith may list `K`; when not (a chart without `cainjector.enabled`, or RBAC of
/// one's own), says so once and the kind is left alone.
pub async fn permitted<K: Target>(client: &kube::Client) -> bool {
    let api = Api::<K>::all(client.clone());
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Err(kube::Error::Api(e)) if e.code == 403 => {
            tracing::warn!(
                kind = K::kind(&()).as_ref(),
                "cainjector: may not list {}s ({}); no CA is injected into them (the chart \
                 grants this with cainjector.enabled; --controllers=*,-cainjector turns the \
                 cainjector off)",
                K::kind(&()),
                e.message
            );
            false
        }
        _ => true,
    }
}

/// Injects into every `K` annotated for it until the process stops (once `permitted`).
pub async fn run<K: Target>(ctx: Arc<Injector>, changes: broadcast::Receiver<SecretChange>) {
    let (reader, writer) = reflector::store();
    let api = Api::<PartialObjectMeta<K>>::all(ctx.client.clone());
    let config = watcher::Config::default().page_size(PAGE).any_semantic();
    let trigger = watcher(api, config)
        .backoff(crate::relist::backoff())
        .modify(|o| o.metadata.managed_fields = None)
        .reflect(writer)
        .applied_objects();
    let woken = woken(changes, reader.clone());
    let policy = |object: Arc<PartialObjectMeta<K>>, error: &Error, _: Arc<Injector>| {
        crate::error::policy(K::CONTROLLER, &object, error)
    };
    Controller::for_stream(trigger, reader)
        .reconcile_on(woken)
        .run(crate::metrics::counted(K::CONTROLLER, reconcile::<K>), policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// The targets in `store` that read each Secret that changes.
fn woken<K: Target>(
    changes: broadcast::Receiver<SecretChange>,
    store: Store<PartialObjectMeta<K>>,
) -> impl Stream<Item = ObjectRef<PartialObjectMeta<K>>> + Send + 'static {
    let changes = futures::stream::unfold(changes, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(change) => return Some((change, rx)),
                // Missed some: RECHECK catches up.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    changes.flat_map(move |c| {
        let users: Vec<_> = store
            .state()
            .iter()
            .filter(|t| {
                let annotations = t.annotations();
                sources::uses_secret(annotations, &c.namespace, &c.name, c.certificate.as_deref())
            })
            .map(|t| ObjectRef::from_obj(&**t))
            .collect();
        futures::stream::iter(users)
    })
}

/// What a source gives.
enum Loaded {
    Ca(Vec<u8>),
    /// Nothing to inject yet (the log says why).
    Nothing(String),
    /// May not be injected: a Warning Event says why.
    Refused(String),
}

async fn load(ctx: &Injector, source: &Source) -> Result<Loaded, kube::Error> {
    let secret = |namespace: &str| Api::<Secret>::namespaced(ctx.client.clone(), namespace);
    let (namespace, secret_name) = match source {
        Source::ApiServer => {
            return Ok(match &ctx.apiserver_ca {
                Some(ca) => Loaded::Ca(ca.clone()),
                None => Loaded::Nothing("certsmith's client trusts the system's roots".into()),
            });
        }
        // In single-namespace mode, as cert-manager's cainjector with --namespace: a source
        // elsewhere is not read (nor may it be, with the namespaced grant).
        Source::Secret { namespace, .. } | Source::Certificate { namespace, .. }
            if !ctx.scope.covers(namespace) =>
        {
            return Ok(Loaded::Nothing(format!("{source} is outside --namespace")));
        }
        Source::Secret { namespace, name } => (namespace, name.clone()),
        Source::Certificate { namespace, name } => {
            let certificates = Api::<Certificate>::namespaced(ctx.client.clone(), namespace);
            match certificates.get_opt(name).await? {
                Some(c) => (namespace, c.spec.secret_name),
                None => return Ok(Loaded::Nothing(format!("{source} does not exist"))),
            }
        }
    };
    let Some(found) = secret(namespace).get_opt(&secret_name).await? else {
        return Ok(Loaded::Nothing(format!("Secret {namespace}/{secret_name} does not exist")));
    };
    Ok(match sources::ca_of(&found, source) {
        Ok(Some(ca)) => Loaded::Ca(ca),
        Ok(None) => Loaded::Nothing(format!("Secret {namespace}/{secret_name} has no ca.crt")),
        Err(why) => Loaded::Refused(why),
    })
}

/// The slots filled with `ca` at `now`; `None` when every one already holds what it should.
/// Pure.
pub fn filled(slots: &[Slot], ca: &[u8], now: Timestamp) -> Option<Vec<Slot>> {
    let filled: Vec<Slot> =
        slots.iter().map(|s| Slot { bundle: merge(&s.bundle, ca, now), ..s.clone() }).collect();
    (filled != slots).then_some(filled)
}

fn reference<K: Target>(object: &PartialObjectMeta<K>) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into()),
        kind: Some(K::kind(&()).into()),
        name: object.metadata.name.clone(),
        uid: object.metadata.uid.clone(),
        ..Default::default()
    }
}

pub(super) async fn reconcile<K: Target>(
    object: Arc<PartialObjectMeta<K>>,
    ctx: Arc<Injector>,
) -> Result<Action, Error> {
    let source = match sources::select(object.annotations()) {
        None => return Ok(Action::await_change()),
        Some(Err(why)) => {
            ctx.events.publish(&reference(&*object), true, "BadConfig", why).await;
            return Ok(Action::await_change());
        }
        Some(Ok(source)) => source,
    };
    let name = object.name_any();
    let kind = K::kind(&());
    let ca = match load(&ctx, &source).await? {
        Loaded::Ca(ca) => ca,
        Loaded::Nothing(why) => {
            tracing::debug!(kind = kind.as_ref(), name, "cainjector: nothing to inject: {why}");
            return Ok(Action::requeue(RECHECK));
        }
        Loaded::Refused(why) => {
            let reason = "CAInjectionRefused";
            ctx.events.publish(&reference(&*object), true, reason, why).await;
            return Ok(Action::requeue(RECHECK));
        }
    };
    let api = Api::<K>::all(ctx.client.clone());
    let Some(target) = api.get_opt(&name).await? else { return Ok(Action::await_change()) };
    let slots = target.slots();
    let Some(filled) = filled(&slots, &ca, (ctx.clock)()) else {
        return Ok(Action::requeue(RECHECK));
    };
    let params = PatchParams::apply(crate::FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(targets::body(&target, &filled))).await?;
    let what = match filled.len() {
        1 => "its caBundle".to_string(),
        n => format!("the caBundle of its {n} webhooks"),
    };
    let note = format!("injected the CA of {source} into {what}");
    ctx.events.publish(&reference(&*object), false, "CAInjected", note).await;
    Ok(Action::requeue(RECHECK))
}
