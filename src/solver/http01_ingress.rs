//! The HTTP-01 Ingress solver (`http01.ingress`): a solver Ingress per Challenge, or the
//! challenge's rule in the user's Ingress (`name`, or the ingress-shim's edit-in-place), both
//! routing to the namespace's responder Service; proved by the self-check before the CA asks.

use super::{Error, Solver};
use crate::api::Challenge;
use crate::api::acme::{
    AcmeChallengeSolver, OVERRIDE_CLASS, OVERRIDE_CLASS_NAME, OVERRIDE_INGRESS_NAME,
};
use crate::api::order::ChallengeType;
use crate::context::Context;
use crate::http01::{edit_in_place, solver_ingress};
use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::networking::v1::Ingress;
use kube::ResourceExt;
use std::collections::BTreeMap;

pub struct IngressSolver;

impl Solver for IngressSolver {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Http01
    }

    fn configured_by(&self, config: &AcmeChallengeSolver) -> bool {
        config.http01.as_ref().and_then(|h| h.ingress.as_ref()).is_some()
    }

    /// As cert-manager applies them: any override replaces the solver's class and name (the
    /// CRD allows only one of them); a name override answers through that Ingress and wins
    /// over a class, `ingressClassName` over `class`.
    fn apply_overrides(
        &self,
        config: &mut AcmeChallengeSolver,
        annotations: &BTreeMap<String, String>,
        _namespace: &str,
    ) -> Result<(), String> {
        let Some(ingress) = config.http01.as_mut().and_then(|h| h.ingress.as_mut()) else {
            return Ok(());
        };
        let get = |key: &str| annotations.get(key).cloned();
        let (name, class_name, class) =
            (get(OVERRIDE_INGRESS_NAME), get(OVERRIDE_CLASS_NAME), get(OVERRIDE_CLASS));
        if name.is_none() && class_name.is_none() && class.is_none() {
            return Ok(());
        }
        (ingress.name, ingress.ingress_class_name, ingress.class) = match (name, class_name) {
            (Some(name), _) => (Some(name), None, None),
            (None, Some(class_name)) => (None, Some(class_name), None),
            (None, None) => (None, None, class),
        };
        Ok(())
    }

    /// A rule in the user's Ingress must be taken out again; a solver Ingress is owned by its
    /// Challenge and goes with it (the write that would remove a finalizer is saved).
    fn needs_finalizer(&self, ch: &Challenge) -> bool {
        in_place_ingress(ch).is_some()
    }

    fn present<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async move {
            super::http01::ensure_service(ctx, ch).await?;
            match in_place_ingress(ch) {
                Some(name) => edit_in_place::add(&ctx.client, &ctx.config, name, ch).await?,
                None => {
                    let solver = ch.spec.solver.http01.as_ref().and_then(|h| h.ingress.clone());
                    let ingress =
                        solver_ingress::build(&ctx.config, ch, &solver.unwrap_or_default());
                    crate::http01::apply_solver_object(&ctx.client, &ingress).await?
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn clean_up<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async move {
            crate::http01::delete_solver_object::<Ingress>(&ctx.client, ch).await?;
            // Presented, with the finalizer, naming no Ingress: an edit in place made by an
            // earlier certsmith (which kept the Ingress's name on the Certificate) — or a
            // cert-manager Challenge (all carry the finalizer), where nothing is found.
            let finalized =
                ch.finalizers().iter().any(|f| f == crate::api::order::CHALLENGE_FINALIZER);
            let presented = ch.status.as_ref().and_then(|s| s.presented) == Some(true);
            let legacy = finalized && presented;
            match in_place_ingress(ch) {
                Some(name) => edit_in_place::remove(&ctx.client, &ctx.config, name, ch).await?,
                None if legacy => {
                    edit_in_place::remove_anywhere(&ctx.client, &ctx.config, ch).await?
                }
                None => {}
            }
            Ok(())
        }
        .boxed()
    }
}

/// The user's Ingress the challenge is answered through, when not through a solver Ingress.
fn in_place_ingress(ch: &Challenge) -> Option<&str> {
    let solver = ch.spec.solver.http01.as_ref().and_then(|h| h.ingress.as_ref());
    solver.and_then(|s| s.name.as_deref()).filter(|n| !n.is_empty())
}
