//! Renewal's ACME Renewal Information (RFC 9773): the CA's suggested window for the current
//! certificate, fetched again when the CA's Retry-After says, kept in `status.acme.ari` where
//! cert-manager keeps it; the renewal time is picked inside the window. A CA without ARI keeps
//! the 2/3-of-lifetime rule.
//!
//! A window renews once: the request of a renewal made while a window was open names it
//! ([`ANN_RENEWED_IN`]), and the same window repeated for the replacement renews nothing. A
//! CA's window alone never renews a certificate younger than [`floor`], nor one issued after
//! the window ended (the window was about the certificate it replaced): a CA that answers every
//! certificate, fresh ones included, with ever new "renew now" windows costs one order per
//! floor, not one per reconcile. When the CA's "renew now" is held so, the Certificate says it
//! in the `certsmith.io/RenewNowHeld` condition and a `RenewNowHeld` Event.

use super::facts::SecretFacts;
use crate::api::certificate::{AriStatus, CertificateAcmeStatus, SuggestedWindow};
use crate::api::meta::{self, ConditionStatus};
use crate::api::{Certificate, CertificateRequest, CertificateStatus};
use crate::context::Context;
use crate::issuer::IssuerView;
use crate::pki::inspect::Issued;
use instant_acme::CertificateIdentifier;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rustls::pki_types::CertificateDer;

/// The ARI status of `cert` when it speaks of the certificate `issued` (fetched after that
/// certificate was issued); a window about an earlier certificate is no guide.
pub fn current<'a>(cert: &'a Certificate, issued: &Issued) -> Option<&'a AriStatus> {
    let ari = cert.status.as_ref()?.acme.as_ref()?.ari.as_ref()?;
    (ari.last_checked.as_ref()?.0 >= issued.not_before).then_some(ari)
}

/// On a renewal's CertificateRequest: the CA's window (`<start>/<end>`) that was open when it
/// was made. The replacement is the answer to that window; the CA repeating it for the
/// replacement (as one that answers every certificate with one past window does) renews
/// nothing again.
pub const ANN_RENEWED_IN: &str = "certsmith.io/ari-renewed-in-window";

fn window_text(window: &SuggestedWindow) -> String {
    format!("{}/{}", window.start.0, window.end.0)
}

/// The window a renewal of `issued` made at `now` answers: the CA's current window for it, if
/// it had begun. Pure.
pub fn renewing_in(cert: &Certificate, issued: &Issued, now: Timestamp) -> Option<String> {
    let (window, _) = window(cert, issued)?;
    (window.start.0 <= now).then(|| window_text(window))
}

/// The window the request `current` (of the certificate in the Secret) was made in, if any.
pub fn renewed_in(current: Option<&CertificateRequest>) -> Option<&str> {
    current?.metadata.annotations.as_ref()?.get(ANN_RENEWED_IN).map(String::as_str)
}

/// The condition (certsmith's own: cert-manager has no word for it) that says the CA asks to
/// renew now and certsmith holds it; removed when the CA stops asking or the hold ends.
pub const RENEW_NOW_HELD: &str = "certsmith.io/RenewNowHeld";

/// The youngest a certificate is renewed at on its CA's window alone: a third of its life,
/// at least 1 h and at most 24 h. Without it, a CA that says "renew now" to every certificate,
/// fresh ones included, costs an order per Retry-After (10 s: 8,640 a day per Certificate);
/// with it, at most three per lifetime up to 3-day certificates and one a day beyond (6-day
/// "shortlived" and 90-day ones alike). The cap keeps ARI's purpose: a CA announces a mass
/// revocation through it, and the Baseline Requirements give it 5 days (24 h for a key
/// compromise) to revoke, so even a fresh 90-day certificate is replaced within a day, not
/// after 30 as a bare third would have it. The 1 h minimum only matters below 3 h of life,
/// where the 2/3-of-lifetime rule renews first anyway.
pub fn floor(issued: &Issued) -> SignedDuration {
    let life = issued.not_after.duration_since(issued.not_before);
    (life / 3).clamp(SignedDuration::from_hours(1), SignedDuration::from_hours(24))
}

/// The soonest the window alone renews `issued` for `cert`: past the floor, but never later
/// than the Certificate's own schedule (2/3 of the lifetime, or its renewBefore), so a
/// certificate shorter than the floor (a 90-second one) renews as if its CA had no ARI.
fn earliest(cert: &Certificate, issued: &Issued) -> Timestamp {
    let floored = issued.not_before.checked_add(floor(issued)).unwrap_or(Timestamp::MAX);
    floored.min(crate::renewal::base_for_spec(&cert.spec, issued.not_before, issued.not_after))
}

/// The current window and when it was fetched.
fn window<'a>(cert: &'a Certificate, issued: &Issued) -> Option<(&'a SuggestedWindow, Timestamp)> {
    let ari = current(cert, issued)?;
    Some((ari.suggested_window.as_ref()?, ari.last_checked.as_ref()?.0))
}

