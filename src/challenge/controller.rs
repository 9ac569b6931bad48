//! The Challenge controller, as stages: finalizer → present → self-check (polled, never fatal,
//! as cert-manager's) → accept at the CA → poll the authorization → clean up. Cleanup runs from
//! the finalizer too, so a Challenge deleted while the operator was down leaves nothing behind;
//! a solver Ingress needs none (the Challenge owns it: the garbage collector deletes it).

use crate::acme::order as ca;
use crate::api::order::{ChallengeType, State};
use crate::api::{Challenge, ChallengeStatus};
use crate::context::Context;
use crate::http01::{edit_in_place, self_check, solver_ingress, solver_service};
use crate::ingress_shim::annotations::{
    OVERRIDE_CLASS, OVERRIDE_CLASS_NAME, OVERRIDE_INGRESS_NAME,
};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// cert-manager's finalizer name, so either controller can clean up the other's Challenges.
pub const FINALIZER: &str = "finalizer.acme.cert-manager.io";

/// How a Challenge's reason begins while its solver cannot present it.
pub const PRESENT_FAILED: &str = "presenting the challenge: ";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("removing the DNS-01 record: {0}")]
    Dns(#[from] crate::dns01::Error),
}

pub async fn reconcile(ch: Arc<Challenge>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.metrics.reconciled("challenges");
    let api: Api<Challenge> =
        Api::namespaced(ctx.client.clone(), &ch.namespace().unwrap_or_default());
    let has_finalizer = ch.finalizers().iter().any(|f| f == FINALIZER);
    if ch.metadata.deletion_timestamp.is_some() {
        if has_finalizer {
            // A verdict already cleaned up (and said so with presented=false).
            let cleaned = ch.status.as_ref().and_then(|s| s.presented) == Some(false);
            if !cleaned {
                clean_up(&ctx, &ch).await?;
            }
            let rest: Vec<_> =
                ch.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
            set_finalizers(&api, &ch, rest).await?;
        }
        return Ok(Action::await_change());
    }
    let old = ch.status.clone().unwrap_or_default();
    if old.state.is_some_and(State::is_final) {
        if old.presented == Some(true) {
            clean_up(&ctx, &ch).await?;
            let new = ChallengeStatus { presented: Some(false), processing: Some(false), ..old };
            crate::ssa::replace_status(&api, &*ch, &new).await?;
        }
        return Ok(Action::await_change());
    }
    let dns01 = ch.spec.type_ == ChallengeType::Dns01;
    // A DNS record or a rule in someone's Ingress outlives the Challenge unless a finalizer
    // removes it: DNS-01 Challenges are born with it, edits in place get it here. A solver
    // Ingress is owned by its Challenge and goes with it, so those Challenges go without one
    // (the write that would remove it is saved, and a deleted one is gone at once).
    if !has_finalizer
        && (dns01 || in_place_ingress(&ch, &certificate_annotations(&ctx, &ch)).is_some())
    {
        let mut all = ch.finalizers().to_vec();
        all.push(FINALIZER.into());
        set_finalizers(&api, &ch, all).await?;
        return Ok(Action::await_change());
    }

    // present; recorded by the next status write (presenting again is harmless), so a route
    // that works at once costs one write for presenting and accepting together
    let mut old = old;
    let just_presented = old.presented != Some(true);
    if just_presented {
        let presented = if dns01 {
            crate::dns01::present(&ctx, &ch).await.map_err(|e| e.to_string())
        } else {
            present(&ctx, &ch).await.map_err(|e| crate::acme::api_message(&e))
        };
        if let Err(e) = presented {
            let message = format!("{PRESENT_FAILED}{e}");
            // cert-manager's Event: the DNS server's or API server's refusal, once per wording.
            ctx.event(&ch.object_ref(&()), true, "PresentError", message.clone()).await;
            return note(&api, &ch, &old, &message, Duration::from_secs(10)).await;
        }
        let how = if dns01 { "DNS-01" } else { "HTTP-01" };
        let note = format!("Presented challenge using {how} challenge mechanism");
        ctx.event(&ch.object_ref(&()), false, "Presented", note).await;
        old = ChallengeStatus {
            presented: Some(true),
            processing: Some(true),
            state: Some(State::Pending),
            reason: None,
        };
    }

    // self-check, then accept; accepted challenges are `processing` until the CA decides
    if old.state != Some(State::Processing) {
        if !just_presented && !dns01 {
            // Keep the namespace's responder Endpoints on the responder pods while we wait.
            let namespace = ch.namespace().unwrap_or_default();
            let ensured = &ctx.solver_services;
            solver_service::ensure(&ctx.client, &ctx.config, ensured, &namespace, ctx.now())
                .await?;
        }
        let (problem, how) = if dns01 {
            (crate::dns01::check(&ctx, &ch).await, "DNS-01")
        } else {
            (self_check(&ctx, &ch).await, "HTTP-01")
        };
        if let Some(problem) = problem {
            if !dns01 {
                // The next try copies the responder's Endpoints again and re-creates a deleted
                // Service (see solver_service::Ensured).
                ctx.solver_services.forget(&ch.namespace().unwrap_or_default());
            }
            let message = format!("Waiting for {how} challenge propagation: {problem}");
            return note(&api, &ch, &old, &message, Duration::from_secs(2)).await;
        }
    }
    let Some(order_url) = order_url(&ctx, &ch) else {
        return note(&api, &ch, &old, "Waiting for the Order's URL", Duration::from_secs(5)).await;
    };
    let Some(issuer) = ctx.issuer(&ch.spec.issuer_ref, &ch.namespace().unwrap_or_default()) else {
        return note(&api, &ch, &old, "Referenced issuer not found", Duration::from_secs(30)).await;
    };
    let server = issuer.spec.acme.as_ref().map(|a| a.server.clone()).unwrap_or_default();
    let account = match ctx.accounts.get(&ctx, &issuer).await {
        Ok((a, _)) => a,
        Err(e) => return note(&api, &ch, &old, &e.to_string(), Duration::from_secs(30)).await,
    };
    let accept = old.state != Some(State::Processing);
    // Waiting for the CA's verdict: not sooner than its Retry-After for the authorization.
    if !accept
        && let Some(wait) = crate::acme::retry_after::wait(&ch.spec.authorization_url, ctx.now())
    {
        return Ok(Action::requeue(wait));
    }
    let answer =
        ca::authorization(&account, &server, &order_url, &ch.spec.authorization_url, accept, dns01)
            .await;
    match answer {
        Err(e) if let Some(retry) = e.transient() => {
            note(&api, &ch, &old, &e.to_string(), retry).await
        }
        Err(e) => verdict(&ctx, &api, &ch, State::Errored, &e.to_string()).await,
        Ok((State::Valid, _)) => {
            verdict(&ctx, &api, &ch, State::Valid, "Successfully authorized domain").await
        }
        Ok((state, problem)) if state.is_failure() => {
            let why = problem.unwrap_or_else(|| format!("the authorization is {}", state.as_str()));
            verdict(&ctx, &api, &ch, state, &why).await
        }
        Ok(_) => {
            if accept {
                let new = ChallengeStatus {
                    state: Some(State::Processing),
                    reason: Some("Waiting for the CA to validate the challenge".into()),
                    ..old
                };
                crate::ssa::replace_status(&api, &*ch, &new).await?;
            }
            let url = &ch.spec.authorization_url;
            Ok(Action::requeue(crate::acme::retry_after::next_poll(url, ctx.now())))
        }
    }
}

