//! The Challenge controller, as stages: finalizer → present → self-check (polled, never fatal,
//! as cert-manager's) → accept at the CA → poll the authorization → clean up. Cleanup runs from
//! the finalizer too, so a Challenge deleted while the operator was down leaves nothing behind;
//! a solver Ingress needs none (the Challenge owns it: the garbage collector deletes it).

use super::trust::{self, Refused};
use crate::acme::order as ca;
use crate::api::order::State;
use crate::api::{Challenge, ChallengeStatus};
use crate::context::Context;
use crate::solver::dns_persist;
use crate::solver::{self, Solver};
use crate::watches::controller_of;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

use crate::api::order::CHALLENGE_FINALIZER as FINALIZER;

/// How a Challenge's reason begins while its solver cannot present it.
pub const PRESENT_FAILED: &str = "presenting the challenge: ";

use crate::error::Error;

pub async fn reconcile(ch: Arc<Challenge>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.metrics.reconciled("challenges");
    let api: Api<Challenge> =
        Api::namespaced(ctx.client.clone(), &ch.namespace().unwrap_or_default());
    if ch.metadata.deletion_timestamp.is_some() {
        return deleted(&ctx, &api, &ch).await;
    }
    let old = ch.status.clone().unwrap_or_default();
    if old.state.is_some_and(State::is_final) {
        if old.presented == Some(true) {
            clean_up(&ctx, &ch).await?;
            let new = ChallengeStatus { presented: Some(false), processing: Some(false), ..old };
            crate::ssa::replace_status(&api, &*ch, &new).await?;
        } else {
            trust::forget(&ch);
        }
        return Ok(Action::await_change());
    }
    // Only a Challenge of an Order certsmith places, answered as that Order and the issuer's
    // current solver say (`trust`): one made or rewritten by hand is left untouched.
    let ch = match trust::load(&ctx, &ch).await {
        Ok(trusted) => Arc::new(trusted),
        Err(Refused::Stranger(why)) => {
            let (meta, object) = (&ch.metadata, ch.object_ref(&()));
            return Ok(
                crate::order::load::untouched(&ctx, meta, &object, "NotOwnedByOrder", why).await
            );
        }
        Err(Refused::Unsolvable(why)) => return present_failed(&ctx, &api, &ch, &old, &why).await,
        Err(Refused::Waiting(why)) => {
            return note(&api, &ch, &old, &why, Duration::from_secs(10)).await;
        }
    };
    let solver = match solver::for_challenge(&ch) {
        Ok(s) => s,
        Err(why) => return present_failed(&ctx, &api, &ch, &old, &why).await,
    };
    // The Order gives a Challenge its finalizer at birth when its solver needs one; one made
    // without it (by another controller, or before the solver said so) gets it here.
    if !ch.finalizers().iter().any(|f| f == FINALIZER) && solver.needs_finalizer(&ch) {
        let mut all = ch.finalizers().to_vec();
        all.push(FINALIZER.into());
        set_finalizers(&api, &ch, all).await?;
        return Ok(Action::await_change());
    }

    // present; recorded by the next status write (presenting again is harmless), so a route
    // that works at once costs one write for presenting and accepting together
    let old = if old.presented != Some(true) {
        if solver.needs_finalizer(&ch) {
            trust::remember(&ch);
        }
        if let Err(e) = solver.present(&ctx, &ch).await {
            return present_failed(&ctx, &api, &ch, &old, &e.message()).await;
        }
        // A dns-persist-01 Challenge presents nothing: no Event says it did.
        if !dns_persist::answers(&ch) {
            let how = solver.challenge_type().as_str();
            let note = format!("Presented challenge using {how} challenge mechanism");
            ctx.event(&ch.object_ref(&()), false, "Presented", note).await;
        }
        ChallengeStatus {
            presented: Some(true),
            presented_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(ctx.now())),
            processing: Some(true),
            state: Some(State::Pending),
            reason: None,
        }
    } else {
        old
    };

    // self-check (or the solver's waitInsteadOfSelfCheck), then accept; accepted challenges
    // are `processing` until the CA decides
    let waits = wait_instead_of_self_check(&ch);
    if old.state != Some(State::Processing)
        && let Some(wait) = waits
    {
        // Without presentedAt (a CRD older than v1.21 prunes it): from the Challenge's birth,
        // which its presentation follows at once.
        let presented_at = old.presented_at.as_ref().map(|t| t.0);
        let born = ch.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(left) = waited(presented_at.or(born), wait, ctx.now()) {
            let message = format!(
                "Waiting {} after the challenge was presented instead of self-checking it \
                 (waitInsteadOfSelfCheck)",
                crate::validation::names::go_duration(wait)
            );
            return note(&api, &ch, &old, &message, left).await;
        }
    } else if old.state != Some(State::Processing)
        && let Some(problem) = solver.check(&ctx, &ch).await?
    {
        // A dns-persist-01 record is written by a person, maybe days later: looked for every
        // 15 s, not every 2 s as a record certsmith just wrote.
        let (message, again) = if dns_persist::answers(&ch) {
            (format!("Waiting for the dns-persist-01 record: {problem}"), 15)
        } else {
            let how = solver.challenge_type().as_str();
            (format!("Waiting for {how} challenge propagation: {problem}"), 2)
        };
        return note(&api, &ch, &old, &message, Duration::from_secs(again)).await;
    }
    at_ca(&ctx, &api, &ch, solver, old).await
}

