//! The CertificateRequest controller, as stages: load (the request, its issuer) → approve
//! (built-in approver) → decide (pure: `sign`) → create the Order / copy its result → status.
//! Requests for issuer groups certsmith does not serve are left to their external issuer.

use super::{approve, sign};
use crate::api::meta::{ConditionStatus, set_condition};
use crate::api::{CertificateRequest, CertificateRequestStatus, Order};
use crate::context::Context;
use crate::issuer::referenced_kind;
use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
}

pub async fn reconcile(cr: Arc<CertificateRequest>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.metrics.reconciled("certificaterequest");
    let Some(kind) = referenced_kind(&cr.spec.issuer_ref) else {
        return Ok(Action::await_change());
    };
    if cr.finished() {
        return Ok(Action::await_change());
    }
    let api: Api<CertificateRequest> =
        Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
    let old = cr.status.clone().unwrap_or_default();
    let now = ctx.now();

    if cr.denied() {
        let message = "The CertificateRequest was denied by an approval controller";
        let mut new = old.clone();
        new.failure_time = Some(Time(now));
        set_condition(
            &mut new.conditions,
            "Ready",
            ConditionStatus::False,
            "Denied",
            message,
            None,
            now,
        );
        crate::ssa::replace_status(&api, &*cr, &new).await?;
        ctx.event(&cr.object_ref(&()), true, "Denied", message.into()).await;
        return Ok(Action::await_change());
    }
    if !cr.approved() {
        if ctx.config.approver_enabled() && approve::should_approve(&cr) {
            let mut new = old.clone();
            set_condition(
                &mut new.conditions,
                "Approved",
                ConditionStatus::True,
                approve::REASON,
                approve::MESSAGE,
                None,
                now,
            );
            crate::ssa::replace_status(&api, &*cr, &new).await?;
            ctx.event(&cr.object_ref(&()), false, "cert-manager.io", approve::MESSAGE.into()).await;
        }
        // Signing waits for an approval (this one's write, or an external approver's).
        return Ok(Action::await_change());
    }

    let namespace = cr.namespace().unwrap_or_default();
    let issuer =
        crate::issuer::load(&ctx.client, &ctx.config.namespace, &cr.spec.issuer_ref, &namespace);
    let issuer = match issuer.await? {
        Some(issuer) => issuer,
        None => {
            let message = format!("Referenced {kind} {:?} not found", cr.spec.issuer_ref.name);
            return pending(&ctx, &api, &cr, &old, &message, Some(Duration::from_secs(30))).await;
        }
    };
    let Some(acme) = issuer.spec.acme.as_ref() else {
        let kinds = issuer.spec.configured_types().join(", ");
        let message = format!(
            "{} is a {kinds} issuer; certsmith signs through ACME issuers only",
            issuer.display()
        );
        return failed(&ctx, &api, &cr, &old, &message).await;
    };
    let requested = match crate::pki::request::read(&cr.spec.request.0) {
        Ok(r) => r,
        Err(e) => return failed(&ctx, &api, &cr, &old, &e.to_string()).await,
    };
    let wanted = match sign::order_for(&cr, &requested, acme.enable_duration_feature == Some(true))
    {
        Ok(o) => o,
        Err(message) => return failed(&ctx, &api, &cr, &old, &message).await,
    };
    let orders: Api<Order> =
        Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
    let order = match orders.get_opt(&wanted.name_any()).await? {
        Some(o) => o,
        None => {
            let made = crate::ssa::create_or_get(&orders, &wanted).await?;
            let name = format!("{}/{}", made.namespace().unwrap_or_default(), made.name_any());
            ctx.event(
                &cr.object_ref(&()),
                false,
                "OrderCreated",
                format!("Created Order resource {name}"),
            )
            .await;
            let message = format!("Created Order resource {name}");
            return pending(&ctx, &api, &cr, &old, &message, None).await;
        }
    };
    match sign::outcome(&order) {
        sign::Outcome::Pending(message) => pending(&ctx, &api, &cr, &old, &message, None).await,
        sign::Outcome::Failed(message) => failed(&ctx, &api, &cr, &old, &message).await,
        sign::Outcome::Issued(chain) => {
            let mut new = old.clone();
            new.certificate = Some(ByteString(chain));
            let message = "Certificate fetched from issuer successfully";
            set_condition(
                &mut new.conditions,
                "Ready",
                ConditionStatus::True,
                "Issued",
                message,
                None,
                now,
            );
            crate::ssa::replace_status(&api, &*cr, &new).await?;
            ctx.event(&cr.object_ref(&()), false, "CertificateIssued", message.into()).await;
            Ok(Action::await_change())
        }
    }
}

/// Ready=False, Pending: work goes on. Written only when the message changed.
async fn pending(
    ctx: &Context,
    api: &Api<CertificateRequest>,
    cr: &CertificateRequest,
    old: &CertificateRequestStatus,
    message: &str,
    retry: Option<Duration>,
) -> Result<Action, Error> {
    let same = cr.condition("Ready").is_some_and(|c| {
        c.reason.as_deref() == Some("Pending") && c.message.as_deref() == Some(message)
    });
    if !same {
        let mut new = old.clone();
        set_condition(
            &mut new.conditions,
            "Ready",
            ConditionStatus::False,
            "Pending",
            message,
            None,
            ctx.now(),
        );
        crate::ssa::replace_status(api, cr, &new).await?;
    }
    Ok(retry.map(Action::requeue).unwrap_or_else(Action::await_change))
}

/// Ready=False, Failed, for good: the Certificate controller counts it and makes a new request.
async fn failed(
    ctx: &Context,
    api: &Api<CertificateRequest>,
    cr: &CertificateRequest,
    old: &CertificateRequestStatus,
    message: &str,
) -> Result<Action, Error> {
    let now = ctx.now();
    let mut new = old.clone();
    new.failure_time = Some(Time(now));
    set_condition(
        &mut new.conditions,
        "Ready",
        ConditionStatus::False,
        "Failed",
        message,
        None,
        now,
    );
    crate::ssa::replace_status(api, cr, &new).await?;
    ctx.event(&cr.object_ref(&()), true, "Failed", message.into()).await;
    Ok(Action::await_change())
}

pub fn error_policy(cr: Arc<CertificateRequest>, error: &Error, _: Arc<Context>) -> Action {
    crate::context::retry_after_error("certificaterequest", &cr.name_any(), cr.namespace(), error)
}
