//! The Certificate controller, as stages: load (Certificate, issuer, Secret, its requests) →
//! decide (pure) → a step of the issuance (next key → CertificateRequest → Secret) or keep the
//! Secret's metadata → status → requeue at the renewal time.

use super::facts::SecretFacts;
use super::policy::{Decision, decide};
use super::status::requeue_at;
use super::{ari, issue, request, secret, status, support, write};
use crate::api::meta::ConditionStatus;
use crate::api::{Certificate, CertificateRequest, CertificateStatus};
use crate::context::Context;
use crate::issuer::{IssuerView, referenced_kind};
use crate::pki::csr::Sans;
use crate::validation::{Invalid, validate_certificate};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

pub async fn reconcile(cert: Arc<Certificate>, ctx: Arc<Context>) -> Result<Action, Error> {
    let mut cert = (*cert).clone();
    ari::restore_pruned(&ctx, &mut cert);
    ctx.metrics.reconciled("certificates");
    let now = ctx.now();
    let old = cert.status.clone().unwrap_or_default();

    // load + the checks a user must act on before anything is requested
    if let Err(invalid) = Invalid::check(validate_certificate(&cert.spec)) {
        return block(&ctx, &mut cert, &old, "InvalidSpec", &invalid.to_string()).await;
    }
    // An external issuer (another group) signs the request itself; certsmith's own issuers are
    // checked here, so a missing or unsupported one is said on the Certificate.
    let mut issuer = None;
    if referenced_kind(&cert.spec.issuer_ref).is_some() {
        let found = match load_issuer(&ctx, &cert) {
            Ok(issuer) => issuer,
            Err(message) => return block(&ctx, &mut cert, &old, "IssuerNotFound", &message).await,
        };
        if let Some(why) = support::unsupported(&cert.spec, cert.labels(), &found) {
            return block(&ctx, &mut cert, &old, "Unsupported", &why).await;
        }
        issuer = Some(found);
    }
    let all = ctx.cache.requests.state();
    let owned = request::owned(&cert, &all);
    let target = load_target(&ctx, &cert, &old, &owned).await?;
    let current = current_request(&owned, &old);

    // decide
    match decide(&cert, target.as_deref(), current, now) {
        Decision::NotOwned { message } => {
            block(&ctx, &mut cert, &old, "SecretNotOwned", &message).await
        }
        Decision::UpToDate { issued, renewal_time, window_error } => {
            let loaded =
                Loaded { issuer: issuer.as_ref(), target: target.as_deref(), owned: &owned };
            up_to_date(&ctx, &mut cert, loaded, &issued, (renewal_time, window_error)).await
        }
        Decision::Backoff { retry_at, .. } => Ok(requeue_at(retry_at, now)),
        Decision::Issue { reason, message } => {
            // A manual re-issue whose certificate is in the Secret already: the status write
            // that ended it was lost (a conflict), and the trigger it clears is still there.
            // Finished, not issued again (with an ACME issuer, a second order).
            let in_secret = || target.as_deref().and_then(SecretFacts::issued).cloned();
            if reason == super::policy::MANUALLY_TRIGGERED
                && let Some(issued) = in_secret()
                && signed_into_secret(&ctx, &old, &owned, &issued).await?
            {
                let (nb, na) = (issued.not_before, issued.not_after);
                let due = crate::renewal::base_for_spec(&cert.spec, nb, na);
                let renewal = crate::renewal::gated(&cert.spec, nb, na, due);
                let loaded =
                    Loaded { issuer: issuer.as_ref(), target: target.as_deref(), owned: &owned };
                return up_to_date(&ctx, &mut cert, loaded, &issued, renewal).await;
            }
            let kind = issuer.as_ref().map(|i| i.spec.kind());
            let acme = matches!(kind, Some(crate::api::IssuerKind::Acme(_)));
            let sans = if acme { Sans::Acme } else { Sans::AsWritten };
            Ok(issue::step(&ctx, &mut cert, target.as_deref(), &owned, reason, &message, sans)
                .await?)
        }
    }
}

/// What the Certificate controller loaded for one reconcile.
#[derive(Clone, Copy)]
struct Loaded<'a> {
    issuer: Option<&'a IssuerView>,
    target: Option<&'a SecretFacts>,
    owned: &'a [&'a Arc<CertificateRequest>],
}

