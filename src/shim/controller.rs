//! The shim step's controller, one per source kind: load the source (from a trimmed cache) →
//! decide the Certificates (pure, the kind's [`Source::desired`]) → apply them, delete the
//! ones it no longer asks for → Events.

use super::annotations::DefaultIssuer;
use super::{Inputs, Source};
use crate::api::Certificate;
use crate::api::gateway::Gateway;
use crate::api::meta::controlled_by;
use crate::context::Context;
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PartialObjectMeta};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, predicates, watcher};
use std::sync::Arc;

impl AsRef<crate::metrics::Metrics> for Shim {
    fn as_ref(&self) -> &crate::metrics::Metrics {
        &self.ctx.metrics
    }
}

pub struct Shim {
    ctx: Arc<Context>,
    defaults: DefaultIssuer,
    /// The shim's Certificates (metadata only), to find what a source owns without a request.
    owned: Store<PartialObjectMeta<Certificate>>,
    /// Gateways (metadata only) when the sources have parents: what they inherit.
    parents: Option<Store<PartialObjectMeta<Gateway>>>,
}

use crate::error::Error;

/// Runs the shim for sources of kind `S` until shutdown. Their cache keeps only what the shim
/// reads ([`Source::trim`]); a source with a parent Gateway is reconciled again when that
/// Gateway changes.
pub async fn run<S: Source>(ctx: Arc<Context>) {
    if !ctx.config.controller_enabled(S::CONTROLLER) {
        tracing::info!(controller = S::CONTROLLER, "off (--controllers)");
        return;
    }
    let defaults = ctx.config.default_issuer();
    let (client, scope) = (ctx.client.clone(), ctx.config.scope());
    let (sources, writer) = reflector::store();
    let source_stream = watcher(scope.api::<S>(client.clone()), watcher::Config::default())
        .backoff(crate::relist::backoff())
        .modify(trim_keeping::<S>(ctx.config.extra_certificate_annotations.clone()))
        .reflect(writer)
        .applied_objects()
        // Not a status write: Gateway implementations rewrite a Gateway's status whenever a
        // route comes or goes, which asks nothing new of the shim.
        .predicate_filter(shaping::<S>, Default::default());
    let (owned, cert_writer) = reflector::store();
    let certs = watcher(
        scope.api::<PartialObjectMeta<Certificate>>(client),
        watcher::Config::default().labels(S::LABEL),
    )
    .backoff(crate::relist::backoff())
    .reflect(cert_writer)
    .applied_objects()
    // A Certificate's status changes with each step of its issuance; only a spec change (or its
    // creation) is the shim's business.
    .predicate_filter(predicates::generation, Default::default());
    let (parents, parent_stream) = if S::HAS_PARENT {
        let (store, writer) = reflector::store();
        let stream = watcher(
            scope.api::<PartialObjectMeta<Gateway>>(ctx.client.clone()),
            watcher::Config::default(),
        )
        .backoff(crate::relist::backoff())
        .modify(|g| super::gateway::trim_meta(&mut g.metadata))
        .reflect(writer)
        .applied_objects()
        // What a child inherits: the annotations, and whether the Gateway is going.
        .predicate_filter(
            |g: &PartialObjectMeta<Gateway>| {
                Some(hash((&g.metadata.annotations, g.metadata.deletion_timestamp.is_some())))
            },
            Default::default(),
        );
        (Some(store), Some(stream))
    } else {
        (None, None)
    };
    let children = sources.clone();
    let shim = Arc::new(Shim { ctx, defaults, owned, parents });
    let workers = shim.ctx.config.concurrent_workers;
    let mut controller = Controller::for_stream(source_stream, sources)
        .with_config(kube::runtime::controller::Config::default().concurrency(workers))
        .owns_stream(certs);
    if let Some(stream) = parent_stream {
        controller = controller.watches_stream(stream, move |gateway| {
            let parent = (gateway.namespace().unwrap_or_default(), gateway.name_any());
            let children = children.state().into_iter();
            children
                .filter(move |s| s.parent().as_ref() == Some(&parent))
                .map(|s| ObjectRef::from_obj(s.as_ref()))
        });
    }
    controller
        .trigger_backoff(crate::relist::backoff())
        .shutdown_on_signal()
        .run(
            crate::metrics::counted(S::CONTROLLER, reconcile::<S>),
            |source, error, _| crate::error::policy(S::CONTROLLER, &source, error),
            shim,
        )
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// [`run`] when `enabled` and the API server serves `S` (Gateway API's CRDs are optional);
/// otherwise says why it does not run. Other errors are retried: the check is one small list.
pub async fn run_when_served<S: Source>(ctx: Arc<Context>, enabled: bool) {
    let controller = S::CONTROLLER;
    if !enabled {
        tracing::info!(controller, "off (--enable-gateway-api, --enable-gateway-api-listenerset)");
        return;
    }
    // Listed where the shim will watch: in single-namespace mode, a cluster-wide list would
    // be refused by the namespaced grant and taken for an error rather than for "served".
    let api = ctx.config.scope().api::<PartialObjectMeta<S>>(ctx.client.clone());
    loop {
        match api.list_metadata(&kube::api::ListParams::default().limit(1)).await {
            Ok(_) => break,
            Err(kube::Error::Api(e)) if e.code == 404 => {
                let kind = S::kind(&());
                tracing::info!(
                    controller,
                    "off: the API server serves no {kind} (install Gateway API's CRDs, then restart certsmith)"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(
                    controller,
                    "cannot list {}: {}; trying again in 30s",
                    S::plural(&()),
                    crate::acme::api_message(&e)
                );
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            }
        }
    }
    run::<S>(ctx).await
}

/// What the Certificates of a source depend on: its spec (the generation), annotations and
/// labels, and whether it is being deleted.
fn shaping<S: Source>(source: &S) -> Option<u64> {
    let m = source.meta();
    Some(hash((m.generation, &m.annotations, &m.labels, m.deletion_timestamp.is_some())))
}

fn hash(value: impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(value)
}

pub async fn reconcile<S: Source>(source: Arc<S>, shim: Arc<Shim>) -> Result<Action, Error> {
    let ctx = &shim.ctx;
    ctx.metrics.reconciled(S::CONTROLLER);
    let namespace = source.namespace().unwrap_or_default();
    let uid = source.uid();
    let owned: Vec<Arc<PartialObjectMeta<Certificate>>> = shim
        .owned
        .state()
        .into_iter()
        .filter(|c| c.namespace().as_deref() == Some(&namespace))
        .filter(|c| controlled_by(c.owner_references(), uid.as_deref()))
        .collect();
    let certs: Api<Certificate> = Api::namespaced(ctx.client.clone(), &namespace);
    let reference = source.object_ref(&());
    let parent = match (source.parent(), &shim.parents) {
        (Some((ns, name)), Some(parents)) => {
            match parents.get(&ObjectRef::new(&name).within(&ns)) {
                Some(g) if g.metadata.deletion_timestamp.is_none() => Some(g),
                // As cert-manager: nothing changes until the parent is there (its arrival
                // brings the source back).
                _ => {
                    tracing::debug!(controller = S::CONTROLLER, source = %reference.name.as_deref().unwrap_or_default(), "waiting for its parent Gateway {ns}/{name}");
                    return Ok(Action::await_change());
                }
            }
        }
        _ => None,
    };
    let extra_protocols = &ctx.config.gateway_api_extra_protocols;
    let inputs = Inputs {
        defaults: &shim.defaults,
        extra_protocols,
        parent: parent.as_ref().map(|g| &g.metadata),
    };
    let wanted = match source.desired(&inputs) {
        // Not (or no longer) asking for certificates: what it owned goes; Secrets stay.
        Ok(None) => vec![],
        Err(e) => {
            let note = format!("{e}; no Certificate was created, changed or deleted");
            ctx.event(&reference, true, "BadConfig", note).await;
            return Ok(Action::await_change());
        }
        Ok(Some(d)) => {
            for problem in &d.problems {
                ctx.event(&reference, true, "BadConfig", problem.clone()).await;
            }
            let mut certificates = d.certificates;
            copy_extra_annotations(
                source.as_ref(),
                &mut certificates,
                &ctx.config.extra_certificate_annotations,
            );
            certificates
        }
    };
    for cert in &wanted {
        let name = cert.name_any();
        // The shim's own Certificates are in the cache; any other is asked for, as it may be
        // someone else's.
        let cached = owned.iter().find(|c| c.name_any() == name).map(|c| c.metadata.clone());
        let existing = match cached {
            Some(meta) => Some(meta),
            None => certs.get_metadata_opt(&name).await?.map(|c| c.metadata),
        };
        if let Some(existing) = &existing
            && !controlled_by(
                &existing.owner_references.clone().unwrap_or_default(),
                uid.as_deref(),
            )
        {
            let kind = S::kind(&());
            let note = format!(
                "Certificate {name:?} already exists and is not owned by this {kind}; certsmith leaves it as it is. \
                 Use another secretName, or delete that Certificate"
            );
            ctx.event(&reference, true, "BadConfig", note).await;
            continue;
        }
        // A new one is applied without forcing: had someone else made it since the read, the
        // apply fails on their fields instead of taking it over (the retry reports it).
        let applied = match existing {
            Some(_) => crate::ssa::apply(&certs, cert, S::FIELD_MANAGER).await?,
            None => crate::ssa::apply_new(&certs, cert, S::FIELD_MANAGER).await?,
        };
        // cert-manager's reasons; an apply that changed the spec moved the generation (the
        // resourceVersion moves with every status write too, and the cache may lag those).
        let (reason, verb) = match existing.map(|e| e.generation) {
            None => ("CreateCertificate", "created"),
            Some(g) if applied.metadata.generation != g => ("UpdateCertificate", "updated"),
            Some(_) => continue,
        };
        ctx.event(&reference, false, reason, format!("Successfully {verb} Certificate {name:?}"))
            .await;
    }
    let owned = owned.iter().map(|c| c.name_any());
    for name in owned.filter(|n| !wanted.iter().any(|c| c.metadata.name.as_ref() == Some(n))) {
        certs.delete(&name, &DeleteParams::default()).await?;
        ctx.event(
            &reference,
            false,
            "DeleteCertificate",
            format!("Successfully deleted unrequired Certificate {name:?} (its Secret is kept)"),
        )
        .await;
    }
    Ok(Action::await_change())
}

/// The cache's trim for `S`, keeping the annotations `--extra-certificate-annotations` names.
fn trim_keeping<S: Source>(extra: Vec<String>) -> impl FnMut(&mut S) {
    move |o: &mut S| {
        let kept: Vec<(String, String)> = extra
            .iter()
            .filter_map(|k| o.annotations().get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        o.trim();
        if !kept.is_empty() {
            o.annotations_mut().extend(kept);
        }
    }
}

/// cert-manager's `--extra-certificate-annotations`: the source's annotations of those names
/// on each of its Certificates (applied, so one taken off the source leaves them too).
fn copy_extra_annotations<S: Source>(
    source: &S,
    certificates: &mut [Certificate],
    extra: &[String],
) {
    for key in extra {
        let Some(value) = source.annotations().get(key) else { continue };
        for cert in certificates.iter_mut() {
            let annotations = cert.metadata.annotations.get_or_insert_default();
            annotations.insert(key.clone(), value.clone());
        }
    }
}
