//! Does this Certificate need issuing, and why? An ordered chain of checks, after
//! cert-manager's issuance policies; pure: the Secret and the clock are passed in.

use crate::api::{Certificate, CertificateRequest};
use crate::certificate::facts::{SecretFacts, Why};
use crate::certificate::secret::{ANN_CERTIFICATE_NAME, ANN_ISSUER_KIND, ANN_ISSUER_NAME};
use crate::pki::csr::names_match;
use crate::pki::inspect::Issued;
use crate::pki::key::KeySpec;
use crate::renewal::{self, backoff};
use jiff::Timestamp;

/// The reason cmctl (and `certsmith renew`) set on the Issuing condition to ask for a re-issue.
pub const MANUALLY_TRIGGERED: &str = "ManuallyTriggered";

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The Secret exists and belongs to something else: never write it.
    NotOwned { message: String },
    /// The stored certificate is good until `renewal_time`; `window_error` says why its
    /// renewal windows could not place that time (it is then the time due without them).
    UpToDate { issued: Box<Issued>, renewal_time: Timestamp, window_error: Option<String> },
    /// Issue now. `reason` is a CamelCase word, `message` says why in words.
    Issue { reason: &'static str, message: String },
    /// Issuing is needed, but the last attempt failed: wait until `retry_at`.
    Backoff { reason: &'static str, message: String, retry_at: Timestamp },
}

/// Decides for `cert`, whose target Secret is `secret` and whose current certificate came from
/// `current` (the request of `status.revision`, when it is still there), at `now`.
pub fn decide(
    cert: &Certificate,
    secret: Option<&SecretFacts>,
    current: Option<&CertificateRequest>,
    now: Timestamp,
) -> Decision {
    let (reason, message) = match check(cert, secret, current, now) {
        Ok(up_to_date) => return up_to_date,
        Err(Some(why)) => why,
        Err(None) => {
            return Decision::NotOwned { message: not_owned_message(cert, secret) };
        }
    };
    let status = cert.status.as_ref();
    let attempts = status.and_then(|s| s.failed_issuance_attempts).unwrap_or(0);
    let last_failure = status.and_then(|s| s.last_failure_time.as_ref()).map(|t| t.0);
    // A spec change (a new generation) or a manual trigger retries at once. The failure's
    // generation is on Issuing (False, Failed), which every failure writes; Ready keeps an older
    // one when a renewal of a still valid certificate failed, and a retry at once for that
    // would order again at the CA in a loop.
    let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    let failed_issuing =
        conditions.iter().find(|c| c.type_ == "Issuing" && c.reason.as_deref() == Some("Failed"));
    let failed_this_generation = failed_issuing
        .or_else(|| conditions.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.observed_generation)
        == cert.metadata.generation;
    if let Some(last) = last_failure
        && attempts > 0
        // Whatever else is wrong (no Secret yet, say), `certsmith renew` means now.
        && !manually_triggered(cert)
        && failed_this_generation
    {
        let retry_at = last + backoff(attempts);
        if retry_at > now {
            return Decision::Backoff { reason, message, retry_at };
        }
    }
    Decision::Issue { reason, message }
}

/// `Ok` when up to date; `Err(Some(why))` to issue; `Err(None)` when the Secret is not ours.
fn check(
    cert: &Certificate,
    secret: Option<&SecretFacts>,
    current: Option<&CertificateRequest>,
    now: Timestamp,
) -> Result<Decision, Option<Why>> {
    let name = cert.metadata.name.as_deref().unwrap_or_default();
    let Some(secret) = secret else {
        return Err(Some(("DoesNotExist", "Issuing certificate as Secret does not exist".into())));
    };
    let annotations = secret.metadata.annotations.clone().unwrap_or_default();
    if annotations.get(ANN_CERTIFICATE_NAME).map(String::as_str) != Some(name) {
        return Err(None);
    }
    // cert-manager's first policies: data present, key and certificate readable, matching
    // (read as the Secret was cached).
    let key = secret.pair.clone().map_err(Some)?;
    let unread = || {
        Some((
            "InvalidCertificate",
            "Issuing certificate as Secret contains an invalid certificate".into(),
        ))
    };
    let issued = secret.issued().cloned().ok_or_else(unread)?;
    let issuer = &cert.spec.issuer_ref;
    let kind = issuer.kind.as_deref().unwrap_or("Issuer");
    let was = (
        annotations.get(ANN_ISSUER_KIND).map(String::as_str).unwrap_or("Issuer"),
        annotations.get(ANN_ISSUER_NAME).map(String::as_str).unwrap_or(""),
    );
    if was != (kind, issuer.name.as_str()) {
        let message = format!(
            "Issuing certificate as Secret was previously issued by {}/{}, not {kind}/{}",
            was.0, was.1, issuer.name
        );
        return Err(Some(("IncorrectIssuer", message)));
    }
    if let Err((have, want)) = names_match(&cert.spec, &issued) {
        let message = format!(
            "Issuing certificate as Secret was previously issued for [{have}], not [{want}]"
        );
        return Err(Some(("SecretMismatch", message)));
    }
    if let (Ok(want), Some(have)) = (KeySpec::from_spec(&cert.spec), key)
        && want != have
    {
        let message = format!(
            "Issuing certificate as Secret holds a {have:?} key, the spec asks for {want:?}"
        );
        return Err(Some(("SecretMismatch", message)));
    }
    if let Some(fields) = current.and_then(|r| super::request::mismatches(cert, r).ok())
        && !fields.is_empty()
    {
        let message = format!(
            "Fields on existing CertificateRequest resource not up to date: [{}]",
            fields.join(" ")
        );
        return Err(Some(("RequestChanged", message)));
    }
    // Under `renewal.policy: Disabled` nothing is renewed for its age, expired or not (as
    // cert-manager); the checks above (the Secret, the spec) still issue.
    let disabled = renewal::disabled(&cert.spec);
    if now >= issued.not_after && !disabled {
        return Err(Some((
            "Expired",
            format!("Issuing certificate as the certificate expired at {}", issued.not_after),
        )));
    }
    // The CA's renewal window (ARI) when it gave one for this certificate; else 2/3 of its
    // life; then the Certificate's renewal windows, if any, decide when it may start.
    let renewed = super::ari::renewed_in(current);
    let due = super::ari::renewal_time(cert, &issued, renewed)
        .unwrap_or_else(|| renewal::base_for_spec(&cert.spec, issued.not_before, issued.not_after));
    let (at, window_error) = renewal::gated(&cert.spec, issued.not_before, issued.not_after, due);
    if manually_triggered(cert) {
        return Err(Some((MANUALLY_TRIGGERED, "Re-issuance manually requested".into())));
    }
    if now >= at {
        let message = match &window_error {
            Some(_) => format!("Renewing certificate without satisfying renewal windows at: {at}"),
            None => format!("Renewing certificate as renewal was scheduled at {at}"),
        };
        return Err(Some(("Renewing", message)));
    }
    Ok(Decision::UpToDate { issued: Box::new(issued), renewal_time: at, window_error })
}

/// `certsmith renew` (like `cmctl renew`) sets Issuing=True with reason ManuallyTriggered.
pub fn manually_triggered(cert: &Certificate) -> bool {
    cert.status.as_ref().is_some_and(|s| super::status::issuing_for(s, MANUALLY_TRIGGERED))
}

fn not_owned_message(cert: &Certificate, secret: Option<&SecretFacts>) -> String {
    let secret_name = &cert.spec.secret_name;
    let owner = secret
        .and_then(|s| s.metadata.annotations.as_ref())
        .and_then(|a| a.get(ANN_CERTIFICATE_NAME))
        .map(|o| format!("it belongs to Certificate {o:?}"))
        .unwrap_or_else(|| format!("it has no {ANN_CERTIFICATE_NAME} annotation"));
    format!(
        "Secret {secret_name:?} exists and was not created for this Certificate ({owner}); \
         certsmith will not overwrite it. Delete it, or set spec.secretName to a free name"
    )
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
