//! The Order controller: a state machine, one step per reconcile, state in `Order.status`:
//! create at the CA (URL recorded) → one Challenge per pending authorization → wait for them →
//! `ready` recorded → finalize → `processing` polled → `valid`: the chain downloaded. Every step
//! starts from the CA's word on the stored URL, so a killed operator or a new leader finishes
//! the same order.

use super::budget::{self, Verdict};
use super::{chain, plan};
use crate::acme::signed::Signed;
use crate::acme::{AcmeError, order as ca};
use crate::api::acme::AcmeIssuer;
use crate::api::order::State;
use crate::api::{Challenge, Order, OrderStatus};
use crate::certificate_request::sign::ANN_REPLACES;
use crate::context::Context;
use crate::issuer::IssuerView;
use crate::solver::dns_persist;
use crate::validation::names::parse_duration;
use instant_acme::Account;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

pub async fn reconcile(order: Arc<Order>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.metrics.reconciled("orders");
    let namespace = order.namespace().unwrap_or_default();
    let api: Api<Order> = Api::namespaced(ctx.client.clone(), &namespace);
    let old = order.status.clone().unwrap_or_default();
    // Valid is finished once the chain is stored: a CA may answer finalize with `valid` at
    // once (no `processing`), and the chain is then still to download.
    if crate::chains::order_finished(&old) {
        ctx.budgets.finished(&budget::ledger_key(&order)).await;
        delete_challenges(&ctx, &order).await?;
        return Ok(Action::await_change());
    }
    if let Some(action) = super::load::gate(&ctx, &order).await {
        return Ok(action);
    }
    let at = At { ctx: &ctx, api: &api, order: &order, old: &old };
    let (issuer, acme, account) = match at.issuer_and_account().await? {
        Ok(found) => found,
        Err(action) => return Ok(action),
    };
    let server = acme.server.as_str();
    let Some(url) = old.url.clone() else {
        return at.open(&issuer, &account).await;
    };
    // The CA said when to ask again (Retry-After): not before.
    if let Some(wait) = crate::acme::retry_after::wait(&url, ctx.now()) {
        return Ok(Action::requeue(wait));
    }
    let mut at_ca = match ca::open(&account, server, &url).await {
        Ok(o) => o,
        Err(e) => return ca_failed(&ctx, &api, &order, &old, server, e).await,
    };
    match ca::order_state(&mut at_ca) {
        State::Pending => at.pending(&issuer, &acme, &account, &mut at_ca).await,
        State::Ready => at.ready(&issuer, &account, at_ca, &url).await,
        State::Processing => {
            if old.state != Some(State::Processing) {
                record(&api, &order, &old, State::Processing).await?;
            }
            Ok(Action::requeue(crate::acme::retry_after::next_poll(&url, ctx.now())))
        }
        State::Valid => chain::complete(&ctx, &api, &order, &old, &issuer, &account, at_ca).await,
        failed => {
            let reason = ca::failure(&mut at_ca).await;
            finish(&ctx, &api, &order, &old, failed, &reason).await
        }
    }
}

/// One reconcile of one Order: what each state's step reads.
struct At<'a> {
    ctx: &'a Context,
    api: &'a Api<Order>,
    order: &'a Order,
    old: &'a OrderStatus,
}

