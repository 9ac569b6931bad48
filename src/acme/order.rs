//! One ACME order at the CA, a step at a time: opened (or re-opened from its URL), its
//! authorizations listed, a challenge accepted, an authorization polled, finalized with a CSR,
//! its chain downloaded. Every call is one short exchange; the controllers keep the state.

use super::AcmeError;
use crate::api::State;
use crate::api::order::{AcmeAuthorization, AcmeChallenge};
use crate::metrics::acme_action;
use instant_acme::{
    Account, AuthorizationState, AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier,
    NewOrder, Order, OrderStatus,
};

/// Opens a new order for `identifiers` (DNS names and IP addresses).
pub async fn create(
    account: &Account,
    server: &str,
    identifiers: &[String],
    profile: Option<&str>,
) -> Result<Order, AcmeError> {
    let ids = ids(identifiers);
    let mut new = NewOrder::new(&ids);
    if let Some(p) = profile {
        new = new.profile(p);
    }
    let created = acme_action("authorize_order", account.new_order(&new)).await;
    created.map_err(|e| AcmeError::from_acme(server, e))
}

/// `identifiers` as ACME identifiers: an IP address (RFC 8738) or else a DNS name.
pub fn ids(identifiers: &[String]) -> Vec<Identifier> {
    identifiers
        .iter()
        .map(|n| match n.parse() {
            Ok(ip) => Identifier::Ip(ip),
            Err(_) => Identifier::Dns(n.clone()),
        })
        .collect()
}

/// Re-opens the order at `url` with its current state (one request).
pub async fn open(account: &Account, server: &str, url: &str) -> Result<Order, AcmeError> {
    let opened = acme_action("get_order", account.order(url.to_string())).await;
    opened.map_err(|e| AcmeError::from_acme(server, e))
}

pub fn order_state(order: &mut Order) -> State {
    match order.state().status {
        OrderStatus::Pending => State::Pending,
        OrderStatus::Ready => State::Ready,
        OrderStatus::Processing => State::Processing,
        OrderStatus::Valid => State::Valid,
        OrderStatus::Invalid => State::Invalid,
    }
}

fn authorization_state(s: AuthorizationStatus) -> State {
    match s {
        AuthorizationStatus::Pending => State::Pending,
        AuthorizationStatus::Valid => State::Valid,
        AuthorizationStatus::Expired => State::Expired,
        _ => State::Invalid,
    }
}

fn type_name(t: &ChallengeType) -> String {
    match t {
        ChallengeType::Http01 => "http-01".into(),
        ChallengeType::Dns01 => "dns-01".into(),
        ChallengeType::TlsAlpn01 => "tls-alpn-01".into(),
        ChallengeType::DeviceAttest01 => "device-attest-01".into(),
        ChallengeType::Unknown(other) => other.clone(),
        _ => "unknown".into(),
    }
}

/// The order's authorizations as cert-manager records them (fetched once per authorization).
pub async fn authorizations(
    order: &mut Order,
    server: &str,
) -> Result<Vec<AcmeAuthorization>, AcmeError> {
    let mut found = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(authz) = acme_action("get_authorization", authorizations.next()).await {
        let authz = authz.map_err(|e| AcmeError::from_acme(server, e))?;
        let identifier = authz.identifier();
        let name = match identifier.identifier {
            Identifier::Dns(d) => d.clone(),
            other => other.authorized(false).to_string(),
        };
        found.push(AcmeAuthorization {
            url: authz.url().to_string(),
            identifier: Some(name),
            wildcard: Some(authz.wildcard),
            initial_state: Some(authorization_state(authz.status)),
            challenges: Some(
                authz
                    .challenges
                    .iter()
                    .map(|c| AcmeChallenge {
                        url: c.url.clone(),
                        token: c.token.clone(),
                        type_: type_name(&c.r#type),
                    })
                    .collect(),
            ),
        });
    }
    Ok(found)
}

/// What the CA says of the authorization at `authz_url` now: its state, and the CA's words for
/// a failed challenge. With `accept`, its challenge of type `kind` (ACME's name) is first marked
/// ready for validation (unless the CA already moved past pending).
pub async fn authorization(
    account: &Account,
    server: &str,
    order_url: &str,
    authz_url: &str,
    accept: bool,
    kind: &str,
) -> Result<(State, Option<String>), AcmeError> {
    let kind = match kind {
        "http-01" => ChallengeType::Http01,
        "dns-01" => ChallengeType::Dns01,
        // dns-persist-01, which instant-acme has no name for yet.
        other => ChallengeType::Unknown(other.to_string()),
    };
    let err = |e| AcmeError::from_acme(server, e);
    let mut order = open(account, server, order_url).await?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = acme_action("get_authorization", authorizations.next()).await {
        let mut authz = authz.map_err(err)?;
        if authz.url() != authz_url {
            continue;
        }
        let pending = authz.status == AuthorizationStatus::Pending;
        let untouched = authz
            .challenges
            .iter()
            .any(|c| c.r#type == kind && c.status == ChallengeStatus::Pending);
        if accept && pending && untouched {
            if let Some(mut challenge) = authz.challenge(kind.clone()) {
                acme_action("accept_challenge", challenge.set_ready()).await.map_err(err)?;
            }
            return Ok((State::Processing, None));
        }
        // The iterator has just fetched this authorization: its state is the CA's word now.
        return Ok((authorization_state(authz.status), problem(&authz)));
    }
    Err(AcmeError::Account(format!("the order {order_url} has no authorization {authz_url}")))
}

/// Finalizes a `ready` order with the DER `csr`.
pub async fn finalize(order: &mut Order, server: &str, csr: &[u8]) -> Result<(), AcmeError> {
    let finalized = acme_action("create_order_cert", order.finalize_csr(csr)).await;
    finalized.map_err(|e| AcmeError::from_acme(server, e))
}

/// The PEM chain of a `valid` order, or `None` while it is still `processing`.
pub async fn certificate(order: &mut Order, server: &str) -> Result<Option<String>, AcmeError> {
    let fetched = acme_action("fetch_cert", order.certificate()).await;
    fetched.map_err(|e| AcmeError::from_acme(server, e))
}

/// The CA's words for why an order failed: its own error, else the first failed challenge's.
pub async fn failure(order: &mut Order) -> String {
    if let Some(p) = order.state().error.as_ref() {
        return p.to_string();
    }
    let mut detail = String::from("the CA gave no reason");
    let mut authorizations = order.authorizations();
    while let Some(Ok(authz)) = acme_action("get_authorization", authorizations.next()).await {
        if let Some(p) = problem(&authz) {
            detail = p;
        }
    }
    detail
}

/// The CA's words for a failed challenge of `authz`, naming the identifier.
fn problem(authz: &AuthorizationState) -> Option<String> {
    let p = authz.challenges.iter().find_map(|c| c.error.as_ref())?;
    Some(format!("validating {}: {p}", authz.identifier()))
}