/// A Challenge being deleted: what it presented is removed, then its finalizer. A verdict
/// that already cleaned up said so with `presented: false`.
async fn deleted(ctx: &Context, api: &Api<Challenge>, ch: &Challenge) -> Result<Action, Error> {
    if ch.finalizers().iter().any(|f| f == FINALIZER) {
        let presented = ch.status.as_ref().and_then(|s| s.presented);
        // `None`: perhaps presented, the write that said so lost; what certsmith cannot
        // rebuild it did not present (a hand-made Challenge), so nothing is removed for it.
        if presented != Some(false) {
            clean_up(ctx, ch).await?;
        }
        let rest: Vec<_> = ch.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
        set_finalizers(api, ch, rest).await?;
    }
    trust::forget(ch);
    Ok(Action::await_change())
}

/// The solver cannot present the challenge: said in `reason` (the Order reads it there while
/// `presented` is not true) and in cert-manager's Event, once per wording.
async fn present_failed(
    ctx: &Context,
    api: &Api<Challenge>,
    ch: &Challenge,
    old: &ChallengeStatus,
    why: &str,
) -> Result<Action, Error> {
    let message = format!("{PRESENT_FAILED}{why}");
    ctx.event(&ch.object_ref(&()), true, "PresentError", message.clone()).await;
    note(api, ch, old, &message, Duration::from_secs(10)).await
}

/// Accepts the challenge at the CA (once), then polls its authorization for the verdict.
async fn at_ca(
    ctx: &Context,
    api: &Api<Challenge>,
    ch: &Challenge,
    solver: &dyn Solver,
    old: ChallengeStatus,
) -> Result<Action, Error> {
    let Some(order_url) = order_url(ctx, ch) else {
        return note(api, ch, &old, "Waiting for the Order's URL", Duration::from_secs(5)).await;
    };
    let Some(issuer) = ctx.issuer(&ch.spec.issuer_ref, &ch.namespace().unwrap_or_default()) else {
        return note(api, ch, &old, "Referenced issuer not found", Duration::from_secs(30)).await;
    };
    let server = issuer.spec.acme.as_ref().map(|a| a.server.clone()).unwrap_or_default();
    let account = match ctx.account(&issuer).await {
        Ok((a, _)) => a,
        Err(e) => return note(api, ch, &old, &e.to_string(), Duration::from_secs(30)).await,
    };
    let accept = old.state != Some(State::Processing);
    let url = &ch.spec.authorization_url;
    // Waiting for the CA's verdict: not sooner than its Retry-After for the authorization.
    if !accept && let Some(wait) = crate::acme::retry_after::wait(url, ctx.now()) {
        return Ok(Action::requeue(wait));
    }
    let kind = if dns_persist::answers(ch) {
        dns_persist::TYPE
    } else {
        solver.challenge_type().acme_name()
    };
    let answer = ca::authorization(&account, &server, &order_url, url, accept, kind).await;
    match answer {
        Err(e) if let Some(retry) = e.transient() => {
            note(api, ch, &old, &e.to_string(), retry).await
        }
        Err(e) => verdict(ctx, api, ch, State::Errored, &e.to_string()).await,
        Ok((State::Valid, _)) => {
            verdict(ctx, api, ch, State::Valid, "Successfully authorized domain").await
        }
        Ok((state, problem)) if state.is_failure() => {
            let why = problem.unwrap_or_else(|| format!("the authorization is {}", state.as_str()));
            verdict(ctx, api, ch, state, &why).await
        }
        Ok(_) => {
            if accept {
                let new = ChallengeStatus {
                    state: Some(State::Processing),
                    reason: Some("Waiting for the CA to validate the challenge".into()),
                    ..old
                };
                crate::ssa::replace_status(api, ch, &new).await?;
            }
            Ok(Action::requeue(crate::acme::retry_after::next_poll(url, ctx.now())))
        }
    }
}

