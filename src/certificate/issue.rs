//! One issuance of a Certificate, a step per reconcile, every step resumable from the cluster:
//! the next private key (a generateName Secret recorded in `status.nextPrivateKeySecretName`) →
//! the CertificateRequest for the next revision → its result, checked, into the Secret. Who signs
//! the request (certsmith's ACME issuers, or an external issuer) is not this step's concern.

use super::facts::SecretFacts;
use super::{Context, request, secret, status, write};
use crate::api::certificate::RotationPolicy;
use crate::api::{Certificate, CertificateRequest, CertificateStatus};
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
    target: Option<&SecretFacts>,
    requests: &[&Arc<CertificateRequest>],
    reason: &'static str,
    message: &str,
    sans: csr::Sans,
) -> Result<Action, Error> {
    // The status this step leads to is computed first and written once, by the branch taken:
    // before the request is made or replaced, so a new key's Secret is named in it first; on
    // the signed path (no key can be new there) after the Secret is written.
    let Started { key, key_secret, status: started, events } =
        start(ctx, cert, target, reason, message).await?;
    let revision = started.revision.unwrap_or(0) + 1;
    let Some(cr) = requests.iter().find(|r| r.revision() == Some(revision)) else {
        record(ctx, cert, &started, events).await?;
        let key = Key { pair: &key, secret: key_secret.as_deref() };
        return make_request(ctx, cert, target, revision, key, sans).await;
    };
    let spki = key.subject_public_key_info();
    let last_failure = started.last_failure_time.as_ref().map(|t| t.0);
    match judge(cert, cr, &spki, last_failure, message) {
        Judged::Replace => {
            record(ctx, cert, &started, events).await?;
            let api: Api<CertificateRequest> =
                Api::namespaced(ctx.client.clone(), &cert.namespace().unwrap_or_default());
            crate::ssa::delete(&api, &cr.name_any()).await?;
            Ok(Action::requeue(Duration::from_millis(500)))
        }
        Judged::Failed(why) => fail(ctx, cert, (&started, events), &why).await,
        Judged::Waiting(shown) => {
            // Not signed yet; the request's status changes bring the next step.
            let generation = cert.metadata.generation;
            let waiting = status::issuing(&started, reason, &shown, generation, ctx.now());
            record(ctx, cert, &waiting, events).await?;
            Ok(Action::requeue(Duration::from_secs(3600)))
        }
        Judged::Signed => {
            let key = Key { pair: &key, secret: key_secret.as_deref() };
            store(ctx, cert, (&started, events), cr, key, revision).await
        }
    }
}

/// cert-manager's Events for the step, published once its status is written (a write refused
/// by a conflict is retried with the Events it has not published).
type Pending = Vec<(&'static str, String)>;

/// Writes `new` as the Certificate's status, unless it is that already, then publishes
/// `events`.
async fn record(
    ctx: &Context,
    cert: &mut Certificate,
    new: &CertificateStatus,
    events: Pending,
) -> Result<(), Error> {
    if cert.status.clone().unwrap_or_default() != *new {
        write::status(&ctx.client, cert, new).await?;
    }
    for (reason, note) in events {
        ctx.event(&cert.object_ref(&()), false, reason, note).await;
    }
    Ok(())
}

/// The issuance's key: the pair, and the Secret it is kept in while in flight (`None` when the
/// target's own key is reused).
#[derive(Clone, Copy)]
struct Key<'a> {
    pair: &'a rcgen::KeyPair,
    secret: Option<&'a str>,
}

