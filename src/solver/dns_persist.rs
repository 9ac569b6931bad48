//! The Challenge step's dns-persist-01 answer (draft-ietf-acme-dns-persist): nothing written per
//! issuance. A DNS team creates `_validation-persist.<name>` once, a TXT naming the CA and the
//! issuer's ACME account; certsmith checks it is there, as the CA reads it, and accepts the
//! challenge. An issuer opts in with the `acme.certsmith.io/dns-persist-01: "true"` annotation
//! (cert-manager's schema has no place for it); its `certsmith.io/DNSPersistRecord` condition
//! names the record.

use super::{Error, Solver};
use crate::acme::legacy::LegacyClient;
use crate::api::Challenge;
use crate::api::acme::AcmeChallengeSolver;
use crate::api::order::ChallengeType;
use crate::context::Context;
use crate::issuer::IssuerView;
use futures::FutureExt;
use futures::future::BoxFuture;
use hickory_proto::rr::Name;
use jiff::Timestamp;
use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex};

/// On an Issuer or ClusterIssuer: `"true"` has names its DNS-01 solvers select authorized
/// through the standing record wherever the CA offers dns-persist-01.
pub const ISSUER_ANNOTATION: &str = "acme.certsmith.io/dns-persist-01";
/// On a Challenge: the ACME challenge type it answers when cert-manager's `spec.type` (HTTP-01
/// or DNS-01, all its schema allows) cannot say it.
pub const CHALLENGE_ANNOTATION: &str = "acme.certsmith.io/challenge-type";
/// The ACME name of the challenge type.
pub const TYPE: &str = "dns-persist-01";
/// The Issuer condition that shows the record to create.
pub const CONDITION: &str = "certsmith.io/DNSPersistRecord";

/// What a dns-persist-01 Challenge names: the CA (by the first of the domain names its
/// directory gives as `caaIdentities`, which the draft has the CA offer as its issuer domain
/// names) and the issuer's account.
#[derive(Debug, Clone, PartialEq)]
pub struct Persist {
    pub issuer_domain_name: String,
    pub account_uri: String,
}

/// The CA's names for itself, from its directory's `caaIdentities`, by server, with when they
/// were read: read once an hour, not once per order.
static IDENTITIES: LazyLock<Mutex<HashMap<String, Identities>>> = LazyLock::new(Default::default);
type Identities = (Vec<String>, Timestamp);

/// What `issuer`'s dns-persist-01 Challenges name (`None`: it has not opted in), for the
/// account at `account_uri`; `Err` says why the CA cannot be named.
pub async fn persist(
    issuer: &IssuerView,
    account_uri: &str,
    now: Timestamp,
) -> Result<Option<Persist>, String> {
    let Some(acme) = issuer.spec.acme.as_ref().filter(|_| issuer.dns_persist) else {
        return Ok(None);
    };
    // Read through the issuer's own caBundle and skipTLSVerify: an issuer that trusts other
    // roots (a tenant's) must not fill the entry another issuer of the same URL reads.
    let bundle = acme
        .ca_bundle
        .as_ref()
        .map(|b| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &b.0).as_ref().to_vec());
    let key = format!("{}|{:?}|{:?}", acme.server, acme.skip_tls_verify, bundle);
    let cached = IDENTITIES.lock().ok().and_then(|m| m.get(&key).cloned());
    let names = match cached {
        Some((names, at)) if now.duration_since(at).as_secs() < 3600 => names,
        _ => {
            let http = crate::acme::client::for_issuer(acme).map_err(|e| e.to_string())?;
            let ca = LegacyClient::new(http, &acme.server).await.map_err(|e| e.to_string())?;
            let names: Vec<String> = ca.directory["meta"]["caaIdentities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_ascii_lowercase))
                .collect();
            if let Ok(mut m) = IDENTITIES.lock() {
                m.insert(key, (names.clone(), now));
            }
            names
        }
    };
    let Some(first) = names.into_iter().next() else {
        return Err(format!(
            "{} opts in to dns-persist-01, but the ACME server's directory names no caaIdentities, by which the record names the CA",
            issuer.display()
        ));
    };
    Ok(Some(Persist { issuer_domain_name: first, account_uri: account_uri.to_string() }))
}

/// Whether an issuer's annotations opt it in.
pub fn opted_in(annotations: Option<&BTreeMap<String, String>>) -> bool {
    annotations.and_then(|a| a.get(ISSUER_ANNOTATION)).is_some_and(|v| v == "true")
}

/// Whether a Challenge answers dns-persist-01.
pub fn answers(ch: &Challenge) -> bool {
    ch.metadata.annotations.as_ref().and_then(|a| a.get(CHALLENGE_ANNOTATION)).map(String::as_str)
        == Some(TYPE)
}

/// `_validation-persist.<name>.` for a challenge's DNS name (a wildcard's base name).
pub fn record_name(dns_name: &str) -> Result<Name, String> {
    let bare = dns_name.strip_prefix("*.").unwrap_or(dns_name).trim_end_matches('.');
    Name::from_ascii(format!("_validation-persist.{bare}."))
        .map_err(|e| format!("{dns_name:?} is no DNS name: {e}"))
}