/// Removes what certsmith presented for the Challenge, as rebuilt from its Order (never as its
/// spec says now); one it presented but can no longer rebuild is said in an Event.
async fn clean_up(ctx: &Context, ch: &Challenge) -> Result<(), Error> {
    let Some(trusted) = trust::presented(ctx, ch) else {
        if ch.status.as_ref().and_then(|s| s.presented) == Some(true) {
            let note = "certsmith cannot rebuild what it presented for this challenge (its \
                        Order is gone and certsmith was restarted since, or its spec was \
                        changed since it was made): a TXT record or an edited Ingress rule it \
                        presented is left in place for an administrator to remove (solver \
                        Ingresses and routes go with the Challenge)";
            ctx.event(&ch.object_ref(&()), true, "CleanUpSkipped", note.into()).await;
        }
        trust::forget(ch);
        return Ok(());
    };
    if let Ok(solver) = solver::for_challenge(&trusted) {
        solver.clean_up(ctx, &trusted).await?;
    }
    trust::forget(ch);
    Ok(())
}

/// The owning Order's URL at the CA (instant-acme reaches an authorization through its order).
fn order_url(ctx: &Context, ch: &Challenge) -> Option<String> {
    let order = controller_of(
        &ctx.cache.orders,
        &ch.namespace().unwrap_or_default(),
        ch.owner_references(),
    );
    order.and_then(|o| o.status.as_ref()?.url.clone())
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
        presented_at: ch.status.as_ref().and_then(|s| s.presented_at.clone()),
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

/// The solver's `waitInsteadOfSelfCheck`, when set (0 accepts at once).
fn wait_instead_of_self_check(ch: &Challenge) -> Option<Duration> {
    let wait = ch.spec.solver.wait_instead_of_self_check.as_deref()?;
    crate::validation::names::parse_duration(wait).ok()
}

/// How much longer to wait after a presentation at `presented_at` (none known: all of it), or
/// `None` once `wait` has passed. Pure.
fn waited(
    presented_at: Option<jiff::Timestamp>,
    wait: Duration,
    now: jiff::Timestamp,
) -> Option<Duration> {
    let Some(at) = presented_at else { return Some(wait).filter(|w| !w.is_zero()) };
    let since = Duration::try_from(now.duration_since(at)).unwrap_or_default();
    wait.checked_sub(since).filter(|left| !left.is_zero())
}

#[cfg(test)]
mod wait_tests {
    use super::*;

    #[test]
    fn waiting_instead_of_self_checking_counts_from_the_presentation() {
        let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        let now = t("2026-01-01T00:01:00Z");
        let s = Duration::from_secs;
        let table = [
            (Some("2026-01-01T00:00:30Z"), s(60), Some(s(30))),
            (Some("2026-01-01T00:00:00Z"), s(60), None),
            (Some("2026-01-01T00:00:59Z"), s(0), None),
            (None, s(45), Some(s(45))),
            (None, s(0), None),
        ];
        for (at, wait, want) in table {
            assert_eq!(waited(at.map(t), wait, now), want, "{at:?} {wait:?}");
        }
    }
}
