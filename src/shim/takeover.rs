//! The shim step at a takeover (`certsmith migrate --check`): the annotated Gateways and
//! ListenerSets that certsmith would give Certificates they do not have yet. cert-manager's
//! gateway-shim runs only with `--enable-gateway-api`; certsmith's is on by default, so such a
//! source may have been ignored until now.

use super::annotations::DefaultIssuer;
use super::{Inputs, Source};
use crate::api::Certificate;
use crate::api::gateway::{Gateway, ListenerSet};
use kube::ResourceExt;
use kube::api::{Api, ListParams, ObjectMeta};
use std::collections::{BTreeMap, BTreeSet};

/// (object, the Certificates it would newly get), for each source that would get any; none
/// where the API server serves no Gateway API.
pub async fn new_certificates(
    client: &kube::Client,
) -> Result<Vec<(String, Vec<String>)>, kube::Error> {
    let lp = ListParams::default();
    let gateways = match Api::<Gateway>::all(client.clone()).list(&lp).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let sets = match Api::<ListenerSet>::all(client.clone()).list(&lp).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(e)) if e.code == 404 => vec![],
        Err(e) => return Err(e),
    };
    let certs = Api::<Certificate>::all(client.clone()).list_metadata(&lp).await?;
    let existing: BTreeSet<(String, String)> =
        certs.items.iter().map(|c| (c.namespace().unwrap_or_default(), c.name_any())).collect();
    let parents: BTreeMap<(String, String), ObjectMeta> = gateways
        .iter()
        .map(|g| ((g.namespace().unwrap_or_default(), g.name_any()), g.metadata.clone()))
        .collect();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for g in &gateways {
        out.extend(missing(g, None, &existing));
    }
    for s in &sets {
        let parent = s.parent().and_then(|p| parents.get(&p));
        if parent.is_some() {
            out.extend(missing(s, parent, &existing));
        }
    }
    Ok(out)
}

/// The source's Certificates that do not exist, if any. Pure.
fn missing<S: Source>(
    source: &S,
    parent: Option<&ObjectMeta>,
    existing: &BTreeSet<(String, String)>,
) -> Option<(String, Vec<String>)> {
    let defaults = DefaultIssuer::default();
    let inputs = Inputs { defaults: &defaults, extra_protocols: &[], parent };
    let desired = source.desired(&inputs).ok()??;
    let namespace = source.namespace().unwrap_or_default();
    let names: Vec<String> = desired
        .certificates
        .iter()
        .map(|c| c.name_any())
        .filter(|n| !existing.contains(&(namespace.clone(), n.clone())))
        .collect();
    let object = format!("{} {namespace}/{}", S::kind(&()), source.name_any());
    (!names.is_empty()).then_some((object, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_certificates_that_do_not_exist_are_named() {
        let gw: Gateway = serde_yaml::from_str(
            "metadata: {name: edge, namespace: web, annotations: {cert-manager.io/cluster-issuer: le}}\n\
             spec: {gatewayClassName: c, listeners: [\
             {name: a, hostname: a.example.com, port: 443, protocol: HTTPS, tls: {mode: Terminate, certificateRefs: [{name: a-tls}]}},\
             {name: b, hostname: b.example.com, port: 443, protocol: HTTPS, tls: {mode: Terminate, certificateRefs: [{name: b-tls}]}}]}",
        )
        .unwrap();
        let existing = BTreeSet::from([("web".to_string(), "a-tls".to_string())]);
        let (object, names) = missing(&gw, None, &existing).unwrap();
        assert_eq!((object.as_str(), names), ("Gateway web/edge", vec!["b-tls".to_string()]));
        let all = BTreeSet::from([("web".into(), "a-tls".into()), ("web".into(), "b-tls".into())]);
        assert_eq!(missing(&gw, None, &all), None);
        let mut plain = gw.clone();
        plain.metadata.annotations = None;
        assert_eq!(missing(&plain, None, &BTreeSet::new()), None, "not annotated");
    }
}
