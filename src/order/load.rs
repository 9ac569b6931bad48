//! The Order step's load stage: what an Order's reconcile reads from the caches besides the
//! Order — the CertificateRequest it is placed for (the gate) and the solver overrides.

use super::trust;
use crate::api::Order;
use crate::context::Context;
use crate::watches::controller_of;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::time::Duration;

/// How long an object that is not (yet) one certsmith acts for is looked at again, in case what
/// makes it one (its owner) reaches the cache after it.
const PATIENCE: Duration = Duration::from_secs(30);

/// `None` when `order` is one certsmith places (see [`trust::acted_for`]); else it is left
/// untouched, looked at again while it is young, then said why in an Event.
pub async fn gate(ctx: &Context, order: &Order) -> Option<Action> {
    let why = placed(ctx, order).err()?;
    Some(
        untouched(ctx, &order.meta().clone(), &order.object_ref(&()), "NotOwnedByRequest", why)
            .await,
    )
}

/// Whether certsmith places `order`: [`trust::acted_for`] with the CertificateRequest that
/// controls it, from the cache (the Order step's gate and the Challenge step's share it).
pub fn placed(ctx: &Context, order: &Order) -> Result<(), String> {
    let namespace = order.namespace().unwrap_or_default();
    let cr = controller_of(&ctx.cache.requests, &namespace, order.owner_references());
    trust::acted_for(order, cr.as_deref())
}

/// An object certsmith leaves untouched: looked at again in 5 s while it is young, else an
/// Event with `reason` says why and only a change of it wakes it.
pub async fn untouched(
    ctx: &Context,
    meta: &ObjectMeta,
    object: &k8s_openapi::api::core::v1::ObjectReference,
    reason: &str,
    why: String,
) -> Action {
    let born = meta.creation_timestamp.as_ref().map(|t| t.0);
    if born.is_some_and(|b| ctx.now().duration_since(b).unsigned_abs() < PATIENCE) {
        return Action::requeue(Duration::from_secs(5));
    }
    let note = format!("Left untouched: {why}");
    ctx.event(object, true, reason, note).await;
    Action::await_change()
}

/// cert-manager's solver overrides for the Order's Challenges: its own annotations (copied from
/// its request, as cert-manager copies them); for an Order an earlier certsmith made, which
/// carries none, its Certificate's (through its request, from the caches), so an issuance in
/// flight across the upgrade keeps its edit in place or class.
pub fn overrides(ctx: &Context, order: &Order) -> std::collections::BTreeMap<String, String> {
    let pick = crate::api::acme::solver_overrides;
    let own = pick(order.annotations());
    if !own.is_empty() {
        return own;
    }
    let namespace = order.namespace().unwrap_or_default();
    let cr = controller_of(&ctx.cache.requests, &namespace, order.owner_references());
    let cert =
        cr.and_then(|r| controller_of(&ctx.cache.certificates, &namespace, r.owner_references()));
    cert.map(|c| pick(c.annotations())).unwrap_or_default()
}
