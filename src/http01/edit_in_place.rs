//! HTTP-01 through the user's own Ingress (`acme.cert-manager.io/http01-edit-in-place`, or a
//! solver's `http01.ingress.name`), for ingress controllers that want one Ingress per host. The
//! challenge's own rule is appended to the Ingress and later removed by JSON patch, so the user's
//! rules are never rewritten and a sibling Challenge's rule stays while it validates; it routes
//! to the namespace's responder Service.

use super::solver_ingress;
use crate::api::Challenge;
use crate::config::Config;
use k8s_openapi::api::networking::v1::Ingress;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};

fn solver_rule(cfg: &Config, c: &Challenge) -> Result<serde_json::Value, kube::Error> {
    serde_json::to_value(solver_ingress::rule(cfg, c)).map_err(kube::Error::SerdeError)
}

/// Appends the challenge's rule to Ingress `name` (once).
pub async fn add(
    client: &kube::Client,
    cfg: &Config,
    name: &str,
    c: &Challenge,
) -> Result<(), kube::Error> {
    let api: Api<Ingress> = Api::namespaced(client.clone(), &c.namespace().unwrap_or_default());
    let rule = solver_rule(cfg, c)?;
    patch_rules(&api, name, |rules| {
        if rules.contains(&rule) {
            return None;
        }
        let mut new = rules.to_vec();
        new.push(rule.clone());
        Some(new)
    })
    .await
}

/// Removes the challenge's own rule from Ingress `name`; every other rule stays as it is.
pub async fn remove(
    client: &kube::Client,
    cfg: &Config,
    name: &str,
    c: &Challenge,
) -> Result<(), kube::Error> {
    let api: Api<Ingress> = Api::namespaced(client.clone(), &c.namespace().unwrap_or_default());
    let rule = solver_rule(cfg, c)?;
    patch_rules(&api, name, |rules| {
        let kept: Vec<_> = rules.iter().filter(|r| **r != rule).cloned().collect();
        (kept.len() != rules.len()).then_some(kept)
    })
    .await
}

/// Removes the challenge's own rule from whichever Ingress of its namespace holds it: for a
/// Challenge made before its spec named the Ingress (an earlier certsmith read the name from
/// the Certificate at cleanup), so an upgrade leaves no rule behind. One list, at cleanup only.
pub async fn remove_anywhere(
    client: &kube::Client,
    cfg: &Config,
    c: &Challenge,
) -> Result<(), kube::Error> {
    let api: Api<Ingress> = Api::namespaced(client.clone(), &c.namespace().unwrap_or_default());
    let rule = solver_rule(cfg, c)?;
    let ingresses = match api.list(&Default::default()).await {
        Ok(list) => list,
        // Without the right to list Ingresses here there is no rule to find: never a
        // Challenge whose deletion waits forever.
        Err(kube::Error::Api(e)) if e.code == 403 => {
            tracing::warn!(challenge = %c.name_any(), error = %e.message, "cannot list Ingresses to remove an edit-in-place rule");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    for ingress in ingresses {
        let rules = ingress.spec.as_ref().and_then(|s| s.rules.clone()).unwrap_or_default();
        let rules = serde_json::to_value(rules).map_err(kube::Error::SerdeError)?;
        if rules.as_array().is_some_and(|r| r.contains(&rule)) {
            remove(client, cfg, &ingress.name_any(), c).await?;
        }
    }
    Ok(())
}

/// Read-modify-write of `spec.rules`, conditional on the version read, retried on conflict.
async fn patch_rules(
    api: &Api<Ingress>,
    name: &str,
    change: impl Fn(&[serde_json::Value]) -> Option<Vec<serde_json::Value>>,
) -> Result<(), kube::Error> {
    for _ in 0..5 {
        let Some(ingress) = api.get_opt(name).await? else { return Ok(()) };
        let rules = serde_json::to_value(
            ingress.spec.as_ref().and_then(|s| s.rules.clone()).unwrap_or_default(),
        )
        .map_err(kube::Error::SerdeError)?;
        let Some(new) = change(rules.as_array().map(Vec::as_slice).unwrap_or_default()) else {
            return Ok(());
        };
        let ops = serde_json::json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": ingress.metadata.resource_version},
            {"op": "add", "path": "/spec/rules", "value": new},
        ]);
        let patch: json_patch::Patch =
            serde_json::from_value(ops).map_err(kube::Error::SerdeError)?;
        match api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch)).await {
            Ok(_) => return Ok(()),
            // A failed `test` (the Ingress changed under us) is a bare 422: read again.
            Err(kube::Error::Api(e)) if e.code == 422 || e.code == 409 => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
