//! The ListenerSet source of the shim step (cert-manager v1.21's listenerset controller): a
//! ListenerSet's listeners get Certificates by the Gateway's rules, owned by the ListenerSet,
//! with the issuer annotations it inherits from its parent Gateway. Pure.

use super::annotations::{AnnotationError, CLUSTER_ISSUER, ISSUER, ISSUER_GROUP, ISSUER_KIND};
use super::gateway::{by_secret, ignored_listeners, trim_meta};
use super::{Desired, Inputs, Source};
use crate::api::acme::{OVERRIDE_PARENT_KIND, OVERRIDE_PARENT_NAME, OVERRIDE_PARENT_NAMESPACE};
use crate::api::gateway::ListenerSet;
use kube::ResourceExt;
use std::collections::BTreeMap;

/// Marks Certificates made for a ListenerSet, and names it.
pub const LABEL_LISTENER_SET: &str = "certsmith.io/listenerset-name";
/// `"true"`: the HTTPRoute solver attaches to the parent Gateway instead of the ListenerSet
/// (cert-manager v1.21).
pub const PARENT_REF_FALLBACK: &str = "acme.cert-manager.io/http01-parentreffallback";

impl Source for ListenerSet {
    const CONTROLLER: &'static str = "listenerset";
    const LABEL: &'static str = LABEL_LISTENER_SET;
    const FIELD_MANAGER: &'static str = "certsmith-listenerset-shim";
    const HAS_PARENT: bool = true;

    fn trim(&mut self) {
        trim_meta(&mut self.metadata);
    }

    /// `spec.parentRef`, in the ListenerSet's namespace unless it names another.
    fn parent(&self) -> Option<(String, String)> {
        let p = &self.spec.parent_ref;
        let namespace = p.namespace.clone().or_else(|| self.namespace()).unwrap_or_default();
        Some((namespace, p.name.clone())).filter(|(_, name)| !name.is_empty())
    }

    fn desired(&self, inputs: &Inputs) -> Result<Option<Desired>, AnnotationError> {
        let parent = inputs.parent.and_then(|p| p.annotations.as_ref());
        let a = inherited(self.annotations(), parent.unwrap_or(&BTreeMap::new()));
        let Some(template) = super::template_from(&a, inputs.defaults)? else { return Ok(None) };
        let mut cert_annotations = super::annotations::solver_overrides(&a, &self.name_any())?;
        let (parent_namespace, parent_name) = self.parent().unwrap_or_default();
        let fallback = a.get(PARENT_REF_FALLBACK).is_some_and(|v| go_bool_true(v));
        if fallback {
            cert_annotations.insert(OVERRIDE_PARENT_KIND.into(), "Gateway".into());
            cert_annotations.insert(OVERRIDE_PARENT_NAME.into(), parent_name);
            cert_annotations.insert(OVERRIDE_PARENT_NAMESPACE.into(), parent_namespace);
        } else {
            cert_annotations.insert(OVERRIDE_PARENT_KIND.into(), "ListenerSet".into());
            cert_annotations.insert(OVERRIDE_PARENT_NAME.into(), self.name_any());
            cert_annotations.remove(OVERRIDE_PARENT_NAMESPACE);
        }
        let namespace = self.namespace().unwrap_or_default();
        let (by_secret, problems) =
            by_secret(&self.spec.listeners, &namespace, &ignored_listeners(&a), inputs);
        let certificates = super::certificates(self, &template, by_secret, &cert_annotations);
        Ok(Some(Desired { certificates, problems }))
    }
}

/// The ListenerSet's annotations with cert-manager's inheritance: the Gateway's issuer (and
/// cluster-issuer) when the ListenerSet names none, and the Gateway's issuer kind and group
/// over the ListenerSet's.
pub fn inherited(
    own: &BTreeMap<String, String>,
    gateway: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut a = own.clone();
    if !a.contains_key(ISSUER) && !a.contains_key(CLUSTER_ISSUER) {
        for k in [ISSUER, CLUSTER_ISSUER] {
            if let Some(v) = gateway.get(k) {
                a.insert(k.into(), v.clone());
            }
        }
    }
    for k in [ISSUER_KIND, ISSUER_GROUP] {
        if let Some(v) = gateway.get(k) {
            a.insert(k.into(), v.clone());
        }
    }
    a
}

/// Go's `strconv.ParseBool` true values, as cert-manager reads the fallback annotation.
fn go_bool_true(v: &str) -> bool {
    ["1", "t", "T", "TRUE", "true", "True"].contains(&v)
}
