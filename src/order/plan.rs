//! The Challenges an Order needs, built from its authorizations and the issuer's solvers. Pure.

use crate::api::acme::AcmeChallengeSolver;
use crate::api::order::{AcmeAuthorization, AcmeChallenge, ChallengeType, State};
use crate::api::{Challenge, ChallengeSpec, Order};
use crate::solver;
use crate::solver::dns_persist::{CHALLENGE_ANNOTATION, Persist, TYPE, record_value};
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};

/// The Challenge for each pending authorization of `order`, or why one cannot be made, with
/// cert-manager's solver `overrides` applied. `thumbprint` is the account key's (RFC 8555 §8.1:
/// key authorization = token.thumbprint). With `persist` (the issuer opted in to
/// dns-persist-01), a name a DNS-01 solver selects is authorized by the standing record where
/// the CA offers it.
pub fn challenges(
    order: &Order,
    overrides: &std::collections::BTreeMap<String, String>,
    authorizations: &[AcmeAuthorization],
    solvers: &[AcmeChallengeSolver],
    thumbprint: &str,
    persist: Option<&Persist>,
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
        let Some(chosen) = solver::select::select(solvers, &shown, &labels) else {
            return Err(format!("no solver of the issuer selects {shown}"));
        };
        let offered = |t: &str| authz.challenges.iter().flatten().find(|c| c.type_ == t);
        if let (Some(p), Some(_), Some(acme)) = (persist, &chosen.dns01, offered(TYPE)) {
            // Nothing to write: the Challenge's key is the record it waits for.
            let key = record_value(&p.issuer_domain_name, &p.account_uri, wildcard);
            let mut made = made(order, &labels, authz, acme, ChallengeType::Dns01, key, chosen);
            let annotation = (CHALLENGE_ANNOTATION.to_string(), TYPE.to_string());
            made.metadata.annotations = Some([annotation].into());
            out.push(made);
            continue;
        }
        if persist.is_some() && chosen.dns01.as_ref().is_some_and(|d| d.providers().is_empty()) {
            return Err(format!(
                "the CA offers no {TYPE} challenge for {shown}, and the solver selected for it \
                 names no DNS-01 provider to write dns-01 with"
            ));
        }
        let found = match solver::for_config(chosen) {
            Ok(found) => found,
            Err(why) => return Err(format!("the solver selected for {shown} {why}")),
        };
        let wanted = found.challenge_type().acme_name();
        let Some(acme) = offered(wanted) else {
            return Err(format!("the CA offers no {wanted} challenge for {shown}"));
        };
        // cert-manager's per-Certificate overrides, applied here so the Challenge carries
        // everything its solver needs.
        let mut config = chosen.clone();
        let namespace = order.namespace().unwrap_or_default();
        if let Err(why) = found.apply_overrides(&mut config, overrides, &namespace) {
            return Err(format!("the solver selected for {shown}: {why}"));
        }
        // cert-manager's `key`: what the solver serves (HTTP-01) or writes in TXT (DNS-01).
        let key = found.key(format!("{}.{thumbprint}", acme.token));
        out.push(made(order, &labels, authz, acme, found.challenge_type(), key, &config));
        // What outlives the Challenge (a TXT record, a rule in the user's Ingress) is removed
        // by a finalizer it is born with: no separate write adds it.
        let made = out.last_mut().expect("just pushed");
        if found.needs_finalizer(made) {
            made.metadata.finalizers = Some(vec![crate::api::order::CHALLENGE_FINALIZER.into()]);
        }
    }
    Ok(out)
}

