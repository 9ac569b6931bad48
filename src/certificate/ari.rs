//! Renewal's ACME Renewal Information (RFC 9773): the CA's suggested window for the current
//! certificate, fetched again when the CA's Retry-After says, kept in `status.acme.ari` where
//! cert-manager keeps it; the renewal time is picked inside the window. A CA without ARI keeps
//! the 2/3-of-lifetime rule.

use crate::api::certificate::{AriStatus, CertificateAcmeStatus, SuggestedWindow};
use crate::api::{Certificate, CertificateStatus};
use crate::context::Context;
use crate::issuer::IssuerView;
use crate::pki::inspect::Issued;
use instant_acme::CertificateIdentifier;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rustls::pki_types::CertificateDer;

/// The ARI status of `cert` when it speaks of the certificate `issued` (fetched after that
/// certificate was issued); a window about an earlier certificate is no guide.
pub fn current<'a>(cert: &'a Certificate, issued: &Issued) -> Option<&'a AriStatus> {
    let ari = cert.status.as_ref()?.acme.as_ref()?.ari.as_ref()?;
    (ari.last_checked.as_ref()?.0 >= issued.not_before).then_some(ari)
}

/// The renewal time the CA's window gives for `issued`, if it gave one: a window that had
/// already begun when it was fetched means now (RFC 9773 §4.2: the CA wants it replaced, as
/// before a mass revocation); else a point inside it. Pure.
pub fn renewal_time(cert: &Certificate, issued: &Issued) -> Option<Timestamp> {
    let ari = current(cert, issued)?;
    let window = ari.suggested_window.as_ref()?;
    let checked = ari.last_checked.as_ref()?.0;
    if window.start.0 <= checked {
        return Some(window.start.0);
    }
    Some(crate::renewal::ari_pick(window.start.0, window.end.0, &issued.serial))
}

/// Whether the window must be fetched (again) at `now`. Pure.
pub fn due(cert: &Certificate, issued: &Issued, now: Timestamp) -> bool {
    match current(cert, issued) {
        None => true,
        Some(ari) => ari.next_check.as_ref().is_none_or(|t| t.0 <= now),
    }
}

/// The ARI identifier of the certificate (the leaf of `tls.crt`) in `secret`.
pub fn cert_id(secret: &Secret) -> Option<String> {
    leaf_id(secret).map(|id| id.to_string())
}

fn leaf_id(secret: &Secret) -> Option<CertificateIdentifier<'static>> {
    let pem = secret.data.as_ref()?.get("tls.crt")?;
    let leaf = pem::parse_many(&pem.0).ok()?.into_iter().next()?;
    let der = CertificateDer::from(leaf.into_contents());
    CertificateIdentifier::try_from(&der).ok()
}

/// Asks the issuer's CA for the window of the certificate in `secret`: `Ok(None)` when the CA
/// has no ARI, `Err(())` when it could not answer now (logged; the caller asks again soon).
pub async fn fetch(
    ctx: &Context,
    issuer: &IssuerView,
    secret: &Secret,
    now: Timestamp,
) -> Result<Option<AriStatus>, ()> {
    let Some(acme) = issuer.spec.acme.as_ref() else { return Ok(None) };
    let server = &acme.server;
    if ctx.certificates.without_ari(server) {
        return Ok(None);
    }
    let Some(id) = leaf_id(secret) else { return Ok(None) };
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
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cert_with(ari: Option<AriStatus>) -> Certificate {
        let mut c: Certificate = serde_yaml::from_str(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\n\
             spec: {secretName: s, issuerRef: {name: i}}",
        )
        .unwrap();
        c.status = Some(CertificateStatus {
            acme: Some(CertificateAcmeStatus { ari }),
            ..Default::default()
        });
        c
    }

    fn ari(checked: &str, next: &str, start: &str, end: &str) -> Option<AriStatus> {
        Some(AriStatus {
            last_checked: Some(Time(t(checked))),
            next_check: Some(Time(t(next))),
            suggested_window: Some(SuggestedWindow { start: Time(t(start)), end: Time(t(end)) }),
        })
    }

    #[test]
    fn the_window_decides_the_renewal_of_the_certificate_it_was_fetched_for() {
        let issued = Issued {
            not_before: t("2026-01-01T00:00:00Z"),
            not_after: t("2026-03-01T00:00:00Z"),
            serial: "0a".into(),
            subject: String::new(),
            issuer: String::new(),
            common_name: None,
            dns_names: vec![],
            ip_addresses: vec![],
            uris: vec![],
            emails: vec![],
            public_key: vec![],
            chain_ends_in_root: false,
            last_in_chain: String::new(),
        };
        let now = t("2026-01-02T00:00:00Z");
        // (status, renewal time wanted, due at now)
        let table = [
            (None, None, true),
            // Fetched before this certificate was issued: about an earlier one.
            (
                ari(
                    "2025-12-31T00:00:00Z",
                    "2026-01-03T00:00:00Z",
                    "2026-02-01T00:00:00Z",
                    "2026-02-01T00:00:00Z",
                ),
                None,
                true,
            ),
            // A future window of a point: that point; re-checked at next_check.
            (
                ari(
                    "2026-01-01T12:00:00Z",
                    "2026-01-03T00:00:00Z",
                    "2026-02-01T00:00:00Z",
                    "2026-02-01T00:00:00Z",
                ),
                Some("2026-02-01T00:00:00Z"),
                false,
            ),
            (
                ari(
                    "2026-01-01T12:00:00Z",
                    "2026-01-01T18:00:00Z",
                    "2026-02-01T00:00:00Z",
                    "2026-02-01T00:00:00Z",
                ),
                Some("2026-02-01T00:00:00Z"),
                true,
            ),
            // A window that had begun when fetched: now (its start).
            (
                ari(
                    "2026-01-01T12:00:00Z",
                    "2026-01-03T00:00:00Z",
                    "2026-01-01T06:00:00Z",
                    "2026-01-05T00:00:00Z",
                ),
                Some("2026-01-01T06:00:00Z"),
                false,
            ),
        ];
        for (i, (status, want, due_now)) in table.into_iter().enumerate() {
            let cert = cert_with(status);
            assert_eq!(renewal_time(&cert, &issued), want.map(t), "row {i}");
            assert_eq!(due(&cert, &issued, now), due_now, "row {i}");
        }
    }
}