impl At<'_> {
    /// The ACME issuer, its `acme` block and its account; `Err` is what to do instead (the
    /// reason is written).
    async fn issuer_and_account(
        &self,
    ) -> Result<Result<(IssuerView, AcmeIssuer, Account), Action>, Error> {
        let At { ctx, api, order, old } = *self;
        let namespace = order.namespace().unwrap_or_default();
        let Some(issuer) = ctx.issuer(&order.spec.issuer_ref, &namespace) else {
            let message = format!("Referenced issuer {:?} not found", order.spec.issuer_ref.name);
            return waiting(api, order, old, &message, Duration::from_secs(30)).await.map(Err);
        };
        let Some(acme) = issuer.spec.acme.clone() else {
            let why = "the issuer is not an ACME issuer";
            return finish(ctx, api, order, old, State::Errored, why).await.map(Err);
        };
        let action = match ctx.account(&issuer).await {
            Ok((account, _)) => return Ok(Ok((issuer, acme, account))),
            // An account the CA refused ends an order not opened yet (it loses nothing): the
            // Certificate counts the failure, says why, and retries after its backoff.
            // A CA that did not answer is waited for, whatever the step: it decided nothing.
            Err(e) if old.url.is_none() && e.transient().is_none() => {
                finish(ctx, api, order, old, State::Errored, &e.to_string()).await
            }
            Err(e) => {
                let retry = e.transient().unwrap_or(Duration::from_secs(30));
                waiting(api, order, old, &e.to_string(), retry).await
            }
        };
        action.map(Err)
    }

    /// No URL yet: the order is opened at the CA, within the account's budget, and its URL
    /// recorded at once.
    async fn open(&self, issuer: &IssuerView, account: &Account) -> Result<Action, Error> {
        let At { ctx, api, order, old } = *self;
        let server = issuer.spec.acme.as_ref().map(|a| a.server.as_str()).unwrap_or_default();
        // The account's budget first: a mass renewal queues here rather than at the CA.
        let ledger = budget::ledger_key(order);
        let _ = ctx.cache.orders.wait_until_ready().await;
        let stored: Vec<_> = ctx
            .cache
            .orders
            .state()
            .into_iter()
            .filter(|o| budget::ledger_key(o) == ledger)
            .collect();
        let annotation = budget::issuer_annotation(ctx, order);
        let limits = ctx.config.order_limits(server, annotation.as_deref());
        match ctx.budgets.admit(&ledger, order, &stored, ctx.now(), &limits).await {
            Verdict::Open => {}
            Verdict::Stale => return Ok(Action::requeue(Duration::from_secs(1))),
            Verdict::Wait { retry, why } => {
                ctx.metrics.order_held("budget");
                return waiting(api, order, old, &why, retry).await;
            }
        }
        let created = open_at_ca(ctx, issuer, account, order).await;
        if created.is_err() {
            ctx.budgets.refund(&ledger, order).await;
        }
        let mut made = match created {
            Ok(o) => o,
            // Nothing was opened: asked again soon, through an account registered anew.
            Err(e) if e.account_gone() => {
                ctx.accounts.forget(server).await;
                return waiting(api, order, old, &e.to_string(), Duration::from_secs(1)).await;
            }
            Err(e) if let Some(retry) = e.transient() => {
                return waiting(api, order, old, &e.to_string(), retry).await;
            }
            // The CA's own limit: every order of the account waits until it lifts, and this
            // one is not failed (a failure would add the Certificate's backoff on top).
            Err(e) if let Some(until) = e.rate_limited_until(ctx.now()) => {
                ctx.budgets.pause(&ledger, until).await;
                ctx.metrics.order_held("rate_limited");
                let retry = until.duration_since(ctx.now()).unsigned_abs();
                return waiting(api, order, old, &e.to_string(), retry).await;
            }
            Err(e) => {
                return finish(ctx, api, order, old, State::Errored, &e.to_string()).await;
            }
        };
        ctx.metrics.order_created();
        let mut new = old.clone();
        new.url = Some(made.url().to_string());
        new.finalize_url = Some(made.state().finalize.clone());
        new.state = Some(ca::order_state(&mut made));
        // The URL is what matters: recorded now; authorizations not read are read next time.
        new.authorizations = ca::authorizations(&mut made, server).await.ok();
        new.reason = None;
        crate::ssa::replace_status(api, order, &new).await?;
        Ok(Action::requeue(Duration::from_secs(5)))
    }

    /// `pending`: one Challenge per pending authorization, made once; the Order's reason
    /// names a Challenge that cannot be presented.
    async fn pending(
        &self,
        issuer: &IssuerView,
        acme: &AcmeIssuer,
        account: &Account,
        at_ca: &mut instant_acme::Order,
    ) -> Result<Action, Error> {
        let At { ctx, api, order, old } = *self;
        let server = acme.server.as_str();
        let authorizations = match &old.authorizations {
            Some(a) => a.clone(),
            None => match ca::authorizations(at_ca, server).await {
                Ok(a) => a,
                Err(e) => return ca_failed(ctx, api, order, old, server, e).await,
            },
        };
        let solvers = acme.solvers.clone().unwrap_or_default();
        let thumbprint = account.key_thumbprint();
        let overrides = super::load::overrides(ctx, order);
        let persist = match dns_persist::persist(issuer, account.id(), ctx.now()).await {
            Ok(p) => p,
            Err(message) => {
                return waiting(api, order, old, &message, Duration::from_secs(60)).await;
            }
        };
        let planned = plan::challenges(
            order,
            &overrides,
            &authorizations,
            &solvers,
            thumbprint,
            persist.as_ref(),
        );
        let wanted = match planned {
            Ok(w) => w,
            Err(message) => return finish(ctx, api, order, old, State::Errored, &message).await,
        };
        let existing = ctx.challenges.owned_by(&order.uid().unwrap_or_default());
        let namespace = order.namespace().unwrap_or_default();
        let challenges: Api<Challenge> = Api::namespaced(ctx.client.clone(), &namespace);
        for want in &wanted {
            if !existing.iter().any(|c| c.name_any() == want.name_any()) {
                let made = crate::ssa::create_or_get(&challenges, want).await?;
                let (name, domain) = (made.name_any(), &made.spec.dns_name);
                let note = format!("Created Challenge resource {name:?} for domain {domain:?}");
                ctx.event(&order.object_ref(&()), false, "Created", note).await;
            }
        }
        let mut new = old.clone();
        new.state = Some(State::Pending);
        new.authorizations = Some(authorizations);
        new.reason = plan::stuck(&existing);
        if new != *old {
            crate::ssa::replace_status(api, order, &new).await?;
        }
        // Challenge changes wake this Order; the CA is asked again at most every 10 s otherwise.
        Ok(Action::requeue(Duration::from_secs(10)))
    }

    /// `ready`: finalized without recording `ready` first. After a restart the CA's state says
    /// what was done (finalizing again a `ready` order is harmless), and each state written is
    /// a write for the Order and a wake-up for its request. A CA that answers `valid` at once
    /// gets the chain downloaded now; `processing` is recorded if the next poll still sees it.
    async fn ready(
        &self,
        issuer: &IssuerView,
        account: &Account,
        mut at_ca: instant_acme::Order,
        url: &str,
    ) -> Result<Action, Error> {
        let At { ctx, api, order, old } = *self;
        let server = issuer.spec.acme.as_ref().map(|a| a.server.as_str()).unwrap_or_default();
        let der = match pem::parse(&order.spec.request.0) {
            Ok(p) => p.into_contents(),
            Err(_) => order.spec.request.0.clone(),
        };
        if let Err(e) = ca::finalize(&mut at_ca, server, &der).await {
            return ca_failed(ctx, api, order, old, server, e).await;
        }
        match ca::order_state(&mut at_ca) {
            State::Valid => chain::complete(ctx, api, order, old, issuer, account, at_ca).await,
            State::Processing => {
                Ok(Action::requeue(crate::acme::retry_after::next_poll(url, ctx.now())))
            }
            now => {
                record(api, order, old, now).await?;
                Ok(Action::requeue(Duration::ZERO))
            }
        }
    }
}

