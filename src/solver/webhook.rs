//! The DNS-01 webhook solver (`dns01.webhook`), the Challenge step for DNS providers certsmith
//! does not speak itself: cert-manager's webhook protocol, so every existing cert-manager
//! webhook solver works unchanged. A `ChallengePayload` (action `Present` or `CleanUp`) is
//! POSTed through the API server to `/apis/<groupName>/v1alpha1/<solverName>`, the aggregated
//! API the solver registered; the solver writes or removes the TXT record; certsmith's own
//! DNS check (as for RFC 2136) decides when the CA may look.

use super::{Error, Solver};
use crate::api::Challenge;
use crate::api::acme::{AcmeChallengeSolver, AcmeIssuerDnsWebhook};
use crate::api::meta::IssuerReference;
use crate::api::order::ChallengeType;
use crate::context::Context;
use futures::FutureExt;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

/// The most of a solver's answer certsmith reads: a ChallengePayload is a few KiB, and the
/// answer comes from a third party's server.
const MAX_ANSWER: usize = 1 << 20;

/// The most of a solver's message kept (an Event's note takes 1 KiB).
const MAX_MESSAGE: usize = 512;

/// What asking a webhook solver went wrong with. A solver's own refusal is its own words.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// `success: false`: the solver's message (`response.status.message`), as cert-manager
    /// shows it.
    #[error("{0}")]
    Refused(String),
    #[error("the webhook solver {path} answered HTTP {code}: {message}")]
    Http { path: String, code: u16, message: String },
    #[error("the webhook solver {path} gave an answer certsmith cannot read: {why}")]
    Unreadable { path: String, why: String },
    #[error("the webhook solver {path} did not succeed and gave no reason")]
    NoReason { path: String },
    #[error("{0}")]
    Dns(#[from] crate::dns01::Error),
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
}

pub struct WebhookSolver;

impl Solver for WebhookSolver {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Dns01
    }

    fn configured_by(&self, config: &AcmeChallengeSolver) -> bool {
        config.dns01.as_ref().and_then(|d| d.webhook.as_ref()).is_some()
    }

    fn present<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async move { Ok(call(ctx, ch, Action::Present).await?) }.boxed()
    }

    /// The solver only writes: whether the record is visible is certsmith's own check, on the
    /// authoritative servers, as for every DNS-01 record (cert-manager checks the same way).
    /// A challenge never presented has nothing to remove, so a solver that refuses (or is
    /// gone) never holds up its deletion; a presented one is tried again until the solver
    /// removes its record.
    fn clean_up<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async move {
            let presented = ch.status.as_ref().and_then(|s| s.presented) == Some(true);
            match call(ctx, ch, Action::CleanUp).await {
                Err(e) if !presented => {
                    tracing::warn!(challenge = %ch.name_any(), error = %e, "the webhook solver did not clean up");
                    Ok(())
                }
                other => Ok(other?),
            }
        }
        .boxed()
    }
}

/// cert-manager's `ChallengeAction`.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Present,
    CleanUp,
}

/// cert-manager's `ChallengePayload`, as cert-manager sends it: the request only, and no
/// `apiVersion` or `kind`. The solver's server defaults them from the URL; naming them would
/// have to name the library's own group (`webhook.acme.cert-manager.io/v1alpha1` today), which
/// a solver built on another version of the library may not know, and refuse the request.
#[derive(Serialize, Debug, PartialEq)]
pub struct Payload {
    pub request: Request,
}

/// cert-manager's `ChallengeRequest`, field for field.
#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub uid: String,
    pub action: Action,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub dns_name: String,
    pub key: String,
    pub resource_namespace: String,
    #[serde(rename = "resolvedFQDN")]
    pub resolved_fqdn: String,
    pub resolved_zone: String,
    pub allow_ambient_credentials: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

/// The answer: cert-manager's `ChallengePayload` with its `response`.
#[derive(Deserialize, Debug, Default)]
struct Answer {
    response: Option<Response>,
}

#[derive(Deserialize, Debug, Default)]
struct Response {
    #[serde(default)]
    success: bool,
    /// A `metav1.Status`; its message is the solver's error.
    status: Option<StatusMessage>,
}

#[derive(Deserialize, Debug, Default)]
struct StatusMessage {
    #[serde(default)]
    message: String,
}

/// The namespace whose resources (Secrets) the solver's config names: the Issuer's own, or
/// for a ClusterIssuer the cluster resource namespace (cert-manager's `ResourceNamespaceRef`).
pub fn resource_namespace(r: &IssuerReference, namespace: &str, cluster_namespace: &str) -> String {
    match crate::issuer::referenced_kind(r) {
        Some("ClusterIssuer") => cluster_namespace.into(),
        _ => namespace.into(),
    }
}