/// The solver for this challenge: a solver Ingress, or the challenge's rule in the user's
/// Ingress; both route to the namespace's responder Service.
async fn present(ctx: &Context, ch: &Challenge) -> Result<(), kube::Error> {
    let namespace = ch.namespace().unwrap_or_default();
    let ensured = &ctx.solver_services;
    solver_service::ensure(&ctx.client, &ctx.config, ensured, &namespace, ctx.now()).await?;
    let mut solver =
        ch.spec.solver.http01.as_ref().and_then(|h| h.ingress.clone()).unwrap_or_default();
    let overrides = certificate_annotations(ctx, ch);
    if let Some(class) = overrides.get(OVERRIDE_CLASS) {
        (solver.class, solver.ingress_class_name) = (Some(class.clone()), None);
    }
    if let Some(class) = overrides.get(OVERRIDE_CLASS_NAME) {
        (solver.class, solver.ingress_class_name) = (None, Some(class.clone()));
    }
    match in_place_ingress(ch, &overrides) {
        Some(name) => edit_in_place::add(&ctx.client, &ctx.config, &name, ch).await,
        None => {
            solver_ingress::apply(&ctx.client, &solver_ingress::build(&ctx.config, ch, &solver))
                .await
        }
    }
}

async fn clean_up(ctx: &Context, ch: &Challenge) -> Result<(), Error> {
    if ch.spec.type_ == ChallengeType::Dns01 {
        return Ok(crate::dns01::clean_up(ctx, ch).await?);
    }
    solver_ingress::delete(&ctx.client, ch).await?;
    if let Some(name) = in_place_ingress(ch, &certificate_annotations(ctx, ch)) {
        edit_in_place::remove(&ctx.client, &ctx.config, &name, ch).await?;
    }
    Ok(())
}