/// Opens the order at the CA: through instant-acme, or, when it asks for a `duration`
/// (`enableDurationFeature`, sent as `notAfter`) or renews a certificate (`replaces`, ARI),
/// through the account's own signed request.
async fn open_at_ca(
    ctx: &Context,
    issuer: &IssuerView,
    account: &Account,
    order: &Order,
) -> Result<instant_acme::Order, AcmeError> {
    let acme = issuer.spec.acme.as_ref();
    let server = acme.map(|a| a.server.as_str()).unwrap_or_default();
    let profile = acme.and_then(|a| a.profile.as_deref());
    let mut identifiers = order.spec.dns_names.clone().unwrap_or_default();
    identifiers.extend(order.spec.ip_addresses.iter().flatten().cloned());
    // Where an older Order schema pruned spec.replaces, the annotation still says it.
    let replaces =
        order.spec.replaces.clone().or_else(|| order.annotations().get(ANN_REPLACES).cloned());
    let not_after = match order.spec.duration.as_deref() {
        None if replaces.is_none() => {
            return ca::create(account, server, &identifiers, profile).await;
        }
        None => None,
        Some(duration) => {
            let bad = |why: String| AcmeError::Account(format!("duration {duration:?}: {why}"));
            let lifetime = parse_duration(duration).map_err(bad)?;
            let lifetime =
                jiff::SignedDuration::try_from(lifetime).map_err(|e| bad(e.to_string()))?;
            Some(ctx.now().checked_add(lifetime).map_err(|e| bad(e.to_string()))?)
        }
    };
    let mut signed = Signed::open(&ctx.client, issuer, account.id()).await?;
    let url = signed.new_order(&identifiers, profile, not_after, replaces.as_deref()).await?;
    ca::open(account, server, &url).await
}