/// The certificate is up to date: the Secret's metadata kept, the CA's renewal window fetched
/// when due, the status brought up to date (an issuance whose last write was lost finished),
/// old requests pruned; looked at again at the renewal time or the window's next check.
async fn up_to_date(
    ctx: &Context,
    cert: &mut Certificate,
    loaded: Loaded<'_>,
    issued: &crate::pki::inspect::Issued,
    (renewal_time, window_error): (Timestamp, Option<String>),
) -> Result<Action, Error> {
    let Loaded { issuer, target, owned } = loaded;
    let now = ctx.now();
    let old = cert.status.clone().unwrap_or_default();
    let generation = cert.metadata.generation;
    // A keystore password that cannot be read holds the Secret's upkeep: looked at again soon
    // (the password Secret is not watched).
    let held = match target {
        Some(target) => keep_secret(ctx, cert, target, issued).await?,
        None => false,
    };
    // Renewal windows that open too late for this certificate: said (cert-manager's reason);
    // it renews when due as if there were none.
    if let Some(why) = window_error {
        let note = format!("Could not calculate renewal time: {why}");
        ctx.event(&cert.object_ref(&()), true, "WindowError", note).await;
    }
    // The CA's renewal window, when due: recorded, then decided again with it. A CA
    // that could not answer is asked again within a minute (nothing is written).
    let mut next_look = renewal_time;
    if held {
        next_look = next_look.min(now + PASSWORD_RETRY);
    }
    if let (Some(issuer), Some(target)) = (issuer, target)
        && ari::due(cert, issued, now)
    {
        match ari::fetch(ctx, issuer, target, now).await {
            Ok(Some(fetched)) => {
                let new = ari::with(&old, fetched.clone());
                write::status(&ctx.client, cert, &new).await?;
                ari::remember_if_pruned(ctx, cert, fetched);
                return Ok(Action::requeue(Duration::ZERO));
            }
            Ok(None) => {}
            Err(()) => next_look = next_look.min(now + jiff::SignedDuration::from_mins(1)),
        }
    }
    // The Secret holds what the next revision's request was signed with: that
    // issuance's last write (its status) was lost, e.g. to a conflict after the Secret
    // was written. It is finished here rather than issued again.
    let finished = signed_into_secret(ctx, &old, owned, issued).await?;
    let new = match finished {
        true => status::issued(&old, issued, renewal_time, generation, now),
        false => status::up_to_date(&old, issued, renewal_time, generation, now),
    };
    let with = (&*cert, current_request(owned, &old));
    let new = ari::note_renew_now(ctx, with, issued, &old, new, now).await;
    if new != old {
        write::status(&ctx.client, cert, &new).await?;
    }
    prune(ctx, cert, owned).await?;
    let next_check = ari::current(cert, issued).and_then(|a| a.next_check.clone());
    let next_look = next_check.map_or(next_look, |t| t.0.min(next_look));
    Ok(requeue_at(next_look, now))
}

/// The request the certificate of `status.revision` came from, while it is kept.
fn current_request<'a>(
    owned: &[&'a Arc<CertificateRequest>],
    old: &CertificateStatus,
) -> Option<&'a CertificateRequest> {
    let is_current =
        |r: &&Arc<CertificateRequest>| r.revision().is_some_and(|n| Some(n) == old.revision);
    owned.iter().copied().find(is_current).map(|r| r.as_ref())
}

/// Whether the Secret holds (`issued`) what the request of the next revision was signed with:
/// that issuance's last write, its status, was lost.
async fn signed_into_secret(
    ctx: &Context,
    old: &CertificateStatus,
    owned: &[&Arc<CertificateRequest>],
    issued: &crate::pki::inspect::Issued,
) -> Result<bool, kube::Error> {
    let next = old.revision.unwrap_or(0) + 1;
    let Some(signed) = owned.iter().find(|r| r.revision() == Some(next)) else { return Ok(false) };
    let chain = ctx.chains.of_request(&ctx.client, signed).await?;
    Ok(chain.and_then(|c| request::signed_serial(&c)) == Some(issued.serial.clone()))
}