/// The Challenge for `acme`, one of `authz`'s challenges, named after both URLs.
fn made(
    order: &Order,
    labels: &std::collections::BTreeMap<String, String>,
    authz: &AcmeAuthorization,
    acme: &AcmeChallenge,
    type_: ChallengeType,
    key: String,
    solver: &AcmeChallengeSolver,
) -> Challenge {
    let hash = crate::naming::short_hash(&format!("{}/{}", authz.url, acme.url));
    Challenge {
        metadata: ObjectMeta {
            name: Some(crate::naming::child(&order.name_any(), &hash[..10], 253)),
            namespace: order.namespace(),
            labels: Some(labels.clone()).filter(|l| !l.is_empty()),
            owner_references: order.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: ChallengeSpec {
            url: acme.url.clone(),
            authorization_url: authz.url.clone(),
            dns_name: authz.identifier.clone().unwrap_or_default(),
            wildcard: Some(authz.wildcard == Some(true)),
            type_,
            token: acme.token.clone(),
            key,
            solver: solver.clone(),
            issuer_ref: order.spec.issuer_ref.clone(),
        },
        status: None,
    }
}

/// What keeps one of `challenges` from being answered (its solver refused by the DNS server or
/// the API server), for the Order's reason, so the Certificate's condition names it too: a
/// Challenge not presented yet whose reason says why, or a dns-persist-01 one waiting for its
/// record (which only its owner can write: nothing is presented).
pub fn stuck(challenges: &[std::sync::Arc<Challenge>]) -> Option<String> {
    challenges.iter().find_map(|c| {
        let status = c.status.as_ref()?;
        let waiting = status.presented != Some(true) || crate::solver::dns_persist::answers(c);
        let open = !status.state.is_some_and(State::is_final) && waiting;
        let why = status.reason.as_deref().filter(|_| open)?;
        Some(format!("the challenge for {}: {why}", c.spec.dns_name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::order::{AcmeChallenge, ChallengeType};

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
        let made = challenges(&order, order.annotations(), &list, &solvers, "thumb", None).unwrap();
        assert_eq!(made.len(), 1, "a valid (reused) authorization needs no challenge");
        let c = &made[0];
        assert_eq!(c.spec.dns_name, "a.example");
        assert_eq!(c.spec.key, "tok-a.example.thumb");
        assert_eq!(c.spec.url, "https://ca/chall/a.example/http");
        assert_eq!(c.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(c.metadata.finalizers, None, "a solver Ingress goes with its Challenge");
        assert_eq!(
            made[0].name_any(),
            challenges(&order, order.annotations(), &list, &solvers, "thumb", None).unwrap()[0]
                .name_any()
        );
        // DNS-01 by zone, HTTP-01 for the rest: the TXT value is the key authorization's digest.
        let mixed: Vec<AcmeChallengeSolver> = serde_yaml::from_str(
            "- {http01: {ingress: {}}}\n- {selector: {dnsZones: [a.example]}, dns01: {rfc2136: {nameserver: x}}}",
        )
        .unwrap();
        let made = challenges(&order, order.annotations(), &list, &mixed, "thumb", None).unwrap();
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
        let e = challenges(&order, order.annotations(), &list, &cloudflare, "t", None).unwrap_err();
        assert!(
            e.contains("is the DNS-01 provider cloudflare, which certsmith does not write through"),
            "{e}"
        );
        let elsewhere: Vec<AcmeChallengeSolver> =
            serde_yaml::from_str("- {selector: {dnsZones: [other.org]}, http01: {ingress: {}}}")
                .unwrap();
        assert!(
            challenges(&order, order.annotations(), &list, &elsewhere, "t", None)
                .unwrap_err()
                .contains("no solver")
        );
    }

    fn pending_order(annotations: &[(&str, &str)]) -> (Order, Vec<AcmeAuthorization>) {
        let mut order = Order::new("web-1-abc", Default::default());
        order.metadata.namespace = Some("team".into());
        order.metadata.annotations =
            Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let authz = AcmeAuthorization {
            url: "https://ca/authz/a".into(),
            identifier: Some("a.example".into()),
            wildcard: Some(false),
            initial_state: Some(State::Pending),
            challenges: Some(vec![AcmeChallenge {
                url: "https://ca/chall/a".into(),
                token: "t".into(),
                type_: "http-01".into(),
            }]),
        };
        (order, vec![authz])
    }

    #[test]
    fn the_orders_overrides_are_written_into_the_challenge() {
        use crate::api::acme::{OVERRIDE_CLASS, OVERRIDE_CLASS_NAME, OVERRIDE_INGRESS_NAME};
        let solvers: Vec<AcmeChallengeSolver> =
            serde_yaml::from_str("- {http01: {ingress: {class: nginx}}}").unwrap();
        let ingress = |annotations: &[(&str, &str)]| {
            let (order, authz) = pending_order(annotations);
            let made = challenges(&order, order.annotations(), &authz, &solvers, "thumb", None)
                .unwrap()
                .remove(0);
            let i = made.spec.solver.http01.unwrap().ingress.unwrap();
            (i.class, i.ingress_class_name, i.name, made.metadata.finalizers)
        };
        let finalizer = Some(vec![crate::api::order::CHALLENGE_FINALIZER.to_string()]);
        // (annotations, class, ingressClassName, name, finalizers)
        let table: [(&[(&str, &str)], _, _, _, _); 5] = [
            (&[], Some("nginx"), None, None, None),
            (&[(OVERRIDE_CLASS, "traefik")], Some("traefik"), None, None, None),
            (&[(OVERRIDE_CLASS_NAME, "gce")], None, Some("gce"), None, None),
            (&[(OVERRIDE_INGRESS_NAME, "web")], None, None, Some("web"), finalizer.clone()),
            (
                &[(OVERRIDE_INGRESS_NAME, "web"), (OVERRIDE_CLASS, "x")],
                None,
                None,
                Some("web"),
                finalizer,
            ),
        ];
        for (annotations, class, class_name, name, finalizers) in table {
            let got = ingress(annotations);
            let want = (
                class.map(String::from),
                class_name.map(String::from),
                name.map(String::from),
                finalizers,
            );
            assert_eq!(got, want, "{annotations:?}");
        }
    }

    #[test]
    fn ingress_and_httproute_solvers_on_one_issuer_are_picked_per_name() {
        use crate::api::acme::{OVERRIDE_PARENT_KIND, OVERRIDE_PARENT_NAME};
        let solvers: Vec<AcmeChallengeSolver> = serde_yaml::from_str(
            "- {http01: {ingress: {class: nginx}}}\n\
             - {selector: {dnsNames: [a.example]}, http01: {gatewayHTTPRoute: {labels: {x: y}}}}",
        )
        .unwrap();
        let (order, mut authz) =
            pending_order(&[(OVERRIDE_PARENT_KIND, "Gateway"), (OVERRIDE_PARENT_NAME, "edge")]);
        let mut other = authz[0].clone();
        (other.url, other.identifier) = ("https://ca/authz/b".into(), Some("b.example".into()));
        authz.push(other);
        let made = challenges(&order, order.annotations(), &authz, &solvers, "t", None).unwrap();
        let [a, b] = made.as_slice() else { panic!("{made:?}") };
        let route = a.spec.solver.http01.as_ref().unwrap().gateway_http_route.as_ref().unwrap();
        let parents = route.parent_refs.as_deref().unwrap();
        assert_eq!(
            (parents[0].kind.as_deref(), parents[0].name.as_str(), parents[0].namespace.as_deref()),
            (Some("Gateway"), "edge", Some("team"))
        );
        let ingress = b.spec.solver.http01.as_ref().unwrap().ingress.as_ref().unwrap();
        assert_eq!(ingress.class.as_deref(), Some("nginx"));
        // The same Order without the shim's annotations: the route would have no parent.
        let (bare, authz) = pending_order(&[]);
        let why = challenges(&bare, bare.annotations(), &authz, &solvers, "t", None).unwrap_err();
        assert!(why.starts_with("the solver selected for a.example: "), "{why}");
    }

    #[test]
    fn a_class_override_replaces_the_issuers_named_ingress_as_cert_managers_does() {
        use crate::api::acme::OVERRIDE_CLASS;
        let solvers: Vec<AcmeChallengeSolver> =
            serde_yaml::from_str("- {http01: {ingress: {name: shared}}}").unwrap();
        let (order, authz) = pending_order(&[(OVERRIDE_CLASS, "traefik")]);
        let made = challenges(&order, order.annotations(), &authz, &solvers, "t", None).unwrap();
        let ingress = made[0].spec.solver.http01.as_ref().unwrap().ingress.as_ref().unwrap();
        assert_eq!((ingress.class.as_deref(), ingress.name.as_deref()), (Some("traefik"), None));
        assert_eq!(made[0].metadata.finalizers, None, "a solver Ingress, not an edit in place");
        let (plain, authz) = pending_order(&[]);
        let made = challenges(&plain, plain.annotations(), &authz, &solvers, "t", None).unwrap();
        let ingress = made[0].spec.solver.http01.as_ref().unwrap().ingress.as_ref().unwrap();
        assert_eq!(ingress.name.as_deref(), Some("shared"), "no override: the issuer's Ingress");
        assert!(made[0].metadata.finalizers.is_some(), "its rule is removed by the finalizer");
    }

    #[test]
    fn a_challenge_is_stuck_while_it_says_why_it_is_not_presented() {
        use crate::api::ChallengeStatus;
        let solvers: Vec<AcmeChallengeSolver> =
            serde_yaml::from_str("- {http01: {ingress: {}}}").unwrap();
        let (order, authz) = pending_order(&[]);
        let with = |status: ChallengeStatus| {
            let mut c = challenges(&order, order.annotations(), &authz, &solvers, "t", None)
                .unwrap()
                .remove(0);
            c.status = Some(status);
            stuck(&[std::sync::Arc::new(c)])
        };
        let why = || Some("presenting the challenge: forbidden".to_string());
        let not_presented = ChallengeStatus { reason: why(), ..Default::default() };
        assert_eq!(
            with(not_presented.clone()).as_deref(),
            Some("the challenge for a.example: presenting the challenge: forbidden")
        );
        let presented = ChallengeStatus { presented: Some(true), ..not_presented.clone() };
        assert_eq!(with(presented.clone()), None, "presented: it waits for the CA");
        // A dns-persist-01 Challenge presents nothing: it waits for its owner's record.
        let mut c =
            challenges(&order, order.annotations(), &authz, &solvers, "t", None).unwrap().remove(0);
        let mark = crate::solver::dns_persist::CHALLENGE_ANNOTATION;
        c.metadata.annotations = Some([(mark.into(), TYPE.into())].into());
        c.status = Some(presented);
        assert!(stuck(&[std::sync::Arc::new(c)]).is_some_and(|s| s.ends_with("forbidden")));
        let decided = ChallengeStatus { state: Some(State::Invalid), ..not_presented };
        assert_eq!(with(decided), None, "the verdict is the Order's to read");
        assert_eq!(with(ChallengeStatus::default()), None);
    }
    #[test]
    fn under_dns_persist_01_a_dns_name_waits_for_the_standing_record() {
        let (order, mut authz) = pending_order(&[]);
        authz[0].wildcard = Some(true);
        let offer = |t: &str| AcmeChallenge {
            url: format!("https://ca/chall/{t}"),
            token: if t == TYPE { String::new() } else { "tok".into() },
            type_: t.into(),
        };
        authz[0].challenges = Some(vec![offer("dns-01"), offer(TYPE)]);
        let persist = Persist {
            issuer_domain_name: "ca.example".into(),
            account_uri: "https://ca/acct/1".into(),
        };
        let plan = |yaml: &str, persist: Option<&Persist>, authz: &[AcmeAuthorization]| {
            let solvers: Vec<AcmeChallengeSolver> = serde_yaml::from_str(yaml).unwrap();
            challenges(&order, order.annotations(), authz, &solvers, "t", persist)
        };
        // No provider is needed: nothing is written, so nothing is left to remove.
        let made = plan("- {dns01: {}}", Some(&persist), &authz).unwrap();
        let c = &made[0];
        assert!(crate::solver::dns_persist::answers(c));
        assert_eq!(c.spec.url, "https://ca/chall/dns-persist-01");
        assert_eq!(c.spec.key, "ca.example; accounturi=https://ca/acct/1; policy=wildcard");
        assert_eq!((c.spec.type_, c.metadata.finalizers.clone()), (ChallengeType::Dns01, None));
        // An issuer that has not opted in writes dns-01 with its provider as before…
        let rfc = "- {dns01: {rfc2136: {nameserver: 10.0.0.53}}}";
        let made = plan(rfc, None, &authz).unwrap();
        assert!(!crate::solver::dns_persist::answers(&made[0]));
        assert_eq!(made[0].spec.url, "https://ca/chall/dns-01");
        // … as does one whose CA does not offer dns-persist-01; without a provider, it says so.
        authz[0].challenges = Some(vec![offer("dns-01")]);
        assert_eq!(
            plan(rfc, Some(&persist), &authz).unwrap()[0].spec.url,
            "https://ca/chall/dns-01"
        );
        let why = plan("- {dns01: {}}", Some(&persist), &authz).unwrap_err();
        assert_eq!(
            why,
            "the CA offers no dns-persist-01 challenge for *.a.example, and the solver selected \
             for it names no DNS-01 provider to write dns-01 with"
        );
        let why = plan("- {dns01: {}}", None, &authz).unwrap_err();
        assert!(
            why.starts_with("the solver selected for *.a.example names no DNS-01 provider"),
            "{why}"
        );
        // HTTP-01 names are answered over HTTP whatever the issuer opted in to.
        authz[0].wildcard = Some(false);
        authz[0].challenges = Some(vec![offer("http-01"), offer(TYPE)]);
        let made = plan("- {http01: {ingress: {}}}", Some(&persist), &authz).unwrap();
        assert_eq!(made[0].spec.url, "https://ca/chall/http-01");
    }
}