/// The TXT value authorizing the account at `account_uri` with the CA named `issuer` (one of
/// its issuer domain names); `wildcard` adds `policy=wildcard`, without which the CA refuses
/// a wildcard (and which also authorizes every name under it).
pub fn record_value(issuer: &str, account_uri: &str, wildcard: bool) -> String {
    let policy = if wildcard { "; policy=wildcard" } else { "" };
    format!("{issuer}; accounturi={account_uri}{policy}")
}

/// A TXT value read as the draft reads it: an RFC 8659 issue-value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IssueValue {
    pub issuer: String,
    pub account_uri: Option<String>,
    pub policy: Option<String>,
    pub persist_until: Option<i64>,
}

/// `issuer-domain-name [; tag=value]…` (RFC 8659 §4.2): tags are case-insensitive, a tag twice
/// is malformed, unknown tags are ignored, values hold no spaces or semicolons.
pub fn parse(record: &str) -> Result<IssueValue, String> {
    let mut parts = record.split(';');
    let issuer = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let mut value = IssueValue { issuer, ..Default::default() };
    let mut seen = Vec::new();
    for part in parts.map(str::trim).filter(|p| !p.is_empty()) {
        let Some((tag, v)) = part.split_once('=') else {
            return Err(format!("parameter {part:?} is not tag=value"));
        };
        let tag = tag.trim().to_ascii_lowercase();
        let v = v.trim();
        if tag.is_empty() || !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("parameter tag {tag:?} is not alphanumeric"));
        }
        if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("the value of {tag} holds whitespace"));
        }
        if seen.contains(&tag) {
            return Err(format!("parameter {tag} appears twice"));
        }
        match tag.as_str() {
            "accounturi" => value.account_uri = Some(v.to_string()),
            "policy" => value.policy = Some(v.to_ascii_lowercase()),
            "persistuntil" => {
                let at = v.parse().map_err(|_| format!("persistUntil {v:?} is no Unix time"))?;
                value.persist_until = Some(at);
            }
            _ => {}
        }
        seen.push(tag);
    }
    Ok(value)
}

/// Whether one of `records` authorizes `account_uri` with a CA named `issuer`, for a name
/// (`wildcard`: its wildcard) at `now`, as the CA will decide; `Err` says why none does.
pub fn verdict(
    records: &[String],
    issuer: &str,
    account_uri: &str,
    wildcard: bool,
    now: Timestamp,
) -> Result<(), String> {
    let mut why = Vec::new();
    for record in records {
        let value = match parse(record) {
            Ok(v) if !v.issuer.eq_ignore_ascii_case(issuer) => continue,
            Ok(v) => v,
            Err(e) => {
                why.push(format!("{record:?}: {e}"));
                continue;
            }
        };
        let problem = match (&value.account_uri, &value.policy, value.persist_until) {
            (None, _, _) => "names no accounturi".to_string(),
            (Some(uri), _, _) if uri != account_uri => format!("names the account {uri}"),
            (_, p, _) if wildcard && p.as_deref() != Some("wildcard") => {
                "has no policy=wildcard, which a wildcard needs".to_string()
            }
            (_, _, Some(until)) if now.as_second() > until => {
                format!("was to persist until {until} (Unix time), which has passed")
            }
            _ => return Ok(()),
        };
        why.push(format!("{record:?} {problem}"));
    }
    if why.is_empty() {
        return Err(format!("no TXT record names {issuer}"));
    }
    Err(why.join("; "))
}

/// Answers dns-persist-01: presents nothing, removes nothing, checks the standing record.
pub struct PersistSolver;

impl Solver for PersistSolver {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Dns01
    }

    /// Chosen by a Challenge's annotation, never by an issuer's solver (see `for_challenge`).
    fn configured_by(&self, _: &AcmeChallengeSolver) -> bool {
        false
    }

    /// Nothing is written, so nothing outlives the Challenge.
    fn needs_finalizer(&self, _: &Challenge) -> bool {
        false
    }

    fn present<'a>(&'a self, _: &'a Context, _: &'a Challenge) -> BoxFuture<'a, Result<(), Error>> {
        async { Ok(()) }.boxed()
    }

    /// Every server that must answer holds a record that authorizes the account; the
    /// Challenge's `key` is the record certsmith asks for, and names the CA and the account.
    fn check<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<Option<String>, Error>> {
        async move {
            let name = record_name(&ch.spec.dns_name).map_err(crate::dns01::Error::Config)?;
            let asked = parse(&ch.spec.key).map_err(crate::dns01::Error::Config)?;
            let account = asked.account_uri.unwrap_or_default();
            let wildcard = ch.spec.wildcard == Some(true);
            for server in crate::dns01::servers(ctx, &name).await? {
                let records = crate::dns01::dns::txt(server, &name).await?;
                if let Err(why) = verdict(&records, &asked.issuer, &account, wildcard, ctx.now()) {
                    let ask = format!("create once: {name} TXT \"{}\"", ch.spec.key);
                    return Ok(Some(format!("{server} answers for {name}: {why}; {ask}")));
                }
            }
            Ok(None)
        }
        .boxed()
    }

    fn clean_up<'a>(
        &'a self,
        _: &'a Context,
        _: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async { Ok(()) }.boxed()
    }
}

#[cfg(test)]
#[path = "dns_persist_tests.rs"]
mod tests;