/// The Secret kept as the spec says without a new certificate: it is applied again from what
/// it holds when a `secretTemplate` label or annotation is missing from it, its additional
/// output formats or keystores no longer fit the spec, or its owner reference does not follow
/// `--enable-certificate-owner-ref` (cert-manager's post-issuance checks). Decided from the
/// cached facts; the Secret itself is read only to be written. Keystores that fit are carried
/// over as they are: written again, their bytes would change and wake the Certificate for
/// nothing. True when it could not be kept, for want of a keystore password (the Event says
/// which).
async fn keep_secret(
    ctx: &Context,
    cert: &Certificate,
    target: &SecretFacts,
    issued: &crate::pki::inspect::Issued,
) -> Result<bool, kube::Error> {
    if !(target.has("tls.crt") && target.has("tls.key")) {
        return Ok(false);
    }
    // The metadata certsmith writes depends on the spec and the certificate's names only.
    let mut wanted = secret::tls_secret(cert, "", "", issued, None);
    let owner_wanted = ctx.config.enable_certificate_owner_ref;
    secret::set_owner(&mut wanted, cert, owner_wanted);
    // The template's labels and annotations, as certsmith sets them (its own win over a
    // template's, e.g. a chart's `app.kubernetes.io/managed-by`): what else the Secret says
    // (a cert-manager Secret taken over) is not a reason to write it.
    type Map = Option<std::collections::BTreeMap<String, String>>;
    let kept = |template: &Map, want: &Map, got: &Map| {
        let value = |m: &Map, k: &String| m.as_ref().and_then(|m| m.get(k)).cloned();
        template.iter().flatten().all(|(k, _)| value(want, k) == value(got, k))
    };
    let template = cert.spec.secret_template.clone().unwrap_or_default();
    let (want, got) = (&wanted.metadata, &target.metadata);
    let metadata_kept = kept(&template.labels, &want.labels, &got.labels)
        && kept(&template.annotations, &want.annotations, &got.annotations);
    let spec = &cert.spec;
    let stores = super::outputs::keystores_mismatch(spec, target);
    let outputs = super::outputs::formats_mismatch(spec, target).or(stores);
    let owner_kept = secret::owned_by(&target.metadata, cert) == owner_wanted;
    if metadata_kept && outputs.is_none() && owner_kept {
        return Ok(false);
    }
    // Written again from what it holds: read whole. Gone or emptied since it was cached, its
    // change wakes this Certificate again.
    let namespace = cert.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let Some(full) = api.get_opt(&spec.secret_name).await? else { return Ok(false) };
    // Still this Certificate's (its own annotation): a Secret replaced since is decided again.
    let named =
        full.metadata.annotations.as_ref().and_then(|a| a.get(secret::ANN_CERTIFICATE_NAME));
    if named != cert.metadata.name.as_ref() {
        return Ok(false);
    }
    let field = |k: &str| secret::text(&full, k);
    let (Some(chain), Some(key)) = (field("tls.crt"), field("tls.key")) else { return Ok(false) };
    let Ok(issued) = crate::pki::inspect::parse_chain(&chain) else { return Ok(false) };
    let ca = field("ca.crt");
    let mut updated = secret::tls_secret(cert, &chain, &key, &issued, ca.as_deref());
    secret::set_owner(&mut updated, cert, owner_wanted);
    let object = cert.object_ref(&());
    match stores {
        None => {
            super::outputs::add_formats(&mut updated, spec);
            super::outputs::carry_keystores(&mut updated, &full, spec);
        }
        Some(_) => {
            let completed = super::passwords::complete(&ctx.client, cert, &mut updated).await?;
            if let Err(missing) = completed {
                ctx.event(&object, true, missing.reason, missing.message).await;
                return Ok(true);
            }
        }
    }
    let applied = write::secret(&ctx.client, &updated).await?;
    // What another manager wrote (cert-manager, before a switch) outlives certsmith's apply:
    // an owner reference to the Certificate, and outputs no longer asked for.
    let uid = cert.metadata.uid.clone().unwrap_or_default();
    let refs = applied.metadata.owner_references.clone().unwrap_or_default();
    let owner = refs.iter().position(|r| r.uid == uid).filter(|_| !owner_wanted);
    let leftovers = super::outputs::leftovers(&applied, &updated);
    if owner.is_some() || !leftovers.is_empty() {
        let namespace = applied.metadata.namespace.clone().unwrap_or_default();
        let owner = owner.map(|i| (i, uid.as_str()));
        write::remove_from_secret(&ctx.client, &namespace, &spec.secret_name, &leftovers, owner)
            .await?;
    }
    let name = &spec.secret_name;
    let note = match outputs {
        Some(why) => format!("Updated Secret {name:?}: {why}"),
        None if !owner_kept => format!(
            "Updated Secret {name:?}: its owner reference to the Certificate follows \
             --enable-certificate-owner-ref={owner_wanted}"
        ),
        None => format!("Updated the labels and annotations of Secret {name:?}"),
    };
    ctx.event(&object, false, "UpdateSecret", note).await;
    Ok(false)
}

/// How soon a keystore password that could not be read is looked for again.
pub const PASSWORD_RETRY: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);

