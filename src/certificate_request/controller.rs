//! The CertificateRequest controller, as stages: load (the request, its issuer) → approve
//! (built-in approver; or, approved by another, a requester that can be trusted: `admission`)
//! → decide (pure: `sign`) → create the Order / copy its result → status.
//! Requests for issuer groups certsmith does not serve are left to their external issuer.

use super::{approve, local, sign};
use crate::admission::Verdict;
use crate::api::meta::{ConditionStatus, set_condition};
use crate::api::{CertificateRequest, CertificateRequestStatus, IssuerKind, Order};
use crate::context::Context;
use crate::issuer::referenced_kind;
use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

pub async fn reconcile(cr: Arc<CertificateRequest>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.metrics.reconciled("certificaterequests-issuer-acme");
    let Some(kind) = referenced_kind(&cr.spec.issuer_ref) else {
        // An external issuer's request: approved when its signer is named (cert-manager's
        // approver does the same), then signed by that issuer.
        let names = &ctx.config.approve_signer_names;
        if ctx.config.approver_enabled() && !cr.approved() && approve::should_approve(&cr, names) {
            let api: Api<CertificateRequest> =
                Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
            let change = Change {
                type_: "Approved",
                status: ConditionStatus::True,
                reason: approve::REASON,
                message: approve::MESSAGE,
            };
            write(&ctx, &api, &cr, change, None, None).await?;
        }
        return Ok(Action::await_change());
    };
    if cr.finished() {
        return Ok(Action::await_change());
    }
    let api: Api<CertificateRequest> =
        Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());

    if cr.denied() {
        let message = "The CertificateRequest was denied by an approval controller";
        let change =
            Change { type_: "Ready", status: ConditionStatus::False, reason: "Denied", message };
        write(&ctx, &api, &cr, change, None, Some((true, "Denied"))).await?;
        return Ok(Action::await_change());
    }
    let stored = cr.status.clone();
    let mut cr = (*cr).clone();
    if !cr.approved() {
        let names = &ctx.config.approve_signer_names;
        if !(ctx.config.approver_enabled() && approve::should_approve(&cr, names)) {
            // Signing waits for an approval from someone else (an external approver).
            return Ok(Action::await_change());
        }
        // Approved here and written with the first step of signing: one write for both. The
        // condition says it; cert-manager's approver publishes no Event either.
        let status = cr.status.get_or_insert_default();
        set_condition(
            &mut status.conditions,
            "Approved",
            ConditionStatus::True,
            approve::REASON,
            approve::MESSAGE,
            None,
            ctx.now(),
        );
    }
    if !ctx.config.approver_enabled() {
        let created = cr.metadata.creation_timestamp.as_ref().map(|t| t.0);
        match ctx.identities.judge(&ctx.client, created, ctx.now()).await {
            Verdict::Trusted => {}
            Verdict::Wait(wait) => return Ok(Action::requeue(wait)),
            Verdict::Distrusted(why) => return untrusted(&ctx, &api, &cr, &stored, &why).await,
        }
    }
    let namespace = cr.namespace().unwrap_or_default();
    let issuer = match ctx.issuer(&cr.spec.issuer_ref, &namespace) {
        Some(issuer) => issuer,
        None => {
            let refused = ctx.config.scope().refuses(&cr.spec.issuer_ref);
            let message = refused.unwrap_or_else(|| {
                format!("Referenced {kind} {:?} not found", cr.spec.issuer_ref.name)
            });
            return pending(&ctx, &api, &cr, &stored, &message, Some(Duration::from_secs(30)))
                .await;
        }
    };
    let acme = match issuer.spec.kind() {
        IssuerKind::SelfSigned(_) | IssuerKind::Ca(_) => {
            return sign_here(&ctx, &api, &cr, &stored, &issuer).await;
        }
        IssuerKind::Acme(acme) => acme,
        IssuerKind::Unsupported(types) => {
            let message = format!(
                "{} is a {} issuer; certsmith signs through ACME, SelfSigned and CA issuers only",
                issuer.display(),
                types.join(", ")
            );
            return failed(&ctx, &api, &cr, "Failed", &message).await;
        }
    };
    through_order(&ctx, &api, &cr, &stored, acme).await
}