/// The renewal time the CA's window gives for `issued`, if it gives one: a window that had
/// already begun when it was fetched means now (RFC 9773 §4.2: the CA wants it replaced, as
/// before a mass revocation); else a point inside it; never before [`floor`]. A window that
/// ended before the certificate was issued gives none: it was about the certificate this one
/// replaced, and renewing for it again is how a renewal storm starts; so does the window this
/// certificate was issued in answer to (`renewed`, see [`ANN_RENEWED_IN`]). Pure.
pub fn renewal_time(
    cert: &Certificate,
    issued: &Issued,
    renewed: Option<&str>,
) -> Option<Timestamp> {
    let (window, checked) = window(cert, issued)?;
    if window.end.0 <= issued.not_before || renewed == Some(window_text(window).as_str()) {
        return None;
    }
    let at = match window.start.0 <= checked {
        true => window.start.0,
        false => crate::renewal::ari_pick(window.start.0, window.end.0, &issued.serial),
    };
    Some(at.max(earliest(cert, issued)))
}

/// When the CA's window says "renew now" and certsmith does not (yet): the reason and message
/// of [`RENEW_NOW_HELD`]. Pure.
pub fn renew_now_held(
    cert: &Certificate,
    issued: &Issued,
    renewed: Option<&str>,
) -> Option<(&'static str, String)> {
    let (window, checked) = window(cert, issued)?;
    if window.start.0 > checked {
        return None;
    }
    let (start, end, issued_at) = (window.start.0, window.end.0, issued.not_before);
    if renewed == Some(window_text(window).as_str()) {
        let message = format!(
            "The ACME server's renewal window ({start} to {end}) asks to renew now, but this \
             certificate (issued at {issued_at}) is the renewal made in that window: a window \
             renews once; the renewal time is 2/3 of the lifetime until the server gives a new one"
        );
        return Some(("WindowAlreadyRenewed", message));
    }
    if end <= issued_at {
        let message = format!(
            "The ACME server's renewal window ({start} to {end}) asks to renew now, but it ended \
             before this certificate was issued ({issued_at}): it was about the certificate this \
             one replaced, so it renews nothing; the renewal time is 2/3 of the lifetime"
        );
        return Some(("WindowEndedBeforeIssuance", message));
    }
    let at = earliest(cert, issued);
    (start < at).then(|| {
        let message = format!(
            "The ACME server's renewal window ({start} to {end}) asks to renew now a \
             certificate issued at {issued_at}; certsmith renews on the window alone no sooner \
             than {at} (a third of the lifetime, within 1 h to 24 h, or its own schedule if \
             sooner), so a server that asks this of every new certificate cannot cause a \
             renewal storm"
        );
        ("YoungerThanFloor", message)
    })
}

/// `new` with [`RENEW_NOW_HELD`] set or removed for `issued`; an Event when it is set anew: for
/// a new reason, or for a new certificate (the CA repeating "renew now" to the replacement is
/// what a user must hear of). A restart finds it in the status and says nothing again.
pub async fn note_renew_now(
    ctx: &Context,
    (cert, current): (&Certificate, Option<&CertificateRequest>),
    issued: &Issued,
    old: &CertificateStatus,
    mut new: CertificateStatus,
    now: Timestamp,
) -> CertificateStatus {
    let held = renew_now_held(cert, issued, renewed_in(current));
    let (stale, announce) = held_anew(old, held.as_ref().map(|h| h.0), issued);
    if (held.is_none() || stale)
        && let Some(cs) = new.conditions.as_mut()
    {
        cs.retain(|c| c.type_ != RENEW_NOW_HELD);
    }
    let Some((reason, message)) = held else { return new };
    if announce {
        let object = kube::Resource::object_ref(cert, &());
        ctx.event(&object, true, "RenewNowHeld", message.clone()).await;
    }
    let (generation, status) = (cert.metadata.generation, ConditionStatus::True);
    let conditions = &mut new.conditions;
    meta::set_condition(conditions, RENEW_NOW_HELD, status, reason, &message, generation, now);
    new
}

/// Whether the stored hold is stale (set before `issued` was issued: about the certificate it
/// replaced, so it starts anew) and whether a hold for `reason` is news (an Event). Pure.
fn held_anew(old: &CertificateStatus, reason: Option<&str>, issued: &Issued) -> (bool, bool) {
    let was = old.conditions.iter().flatten().find(|c| c.type_ == RENEW_NOW_HELD);
    let stale = was
        .is_some_and(|c| c.last_transition_time.as_ref().is_none_or(|t| t.0 < issued.not_before));
    let news = reason.is_some_and(|r| stale || was.and_then(|c| c.reason.as_deref()) != Some(r));
    (stale, news)
}