/// Deletes the requests beyond `spec.revisionHistoryLimit` (1 when unset, as cert-manager v1.18+).
async fn prune(
    ctx: &Context,
    cert: &Certificate,
    owned: &[&Arc<CertificateRequest>],
) -> Result<(), kube::Error> {
    let api: Api<CertificateRequest> =
        Api::namespaced(ctx.client.clone(), &cert.namespace().unwrap_or_default());
    for old in request::to_prune(cert, owned) {
        crate::ssa::delete(&api, &old.name_any()).await?;
    }
    Ok(())
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
    if reason != "SecretNotOwned" {
        // A spec, issuer or Secret change of ours triggers a new look; else hourly.
        return Ok(Action::requeue(Duration::from_secs(3600)));
    }
    // A foreign Secret is not watched (all Secrets would be): it is looked at again soon after
    // the block began (the user may just have deleted it, as the message says), then less
    // often, at most every 5 minutes.
    let since = new.conditions.iter().flatten().find(|c| c.type_ == "Ready");
    let since = since.and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0);
    Ok(Action::requeue(recheck_after(since, ctx.now())))
}

/// When to look at a blocking foreign Secret again: as long as the block has lasted, within
/// [5 s, 5 min]. Pure.
fn recheck_after(since: Option<Timestamp>, now: Timestamp) -> Duration {
    let lasted = since.map(|s| now.duration_since(s)).unwrap_or_default();
    Duration::try_from(lasted)
        .unwrap_or_default()
        .clamp(Duration::from_secs(5), Duration::from_secs(300))
}

/// The target Secret. From the cache of managed Secrets when it agrees with the status (a
/// Secret just written may reach the cache after the status that records it); else read, as a
/// Secret without the label may be someone else's. While a first issuance is in flight (its key
/// recorded, its request not yet signed) a miss is not read again: the Secret was read when the
/// issuance began, and is read once more before it is written.
async fn load_target(
    ctx: &Context,
    cert: &Certificate,
    old: &CertificateStatus,
    owned: &[&Arc<CertificateRequest>],
) -> Result<Option<Arc<SecretFacts>>, kube::Error> {
    let namespace = cert.namespace().unwrap_or_default();
    let name = &cert.spec.secret_name;
    let cached = ctx.cache.secrets.get(&ObjectRef::new(name).within(&namespace));
    if let Some(cached) = cached.filter(|s| agrees(s, old)) {
        return Ok(Some(cached));
    }
    let next = old.revision.unwrap_or(0) + 1;
    let signed = owned.iter().any(|r| {
        r.revision() == Some(next)
            && r.condition("Ready").is_some_and(|c| c.status == ConditionStatus::True)
    });
    let first_issuance = status::issuing_for(old, "DoesNotExist");
    if first_issuance && old.next_private_key_secret_name.is_some() && !signed {
        return Ok(None);
    }
    let read = Api::<SecretFacts>::namespaced(ctx.client.clone(), &namespace).get_opt(name).await?;
    Ok(read.map(Arc::new))
}

/// Whether a cached Secret holds the certificate the status says was issued last.
fn agrees(secret: &SecretFacts, status: &CertificateStatus) -> bool {
    let Some(recorded) = &status.not_after else { return true };
    secret.issued().is_some_and(|i| i.not_after == recorded.0)
}

/// The referenced issuer (from the cache), or the message that says why there is none.
fn load_issuer(ctx: &Context, cert: &Certificate) -> Result<IssuerView, String> {
    let r = &cert.spec.issuer_ref;
    if let Some(refused) = ctx.config.scope().refuses(r) {
        return Err(refused);
    }
    let found = ctx.issuer(r, &cert.namespace().unwrap_or_default());
    let kind = referenced_kind(r).unwrap_or("Issuer");
    found.ok_or_else(|| format!("Referenced {kind} {:?} does not exist", r.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_secret_is_looked_at_again_soon_then_less_often() {
        let now: Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let s = Duration::from_secs;
        let table = [
            (None, s(5)),
            (Some("2026-01-01T01:00:00Z"), s(5)),
            (Some("2026-01-01T00:59:30Z"), s(30)),
            (Some("2026-01-01T00:30:00Z"), s(300)),
            // A clock that went back: never a hot loop.
            (Some("2026-01-01T02:00:00Z"), s(5)),
        ];
        for (since, want) in table {
            let since = since.map(|t| t.parse().unwrap());
            assert_eq!(recheck_after(since, now), want, "{since:?}");
        }
    }
}