/// Signs through an ACME issuer: the request's Order, made once, and its result copied back.
async fn through_order(
    ctx: &Context,
    api: &Api<CertificateRequest>,
    cr: &CertificateRequest,
    stored: &Option<CertificateRequestStatus>,
    acme: &crate::api::acme::AcmeIssuer,
) -> Result<Action, Error> {
    let requested = match crate::pki::request::read(&cr.spec.request.0) {
        Ok(r) => r,
        Err(e) => return failed(ctx, api, cr, "Failed", &e.to_string()).await,
    };
    let wanted = match sign::order_for(cr, &requested, acme.enable_duration_feature == Some(true)) {
        Ok(o) => o,
        Err(message) => return failed(ctx, api, cr, "Failed", &message).await,
    };
    let orders: Api<Order> =
        Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
    // From the cache, which the Order's own changes (they trigger this) have reached; a miss
    // is a create that, should the cache lag, meets the existing Order and reads it.
    let cached = ObjectRef::new(&wanted.name_any()).within(&cr.namespace().unwrap_or_default());
    let order = match ctx.cache.orders.get(&cached) {
        Some(o) => o,
        None => {
            let made = Arc::new(crate::ssa::create_or_get(&orders, &wanted).await?);
            let name = format!("{}/{}", made.namespace().unwrap_or_default(), made.name_any());
            ctx.event(
                &cr.object_ref(&()),
                false,
                "OrderCreated",
                format!("Created Order resource {name}"),
            )
            .await;
            let message = sign::waiting_message(&made);
            return pending(ctx, api, cr, stored, &message, None).await;
        }
    };
    match sign::outcome(&order) {
        sign::Outcome::Pending(message) => pending(ctx, api, cr, stored, &message, None).await,
        sign::Outcome::Failed(message) => failed(ctx, api, cr, "Failed", &message).await,
        sign::Outcome::Issued(chain) => issued(ctx, api, cr, chain, None).await,
        sign::Outcome::IssuedStored => {
            match ctx.chains.of_order(&ctx.client, &order).await? {
                Some(chain) => issued(ctx, api, cr, chain, None).await,
                // Gone or replaced since the cache saw it: its next change brings this back.
                None => Ok(Action::requeue(Duration::from_secs(5))),
            }
        }
    }
}

/// Signs through a SelfSigned or CA issuer, here and now. A request waiting on its key pair
/// is looked at again when its issuer changes (a CA Secret certsmith writes changes it), and
/// every minute for a Secret no watch sees.
async fn sign_here(
    ctx: &Context,
    api: &Api<CertificateRequest>,
    cr: &CertificateRequest,
    stored: &Option<CertificateRequestStatus>,
    issuer: &crate::issuer::IssuerView,
) -> Result<Action, Error> {
    let signed = local::sign(ctx, cr, issuer, ctx.now()).await?;
    if let Some((reason, note)) = signed.warning {
        ctx.event(&cr.object_ref(&()), true, reason, note.into()).await;
    }
    match signed.outcome {
        local::Outcome::Issued { chain, ca } => {
            issued(ctx, api, cr, chain.into_bytes(), Some(ca.into_bytes())).await
        }
        local::Outcome::Pending { reason, message } => {
            let was_pending = cr.condition("Ready").and_then(|c| c.reason.clone());
            if was_pending.as_deref() != Some("Pending") {
                ctx.event(&cr.object_ref(&()), false, reason, message.clone()).await;
            }
            pending(ctx, api, cr, stored, &message, Some(Duration::from_secs(60))).await
        }
        local::Outcome::Failed { reason, message } => failed(ctx, api, cr, reason, &message).await,
    }
}

