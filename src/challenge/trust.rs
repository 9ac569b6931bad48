//! The Challenge step's gate: what a Challenge is answered with — its name, token, key, solver,
//! nameserver, TSIG Secret, ingress class, routes — is rebuilt from its Order (which only
//! certsmith writes) and the issuer's current solver, never read from the Challenge's spec, which
//! anyone who may patch Challenges can rewrite.

use crate::api::acme::AcmeChallengeSolver;
use crate::api::{Challenge, Order};
use crate::context::Context;
use crate::solver::dns_persist::{CHALLENGE_ANNOTATION, Persist};
use crate::watches::controller_of;
use kube::ResourceExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex};

/// The Challenge `ch` as its Order `order` makes it with the issuer's current `solvers` and the
/// account key's `thumbprint`; `None` keeps `ch`'s own key (enough to remove what was
/// presented when the account cannot be read). `persist`: the issuer's dns-persist-01 names.
/// `Err` says why there is none. Pure.
pub fn rebuild(
    ch: &Challenge,
    order: &Order,
    overrides: &BTreeMap<String, String>,
    solvers: &[AcmeChallengeSolver],
    thumbprint: Option<&str>,
    persist: Option<&Persist>,
) -> Result<Challenge, String> {
    let authorizations = order.status.as_ref().and_then(|s| s.authorizations.as_deref());
    let Some(authorizations) = authorizations else {
        return Err("its Order has recorded no authorizations".into());
    };
    let wanted = crate::order::plan::challenges(
        order,
        overrides,
        authorizations,
        solvers,
        thumbprint.unwrap_or_default(),
        persist,
    )?;
    let name = ch.name_any();
    let Some(made) = wanted.into_iter().find(|w| w.name_any() == name) else {
        return Err(format!(
            "its Order asks for no Challenge named {name:?} with the issuer's current solvers"
        ));
    };
    let mut trusted = ch.clone();
    trusted.spec = made.spec;
    // Which challenge type it answers is the Order's word too, not an annotation anyone may set.
    let said = made.metadata.annotations.and_then(|mut a| a.remove(CHALLENGE_ANNOTATION));
    let annotations = &mut trusted.metadata.annotations;
    match said {
        Some(t) => {
            annotations.get_or_insert_with(Default::default).insert(CHALLENGE_ANNOTATION.into(), t);
        }
        None => {
            annotations.as_mut().map(|a| a.remove(CHALLENGE_ANNOTATION));
        }
    }
    if thumbprint.is_none() {
        trusted.spec.key = ch.spec.key.clone();
    }
    Ok(trusted)
}

/// Why a Challenge is not answered now.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// Not one certsmith made: left untouched.
    Stranger(String),
    /// One of certsmith's that the issuer's current solvers cannot answer.
    Unsolvable(String),
    /// One of certsmith's, waiting for something that may come (its issuer, its account).
    Waiting(String),
}

/// The trusted Challenge for `ch`: controlled (by UID) by an Order certsmith places (see
/// `order::trust`), rebuilt from it.
pub async fn load(ctx: &Context, ch: &Challenge) -> Result<Challenge, Refused> {
    let namespace = ch.namespace().unwrap_or_default();
    let Some(order) = controller_of(&ctx.cache.orders, &namespace, ch.owner_references()) else {
        return Err(Refused::Stranger(
            "no Order certsmith acts for controls this Challenge (Challenges are made by Orders)"
                .into(),
        ));
    };
    if let Err(why) = crate::order::load::placed(ctx, &order) {
        return Err(Refused::Stranger(format!("its Order {:?}: {why}", order.name_any())));
    }
    let Some(issuer) = ctx.issuer(&order.spec.issuer_ref, &namespace) else {
        return Err(Refused::Waiting("Referenced issuer not found".into()));
    };
    if order.status.as_ref().and_then(|s| s.authorizations.as_ref()).is_none() {
        return Err(Refused::Waiting("Waiting for the Order to record its authorizations".into()));
    }
    let solvers = issuer.spec.acme.as_ref().and_then(|a| a.solvers.clone()).unwrap_or_default();
    let overrides = crate::order::load::overrides(ctx, &order);
    // What the solvers make of it first: a solver that cannot need not wait for the account
    // (a dns-persist-01 Challenge names the account, so it is made only with it).
    if !issuer.dns_persist {
        rebuild(ch, &order, &overrides, &solvers, None, None).map_err(Refused::Unsolvable)?;
    }
    let (thumbprint, account) = match ctx.account(&issuer).await {
        Ok((account, _)) => (account.key_thumbprint().to_string(), account.id().to_string()),
        Err(e) => return Err(Refused::Waiting(e.to_string())),
    };
    let persist = crate::solver::dns_persist::persist(&issuer, &account, ctx.now());
    let persist = persist.await.map_err(Refused::Waiting)?;
    let (thumbprint, persist) = (Some(thumbprint.as_str()), persist.as_ref());
    rebuild(ch, &order, &overrides, &solvers, thumbprint, persist).map_err(Refused::Unsolvable)
}

