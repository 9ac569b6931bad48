//! The HTTP-01 step: the responder built into every replica, the temporary solver Ingress (or
//! the rule in the user's Ingress) or HTTPRoute that routes the CA to it through the
//! namespace's responder Service, and the self-check that proves the route before the CA is
//! asked.

pub mod edit_in_place;
pub mod responder;
pub mod self_check;
pub mod solver_ingress;
pub mod solver_route;
pub mod solver_service;

/// The path prefix ACME CAs fetch HTTP-01 tokens under (RFC 8555 §8.3).
pub const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

use crate::api::Challenge;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams};
use kube::{Resource, ResourceExt};
use serde::{Serialize, de::DeserializeOwned};

/// cert-manager's labels on solver resources, so its runbooks' selectors find certsmith's too.
pub const LABEL_SOLVER: &str = "acme.cert-manager.io/http01-solver";
pub const LABEL_DOMAIN: &str = "acme.cert-manager.io/http-domain";
pub const LABEL_TOKEN: &str = "acme.cert-manager.io/http-token";

/// The labels of each solver Ingress or HTTPRoute.
pub fn solver_labels(challenge: &Challenge) -> [(String, String); 4] {
    // Hashes, as cert-manager's: a token may start with '-' and a host may be longer than the
    // 63 characters a label value allows.
    let hash = crate::naming::short_hash;
    [
        (LABEL_SOLVER.into(), "true".into()),
        (LABEL_DOMAIN.into(), hash(&challenge.spec.dns_name)),
        (LABEL_TOKEN.into(), hash(&challenge.spec.token)),
        ("app.kubernetes.io/managed-by".into(), "certsmith".into()),
    ]
}

/// The solver Ingress's or HTTPRoute's name, `certsmith-http01-<hash>`: one per Challenge, stable, so presenting twice (after a restart)
/// applies the same object.
pub fn solver_name(challenge: &Challenge) -> String {
    let uid = challenge.uid().unwrap_or_default();
    let input = format!("{uid}/{}/{}", challenge.spec.dns_name, challenge.spec.token);
    format!("certsmith-http01-{}", crate::naming::short_hash(&input))
}

/// Applies a solver object (the solver Ingress, the HTTPRoute) in its namespace.
pub async fn apply_solver_object<K>(client: &kube::Client, object: &K) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let namespace = object.meta().namespace.as_deref().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    crate::ssa::apply(&api, object, crate::FIELD_MANAGER).await?;
    Ok(())
}

/// Deletes `challenge`'s solver object of kind `K` (gone already, or a kind the cluster does
/// not serve, is fine).
pub async fn delete_solver_object<K>(
    client: &kube::Client,
    challenge: &Challenge,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), &challenge.namespace().unwrap_or_default());
    match api.delete(&solver_name(challenge), &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
