//! The Challenge step's DNS-01 provider for acme-dns (`dns01.acmeDNS`): the TXT value is POSTed
//! to `<host>/update` with the credentials of the acme-dns account the issuer's Secret holds for
//! the challenge's domain, as cert-manager's provider does. acme-dns serves the value at the
//! account's `fulldomain`, which the user's `_acme-challenge.<name>` CNAME points at; certsmith's
//! own DNS check follows that CNAME, as the CA does.

use super::{Error, Solver};
use crate::api::Challenge;
use crate::api::acme::{AcmeChallengeSolver, AcmeIssuerAcmeDns};
use crate::api::order::ChallengeType;
use crate::context::Context;
use crate::solver::provider_http::{causes, client};
use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use kube::ResourceExt;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The most of an answer certsmith reads: acme-dns answers a few dozen bytes, and `host` is
/// the tenant's to choose.
const MAX_ANSWER: usize = 1 << 20;

/// The most of acme-dns's error word kept (it is a word: `forbidden`, `bad_txt`).
const MAX_MESSAGE: usize = 200;

/// How long one update may take, answer included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What the acme-dns provider could not do. Never holds the account's password.
#[derive(Debug, thiserror::Error)]
pub enum AcmeDnsError {
    #[error("the DNS-01 solver names no acmeDNS provider")]
    NoProvider,
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Secret(String),
    /// The account JSON cannot be read. `why` is serde's category and position only: its
    /// message may quote a value, and a value may be a password.
    #[error(
        "{where_} does not hold acme-dns account JSON (a map from each domain to its account): {why}"
    )]
    Accounts { where_: String, why: String },
    #[error(
        "{where_} has no acme-dns account for {domain:?} (the account JSON is keyed by the domain, without \"*.\")"
    )]
    NoAccount { where_: String, domain: String },
    /// acme-dns's own refusal: its `error` word (`forbidden` for a wrong user or key).
    #[error("acme-dns at {host} refused the update for {domain}: HTTP {code}: {error}")]
    Refused { host: String, domain: String, code: u16, error: String },
    /// Not acme-dns's answer (no `error` word): the status only, never the body, since `host`
    /// may name any server the operator reaches.
    #[error("{host} answered the update for {domain} with HTTP {code}, and no acme-dns error")]
    Http { host: String, domain: String, code: u16 },
    #[error("acme-dns at {host} did not answer: {why}")]
    Unreachable { host: String, why: String },
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
}

/// One account of the JSON acme-dns's clients write after `POST /register`.
#[derive(Deserialize)]
pub struct Account {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub fulldomain: String,
    pub subdomain: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Account { username, fulldomain, subdomain, .. } = self;
        f.debug_struct("Account")
            .field("username", username)
            .field("fulldomain", fulldomain)
            .field("subdomain", subdomain)
            .finish_non_exhaustive()
    }
}

pub struct AcmeDnsSolver;

impl Solver for AcmeDnsSolver {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Dns01
    }

    fn configured_by(&self, config: &AcmeChallengeSolver) -> bool {
        config.dns01.as_ref().and_then(|d| d.acme_dns.as_ref()).is_some()
    }

    fn present<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async move { Ok(present(ctx, ch).await?) }.boxed()
    }

    /// Nothing: acme-dns has no way to remove a value (its API is register and update). It
    /// keeps the two newest values of each subdomain, so the next challenge's values replace
    /// this one's; cert-manager's provider does nothing either.
    fn clean_up<'a>(
        &'a self,
        _ctx: &'a Context,
        _ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async { Ok(()) }.boxed()
    }
}

/// `<host>/update`, for a `host` that is an http or https URL (a trailing `/` is dropped).
pub fn update_url(host: &str) -> Result<http::Uri, AcmeDnsError> {
    let bad = |why: &str| AcmeDnsError::Config(format!("dns01.acmeDNS.host {host:?} {why}"));
    let url: http::Uri = format!("{}/update", host.trim_end_matches('/'))
        .parse()
        .map_err(|_| bad("is not a URL"))?;
    if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
        return Err(bad("is not an http or https URL"));
    }
    if url.query().is_some() {
        return Err(bad("has a query"));
    }
    Ok(url)
}

/// The accounts of the JSON at `where_`, keyed by domain.
pub fn accounts(json: &[u8], where_: &str) -> Result<BTreeMap<String, Account>, AcmeDnsError> {
    serde_json::from_slice(json).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Io | serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Eof => "JSON cut short",
            serde_json::error::Category::Data => "not a map of domain to account",
        };
        let why = format!("{kind} (at line {} column {})", e.line(), e.column());
        AcmeDnsError::Accounts { where_: where_.into(), why }
    })
}