/// What `ch` presented, to be removed: rebuilt from its Order (no approval needed any more: only
/// a Challenge that passed [`load`] was presented), else as remembered when it was presented;
/// `None` when neither can say (its Order gone while this process was not running, or its spec
/// patched since it was made). The key is the Challenge's own: removing a record must not wait
/// for the CA to read the account, and the name, server and TSIG key it is removed with are the
/// rebuilt ones; a spec someone patched (`generation` past 1) could name another Challenge's
/// value, so it is used only as made.
pub fn presented(ctx: &Context, ch: &Challenge) -> Option<Challenge> {
    let namespace = ch.namespace().unwrap_or_default();
    let rebuilt = || {
        if ch.metadata.generation != Some(1) {
            return None;
        }
        let order = controller_of(&ctx.cache.orders, &namespace, ch.owner_references())?;
        let issuer = ctx.issuer(&order.spec.issuer_ref, &namespace)?;
        let solvers = issuer.spec.acme.as_ref()?.solvers.clone().unwrap_or_default();
        let overrides = crate::order::load::overrides(ctx, &order);
        rebuild(ch, &order, &overrides, &solvers, None, None).ok()
    };
    let remembered = || PRESENTED.lock().ok()?.get(&ch.uid()?).cloned();
    remembered().or_else(rebuilt)
}

/// The trusted Challenges this process presented and has not cleaned up, by UID: what clean-up
/// removes when their Order is gone before them (a Certificate deleted mid-issuance). Only
/// those with certsmith's finalizer are kept (the others leave nothing to remove), and every
/// clean-up forgets its own, so it is bounded by the Challenges in flight.
static PRESENTED: LazyLock<Mutex<HashMap<String, Challenge>>> = LazyLock::new(Default::default);

pub fn remember(trusted: &Challenge) {
    if let (Ok(mut all), Some(uid)) = (PRESENTED.lock(), trusted.uid()) {
        all.insert(uid, trusted.clone());
    }
}

pub fn forget(ch: &Challenge) {
    if let (Ok(mut all), Some(uid)) = (PRESENTED.lock(), ch.uid()) {
        all.remove(&uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::fixtures::{THUMBPRINT, order, planned, solvers};

    const DNS: &str = "[{dns01: {rfc2136: {nameserver: '10.0.0.53', tsigKeyName: k, \
                       tsigSecretSecretRef: {name: tsig, key: key}}}}]";

    #[test]
    fn what_is_answered_comes_from_the_order_and_the_issuers_solver_not_the_spec() {
        let made = planned(DNS);
        let rebuilt = |ch: &Challenge, thumbprint| {
            let overrides = BTreeMap::new();
            rebuild(ch, &order(), &overrides, &solvers(DNS), thumbprint, None)
        };
        assert_eq!(rebuilt(&made, Some(THUMBPRINT)).unwrap().spec, made.spec);
        // Rewritten by someone who may patch Challenges: every field of the spec is theirs.
        let mut forged = made.clone();
        let rfc = forged.spec.solver.dns01.as_mut().unwrap().rfc2136.as_mut().unwrap();
        rfc.nameserver = "198.51.100.1".into();
        rfc.tsig_key_name = Some("cluster-key".into());
        forged.spec.dns_name = "bank.example".into();
        forged.spec.key = "their-own-order".into();
        forged.spec.authorization_url = "https://evil/authz".into();
        forged.spec.issuer_ref.kind = Some("ClusterIssuer".into());
        let trusted = rebuilt(&forged, Some(THUMBPRINT)).unwrap();
        assert_eq!((trusted.spec, trusted.metadata), (made.spec.clone(), forged.metadata.clone()));
        // Nor is the challenge type an annotation anyone may set: the Order's plan says it.
        let persist = crate::solver::dns_persist::CHALLENGE_ANNOTATION;
        let mut marked = forged.clone();
        marked.metadata.annotations = Some([(persist.into(), "dns-persist-01".into())].into());
        let trusted = rebuilt(&marked, Some(THUMBPRINT)).unwrap();
        assert!(!crate::solver::dns_persist::answers(&trusted));
        assert_eq!(trusted.metadata.annotations, Some(Default::default()));
        // Without the account, the key is the Challenge's own (for clean-up), the rest rebuilt.
        let keyless = rebuilt(&forged, None).unwrap();
        assert_eq!(keyless.spec.key, "their-own-order");
        assert_eq!(
            (&keyless.spec.solver, &keyless.spec.dns_name),
            (&made.spec.solver, &made.spec.dns_name)
        );
    }

    #[test]
    fn a_challenge_its_order_does_not_ask_for_has_no_rebuild() {
        let mut renamed = planned(DNS);
        renamed.metadata.name = Some("web-1-abc-other".into());
        let overrides = BTreeMap::new();
        let why = rebuild(&renamed, &order(), &overrides, &solvers(DNS), None, None).unwrap_err();
        assert!(why.contains("asks for no Challenge named \"web-1-abc-other\""), "{why}");
        let mut unrecorded = order();
        unrecorded.status = None;
        let why = rebuild(&planned(DNS), &unrecorded, &overrides, &solvers(DNS), None, None);
        assert_eq!(why.unwrap_err(), "its Order has recorded no authorizations");
        // The issuer's solvers changed to HTTP-01: the DNS-01 Challenge is no longer asked for.
        let http = solvers("[{http01: {ingress: {}}}]");
        assert!(rebuild(&planned(DNS), &order(), &overrides, &http, None, None).is_err());
    }
}