/// The issuance starts (or goes on): its key, and the status that says so and where a new key
/// is kept (written by the caller), with cert-manager's Events.
async fn start(
    ctx: &Context,
    cert: &Certificate,
    target: Option<&SecretFacts>,
    reason: &'static str,
    message: &str,
) -> Result<Started, Error> {
    let old = cert.status.clone().unwrap_or_default();
    let starting = !status::issuing_for(&old, reason);
    let (key, key_secret, generated) = private_key(ctx, cert, target).await?;
    let mut new = match starting {
        true => status::issuing(&old, reason, message, cert.metadata.generation, ctx.now()),
        false => old.clone(),
    };
    if generated {
        new.next_private_key_secret_name = key_secret.clone();
    }
    let mut events = Pending::new();
    if starting {
        events.push(("Issuing", message.to_string()));
    }
    if let Some(name) = key_secret.as_ref().filter(|_| generated) {
        let note = format!("Stored new private key in temporary Secret resource {name:?}");
        events.push(("Generated", note));
    }
    Ok(Started { key, key_secret, status: new, events })
}

/// An issuance started or going on: its key, the Secret it is kept in (`None` when the
/// target's own key is reused), the status that says so, and the Events to publish with it.
struct Started {
    key: rcgen::KeyPair,
    key_secret: Option<String>,
    status: CertificateStatus,
    events: Pending,
}

/// The CertificateRequest for `revision`, signed with the issuance's key.
async fn make_request(
    ctx: &Context,
    cert: &Certificate,
    target: Option<&SecretFacts>,
    revision: i64,
    key: Key<'_>,
    sans: csr::Sans,
) -> Result<Action, Error> {
    let csr = crate::pki::request::to_pem(&csr::build(&cert.spec, key.pair, sans)?);
    // The Secret the key is read from (a SelfSigned issuer signs with it): the next-key
    // Secret, or the target itself when `rotationPolicy: Never` reuses its key.
    let key_source = key.secret.unwrap_or(&cert.spec.secret_name);
    let mut cr = request::build(cert, revision, Some(key_source), &csr);
    // A renewal names the certificate it replaces (ARI, RFC 9773 §5), and the CA's window it
    // answers, if one was open: that window renews once.
    if let Some(id) = target.and_then(super::ari::cert_id) {
        cr.annotations_mut().insert(ANN_REPLACES.into(), id);
    }
    let replaced = target.and_then(SecretFacts::issued);
    if let Some(window) = replaced.and_then(|i| super::ari::renewing_in(cert, i, ctx.now())) {
        cr.annotations_mut().insert(super::ari::ANN_RENEWED_IN.into(), window);
    }
    let api: Api<CertificateRequest> =
        Api::namespaced(ctx.client.clone(), &cert.namespace().unwrap_or_default());
    let made = crate::ssa::create_or_get(&api, &cr).await?;
    let note = format!("Created new CertificateRequest resource {:?}", made.name_any());
    ctx.event(&cert.object_ref(&()), false, "Requested", note).await;
    Ok(Action::requeue(Duration::from_secs(3600)))
}

/// Where the issuance's request stands.
#[derive(Debug, PartialEq)]
enum Judged {
    /// A failed attempt already counted, or a request for a key or spec that is no longer
    /// wanted: deleted, to make room for a new one under the same name.
    Replace,
    /// It failed: the attempt is counted, with these words.
    Failed(String),
    /// Not signed yet: the issuance's message, with what the request waits on.
    Waiting(String),
    Signed,
}

/// Where request `cr` stands, for a Certificate whose last counted failure was at
/// `last_failure`, its key `spki`. Pure.
fn judge(
    cert: &Certificate,
    cr: &CertificateRequest,
    spki: &[u8],
    last_failure: Option<jiff::Timestamp>,
    message: &str,
) -> Judged {
    let failure_recorded = cr.failed()
        && match (failure_time(cr), last_failure) {
            (Some(failed_at), Some(recorded)) => failed_at <= recorded,
            _ => false,
        };
    let stale = !request::made_with_key(cr, spki)
        || request::mismatches(cert, cr).is_ok_and(|f| !f.is_empty());
    if failure_recorded || (stale && !cr.failed()) {
        return Judged::Replace;
    }
    if cr.failed() {
        let why = cr
            .condition("Ready")
            .and_then(|c| c.message.clone())
            .or_else(|| cr.condition("Denied").and_then(|c| c.message.clone()))
            .unwrap_or_else(|| "the request failed".into());
        return Judged::Failed(format!("The CertificateRequest {:?} failed: {why}", cr.name_any()));
    }
    let ready = cr.condition("Ready");
    let signed = cr.status.as_ref().and_then(|s| s.certificate.as_ref()).is_some()
        && ready.is_some_and(|c| c.status == crate::api::meta::ConditionStatus::True);
    if signed {
        return Judged::Signed;
    }
    // What it waits on (its Order: the account's order budget, an unreachable CA; a CA
    // issuer's key pair) is said on the Certificate too.
    let pending = ready.filter(|c| c.reason.as_deref() == Some("Pending"));
    match pending.and_then(|c| pending_why(c.message.as_deref()?)) {
        Some(why) => Judged::Waiting(format!("{message}; {why}")),
        None => Judged::Waiting(message.to_string()),
    }
}