/// The request for `ch`, its record at `fqdn` in `zone` (both absolute, with the final dot).
/// Only the solver's `config` is sent, as cert-manager sends it. Ambient credentials are never
/// allowed: certsmith's issuers use none (its `--*-ambient-credentials` flags change nothing).
pub fn request(
    ch: &Challenge,
    webhook: &AcmeIssuerDnsWebhook,
    action: Action,
    resource_namespace: String,
    fqdn: String,
    zone: String,
    uid: String,
) -> Request {
    Request {
        uid,
        action,
        type_: "dns-01",
        dns_name: ch.spec.dns_name.clone(),
        key: ch.spec.key.clone(),
        resource_namespace,
        resolved_fqdn: fqdn,
        resolved_zone: zone,
        allow_ambient_credentials: false,
        config: webhook.config.as_ref().map(|c| serde_json::Value::Object(c.0.clone())),
    }
}

/// The solver's verdict from its HTTP `code` and `body`, as cert-manager reads it: success
/// only with a 2xx and `success: true`; else the solver's message, else the API server's.
fn verdict(path: &str, code: u16, body: &[u8]) -> Result<(), WebhookError> {
    let ok = (200..300).contains(&code);
    let answer: Option<Answer> = serde_json::from_slice(body).ok();
    let response = answer.and_then(|a| a.response);
    if ok && response.as_ref().is_some_and(|r| r.success) {
        return Ok(());
    }
    // A third party's words go into the Challenge's status, an Event and a metric label: cut
    // to a length all three take.
    let cut = |m: String| m.chars().take(MAX_MESSAGE).collect::<String>();
    let message = response.and_then(|r| r.status).map(|s| s.message).filter(|m| !m.is_empty());
    let message = message.map(cut);
    if let Some(message) = message {
        return Err(WebhookError::Refused(message));
    }
    if !ok {
        // Not the solver's answer: the API server's Status (no APIService, solver down, RBAC).
        let status: Option<StatusMessage> = serde_json::from_slice(body).ok();
        let message = status
            .map(|s| cut(s.message))
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
        return Err(WebhookError::Http { path: path.into(), code, message });
    }
    if serde_json::from_slice::<Answer>(body).is_err() {
        let why = "not a ChallengePayload".into();
        return Err(WebhookError::Unreadable { path: path.into(), why });
    }
    Err(WebhookError::NoReason { path: path.into() })
}

/// `/apis/<groupName>/v1alpha1/<solverName>`. Both are an issuer's words, which a namespace's
/// editors write: each must be a plain name (lowercase letters, digits, `-`, `.`), so that no
/// `/`, `..`, `?` or `%` turns the POST, made with certsmith's own rights, into another request.
fn path(webhook: &AcmeIssuerDnsWebhook) -> Result<String, WebhookError> {
    let plain = |s: &str| {
        let edge =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let inner = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
        s.len() <= 253
            && edge(s.chars().next())
            && edge(s.chars().last())
            && s.chars().all(inner)
            && !s.contains("..")
    };
    for (field, value) in [("groupName", &webhook.group_name), ("solverName", &webhook.solver_name)]
    {
        if !plain(value) {
            return Err(WebhookError::Refused(format!(
                "dns01.webhook.{field} {value:?} is not a name: lowercase letters, digits, '-' and \
                 '.' only, beginning and ending with a letter or digit"
            )));
        }
    }
    Ok(format!("/apis/{}/v1alpha1/{}", webhook.group_name, webhook.solver_name))
}

/// Asks the solver `ch` names to do `action`.
async fn call(ctx: &Context, ch: &Challenge, action: Action) -> Result<(), WebhookError> {
    let webhook = ch.spec.solver.dns01.as_ref().and_then(|d| d.webhook.as_ref());
    let Some(webhook) = webhook else {
        return Err(WebhookError::Refused("the DNS-01 solver names no webhook".into()));
    };
    let path = path(webhook)?;
    let fqdn = crate::dns01::followed(ctx, ch).await?;
    let resolver = crate::dns01::recursive(ctx).await?[0];
    let zone = crate::dns01::dns::zone_of(resolver, &fqdn).await?;
    let namespace = ch.namespace().unwrap_or_default();
    let cluster_namespace = ctx.config.cluster_resource_namespace();
    let payload = Payload {
        request: request(
            ch,
            webhook,
            action,
            resource_namespace(&ch.spec.issuer_ref, &namespace, cluster_namespace),
            fqdn.to_string(),
            zone.to_string(),
            uid(),
        ),
    };
    let body = serde_json::to_vec(&payload).expect("a payload is JSON");
    let sent = http::Request::post(&path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(kube::client::Body::from(body))
        .map_err(|e| WebhookError::Unreadable { path: path.clone(), why: e.to_string() })?;
    let answer = ctx.client.send(sent).await?;
    let code = answer.status().as_u16();
    let read = http_body_util::Limited::new(answer.into_body(), MAX_ANSWER).collect().await;
    let body = read.map_err(|e| WebhookError::Unreadable {
        path: path.clone(),
        why: format!("{e} (answers are read up to {MAX_ANSWER} bytes)"),
    })?;
    verdict(&path, code, &body.to_bytes())
}

/// A fresh UUID (v4) for one round trip, so the solver's and the API server's logs of it can
/// be told from others.
fn uid() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("the system's random source");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