/// Whether the window must be fetched (again) at `now`: never under `renewal.policy:
/// Disabled`, which renews nothing for a window. Pure.
pub fn due(cert: &Certificate, issued: &Issued, now: Timestamp) -> bool {
    if crate::renewal::disabled(&cert.spec) {
        return false;
    }
    match current(cert, issued) {
        None => true,
        Some(ari) => ari.next_check.as_ref().is_none_or(|t| t.0 <= now),
    }
}

/// The ARI identifier of the certificate (the leaf of `tls.crt`) in `secret`.
pub fn cert_id(secret: &SecretFacts) -> Option<String> {
    secret.ari_id.clone()
}

/// The ARI identifier of the first certificate of the PEM chain `tls_crt`.
pub fn leaf_id(tls_crt: &[u8]) -> Option<CertificateIdentifier<'static>> {
    let leaf = pem::parse_many(tls_crt).ok()?.into_iter().next()?;
    let der = CertificateDer::from(leaf.into_contents());
    CertificateIdentifier::try_from(&der).ok()
}

/// An identifier as [`cert_id`] writes it (`<AKI>.<serial>`, both base64url).
fn parse_id(id: &str) -> Option<CertificateIdentifier<'static>> {
    let (aki, serial) = id.split_once('.')?;
    Some(CertificateIdentifier {
        authority_key_identifier: aki.to_string().into(),
        serial: serial.to_string().into(),
    })
}

/// Asks the issuer's CA for the window of the certificate in `secret`: `Ok(None)` when the CA
/// has no ARI, `Err(())` when it could not answer now (logged; the caller asks again soon).
pub async fn fetch(
    ctx: &Context,
    issuer: &IssuerView,
    secret: &SecretFacts,
    now: Timestamp,
) -> Result<Option<AriStatus>, ()> {
    let Some(acme) = issuer.spec.acme.as_ref() else { return Ok(None) };
    let server = &acme.server;
    if ctx.certificates.without_ari(server) {
        return Ok(None);
    }
    let Some(id) = cert_id(secret).as_deref().and_then(parse_id) else { return Ok(None) };
    let (account, _) = ctx.account(issuer).await.map_err(|_| ())?;
    match crate::metrics::acme_action("get_renewal_info", account.renewal_info(&id)).await {
        Ok((info, retry_after)) => {
            // Asked again when the CA says (RFC 9773 §4.3), within 10 s to a day.
            let retry = SignedDuration::try_from(retry_after)
                .unwrap_or(SignedDuration::from_hours(6))
                .clamp(SignedDuration::from_secs(10), SignedDuration::from_hours(24));
            let window = info.suggested_window;
            let at = |t: i64| Timestamp::from_second(t).map_err(|_| ());
            let (start, end) =
                (at(window.start.unix_timestamp())?, at(window.end.unix_timestamp())?);
            Ok(Some(AriStatus {
                last_checked: Some(Time(now)),
                next_check: Some(Time(now + retry)),
                suggested_window: Some(SuggestedWindow { start: Time(start), end: Time(end) }),
            }))
        }
        // A CA whose directory has no renewalInfo is not asked again (until a restart).
        Err(instant_acme::Error::Unsupported(_)) => {
            ctx.certificates.no_ari_at(server);
            Ok(None)
        }
        Err(e) => {
            tracing::info!(certificate = %id, error = %e, "renewal information not read; asked again within a minute");
            Err(())
        }
    }
}

/// An older CRD (cert-manager before ARI) prunes `status.acme`: what was fetched is then kept
/// in memory, so the next reconcile does not fetch (and write) it again at once.
pub fn remember_if_pruned(ctx: &Context, cert: &Certificate, fetched: AriStatus) {
    let kept = cert.status.as_ref().and_then(|s| s.acme.as_ref()).is_some_and(|a| a.ari.is_some());
    if let (false, Some(uid)) = (kept, cert.metadata.uid.clone()) {
        ctx.certificates.keep_pruned_ari(uid, fetched);
    }
}

/// Puts back what [`remember_if_pruned`] kept, into this reconcile's copy of `cert`.
pub fn restore_pruned(ctx: &Context, cert: &mut Certificate) {
    let stored = cert.status.as_ref().and_then(|s| s.acme.as_ref()).is_some();
    let Some(uid) = cert.metadata.uid.as_ref().filter(|_| !stored) else { return };
    if let Some(ari) = ctx.certificates.pruned_ari(uid) {
        let status = cert.status.get_or_insert_default();
        status.acme = Some(CertificateAcmeStatus { ari: Some(ari) });
    }
}

/// `old` with `ari` recorded.
pub fn with(old: &CertificateStatus, ari: AriStatus) -> CertificateStatus {
    let mut new = old.clone();
    new.acme = Some(CertificateAcmeStatus { ari: Some(ari) });
    new
}

#[cfg(test)]
#[path = "ari_tests.rs"]
mod tests;
