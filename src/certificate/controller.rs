//! The Certificate controller, as stages: load (Certificate, issuer, Secret) → decide (pure)
//! → issue → write the Secret → status → requeue at the renewal time.

use super::policy::{Decision, decide};
use super::{issue, secret, status, support, write};
use crate::api::{Certificate, CertificateStatus, ClusterIssuer, Issuer};
use crate::context::Context;
use crate::issuer::{IssuerView, referenced_kind};
use crate::renewal::backoff;
use crate::validation::{Invalid, validate_certificate};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
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

pub async fn reconcile(cert: Arc<Certificate>, ctx: Arc<Context>) -> Result<Action, Error> {
    let mut cert = (*cert).clone();
    ctx.metrics.reconciled("certificate");
    let now = ctx.now();
    let old = cert.status.clone().unwrap_or_default();
    let generation = cert.metadata.generation;
    let namespace = cert.namespace().unwrap_or_default();

    // load + the checks a user must act on before anything is issued
    if let Err(invalid) = Invalid::check(validate_certificate(&cert.spec)) {
        return block(&ctx, &mut cert, &old, "InvalidSpec", &invalid.to_string()).await;
    }
    let issuer = match load_issuer(&ctx, &cert).await? {
        Ok(issuer) => issuer,
        Err(message) => return block(&ctx, &mut cert, &old, "IssuerNotFound", &message).await,
    };
    if let Some(why) = support::unsupported(&cert.spec, cert.labels(), &issuer) {
        return block(&ctx, &mut cert, &old, "Unsupported", &why).await;
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let target = secrets.get_opt(&cert.spec.secret_name).await?;

    // decide
    let (reason, message) = match decide(&cert, target.as_ref(), now) {
        Decision::NotOwned { message } => {
            return block(&ctx, &mut cert, &old, "SecretNotOwned", &message).await;
        }
        Decision::UpToDate { issued, renewal_time } => {
            let new = status::up_to_date(&old, &issued, renewal_time, generation, now);
            if new != old {
                write::status(&ctx.client, &mut cert, &new).await?;
            }
            ctx.metrics.expires(&namespace, &cert.name_any(), issued.not_after);
            return Ok(requeue_at(renewal_time, now));
        }
        Decision::Backoff { retry_at, .. } => return Ok(requeue_at(retry_at, now)),
        Decision::Issue { reason, message } => (reason, message),
    };

    // issue
    let mut status = status::issuing(&old, reason, &message, generation, now);
    if old
        .conditions
        .iter()
        .flatten()
        .all(|c| c.type_ != "Issuing" || c.reason.as_deref() != Some(reason))
    {
        ctx.event(&cert.object_ref(&()), false, "Issuing", message.clone()).await;
    }
    write::status(&ctx.client, &mut cert, &status).await?;
    let result = match ctx.accounts.get(&ctx.client, &issuer).await {
        Ok((account, _)) => {
            issue::issue(&ctx, &mut cert, &issuer, &account, target.as_ref(), &mut status).await
        }
        Err(e) => Err(e.into()),
    };
    let now = ctx.now();
    match result {
        Ok(outcome) => {
            write::secret(
                &ctx.client,
                &secret::tls_secret(&cert, &outcome.chain, &outcome.key_pem, &outcome.issued),
            )
            .await?;
            if let Some(next) = &status.next_private_key_secret_name {
                write::delete_secret(&ctx.client, &namespace, next).await?;
            }
            let renewal = crate::renewal::for_spec(
                &cert.spec,
                outcome.issued.not_before,
                outcome.issued.not_after,
            );
            let new = status::issued(&status, &outcome.issued, renewal, generation, now);
            write::status(&ctx.client, &mut cert, &new).await?;
            ctx.metrics.issuance("issued");
            ctx.metrics.expires(&namespace, &cert.name_any(), outcome.issued.not_after);
            let note = format!(
                "The certificate has been successfully issued (serial {}, valid until {})",
                outcome.issued.serial, outcome.issued.not_after
            );
            ctx.event(&cert.object_ref(&()), false, "Issued", note).await;
            Ok(requeue_at(renewal, now))
        }
        Err(e) => {
            let message = e.to_string();
            tracing::warn!(certificate = %cert.name_any(), namespace, error = %message, "issuance failed");
            let new = status::failed(&status, &message, e.keeps_order(), generation, now);
            write::status(&ctx.client, &mut cert, &new).await?;
            ctx.metrics.issuance("failed");
            ctx.event(&cert.object_ref(&()), true, "Failed", format!("Issuing failed: {message}"))
                .await;
            let wait = backoff(new.failed_issuance_attempts.unwrap_or(1));
            Ok(Action::requeue(wait.unsigned_abs()))
        }
    }
}

/// Ready=False for something the user must fix, with an Event when the message is new. The
/// Certificate is reconciled again when it, its issuer or its Secret changes.
async fn block(
    ctx: &Context,
    cert: &mut Certificate,
    old: &CertificateStatus,
    reason: &str,
    message: &str,
) -> Result<Action, Error> {
    let new = status::blocked(old, reason, message, cert.metadata.generation, ctx.now());
    if new != *old {
        write::status(&ctx.client, cert, &new).await?;
        ctx.event(&cert.object_ref(&()), true, reason, message.to_string()).await;
    }
    // Secrets are watched only when certsmith labelled them; a foreign one is re-checked hourly.
    Ok(Action::requeue(Duration::from_secs(3600)))
}

/// The referenced issuer, or the message that says why there is none.
async fn load_issuer(
    ctx: &Context,
    cert: &Certificate,
) -> Result<Result<IssuerView, String>, kube::Error> {
    let r = &cert.spec.issuer_ref;
    let Some(kind) = referenced_kind(r) else {
        return Ok(Err(format!(
            "issuerRef.group {:?} is not served by certsmith",
            r.group.as_deref().unwrap_or("")
        )));
    };
    let found = if kind == "ClusterIssuer" {
        let api: Api<ClusterIssuer> = Api::all(ctx.client.clone());
        api.get_opt(&r.name).await?.map(|i| IssuerView::cluster_issuer(&i, &ctx.config.namespace))
    } else {
        let api: Api<Issuer> =
            Api::namespaced(ctx.client.clone(), &cert.namespace().unwrap_or_default());
        api.get_opt(&r.name).await?.map(|i| IssuerView::issuer(&i))
    };
    Ok(found.ok_or_else(|| format!("Referenced {kind} {:?} does not exist", r.name)))
}

/// Requeue at `at`, but at least every 12 hours: a periodic look at the Secret costs one GET,
/// and the runtime's delay queue cannot hold the years a CA-issued certificate may last.
fn requeue_at(at: Timestamp, now: Timestamp) -> Action {
    let wait = at
        .duration_since(now)
        .clamp(jiff::SignedDuration::from_secs(1), jiff::SignedDuration::from_hours(12));
    Action::requeue(wait.unsigned_abs())
}

pub fn error_policy(cert: Arc<Certificate>, error: &Error, _: Arc<Context>) -> Action {
    // A conflict means the cache was behind this controller's own last write: retry soon.
    if let Error::Kube(kube::Error::Api(e)) = error
        && e.code == 409
    {
        return Action::requeue(Duration::from_millis(200));
    }
    tracing::warn!(certificate = %cert.name_any(), namespace = ?cert.namespace(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(5))
}