/// The user's Ingress an HTTP-01 challenge is answered through (the ingress-shim's
/// edit-in-place annotation among the Certificate's `overrides`, or the solver's `name`), when
/// not through a solver Ingress.
fn in_place_ingress(
    ch: &Challenge,
    overrides: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let solver = ch.spec.solver.http01.as_ref().and_then(|h| h.ingress.as_ref());
    overrides.get(OVERRIDE_INGRESS_NAME).or(solver.and_then(|s| s.name.as_ref())).cloned()
}

/// The ingress-shim's solver overrides live on the Certificate (cert-manager's names); the
/// Challenge reaches it through its Order and CertificateRequest, whose labels it shares.
fn certificate_annotations(
    ctx: &Context,
    ch: &Challenge,
) -> std::collections::BTreeMap<String, String> {
    let namespace = ch.namespace().unwrap_or_default();
    let order = owner(&ctx.cache.orders, &namespace, ch.owner_references());
    let cr = order.and_then(|o| owner(&ctx.cache.requests, &namespace, o.owner_references()));
    let cert = cr.and_then(|r| owner(&ctx.cache.certificates, &namespace, r.owner_references()));
    cert.map(|c| c.annotations().clone()).unwrap_or_default()
}

/// The controller owner of an object, from the operator's cache of its kind.
fn owner<K>(
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

fn order_url(ctx: &Context, ch: &Challenge) -> Option<String> {
    let order =
        owner(&ctx.cache.orders, &ch.namespace().unwrap_or_default(), ch.owner_references());
    order.and_then(|o| o.status.as_ref()?.url.clone())
}

/// `None` when the challenge is answered: through the real path when the self-check is on,
/// else when this replica's responder knows it.
async fn self_check(ctx: &Context, ch: &Challenge) -> Option<String> {
    let (host, token, key) = (&ch.spec.dns_name, &ch.spec.token, &ch.spec.key);
    if ctx.config.http01_self_check {
        let address = ctx.config.http01_self_check_address.as_deref();
        self_check::check(host, token, key, address).await.err()
    } else if ctx.challenges.lookup(host, token).is_none() {
        Some(format!("the responder has not seen the challenge for {host} yet"))
    } else {
        None
    }
}

/// Progress words in `reason`, written when they change; the challenge is tried again later.
async fn note(
    api: &Api<Challenge>,
    ch: &Challenge,
    old: &ChallengeStatus,
    message: &str,
    retry: Duration,
) -> Result<Action, Error> {
    if old.reason.as_deref() != Some(message) {
        let new = ChallengeStatus { reason: Some(message.to_string()), ..old.clone() };
        crate::ssa::replace_status(api, ch, &new).await?;
    }
    Ok(Action::requeue(retry))
}

/// The CA decided (or certsmith cannot go on): final state, cleanup, an Event.
async fn verdict(
    ctx: &Context,
    api: &Api<Challenge>,
    ch: &Challenge,
    state: State,
    reason: &str,
) -> Result<Action, Error> {
    crate::acme::retry_after::forget(&ch.spec.authorization_url);
    clean_up(ctx, ch).await?;
    let new = ChallengeStatus {
        state: Some(state),
        reason: Some(reason.to_string()),
        presented: Some(false),
        processing: Some(false),
    };
    crate::ssa::replace_status(api, ch, &new).await?;
    let failed = state != State::Valid;
    ctx.event(
        &ch.object_ref(&()),
        failed,
        if failed { "Failed" } else { "DomainVerified" },
        reason.into(),
    )
    .await;
    Ok(Action::await_change())
}

async fn set_finalizers(
    api: &Api<Challenge>,
    ch: &Challenge,
    finalizers: Vec<String>,
) -> Result<(), kube::Error> {
    let patch = serde_json::json!({"metadata": {"finalizers": finalizers, "resourceVersion": ch.resource_version()}});
    api.patch(&ch.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

pub fn error_policy(ch: Arc<Challenge>, error: &Error, _: Arc<Context>) -> Action {
    crate::context::retry_after_error("challenge", &ch.name_any(), ch.namespace(), error)
}
