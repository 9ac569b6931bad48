//! The HTTP-01 Gateway API solver (`http01.gatewayHTTPRoute`): an HTTPRoute per Challenge,
//! attached to the solver's `parentRefs` and to the parent the Certificate's annotations name
//! (the Gateway or ListenerSet the gateway-shim made it for), routing to the namespace's
//! responder Service; proved by the self-check before the CA asks.

use super::{Error, Solver};
use crate::api::Challenge;
use crate::api::acme::{
    AcmeChallengeSolver, OVERRIDE_PARENT_KIND, OVERRIDE_PARENT_NAME, OVERRIDE_PARENT_NAMESPACE,
};
use crate::api::gateway::{HTTPRoute, ParentReference};
use crate::api::order::ChallengeType;
use crate::context::Context;
use crate::http01::solver_route;
use futures::FutureExt;
use futures::future::BoxFuture;
use std::collections::BTreeMap;

pub struct GatewaySolver;

impl Solver for GatewaySolver {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Http01
    }

    fn configured_by(&self, config: &AcmeChallengeSolver) -> bool {
        config.http01.as_ref().and_then(|h| h.gateway_http_route.as_ref()).is_some()
    }

    /// As cert-manager v1.20–v1.21: the parent the annotations name (kind and name together,
    /// in their namespace or the Order's) is added to the solver's `parentRefs`, replacing an
    /// entry for the same parent; the route needs at least one parent.
    fn apply_overrides(
        &self,
        config: &mut AcmeChallengeSolver,
        annotations: &BTreeMap<String, String>,
        namespace: &str,
    ) -> Result<(), String> {
        let Some(route) = config.http01.as_mut().and_then(|h| h.gateway_http_route.as_mut()) else {
            return Ok(());
        };
        let parents = route.parent_refs.get_or_insert_with(Vec::new);
        // As cert-manager: name and kind by presence, the namespace when not empty.
        let get = |k: &str| annotations.get(k).cloned();
        match (get(OVERRIDE_PARENT_NAME), get(OVERRIDE_PARENT_KIND)) {
            (None, None) => {}
            (Some(name), Some(kind)) => {
                let given = get(OVERRIDE_PARENT_NAMESPACE).filter(|n| !n.is_empty());
                let namespace = given.unwrap_or(namespace.to_string());
                // An entry without kind is a Gateway (cert-manager's CRDs default it).
                parents.retain(|p| {
                    let same_kind = p.kind.as_deref().unwrap_or("Gateway") == kind;
                    !(p.namespace.as_ref() == Some(&namespace) && p.name == name && same_kind)
                });
                parents.push(ParentReference {
                    name,
                    namespace: Some(namespace),
                    kind: Some(kind),
                    ..Default::default()
                });
            }
            _ => {
                return Err(format!(
                    "set both {OVERRIDE_PARENT_NAME} and {OVERRIDE_PARENT_KIND} on the Certificate, or neither"
                ));
            }
        }
        if parents.is_empty() {
            return Err(
                "http01.gatewayHTTPRoute has no parentRefs: list the Gateways the CA's requests \
                 arrive through, or let the gateway-shim name the Certificate's Gateway"
                    .into(),
            );
        }
        Ok(())
    }

    /// The HTTPRoute is owned by its Challenge and goes with it.
    fn needs_finalizer(&self, _ch: &Challenge) -> bool {
        false
    }

    fn present<'a>(
        &'a self,
        ctx: &'a Context,
        ch: &'a Challenge,
    ) -> BoxFuture<'a, Result<(), Error>> {
        async move {
            super::http01::ensure_service(ctx, ch).await?;
            let solver = ch.spec.solver.http01.as_ref().and_then(|h| h.gateway_http_route.clone());
            let route = solver_route::build(&ctx.config, ch, &solver.unwrap_or_default());
            crate::http01::apply_solver_object(&ctx.client, &route).await?;
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
            let client = &ctx.client;
            Ok(crate::http01::delete_solver_object::<HTTPRoute>(client, ch).await?)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overridden(solver: &str, annotations: &[(&str, &str)]) -> Result<Vec<String>, String> {
        let mut config: AcmeChallengeSolver = serde_yaml::from_str(solver).unwrap();
        let a = annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        GatewaySolver.apply_overrides(&mut config, &a, "shop")?;
        let route = config.http01.unwrap().gateway_http_route.unwrap();
        let parents = route.parent_refs.unwrap().into_iter().map(|p| {
            let ns = p.namespace.unwrap_or_default();
            format!(
                "{}/{ns}/{}/{}",
                p.kind.unwrap_or_default(),
                p.name,
                p.section_name.unwrap_or_default()
            )
        });
        Ok(parents.collect())
    }

    const KIND: &str = OVERRIDE_PARENT_KIND;
    const NAME: &str = OVERRIDE_PARENT_NAME;
    const NS: &str = OVERRIDE_PARENT_NAMESPACE;

    #[test]
    fn the_annotated_parent_is_added_to_the_solvers_and_replaces_the_same_one() {
        let solver = "{http01: {gatewayHTTPRoute: {parentRefs: [\
                      {name: edge, namespace: infra, sectionName: http}, {name: gw, namespace: shop, kind: Gateway}]}}}";
        let s = |v: &[&str]| Ok(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(overridden(solver, &[]), s(&["/infra/edge/http", "Gateway/shop/gw/"]));
        assert_eq!(
            overridden(solver, &[(KIND, "Gateway"), (NAME, "gw")]),
            s(&["/infra/edge/http", "Gateway/shop/gw/"])
        );
        assert_eq!(
            overridden(solver, &[(KIND, "ListenerSet"), (NAME, "team-a")]),
            s(&["/infra/edge/http", "Gateway/shop/gw/", "ListenerSet/shop/team-a/"])
        );
        // A ListenerSet of a Gateway's name is another parent: the Gateway stays.
        assert_eq!(
            overridden(solver, &[(KIND, "ListenerSet"), (NAME, "edge"), (NS, "infra")]),
            s(&["/infra/edge/http", "Gateway/shop/gw/", "ListenerSet/infra/edge/"])
        );
        assert_eq!(
            overridden(solver, &[(KIND, "Gateway"), (NAME, "edge"), (NS, "infra")]),
            s(&["Gateway/shop/gw/", "Gateway/infra/edge/"])
        );
        // No parentRefs on the issuer: the annotated parent is the route's one parent.
        let bare = "{http01: {gatewayHTTPRoute: {}}}";
        assert_eq!(overridden(bare, &[(KIND, "Gateway"), (NAME, "gw")]), s(&["Gateway/shop/gw/"]));
    }

    #[test]
    fn half_an_override_or_no_parent_at_all_is_refused() {
        let bare = "{http01: {gatewayHTTPRoute: {labels: {a: b}}}}";
        assert!(overridden(bare, &[]).unwrap_err().contains("has no parentRefs"));
        let half = overridden(bare, &[(NAME, "gw")]).unwrap_err();
        assert!(half.contains("set both"), "{half}");
        let empty = overridden(bare, &[(NAME, ""), (NS, "x")]).unwrap_err();
        assert!(empty.contains("set both"), "an empty name is still given: {empty}");
        // Another solver is left alone.
        let ingress: AcmeChallengeSolver = serde_yaml::from_str("{http01: {ingress: {}}}").unwrap();
        let mut config = ingress.clone();
        assert!(GatewaySolver.apply_overrides(&mut config, &BTreeMap::new(), "shop").is_ok());
        assert_eq!(config, ingress);
    }
}
