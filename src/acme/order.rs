//! One ACME order: opened (or resumed from its URL), its HTTP-01 challenges listed and marked
//! ready, then polled, finalized with a CSR, and its chain downloaded.

use super::AcmeError;
use crate::api::certificate::Http01Challenge;
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, Order, OrderStatus,
    RetryPolicy,
};
use std::time::Duration;

/// How long to wait for the CA between steps: validation, then issuance. Pebble answers in
/// milliseconds, Let's Encrypt in seconds; a CA slower than this fails the attempt, which is
/// retried with backoff and resumes the same order.
const POLL: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(100))
    .backoff(1.5)
    .timeout(Duration::from_secs(90));

/// Resumes the order at `url` when there is one (a restarted operator, a new leader), else
/// opens a new one for `identifiers`.
pub async fn open(
    account: &Account,
    server: &str,
    identifiers: &[String],
    profile: Option<&str>,
    url: Option<&str>,
) -> Result<Order, AcmeError> {
    let err = |e| AcmeError::from_acme(server, e);
    if let Some(url) = url {
        return account.order(url.to_string()).await.map_err(err);
    }
    let ids: Vec<Identifier> = identifiers
        .iter()
        .map(|n| match n.parse() {
            Ok(ip) => Identifier::Ip(ip),
            Err(_) => Identifier::Dns(n.clone()),
        })
        .collect();
    let mut new = NewOrder::new(&ids);
    if let Some(p) = profile {
        new = new.profile(p);
    }
    account.new_order(&new).await.map_err(err)
}

/// The order's state as ACME names it: pending, ready, processing, valid, invalid.
pub fn state(order: &mut Order) -> String {
    format!("{:?}", order.state().status).to_lowercase()
}

/// The HTTP-01 challenges of the order's pending authorizations.
pub async fn pending_challenges(
    order: &mut Order,
    server: &str,
) -> Result<Vec<Http01Challenge>, AcmeError> {
    let mut found = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| AcmeError::from_acme(server, e))?;
        if authz.status != AuthorizationStatus::Pending {
            continue;
        }
        let host = authz.identifier().to_string();
        let Some(challenge) = authz.challenge(ChallengeType::Http01) else {
            return Err(AcmeError::Account(format!(
                "the CA offers no HTTP-01 challenge for {host}"
            )));
        };
        found.push(Http01Challenge {
            host,
            token: challenge.token.clone(),
            key_authorization: challenge.key_authorization().as_str().to_string(),
        });
    }
    Ok(found)
}

/// Tells the CA that every pending authorization's HTTP-01 challenge can be validated.
pub async fn set_ready(order: &mut Order, server: &str) -> Result<(), AcmeError> {
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| AcmeError::from_acme(server, e))?;
        if authz.status != AuthorizationStatus::Pending {
            continue;
        }
        if let Some(mut challenge) = authz.challenge(ChallengeType::Http01) {
            challenge.set_ready().await.map_err(|e| AcmeError::from_acme(server, e))?;
        }
    }
    Ok(())
}

/// Waits until the CA has validated every authorization. An invalid order reports the CA's
/// own words for the failed challenge (e.g. what it fetched instead of the key authorization).
pub async fn wait_ready(order: &mut Order, server: &str) -> Result<(), AcmeError> {
    let status = order.poll_ready(&POLL).await.map_err(|e| AcmeError::from_acme(server, e))?;
    match status {
        OrderStatus::Ready | OrderStatus::Processing | OrderStatus::Valid => Ok(()),
        _ => Err(invalid(order).await),
    }
}

/// Finalizes with `csr` (unless already done) and returns the PEM chain, leaf first.
pub async fn finalize(order: &mut Order, server: &str, csr: &[u8]) -> Result<String, AcmeError> {
    let err = |e| AcmeError::from_acme(server, e);
    if order.state().status == OrderStatus::Ready {
        order.finalize_csr(csr).await.map_err(err)?;
    }
    order.poll_certificate(&POLL).await.map_err(err)
}

async fn invalid(order: &mut Order) -> AcmeError {
    let url = order.url().to_string();
    let mut detail = order.state().error.as_ref().map(|p| p.to_string()).unwrap_or_default();
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        if let Ok(state) = authz.refresh().await
            && state.status == AuthorizationStatus::Invalid
        {
            let name = state.identifier().to_string();
            for c in &state.challenges {
                if let Some(problem) = &c.error {
                    detail = format!("validating {name}: {problem}");
                }
            }
        }
    }
    AcmeError::OrderFailed { url, state: "invalid".into(), detail }
}
