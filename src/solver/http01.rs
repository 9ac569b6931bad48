//! What both HTTP-01 solvers (Ingress, HTTPRoute) of the Challenge step share: the namespace's
//! responder Service they route to, and the check that the route answers.

use super::Error;
use crate::api::Challenge;
use crate::context::Context;
use crate::http01::{self_check, solver_service};
use kube::ResourceExt;

/// Makes sure the Challenge's namespace has the responder Service, its EndpointSlices on the
/// responder pods (at most once a minute per namespace).
pub async fn ensure_service(ctx: &Context, ch: &Challenge) -> Result<(), kube::Error> {
    let (namespace, ensured) = (ch.namespace().unwrap_or_default(), &ctx.solver_services);
    solver_service::ensure(&ctx.client, &ctx.config, ensured, &namespace, ctx.now()).await
}

/// Through the real path when the self-check is on, else when this replica's responder knows
/// the token. While it waits, the namespace's responder Endpoints are kept on the responder
/// pods (no request when `present` just did it: see `solver_service::Ensured`); a failed check
/// has them copied again (and a deleted Service re-made).
pub async fn check(ctx: &Context, ch: &Challenge) -> Result<Option<String>, Error> {
    ensure_service(ctx, ch).await?;
    let (host, token, key) = (&ch.spec.dns_name, &ch.spec.token, &ch.spec.key);
    let problem = if ctx.config.http01_self_check {
        let address = ctx.config.http01_self_check_address.as_deref();
        self_check::check(host, token, key, address).await.err()
    } else if ctx.challenges.lookup(host, token).is_none() {
        Some(format!("the responder has not seen the challenge for {host} yet"))
    } else {
        None
    };
    if problem.is_some() {
        ctx.solver_services.forget(&ch.namespace().unwrap_or_default());
    }
    Ok(problem)
}
