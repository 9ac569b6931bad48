//! One issuance of a Certificate, a step per reconcile, every step resumable from the cluster:
//! the next private key (a generateName Secret recorded in `status.nextPrivateKeySecretName`) →
//! the CertificateRequest for the next revision → its result, checked, into the Secret. Who signs
//! the request (certsmith's ACME issuers, or an external issuer) is not this step's concern.

use super::{Context, request, secret, status, write};
use crate::api::certificate::RotationPolicy;
use crate::api::{Certificate, CertificateRequest};
use crate::certificate_request::sign::{ANN_REPLACES, pending_why};
use crate::pki::inspect::parse_chain;
use crate::pki::key::{KeySpec, parse_pem, to_pem};
use crate::pki::{PkiError, csr};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use rcgen::PublicKeyData;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

/// Takes the next step of an issuance wanted for `reason`; `target` is the Secret as read;
/// `sans` is what the issuer wants in the CSR.
pub async fn step(
    ctx: &Context,
    cert: &mut Certificate,
    target: Option<&Secret>,
    requests: &[&Arc<CertificateRequest>],
    reason: &'static str,
    message: &str,
    sans: csr::Sans,
) -> Result<Action, Error> {
    let old = cert.status.clone().unwrap_or_default();
    let generation = cert.metadata.generation;
    let now = ctx.now();
    let starting = !status::issuing_for(&old, reason);
    let (key, key_secret, generated) = private_key(ctx, cert, target).await?;
    // One status write for both: the issuance starting, and where its new key is kept.
    let mut new = if starting {
        status::issuing(&old, reason, message, generation, now)
    } else {
        old.clone()
    };
    if generated {
        new.next_private_key_secret_name = key_secret.clone();
    }
    if new != old {
        write::status(&ctx.client, cert, &new).await?;
    }
    if starting {
        ctx.event(&cert.object_ref(&()), false, "Issuing", message.to_string()).await;
    }
    if let Some(name) = key_secret.as_ref().filter(|_| generated) {
        let note = format!("Stored new private key in temporary Secret resource {name:?}");
        ctx.event(&cert.object_ref(&()), false, "Generated", note).await;
    }
    let revision = cert.status.as_ref().and_then(|s| s.revision).unwrap_or(0) + 1;
    let spki = key.subject_public_key_info();
    let existing = requests.iter().find(|r| r.revision() == Some(revision));
    let api: Api<CertificateRequest> =
        Api::namespaced(ctx.client.clone(), &cert.namespace().unwrap_or_default());

    let Some(cr) = existing else {
        let csr = crate::pki::request::to_pem(&csr::build(&cert.spec, &key, sans)?);
        // The Secret the key is read from (a SelfSigned issuer signs with it): the next-key
        // Secret, or the target itself when `rotationPolicy: Never` reuses its key.
        let key_source = key_secret.as_deref().unwrap_or(&cert.spec.secret_name);
        let mut cr = request::build(cert, revision, Some(key_source), &csr);
        // A renewal names the certificate it replaces (ARI, RFC 9773 §5).
        if let Some(id) = target.and_then(super::ari::cert_id) {
            cr.annotations_mut().insert(ANN_REPLACES.into(), id);
        }
        let made = crate::ssa::create_or_get(&api, &cr).await?;
        ctx.event(
            &cert.object_ref(&()),
            false,
            "Requested",
            format!("Created new CertificateRequest resource {:?}", made.name_any()),
        )
        .await;
        return Ok(Action::requeue(Duration::from_secs(3600)));
    };

    let last_failure = cert.status.as_ref().and_then(|s| s.last_failure_time.clone());
    let failure_recorded = cr.failed()
        && match (failure_time(cr), last_failure) {
            (Some(failed_at), Some(recorded)) => failed_at <= recorded.0,
            _ => false,
        };
    let stale = !request::made_with_key(cr, &spki)
        || request::mismatches(cert, cr).is_ok_and(|f| !f.is_empty());
    if failure_recorded || (stale && !cr.failed()) {
        // A failed attempt already counted, or a request for a key or spec that is no longer
        // wanted: make room for a new one under the same name.
        crate::ssa::delete(&api, &cr.name_any()).await?;
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    if cr.failed() {
        let why = cr
            .condition("Ready")
            .and_then(|c| c.message.clone())
            .or_else(|| cr.condition("Denied").and_then(|c| c.message.clone()))
            .unwrap_or_else(|| "the request failed".into());
        return fail(
            ctx,
            cert,
            &format!("The CertificateRequest {:?} failed: {why}", cr.name_any()),
        )
        .await;
    }
    let signed = cr.status.as_ref().and_then(|s| s.certificate.as_ref()).is_some()
        && cr
            .condition("Ready")
            .is_some_and(|c| c.status == crate::api::meta::ConditionStatus::True);
    if !signed {
        // Not signed yet; the request's status changes bring the next step. What it waits on
        // (its Order: the account's order budget, an unreachable CA; a CA issuer's key pair) is
        // said here too.
        let pending = cr.condition("Ready").filter(|c| c.reason.as_deref() == Some("Pending"));
        let wait = pending.and_then(|c| pending_why(c.message.as_deref()?).map(str::to_string));
        let shown = match wait {
            Some(why) => format!("{message}; {why}"),
            None => message.to_string(),
        };
        let old = cert.status.clone().unwrap_or_default();
        let new = status::issuing(&old, reason, &shown, generation, ctx.now());
        if new != old {
            write::status(&ctx.client, cert, &new).await?;
        }
        return Ok(Action::requeue(Duration::from_secs(3600)));
    }
    let Some(chain) = ctx.chains.of_request(&ctx.client, cr).await? else {
        // Gone or replaced since the cache saw it: its next change brings this back.
        return Ok(Action::requeue(Duration::from_secs(5)));
    };
    let chain = String::from_utf8_lossy(&chain).into_owned();
    let issued = match parse_chain(&chain) {
        Ok(i) => i,
        Err(e) => {
            return fail(
                ctx,
                cert,
                &format!("the issuer returned a certificate that cannot be read: {e}"),
            )
            .await;
        }
    };
    if !issued.matches_key(&key) {
        return fail(
            ctx,
            cert,
            "the issuer returned a certificate that does not match the private key",
        )
        .await;
    }
    if let Err((have, want)) = csr::names_match(&cert.spec, &issued) {
        let message = format!("the issuer returned a certificate for [{have}] instead of [{want}]");
        return fail(ctx, cert, &message).await;
    }
    let ca = cr
        .status
        .as_ref()
        .and_then(|s| s.ca.as_ref())
        .map(|c| String::from_utf8_lossy(&c.0).into_owned());
    let encoding = cert.spec.private_key.as_ref().and_then(|k| k.encoding);
    let tls = secret::tls_secret(cert, &chain, &to_pem(&key, encoding)?, &issued, ca.as_deref());
    write::secret(&ctx.client, &tls).await?;
    let namespace = cert.namespace().unwrap_or_default();
    if let Some(next) = key_secret {
        write::delete_secret(&ctx.client, &namespace, &next).await?;
        remember_key(ctx, format!("{namespace}/{next}"), None);
    }
    let renewal = crate::renewal::for_spec(&cert.spec, issued.not_before, issued.not_after);
    let old = cert.status.clone().unwrap_or_default();
    let mut new = status::issued(&old, &issued, renewal, generation, ctx.now());
    new.revision = Some(revision);
    write::status(&ctx.client, cert, &new).await?;
    ctx.metrics.issuance("issued");
    tracing::info!(certificate = %cert.name_any(), namespace, serial = %issued.serial, not_after = %issued.not_after, "issued");
    ctx.event(
        &cert.object_ref(&()),
        false,
        "Issuing",
        "The certificate has been successfully issued".into(),
    )
    .await;
    Ok(super::controller::requeue_at(renewal, ctx.now()))
}

/// When the request failed, by its `failureTime` (or its Ready condition's transition).
fn failure_time(cr: &CertificateRequest) -> Option<jiff::Timestamp> {
    let status = cr.status.as_ref()?;
    status
        .failure_time
        .as_ref()
        .or(cr.condition("Ready").and_then(|c| c.last_transition_time.as_ref()))
        .map(|t| t.0)
}

/// Records a failed attempt: counted, timed, an Event, and a retry after the backoff.
async fn fail(ctx: &Context, cert: &mut Certificate, message: &str) -> Result<Action, Error> {
    let old = cert.status.clone().unwrap_or_default();
    let new = status::failed(&old, message, cert.metadata.generation, ctx.now());
    write::status(&ctx.client, cert, &new).await?;
    ctx.metrics.issuance("failed");
    tracing::warn!(certificate = %cert.name_any(), namespace = ?cert.namespace(), error = %message, "issuance failed");
    let note =
        format!("The certificate request has failed to complete and will be retried: {message}");
    ctx.event(&cert.object_ref(&()), true, "Failed", note).await;
    let wait = crate::renewal::backoff(new.failed_issuance_attempts.unwrap_or(1));
    Ok(Action::requeue(wait.unsigned_abs()))
}

/// The key to request with, the Secret it is kept in, and whether it was just made: the
/// recorded next key, the stored one under `rotationPolicy: Never`, else a new one, stored in a
/// Secret before it is used (the caller records the Secret's name).
async fn private_key(
    ctx: &Context,
    cert: &Certificate,
    target: Option<&Secret>,
) -> Result<(rcgen::KeyPair, Option<String>, bool), Error> {
    let namespace = cert.namespace().unwrap_or_default();
    let want = KeySpec::from_spec(&cert.spec)?;
    let fits = |pem: &str| parse_pem(pem).ok().filter(|k| KeySpec::of(k) == Some(want));
    let recorded = cert.status.as_ref().and_then(|s| s.next_private_key_secret_name.clone());
    if let Some(name) = recorded {
        let at = format!("{namespace}/{name}");
        let known = ctx.next_keys.lock().ok().and_then(|k| k.get(&at).cloned());
        let pem = match known {
            Some(pem) => Some(pem),
            None => {
                let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
                api.get_opt(&name).await?.as_ref().and_then(secret::tls_key)
            }
        };
        if let Some(key) = pem.as_deref().and_then(fits) {
            remember_key(ctx, at, pem);
            return Ok((key, Some(name), false));
        }
        remember_key(ctx, at, None);
    }
    let never = cert.spec.private_key.as_ref().and_then(|k| k.rotation_policy)
        == Some(RotationPolicy::Never);
    if never && let Some(key) = target.and_then(secret::tls_key).and_then(|p| fits(&p)) {
        return Ok((key, None, false));
    }
    // RSA generation takes ~100 ms of CPU: off the async workers.
    let key = tokio::task::spawn_blocking(move || want.generate())
        .await
        .map_err(|e| PkiError::Unsupported(format!("key generation panicked: {e}")))??;
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let pem = to_pem(&key, None)?;
    let made = api.create(&Default::default(), &secret::next_key_secret(cert, &pem)).await?;
    remember_key(ctx, format!("{namespace}/{}", made.name_any()), Some(pem));
    Ok((key, Some(made.name_any()), true))
}

/// Keeps (`Some`) or forgets (`None`) the key of an issuance in flight.
fn remember_key(ctx: &Context, at: String, pem: Option<String>) {
    if let Ok(mut keys) = ctx.next_keys.lock() {
        match pem {
            Some(pem) => keys.insert(at, pem),
            None => keys.remove(&at),
        };
    }
}
