//! HTTP-01 through the user's own Ingress (`acme.cert-manager.io/http01-edit-in-place`, or a
//! solver's `http01.ingress.name`), for ingress controllers that want one Ingress per host. A
//! rule for the challenge path is appended to the Ingress and removed afterwards by JSON patch,
//! so the user's rules are never rewritten, and routed through an ExternalName Service in the
//! Ingress's namespace to the responder Service.

use super::CHALLENGE_PATH;
use crate::api::certificate::Http01Challenge;
use crate::config::Config;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use std::collections::BTreeMap;

/// The Service edited Ingresses route to, in their own namespace.
pub const SOLVER_SERVICE: &str = "certsmith-http01-solver";

fn solver_rule(cfg: &Config, c: &Http01Challenge) -> serde_json::Value {
    serde_json::json!({
        "host": c.host,
        "http": {"paths": [{
            "path": format!("{CHALLENGE_PATH}{}", c.token),
            "pathType": "Exact",
            "backend": {"service": {"name": SOLVER_SERVICE, "port": {"number": cfg.http01_service_port}}},
        }]},
    })
}

/// Whether `rule` is one certsmith added (its only path is a challenge path to the solver Service).
fn is_ours(rule: &serde_json::Value) -> bool {
    let paths = rule["http"]["paths"].as_array().cloned().unwrap_or_default();
    !paths.is_empty()
        && paths.iter().all(|p| {
            p["path"].as_str().is_some_and(|s| s.starts_with(CHALLENGE_PATH))
                && p["backend"]["service"]["name"] == SOLVER_SERVICE
        })
}

/// Appends the challenge's rule to Ingress `name` (once), and makes sure the Service exists.
pub async fn add(
    client: &kube::Client,
    cfg: &Config,
    namespace: &str,
    name: &str,
    c: &Http01Challenge,
) -> Result<(), kube::Error> {
    apply_service(client, cfg, namespace).await?;
    let api: Api<Ingress> = Api::namespaced(client.clone(), namespace);
    let rule = solver_rule(cfg, c);
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

/// Removes every rule certsmith added to Ingress `name`, leaving the user's as they were.
pub async fn remove(client: &kube::Client, namespace: &str, name: &str) -> Result<(), kube::Error> {
    let api: Api<Ingress> = Api::namespaced(client.clone(), namespace);
    patch_rules(&api, name, |rules| {
        let kept: Vec<_> = rules.iter().filter(|r| !is_ours(r)).cloned().collect();
        (kept.len() != rules.len()).then_some(kept)
    })
    .await
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

/// An ExternalName Service pointing at the responder Service in the operator's namespace.
async fn apply_service(
    client: &kube::Client,
    cfg: &Config,
    namespace: &str,
) -> Result<(), kube::Error> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let service = Service {
        metadata: ObjectMeta {
            name: Some(SOLVER_SERVICE.into()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".into(),
                "certsmith".into(),
            )])),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ExternalName".into()),
            external_name: Some(format!(
                "{}.{}.svc.cluster.local",
                cfg.http01_service, cfg.namespace
            )),
            ports: Some(vec![ServicePort {
                port: cfg.http01_service_port.into(),
                name: Some("http".into()),
                // Server-side apply on 1.20 needs the list-map key spelled out.
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    };
    crate::ssa::apply(&api, &service, crate::FIELD_MANAGER).await?;
    Ok(())
}