/// The signed chain, checked against the key and the spec, into the Secret; the in-flight key
/// Secret goes; the status records the revision.
async fn store(
    ctx: &Context,
    cert: &mut Certificate,
    (started, events): (&CertificateStatus, Pending),
    cr: &CertificateRequest,
    key: Key<'_>,
    revision: i64,
) -> Result<Action, Error> {
    let Some(chain) = ctx.chains.of_request(&ctx.client, cr).await? else {
        // Gone or replaced since the cache saw it: its next change brings this back.
        record(ctx, cert, started, events).await?;
        return Ok(Action::requeue(Duration::from_secs(5)));
    };
    let chain = String::from_utf8_lossy(&chain).into_owned();
    let issued = match parse_chain(&chain) {
        Ok(i) => i,
        Err(e) => {
            let why = format!("the issuer returned a certificate that cannot be read: {e}");
            return fail(ctx, cert, (started, events), &why).await;
        }
    };
    if !issued.matches_key(key.pair) {
        let why = "the issuer returned a certificate that does not match the private key";
        return fail(ctx, cert, (started, events), why).await;
    }
    if let Err((have, want)) = csr::names_match(&cert.spec, &issued) {
        let message = format!("the issuer returned a certificate for [{have}] instead of [{want}]");
        return fail(ctx, cert, (started, events), &message).await;
    }
    let ca = ctx.chains.ca_of_request(&ctx.client, cr).await?;
    let cached_ca = cr.status.as_ref().and_then(|s| s.ca.as_ref());
    if ca.is_none() && cached_ca.is_some_and(crate::chains::left_out) {
        // Its CA left the cache and the request the API since: as for a chain gone, its next
        // change brings this back, rather than a Secret written without its ca.crt.
        record(ctx, cert, started, events).await?;
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let ca = ca.map(|c| String::from_utf8_lossy(&c).into_owned());
    let encoding = cert.spec.private_key.as_ref().and_then(|k| k.encoding);
    let pem = to_pem(key.pair, encoding)?;
    let mut tls = secret::tls_secret(cert, &chain, &pem, &issued, ca.as_deref());
    secret::set_owner(&mut tls, cert, ctx.config.enable_certificate_owner_ref);
    if let Err(missing) = super::passwords::complete(&ctx.client, cert, &mut tls).await? {
        // Nothing is written without the keystores asked for (as cert-manager): the issuance
        // waits, saying why, and looks again soon (the password Secret is not watched).
        let reason = status::issuing_reason(started).unwrap_or("Issuing").to_string();
        let message = format!("Waiting to write the Secret: {}", missing.message);
        let generation = cert.metadata.generation;
        let waiting = status::issuing(started, &reason, &message, generation, ctx.now());
        record(ctx, cert, &waiting, events).await?;
        ctx.event(&cert.object_ref(&()), true, missing.reason, missing.message).await;
        let retry = super::controller::PASSWORD_RETRY.unsigned_abs();
        return Ok(Action::requeue(retry));
    }
    write::secret(&ctx.client, &tls).await?;
    let namespace = cert.namespace().unwrap_or_default();
    if let Some(next) = key.secret {
        write::delete_secret(&ctx.client, &namespace, next).await?;
        ctx.certificates.remember_key(format!("{namespace}/{next}"), None);
    }
    let renewal = crate::renewal::for_spec(&cert.spec, issued.not_before, issued.not_after);
    let mut new = status::issued(started, &issued, renewal, cert.metadata.generation, ctx.now());
    new.revision = Some(revision);
    record(ctx, cert, &new, events).await?;
    ctx.metrics.issuance("issued");
    tracing::info!(certificate = %cert.name_any(), namespace, serial = %issued.serial, not_after = %issued.not_after, "issued");
    let note = "The certificate has been successfully issued".to_string();
    ctx.event(&cert.object_ref(&()), false, "Issuing", note).await;
    Ok(status::requeue_at(renewal, ctx.now()))
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

/// Records a failed attempt: counted, timed, an Event, and a retry after the backoff. `from` is
/// the status this reconcile computed so far, with its Events.
async fn fail(
    ctx: &Context,
    cert: &mut Certificate,
    from: (&CertificateStatus, Pending),
    message: &str,
) -> Result<Action, Error> {
    let new = status::failed(from.0, message, cert.metadata.generation, ctx.now());
    record(ctx, cert, &new, from.1).await?;
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
    target: Option<&SecretFacts>,
) -> Result<(rcgen::KeyPair, Option<String>, bool), Error> {
    let namespace = cert.namespace().unwrap_or_default();
    let want = KeySpec::from_spec(&cert.spec)?;
    let fits = |pem: &str| parse_pem(pem).ok().filter(|k| KeySpec::of(k) == Some(want));
    let recorded = cert.status.as_ref().and_then(|s| s.next_private_key_secret_name.clone());
    if let Some(name) = recorded {
        let at = format!("{namespace}/{name}");
        let known = ctx.certificates.next_key(&at);
        let pem = match known {
            Some(pem) => Some(pem),
            None => {
                let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
                match api.get_opt(&name).await? {
                    Some(s) if secret::is_next_key_of(&s, cert) => secret::tls_key(&s),
                    Some(_) => {
                        let note = format!(
                            "status.nextPrivateKeySecretName names Secret {name:?}, which was not made for this Certificate's next key: it is neither used nor deleted"
                        );
                        ctx.event(&cert.object_ref(&()), true, "InvalidNextKey", note).await;
                        None
                    }
                    None => None,
                }
            }
        };
        if let Some(key) = pem.as_deref().and_then(fits) {
            ctx.certificates.remember_key(at, pem);
            return Ok((key, Some(name), false));
        }
        ctx.certificates.remember_key(at, None);
    }
    let never = cert.spec.private_key.as_ref().and_then(|k| k.rotation_policy)
        == Some(RotationPolicy::Never);
    // The stored key is read only here: the cache keeps no data.
    if never && target.is_some_and(|t| t.has("tls.key")) {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
        let stored = api.get_opt(&cert.spec.secret_name).await?;
        // Still this Certificate's: a Secret replaced since lends no key.
        let stored = stored.filter(|s| {
            let named =
                s.metadata.annotations.as_ref().and_then(|a| a.get(secret::ANN_CERTIFICATE_NAME));
            named == cert.metadata.name.as_ref()
        });
        if let Some(key) = stored.as_ref().and_then(secret::tls_key).and_then(|p| fits(&p)) {
            return Ok((key, None, false));
        }
    }
    // RSA generation takes ~100 ms of CPU: off the async workers.
    let key = tokio::task::spawn_blocking(move || want.generate())
        .await
        .map_err(|e| PkiError::Unsupported(format!("key generation panicked: {e}")))??;
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let pem = to_pem(&key, Some(crate::api::certificate::PrivateKeyEncoding::PKCS8))?;
    let made = api.create(&Default::default(), &secret::next_key_secret(cert, &pem)).await?;
    ctx.certificates.remember_key(format!("{namespace}/{}", made.name_any()), Some(pem));
    Ok((key, Some(made.name_any()), true))
}

#[cfg(test)]
#[path = "issue_tests.rs"]
mod tests;