/// The verdict on acme-dns's answer `code` and `body`: 200 is done (what goacmedns, which
/// cert-manager uses, asks for); else acme-dns's `{"error": …}` word.
pub fn verdict(host: &str, domain: &str, code: u16, body: &[u8]) -> Result<(), AcmeDnsError> {
    if code == 200 {
        return Ok(());
    }
    #[derive(Deserialize)]
    struct Refusal {
        error: String,
    }
    let (host, domain) = (host.to_string(), domain.to_string());
    match serde_json::from_slice::<Refusal>(body) {
        Ok(r) if !r.error.is_empty() => {
            let error = r.error.chars().take(MAX_MESSAGE).collect();
            Err(AcmeDnsError::Refused { host, domain, code, error })
        }
        _ => Err(AcmeDnsError::Http { host, domain, code }),
    }
}

/// The provider the Challenge's solver names.
fn provider(ch: &Challenge) -> Result<&AcmeIssuerAcmeDns, AcmeDnsError> {
    let dns01 = ch.spec.solver.dns01.as_ref();
    dns01.and_then(|d| d.acme_dns.as_ref()).ok_or(AcmeDnsError::NoProvider)
}

/// The account for the challenge's domain, from the issuer's Secret: the Issuer's namespace,
/// or the cluster resource namespace for a ClusterIssuer.
async fn account(
    ctx: &Context,
    ch: &Challenge,
    p: &AcmeIssuerAcmeDns,
) -> Result<Account, AcmeDnsError> {
    use super::issuer_secret::{self, NO_ISSUER, Unread};
    let r = &p.account_secret_ref;
    let found = issuer_secret::read(ctx, ch, r).await.map_err(|e| match e {
        Unread::NoIssuer => AcmeDnsError::Config(NO_ISSUER.into()),
        Unread::NoKey => AcmeDnsError::Config(
            "dns01.acmeDNS.accountSecretRef.key must name the Secret's entry".into(),
        ),
        Unread::Kube(e) => AcmeDnsError::Kube(e),
    })?;
    let (ns, key) = (&found.namespace, &found.key);
    let where_ = format!("Secret {ns}/{} entry {key:?}", r.name);
    if found.secret.is_none() {
        return Err(AcmeDnsError::Secret(format!("Secret {ns}/{} does not exist", r.name)));
    }
    let Some(data) = found.bytes() else {
        return Err(AcmeDnsError::Secret(format!("Secret {ns}/{} has no entry {key:?}", r.name)));
    };
    // cert-manager keys the accounts by the Challenge's dnsName: the authorization's
    // identifier, which for a wildcard has no "*." (both names of a wildcard Certificate use
    // the one account).
    let domain = &ch.spec.dns_name;
    let mut all = accounts(data, &where_)?;
    all.remove(domain).ok_or(AcmeDnsError::NoAccount { where_, domain: domain.clone() })
}

/// Sets the account's TXT value to the challenge's key.
async fn present(ctx: &Context, ch: &Challenge) -> Result<(), AcmeDnsError> {
    let p = provider(ch)?;
    let account = account(ctx, ch, p).await?;
    update(&p.host, &ch.spec.dns_name, &account, &ch.spec.key).await?;
    tracing::debug!(challenge = %ch.name_any(), host = %p.host, fulldomain = %account.fulldomain, "acme-dns updated");
    Ok(())
}

/// acme-dns's `POST /update` at `host`: `account`'s TXT value (for `domain`) set to `txt`.
pub async fn update(
    host: &str,
    domain: &str,
    account: &Account,
    txt: &str,
) -> Result<(), AcmeDnsError> {
    let url = update_url(host)?;
    let host = host.trim_end_matches('/').to_string();
    let body = serde_json::json!({"subdomain": account.subdomain, "txt": txt});
    let unreachable = |why: String| AcmeDnsError::Unreachable { host: host.clone(), why };
    let header = |v: &str| {
        let mut v = http::HeaderValue::from_str(v).map_err(|_| {
            let why = "its username or password is not a header value";
            AcmeDnsError::Config(format!("the acme-dns account for {domain}: {why}"))
        })?;
        v.set_sensitive(true);
        Ok::<_, AcmeDnsError>(v)
    };
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("X-Api-User", header(&account.username)?)
        .header("X-Api-Key", header(&account.password)?)
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| AcmeDnsError::Config(format!("dns01.acmeDNS.host: {e}")))?;
    // No redirect is followed (hyper follows none): the update, with its key, goes to `host`
    // only.
    let sent = async {
        let answer = client().request(request).await.map_err(|e| unreachable(causes(&e)))?;
        let code = answer.status().as_u16();
        let body = http_body_util::Limited::new(answer.into_body(), MAX_ANSWER).collect().await;
        let body = body.map_err(|e| unreachable(format!("{e} (read up to {MAX_ANSWER} bytes)")))?;
        Ok::<_, AcmeDnsError>((code, body.to_bytes()))
    };
    let (code, body) = tokio::time::timeout(TIMEOUT, sent)
        .await
        .map_err(|_| unreachable(format!("no answer within {}s", TIMEOUT.as_secs())))??;
    verdict(&host, domain, code, &body)
}

#[cfg(test)]
#[path = "acme_dns_tests.rs"]
mod tests;
