//! The Challenge step's DNS-01 provider for AWS Route 53 (`dns01.route53`), as cert-manager's
//! `pkg/issuer/acme/dns/route53`: the TXT record `"<key>"` (TTL 10) UPSERTed as a multivalue
//! answer set of its own with ChangeResourceRecordSets, in the hosted zone the issuer names or
//! the public one ListHostedZonesByName finds; checked as every DNS-01 record is; removed
//! (DELETE of that set only) afterwards. Requests are signed with the static key the issuer's Secret holds, or
//! with the `role` it assumes with that key through STS: certsmith never uses ambient
//! credentials (environment, instance metadata, the operator's own role), so `auth.kubernetes`
//! (a token certsmith would mint for a tenant's ServiceAccount) is reported unsupported.

pub mod api;
mod aws_xml;
pub mod sigv4;

use super::{Error, Solver};
use crate::api::Challenge;
use crate::api::acme::{AcmeChallengeSolver, AcmeIssuerDnsRoute53};
use crate::api::meta::SecretKeySelector;
use crate::api::order::ChallengeType;
use crate::context::Context;
use futures::FutureExt;
use futures::future::BoxFuture;
use kube::ResourceExt;
use sigv4::Credentials;

/// cert-manager's TTL for the challenge record.
const TTL: u32 = 10;

/// What writing through Route 53 went wrong with. AWS's refusals are AWS's words.
#[derive(Debug, thiserror::Error)]
pub enum Route53Error {
    #[error("{0}")]
    Config(String),
    #[error("{service} refused {action}: {code}: {message}")]
    Refused { service: &'static str, action: &'static str, code: String, message: String },
    #[error("{service} ({endpoint}) did not answer {action}: {why}")]
    Unreachable { service: &'static str, endpoint: String, action: &'static str, why: String },
    #[error("{service} answered {action} in a way certsmith cannot read: {why}")]
    Unreadable { service: &'static str, action: &'static str, why: String },
    #[error("{0}")]
    Dns(#[from] crate::dns01::Error),
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
}

pub struct Route53Solver;

impl Solver for Route53Solver {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Dns01
    }

    fn configured_by(&self, config: &AcmeChallengeSolver) -> bool {
        config.dns01.as_ref().and_then(|d| d.route53.as_ref()).is_some()
    }

    fn present<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async move { Ok(change(ctx, ch, "UPSERT").await?) }.boxed()
    }

    /// A challenge never presented has nothing to remove, so a refusal (wrong key, zone gone)
    /// never holds up its deletion; a presented one is tried again until its set is gone,
    /// unless certsmith can no longer say how (the issuer or its Secret gone, as when a
    /// namespace is deleted): then the set is left, with a warning, as for RFC 2136.
    fn clean_up<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async move {
            let presented = ch.status.as_ref().and_then(|s| s.presented) == Some(true);
            match change(ctx, ch, "DELETE").await {
                Err(e) if !presented || matches!(e, Route53Error::Config(_)) => {
                    tracing::warn!(challenge = %ch.name_any(), error = %e, "the Route 53 record was not removed");
                    Ok(())
                }
                other => Ok(other?),
            }
        }
        .boxed()
    }
}

/// Why certsmith does not do what `r53` asks, if it does not: what it would take from the
/// cluster or the operator rather than from the issuer.
pub fn unsupported(r53: &AcmeIssuerDnsRoute53) -> Option<String> {
    if r53.auth.is_some() {
        return Some(
            "dns01.route53.auth.kubernetes is not supported: certsmith would have to mint tokens \
             for the issuer's ServiceAccount with its own rights; use accessKeyID (or \
             accessKeyIDSecretRef) and secretAccessKeySecretRef"
                .into(),
        );
    }
    None
}

/// The issuer's key: the access key ID from `accessKeyID` or `accessKeyIDSecretRef`, the
/// secret from `secretAccessKeySecretRef`, both trimmed (as cert-manager reads them), read in
/// the issuer's secrets namespace. Without them, no key at all: no ambient credentials.
async fn credentials(
    ctx: &Context,
    ch: &Challenge,
    r53: &AcmeIssuerDnsRoute53,
) -> Result<Credentials, Route53Error> {
    let literal = r53.access_key_id.as_deref().map(str::trim).filter(|k| !k.is_empty());
    if literal.is_some() && r53.access_key_id_secret_ref.is_some() {
        return Err(Route53Error::Config(
            "route53 accessKeyID and accessKeyIDSecretRef cannot both be specified".into(),
        ));
    }
    let from_secret = async |field: &str, r: &SecretKeySelector| {
        use crate::solver::issuer_secret::{self, NO_ISSUER, Unread};
        let found = issuer_secret::read(ctx, ch, r).await.map_err(|e| match e {
            Unread::NoIssuer => Route53Error::Config(NO_ISSUER.into()),
            Unread::NoKey => Route53Error::Config(format!(
                "route53 {field} requires a key field to be specified"
            )),
            Unread::Kube(e) => Route53Error::Kube(e),
        })?;
        let value = found.text().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        value.ok_or_else(|| {
            Route53Error::Config(format!(
                "route53 {field}: Secret {}/{} has no entry {:?}",
                found.namespace, r.name, found.key
            ))
        })
    };
    let id = match (literal, &r53.access_key_id_secret_ref) {
        (Some(id), _) => Some(id.to_string()),
        (None, Some(r)) => Some(from_secret("accessKeyIDSecretRef", r).await?),
        (None, None) => None,
    };
    let secret = match &r53.secret_access_key_secret_ref {
        Some(r) if !r.name.is_empty() => Some(from_secret("secretAccessKeySecretRef", r).await?),
        _ => None,
    };
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => {
            Ok(Credentials { access_key_id, secret_access_key, session_token: None })
        }
        (None, None) => Err(Route53Error::Config(
            "dns01.route53 names no access key, and certsmith uses no ambient credentials: set \
             accessKeyID (or accessKeyIDSecretRef) and secretAccessKeySecretRef"
                .into(),
        )),
        _ => Err(Route53Error::Config(
            "unable to construct route53 provider: only one of access and secret key was provided"
                .into(),
        )),
    }
}

