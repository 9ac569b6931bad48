//! The DNS-01 RFC 2136 solver (`dns01.rfc2136`): the TXT record written to the zone's primary
//! by a TSIG-signed update, checked on the servers that must answer it, removed afterwards
//! (the record work itself is in `dns01`).

use super::{Error, Solver};
use crate::api::Challenge;
use crate::api::acme::AcmeChallengeSolver;
use crate::api::order::ChallengeType;
use crate::context::Context;
use futures::FutureExt;
use futures::future::BoxFuture;

pub struct Rfc2136Solver;

impl Solver for Rfc2136Solver {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Dns01
    }

    fn configured_by(&self, config: &AcmeChallengeSolver) -> bool {
        config.dns01.as_ref().and_then(|d| d.rfc2136.as_ref()).is_some()
    }

    fn present<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async move { Ok(crate::dns01::present(ctx, ch).await?) }.boxed()
    }

    fn clean_up<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async move { Ok(crate::dns01::clean_up(ctx, ch).await?) }.boxed()
    }
}