async fn record(
    api: &Api<Order>,
    order: &Order,
    old: &OrderStatus,
    state: State,
) -> Result<(), kube::Error> {
    let mut new = old.clone();
    new.state = Some(state);
    new.reason = None;
    crate::ssa::replace_status(api, order, &new).await?;
    Ok(())
}

/// Something is in the way that may pass (no issuer yet, no account): said in `reason`.
async fn waiting(
    api: &Api<Order>,
    order: &Order,
    old: &OrderStatus,
    message: &str,
    retry: Duration,
) -> Result<Action, Error> {
    if old.reason.as_deref() != Some(message) {
        let mut new = old.clone();
        new.reason = Some(message.to_string());
        crate::ssa::replace_status(api, order, &new).await?;
    }
    Ok(Action::requeue(retry))
}

/// A CA that decided nothing (unreachable, a nonce refused, its own error) is waited for; a CA
/// that refuses ends the order (the Certificate retries with a new one after its backoff).
pub(super) async fn ca_failed(
    ctx: &Context,
    api: &Api<Order>,
    order: &Order,
    old: &OrderStatus,
    server: &str,
    e: AcmeError,
) -> Result<Action, Error> {
    if e.account_gone() {
        // The order went with its account: it ends, and the Certificate's next one is placed
        // through an account registered anew.
        ctx.accounts.forget(server).await;
    }
    match e.transient() {
        Some(retry) => waiting(api, order, old, &e.to_string(), retry).await,
        None => finish(ctx, api, order, old, State::Errored, &e.to_string()).await,
    }
}

/// The order ended badly: state, the CA's (or certsmith's) words, an Event; challenges go.
async fn finish(
    ctx: &Context,
    api: &Api<Order>,
    order: &Order,
    old: &OrderStatus,
    state: State,
    reason: &str,
) -> Result<Action, Error> {
    let mut new = old.clone();
    new.state = Some(state);
    new.reason = Some(reason.to_string());
    new.failure_time = Some(Time(ctx.now()));
    crate::ssa::replace_status(api, order, &new).await?;
    if let Some(url) = &old.url {
        crate::acme::retry_after::forget(url);
    }
    ctx.event(
        &order.object_ref(&()),
        true,
        "Failed",
        format!("Order {}: {reason}", state.as_str()),
    )
    .await;
    delete_challenges(ctx, order).await?;
    Ok(Action::await_change())
}

/// A finished order's Challenges are deleted; their finalizer cleans up what they presented.
async fn delete_challenges(ctx: &Context, order: &Order) -> Result<(), kube::Error> {
    let api: Api<Challenge> =
        Api::namespaced(ctx.client.clone(), &order.namespace().unwrap_or_default());
    for c in ctx.challenges.owned_by(&order.uid().unwrap_or_default()) {
        if c.metadata.deletion_timestamp.is_none() {
            crate::ssa::delete(&api, &c.name_any()).await?;
        }
    }
    Ok(())
}