/// Approved by an external approver, on an identity that cannot be trusted (see `admission`):
/// not signed. Pending, not failed: the Certificate does not retry into the same refusal, and
/// the request is signed once the policy is in place, if it was made after. Looked at again
/// every minute, as that needs no event of its own.
async fn untrusted(
    ctx: &Context,
    api: &Api<CertificateRequest>,
    cr: &CertificateRequest,
    stored: &Option<CertificateRequestStatus>,
    why: &str,
) -> Result<Action, Error> {
    let message = format!("Not signing: approved by an external approver, but {why}");
    let said = cr.condition("Ready").and_then(|c| c.message.as_deref()) == Some(&message);
    if !said {
        let reason = crate::admission::REASON;
        ctx.event(&cr.object_ref(&()), true, reason, message.clone()).await;
    }
    pending(ctx, api, cr, stored, &message, Some(Duration::from_secs(60))).await
}

/// A condition to set on a request.
struct Change<'a> {
    type_: &'a str,
    status: ConditionStatus,
    reason: &'a str,
    message: &'a str,
}

/// Sets `change` on the request's status (with `failureTime` for Ready=False for good, and the
/// signed chain and CA), writes it, and publishes `event` (warning?, reason) with the same message.
async fn write(
    ctx: &Context,
    api: &Api<CertificateRequest>,
    cr: &CertificateRequest,
    change: Change<'_>,
    signed: Option<(Vec<u8>, Option<Vec<u8>>)>,
    event: Option<(bool, &str)>,
) -> Result<(), Error> {
    let now = ctx.now();
    let mut new = cr.status.clone().unwrap_or_default();
    set_condition(
        &mut new.conditions,
        change.type_,
        change.status,
        change.reason,
        change.message,
        None,
        now,
    );
    if change.type_ == "Ready" && matches!(change.reason, "Failed" | "Denied") {
        new.failure_time = Some(Time(now));
    }
    if let Some((chain, ca)) = signed {
        // Handed over before the write: its watch event may wake the Certificate before this
        // call returns. Used only once the cache shows the write.
        ctx.chains.give(cr, &chain);
        if let Some(ca) = &ca {
            ctx.chains.give_ca(cr, ca);
        }
        new.certificate = Some(ByteString(chain));
        new.ca = ca.map(ByteString);
    }
    crate::ssa::replace_status(api, cr, &new).await?;
    if let Some((warning, reason)) = event {
        ctx.event(&cr.object_ref(&()), warning, reason, change.message.into()).await;
    }
    Ok(())
}

/// Ready=False, Pending: work goes on. Written only when it changes what is `stored`.
async fn pending(
    ctx: &Context,
    api: &Api<CertificateRequest>,
    cr: &CertificateRequest,
    stored: &Option<CertificateRequestStatus>,
    message: &str,
    retry: Option<Duration>,
) -> Result<Action, Error> {
    let same = cr.condition("Ready").is_some_and(|c| {
        c.reason.as_deref() == Some("Pending") && c.message.as_deref() == Some(message)
    });
    if !same || cr.status != *stored {
        let change =
            Change { type_: "Ready", status: ConditionStatus::False, reason: "Pending", message };
        write(ctx, api, cr, change, None, None).await?;
    }
    Ok(retry.map(Action::requeue).unwrap_or_else(Action::await_change))
}

/// Ready=True, Issued: the signed `chain` (and the issuer's `ca`, when it gave one) recorded.
async fn issued(
    ctx: &Context,
    api: &Api<CertificateRequest>,
    cr: &CertificateRequest,
    chain: Vec<u8>,
    ca: Option<Vec<u8>>,
) -> Result<Action, Error> {
    let message = "Certificate fetched from issuer successfully";
    let change =
        Change { type_: "Ready", status: ConditionStatus::True, reason: "Issued", message };
    write(ctx, api, cr, change, Some((chain, ca)), Some((false, "CertificateIssued"))).await?;
    Ok(Action::await_change())
}

/// Ready=False, Failed, for good, with a Warning Event of `event_reason` (cert-manager's reason
/// for the signer's failure): the Certificate controller counts it and makes a new request.
async fn failed(
    ctx: &Context,
    api: &Api<CertificateRequest>,
    cr: &CertificateRequest,
    event_reason: &str,
    message: &str,
) -> Result<Action, Error> {
    let change =
        Change { type_: "Ready", status: ConditionStatus::False, reason: "Failed", message };
    write(ctx, api, cr, change, None, Some((true, event_reason))).await?;
    Ok(Action::await_change())
}
