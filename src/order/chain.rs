//! The Order step's end: a `valid` order's chain, downloaded (the preferred one, when the
//! issuer names one) and stored in the Order's status.

use super::controller::ca_failed;
use crate::acme::order as ca;
use crate::acme::signed::{self, Signed};
use crate::api::order::State;
use crate::api::{Order, OrderStatus};
use crate::context::Context;
use crate::error::Error;
use crate::issuer::IssuerView;
use instant_acme::Account;
use k8s_openapi::ByteString;
use kube::Resource;
use kube::api::Api;
use kube::runtime::controller::Action;

/// A `valid` order: its chain (the preferred one, when asked) is stored with the state, one
/// write. That write wakes this Order again, finished: its Challenges are deleted then, in one
/// place, and a little later, which leaves their own verdict time to be recorded (a Challenge
/// deleted before it would clean up twice).
pub(super) async fn complete(
    ctx: &Context,
    api: &Api<Order>,
    order: &Order,
    old: &OrderStatus,
    issuer: &IssuerView,
    account: &Account,
    mut at_ca: instant_acme::Order,
) -> Result<Action, Error> {
    let acme = issuer.spec.acme.as_ref();
    let server = acme.map(|a| a.server.as_str()).unwrap_or_default();
    let url = at_ca.url().to_string();
    let chain = match ca::certificate(&mut at_ca, server).await {
        Ok(Some(chain)) => chain,
        Ok(None) => {
            return Ok(Action::requeue(crate::acme::retry_after::next_poll(&url, ctx.now())));
        }
        Err(e) => return ca_failed(ctx, api, order, old, server, e).await,
    };
    let preferred = acme.and_then(|a| a.preferred_chain.as_deref()).filter(|p| !p.is_empty());
    let chain = match (preferred, at_ca.state().certificate.clone()) {
        (Some(name), Some(cert_url))
            if signed::preferred(std::slice::from_ref(&chain), name).is_none() =>
        {
            preferred_chain(ctx, issuer, account, order, &cert_url, name).await.unwrap_or(chain)
        }
        _ => chain,
    };
    // Handed over before the write: its watch event may wake the request before this call
    // returns. Used only once the cache shows the write.
    ctx.chains.give(order, chain.as_bytes());
    let mut new = old.clone();
    new.certificate = Some(ByteString(chain.into_bytes()));
    new.state = Some(State::Valid);
    new.reason = None;
    crate::ssa::replace_status(api, order, &new).await?;
    crate::acme::retry_after::forget(&url);
    let note = "Order completed successfully".into();
    ctx.event(&order.object_ref(&()), false, "Complete", note).await;
    Ok(Action::await_change())
}

/// The CA's chain whose root-most issuer is `name` (`preferredChain`), when the default is not
/// and an alternate is; `None` keeps the default. A failure to fetch the alternates is said in
/// an Event and keeps the default too: the certificate is issued, it is not thrown away.
async fn preferred_chain(
    ctx: &Context,
    issuer: &IssuerView,
    account: &Account,
    order: &Order,
    cert_url: &str,
    name: &str,
) -> Option<String> {
    let chains =
        async { Signed::open(&ctx.client, issuer, account.id()).await?.chains(cert_url).await };
    match chains.await {
        Ok(chains) => signed::preferred(&chains, name).map(|i| chains[i].clone()),
        Err(e) => {
            let note = format!(
                "preferredChain {name:?}: the alternate chains could not be read ({e}); the default chain is used"
            );
            ctx.event(&order.object_ref(&()), true, "PreferredChain", note).await;
            None
        }
    }
}
