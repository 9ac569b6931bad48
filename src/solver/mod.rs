//! The Challenge step's solvers: one trait for whatever answers a challenge (present, check,
//! clean up), the solvers certsmith has, and which one a Challenge's `spec.solver` names. The
//! Challenge controller and the Order's plan know no solver by name: a new solver is one file
//! implementing [`Solver`] and one line in [`SOLVERS`].

pub mod acme_dns;
pub mod dns_persist;
pub mod http01;
pub mod http01_gateway;
pub mod http01_ingress;
pub mod issuer_secret;
pub mod provider_http;
pub mod rfc2136;
pub mod route53;
pub mod select;
pub mod webhook;

use crate::api::Challenge;
use crate::api::acme::AcmeChallengeSolver;
use crate::api::order::ChallengeType;
use crate::context::Context;
use futures::FutureExt;
use futures::future::BoxFuture;
use std::collections::BTreeMap;

/// Every solver certsmith has; the first whose [`Solver::configured_by`] holds answers.
pub static SOLVERS: &[&dyn Solver] = &[
    &http01_ingress::IngressSolver,
    &http01_gateway::GatewaySolver,
    &rfc2136::Rfc2136Solver,
    &webhook::WebhookSolver,
    &route53::Route53Solver,
    &acme_dns::AcmeDnsSolver,
];

/// What a solver could not do. The user's words are [`Error::message`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Dns(#[from] crate::dns01::Error),
    #[error("{0}")]
    Webhook(#[from] webhook::WebhookError),
    #[error("{0}")]
    Route53(#[from] route53::Route53Error),
    #[error("{0}")]
    AcmeDns(#[from] acme_dns::AcmeDnsError),
}

impl Error {
    /// The refusal as a condition or an Event says it: the API server's or DNS server's words.
    pub fn message(&self) -> String {
        match self {
            Error::Kube(e) => crate::acme::api_message(e),
            Error::Dns(e) => e.to_string(),
            Error::Webhook(e) => e.to_string(),
            Error::Route53(e) => e.to_string(),
            Error::AcmeDns(e) => e.to_string(),
        }
    }
}

/// One way of answering ACME challenges. `ctx` gives the client, the settings, the clock and
/// the responder; everything about the challenge itself is in the Challenge's spec (the Order
/// applied the overrides when it built it), so a solver reads nothing else about it.
pub trait Solver: Sync {
    /// The challenge type it answers.
    fn challenge_type(&self) -> ChallengeType;

    /// Whether `config` (an issuer's solver, or a Challenge's `spec.solver`) configures it.
    fn configured_by(&self, config: &AcmeChallengeSolver) -> bool;

    /// cert-manager's per-Certificate overrides, read from the annotations of the Order (in
    /// `namespace`), applied to the solver the Order writes into a Challenge; `Err` says why
    /// they cannot be.
    fn apply_overrides(
        &self,
        _config: &mut AcmeChallengeSolver,
        _annotations: &BTreeMap<String, String>,
        _namespace: &str,
    ) -> Result<(), String> {
        Ok(())
    }

    /// Whether what it presents for `ch` outlives the Challenge unless a finalizer removes it
    /// (a TXT record, a rule in someone's Ingress); what the Challenge owns needs none. Every
    /// DNS-01 record does; an HTTP-01 solver says.
    fn needs_finalizer(&self, _ch: &Challenge) -> bool {
        self.challenge_type() == ChallengeType::Dns01
    }

    /// Makes the challenge answerable (presenting again is harmless).
    fn present<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// `Ok(None)` once the challenge is answered as the CA will see it, else what is missing.
    /// However a solver writes, the CA reads the same way: DNS-01 records from the servers that
    /// must answer them, HTTP-01 tokens through the route.
    fn check<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<Option<String>, Error>> {
        match self.challenge_type() {
            ChallengeType::Dns01 => async move { Ok(crate::dns01::check(ctx, ch).await) }.boxed(),
            ChallengeType::Http01 => http01::check(ctx, ch).boxed(),
        }
    }

    /// Removes what `present` made, leaving whatever else is there.
    fn clean_up<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>>;
}

impl dyn Solver {
    /// cert-manager's `key` for a key authorization: what HTTP-01 serves as is, what DNS-01
    /// writes as its digest (RFC 8555 §8.3, §8.4).
    pub fn key(&self, key_authorization: String) -> String {
        match self.challenge_type() {
            ChallengeType::Http01 => key_authorization,
            ChallengeType::Dns01 => crate::dns01::txt_value(&key_authorization),
        }
    }
}

/// The solver an issuer's `config` names, or why certsmith has none for it (for a condition).
pub fn for_config(config: &AcmeChallengeSolver) -> Result<&'static dyn Solver, String> {
    SOLVERS.iter().copied().find(|s| s.configured_by(config)).ok_or_else(|| {
        const WRITES: &str = "rfc2136, route53, acmeDNS and webhook";
        match config.dns01.as_ref().map(|d| d.providers()) {
            Some(named) if named.is_empty() => format!(
                "names no DNS-01 provider (certsmith writes through {WRITES}); without one, a \
                 dns01 solver serves only an issuer opted in to dns-persist-01 \
                 ({})",
                dns_persist::ISSUER_ANNOTATION
            ),
            Some(named) => format!(
                "is the DNS-01 provider {}, which certsmith does not write through (it writes \
                 through {WRITES}); a cert-manager webhook solver for it works",
                named.join(", ")
            ),
            None => "configures no HTTP-01 solver certsmith has (http01.ingress, http01.gatewayHTTPRoute)"
                .into(),
        }
    })
}

/// The solver for a Challenge: the one its `spec.solver` names, of its `spec.type`; a
/// dns-persist-01 Challenge's own, whatever solver selected its name.
pub fn for_challenge(ch: &Challenge) -> Result<&'static dyn Solver, String> {
    if dns_persist::answers(ch) {
        return Ok(&dns_persist::PersistSolver);
    }
    let solver = for_config(&ch.spec.solver).map_err(|why| format!("the solver {why}"))?;
    if solver.challenge_type() != ch.spec.type_ {
        let (named, asked) = (solver.challenge_type().as_str(), ch.spec.type_.as_str());
        return Err(format!("the solver answers {named} challenges, and this one is {asked}"));
    }
    Ok(solver)
}