/// The hosted zone for `fqdn`: the issuer's `hostedZoneID`, else, as cert-manager finds it, the
/// public zone among ListHostedZonesByName's answer (from the zone DNS names for `fqdn`) whose
/// name is the longest suffix of `fqdn`.
async fn hosted_zone(
    ctx: &Context,
    client: &api::Client<'_>,
    r53: &AcmeIssuerDnsRoute53,
    fqdn: &str,
) -> Result<String, Route53Error> {
    if let Some(id) = r53.hosted_zone_id.as_deref().filter(|i| !i.trim().is_empty()) {
        return api::plain_id(id).map(str::to_string).ok_or_else(|| {
            Route53Error::Config(format!("hostedZoneID {id:?} is not a Route 53 zone ID"))
        });
    }
    let resolver = crate::dns01::recursive(ctx).await?[0];
    let name = hickory_proto::rr::Name::from_ascii(fqdn)
        .map_err(|e| Route53Error::Config(format!("{fqdn:?} is no DNS name: {e}")))?;
    let zone = crate::dns01::dns::zone_of(resolver, &name).await?.to_string();
    let zones = client.zones_by_name(zone.trim_end_matches('.')).await?;
    let lower = fqdn.to_ascii_lowercase();
    let best = zones
        .hosted_zones
        .hosted_zone
        .iter()
        .filter(|z| !z.config.as_ref().is_some_and(|c| c.private_zone))
        .filter(|z| {
            let n = z.name.to_ascii_lowercase();
            lower == n || lower.ends_with(&format!(".{n}"))
        })
        .max_by_key(|z| z.name.len());
    let missing =
        || Route53Error::Config(format!("zone {zone} not found in Route 53 for domain {fqdn}"));
    let best = best.ok_or_else(missing)?;
    api::plain_id(&best.id).map(str::to_string).ok_or_else(missing)
}

/// Makes `action` (UPSERT or DELETE) of the challenge's set.
async fn change(ctx: &Context, ch: &Challenge, action: &str) -> Result<(), Route53Error> {
    let r53 = ch.spec.solver.dns01.as_ref().and_then(|d| d.route53.as_ref());
    let r53 =
        r53.ok_or_else(|| Route53Error::Config("the DNS-01 solver names no route53".into()))?;
    if let Some(why) = unsupported(r53) {
        return Err(Route53Error::Config(why));
    }
    let region = r53.region.as_deref().unwrap_or_default();
    let endpoint = |service| {
        api::endpoint(service, region, |k| std::env::var(k).ok()).map_err(Route53Error::Config)
    };
    let mut creds = credentials(ctx, ch, r53).await?;
    // `role`: assumed with the issuer's own key (never an ambient one), as cert-manager does.
    if let Some(role) = r53.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        let sts = api::Client { endpoint: endpoint(api::Service::Sts)?, creds: &creds };
        creds = sts.assume_role(role).await?;
    }
    let endpoint = endpoint(api::Service::Route53)?;
    let client = api::Client { endpoint, creds: &creds };
    let fqdn = crate::dns01::followed(ctx, ch).await?.to_string();
    let zone = hosted_zone(ctx, &client, r53, &fqdn).await?;
    let value = format!("\"{}\"", ch.spec.key);
    let body = api::change_body(action, &fqdn, &value, TTL);
    // cert-manager waits here until the change is INSYNC, holding a worker up to two minutes.
    // certsmith does not: its check asks the zone's authoritative servers, which answer the
    // record only once the change is in sync, so it waits for the same thing without a worker.
    match client.change(&zone, body).await {
        // Deleting a set that is not there: already done (cert-manager's reading too).
        Err(Route53Error::Refused { code, .. })
            if action == "DELETE" && code == "InvalidChangeBatch" =>
        {
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
