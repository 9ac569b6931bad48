//! The Challenges an Order needs, built from its authorizations and the issuer's solvers. Pure.

use crate::acme::solver;
use crate::api::acme::AcmeChallengeSolver;
use crate::api::order::{AcmeAuthorization, ChallengeType, State};
use crate::api::{Challenge, ChallengeSpec, Order};
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

/// The Challenge for each pending authorization of `order`, or why one cannot be made.
/// `thumbprint` is the account key's (RFC 8555 §8.1: key authorization = token.thumbprint).
pub fn challenges(
    order: &Order,
    authorizations: &[AcmeAuthorization],
    solvers: &[AcmeChallengeSolver],
    thumbprint: &str,
) -> Result<Vec<Challenge>, String> {
    let labels = order.labels().clone();
    let mut out = Vec::new();
    for authz in authorizations {
        if authz.initial_state != Some(State::Pending) {
            continue;
        }
        let name = authz.identifier.clone().unwrap_or_default();
        let wildcard = authz.wildcard == Some(true);
        let shown = if wildcard { format!("*.{name}") } else { name.clone() };
        let Some(chosen) = solver::select(solvers, &shown, &labels) else {
            return Err(format!("no solver of the issuer selects {shown}"));
        };
        let (type_, wanted) = match solver_kind(chosen) {
            Ok(kind) => kind,
            Err(why) => return Err(format!("the solver selected for {shown} {why}")),
        };
        let Some(acme) = authz.challenges.iter().flatten().find(|c| c.type_ == wanted) else {
            return Err(format!("the CA offers no {wanted} challenge for {shown}"));
        };
        let key_authorization = format!("{}.{thumbprint}", acme.token);
        // cert-manager's `key`: what the solver serves (HTTP-01) or writes in TXT (DNS-01).
        let key = match type_ {
            ChallengeType::Dns01 => crate::dns01::txt_value(&key_authorization),
            _ => key_authorization,
        };
        let hash = crate::naming::short_hash(&format!("{}/{}", authz.url, acme.url));
        out.push(Challenge {
            metadata: ObjectMeta {
                name: Some(crate::naming::child(&order.name_any(), &hash[..10], 253)),
                namespace: order.namespace(),
                labels: Some(labels.clone()).filter(|l| !l.is_empty()),
                owner_references: order.controller_owner_ref(&()).map(|o| vec![o]),
                // A TXT record outlives its Challenge unless a finalizer removes it: born with
                // it, no separate write adds it. What HTTP-01 presents through a solver Ingress
                // is owned by the Challenge and needs none (see the Challenge controller).
                finalizers: (type_ == ChallengeType::Dns01)
                    .then(|| vec![crate::challenge::controller::FINALIZER.into()]),
                ..Default::default()
            },
            spec: ChallengeSpec {
                url: acme.url.clone(),
                authorization_url: authz.url.clone(),
                dns_name: name,
                wildcard: Some(wildcard),
                type_,
                token: acme.token.clone(),
                key,
                solver: chosen.clone(),
                issuer_ref: order.spec.issuer_ref.clone(),
            },
            status: None,
        });
    }
    Ok(out)
}

/// What keeps one of `challenges` from being answered (its solver refused by the DNS server or
/// the API server), for the Order's reason, so the Certificate's condition names it too.
pub fn stuck(challenges: &[std::sync::Arc<Challenge>]) -> Option<String> {
    challenges.iter().find_map(|c| {
        let why = c.status.as_ref()?.reason.as_deref()?;
        let presenting = why.starts_with(crate::challenge::controller::PRESENT_FAILED);
        presenting.then(|| format!("the challenge for {}: {why}", c.spec.dns_name))
    })
}

/// The challenge type a solver answers, and its ACME name; `Err` says why certsmith cannot.
pub fn solver_kind(solver: &AcmeChallengeSolver) -> Result<(ChallengeType, &'static str), String> {
    if solver.http01.as_ref().and_then(|h| h.ingress.as_ref()).is_some() {
        return Ok((ChallengeType::Http01, "http-01"));
    }
    if solver.dns01.as_ref().and_then(|d| d.rfc2136.as_ref()).is_some() {
        return Ok((ChallengeType::Dns01, "dns-01"));
    }
    if solver.dns01.is_some() {
        return Err("is a DNS-01 provider certsmith does not implement; it writes DNS-01 records through rfc2136 only".into());
    }
    Err("is not http01.ingress; certsmith answers HTTP-01 through Ingresses only".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::order::AcmeChallenge;

    #[test]
    fn one_http01_challenge_per_pending_authorization() {
        let mut order = Order::new("web-1-abc", Default::default());
        order.metadata.namespace = Some("team".into());
        let authz = |name: &str, state| AcmeAuthorization {
            url: format!("https://ca/authz/{name}"),
            identifier: Some(name.into()),
            wildcard: Some(false),
            initial_state: Some(state),
            challenges: Some(vec![
                AcmeChallenge {
                    url: format!("https://ca/chall/{name}/dns"),
                    token: "d".into(),
                    type_: "dns-01".into(),
                },
                AcmeChallenge {
                    url: format!("https://ca/chall/{name}/http"),
                    token: format!("tok-{name}"),
                    type_: "http-01".into(),
                },
            ]),
        };
        let solvers: Vec<AcmeChallengeSolver> =
            serde_yaml::from_str("- {http01: {ingress: {class: nginx}}}").unwrap();
        let list = [authz("a.example", State::Pending), authz("b.example", State::Valid)];
        let made = challenges(&order, &list, &solvers, "thumb").unwrap();
        assert_eq!(made.len(), 1, "a valid (reused) authorization needs no challenge");
        let c = &made[0];
        assert_eq!(c.spec.dns_name, "a.example");
        assert_eq!(c.spec.key, "tok-a.example.thumb");
        assert_eq!(c.spec.url, "https://ca/chall/a.example/http");
        assert_eq!(c.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(c.metadata.finalizers, None, "a solver Ingress goes with its Challenge");
        assert_eq!(
            made[0].name_any(),
            challenges(&order, &list, &solvers, "thumb").unwrap()[0].name_any()
        );
        // DNS-01 by zone, HTTP-01 for the rest: the TXT value is the key authorization's digest.
        let mixed: Vec<AcmeChallengeSolver> = serde_yaml::from_str(
            "- {http01: {ingress: {}}}\n- {selector: {dnsZones: [a.example]}, dns01: {rfc2136: {nameserver: x}}}",
        )
        .unwrap();
        let made = challenges(&order, &list, &mixed, "thumb").unwrap();
        assert_eq!(made[0].spec.type_, ChallengeType::Dns01);
        assert_eq!(
            made[0].metadata.finalizers.as_deref(),
            Some(&["finalizer.acme.cert-manager.io".to_string()][..]),
            "a TXT record is removed before its Challenge goes"
        );
        assert_eq!(made[0].spec.url, "https://ca/chall/a.example/dns");
        assert_eq!(made[0].spec.key, crate::dns01::txt_value("d.thumb"));
        let cloudflare: Vec<AcmeChallengeSolver> =
            serde_yaml::from_str("- {dns01: {cloudflare: {email: x}}}").unwrap();
        let e = challenges(&order, &list, &cloudflare, "t").unwrap_err();
        assert!(e.contains("through rfc2136 only"), "{e}");
        let elsewhere: Vec<AcmeChallengeSolver> =
            serde_yaml::from_str("- {selector: {dnsZones: [other.org]}, http01: {ingress: {}}}")
                .unwrap();
        assert!(challenges(&order, &list, &elsewhere, "t").unwrap_err().contains("no solver"));
    }
}
