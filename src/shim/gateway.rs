//! The Gateway source of the shim step (cert-manager's gateway-shim): one Certificate per TLS
//! Secret the Gateway's listeners reference, the listeners' hostnames as its dnsNames, and the
//! Gateway named on it as the parent the HTTP-01 HTTPRoute solver attaches to. Pure. The
//! listener rules are shared with ListenerSets.

use super::annotations::{self, AnnotationError};
use super::{Desired, Inputs, Source};
use crate::api::acme::{OVERRIDE_PARENT_KIND, OVERRIDE_PARENT_NAME, OVERRIDE_PARENT_NAMESPACE};
use crate::api::gateway::{Gateway, Listener};
use kube::ResourceExt;
use kube::api::ObjectMeta;
use std::collections::BTreeMap;

/// Marks Certificates the gateway-shim made, and names the Gateway they came from.
pub const LABEL_GATEWAY: &str = "certsmith.io/gateway-name";
/// Listener names (comma-separated) that get no Certificate (cert-manager v1.21).
pub const IGNORE_TLS_LISTENERS: &str = "cert-manager.io/ignore-tls-listeners";

impl Source for Gateway {
    const CONTROLLER: &'static str = "gateway-shim";
    const LABEL: &'static str = LABEL_GATEWAY;
    const FIELD_MANAGER: &'static str = "certsmith-gateway-shim";

    fn trim(&mut self) {
        trim_meta(&mut self.metadata);
    }

    fn desired(&self, inputs: &Inputs) -> Result<Option<Desired>, AnnotationError> {
        let a = self.annotations();
        let Some(template) = super::template_from(a, inputs.defaults)? else { return Ok(None) };
        let mut cert_annotations = annotations::solver_overrides(a, &self.name_any())?;
        // cert-manager v1.20+: the HTTPRoute solver attaches to the Gateway the Certificate is for.
        cert_annotations.insert(OVERRIDE_PARENT_KIND.into(), "Gateway".into());
        cert_annotations.insert(OVERRIDE_PARENT_NAME.into(), self.name_any());
        cert_annotations.remove(OVERRIDE_PARENT_NAMESPACE);
        let namespace = self.namespace().unwrap_or_default();
        let (by_secret, problems) =
            by_secret(&self.spec.listeners, &namespace, &ignored_listeners(a), inputs);
        let certificates = super::certificates(self, &template, by_secret, &cert_annotations);
        Ok(Some(Desired { certificates, problems }))
    }
}

/// Metadata without managed fields or annotations the shim does not read (labels stay: they
/// are copied to the Certificates).
pub(super) fn trim_meta(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.retain(|k, _| {
            k.starts_with("cert-manager.io/") || k.starts_with("acme.cert-manager.io/")
        });
    }
}

/// The names listed in `cert-manager.io/ignore-tls-listeners`.
pub(super) fn ignored_listeners(a: &BTreeMap<String, String>) -> Vec<String> {
    let list = a.get(IGNORE_TLS_LISTENERS).map(String::as_str).unwrap_or_default();
    list.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect()
}

/// Secret name → the hostnames of the listeners that reference it (in listener order, each
/// once), and a message per listener that gives none. As cert-manager: only HTTPS and TLS
/// listeners (and `extra_protocols`) count; Passthrough ones and `ignored` ones are skipped
/// without a word; any other listener is either valid or skipped with cert-manager's message
/// (the hostname itself is Gateway API's schema's to check: an IP address becomes one of the
/// Certificate's `ipAddresses`).
pub(super) fn by_secret(
    listeners: &[Listener],
    namespace: &str,
    ignored: &[String],
    inputs: &Inputs,
) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut by_secret: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, l) in listeners.iter().enumerate() {
        let protocol = l.protocol.as_str();
        if !["HTTPS", "TLS"].contains(&protocol)
            && !inputs.extra_protocols.iter().any(|p| p == protocol)
        {
            continue;
        }
        let mode = l.tls.as_ref().and_then(|t| t.mode.as_deref());
        if mode == Some("Passthrough") || ignored.contains(&l.name) {
            continue;
        }
        let errors = listener_errors(i, l, namespace, mode);
        match errors.as_slice() {
            [] => {}
            [one] => {
                problems.push(format!("Skipped a listener block: {one}"));
                continue;
            }
            many => {
                problems.push(format!("Skipped a listener block: [{}]", many.join(", ")));
                continue;
            }
        }
        let host = l.hostname.clone().unwrap_or_default();
        let refs = l.tls.as_ref().and_then(|t| t.certificate_refs.as_deref()).unwrap_or_default();
        for r in refs {
            let hosts = by_secret.entry(r.name.clone()).or_default();
            if !hosts.contains(&host) {
                hosts.push(host.clone());
            }
        }
    }
    (by_secret, problems)
}

/// What is wrong with listener `i`, in cert-manager's field-error words.
fn listener_errors(i: usize, l: &Listener, namespace: &str, mode: Option<&str>) -> Vec<String> {
    let at = format!("spec.listeners[{i}]");
    let mut errors = Vec::new();
    if l.hostname.as_deref().unwrap_or_default().is_empty() {
        errors.push(format!("{at}.hostname: Required value: the hostname cannot be empty"));
    }
    let Some(tls) = &l.tls else {
        errors.push(format!("{at}.tls: Required value: the TLS block cannot be empty"));
        return errors;
    };
    let refs = tls.certificate_refs.as_deref().unwrap_or_default();
    if refs.is_empty() {
        errors.push(format!(
            "{at}.tls.certificateRef: Required value: listener has no certificateRefs"
        ));
    }
    for (j, r) in refs.iter().enumerate() {
        let at = format!("{at}.tls.certificateRef[{j}]");
        let group = r.group.as_deref().unwrap_or_default();
        if !["", "core"].contains(&group) {
            errors.push(format!(
                "{at}.group: Unsupported value: {group:?}: supported values: \"core\", \"\""
            ));
        }
        let kind = r.kind.as_deref().unwrap_or_default();
        if !["", "Secret"].contains(&kind) {
            errors.push(format!(
                "{at}.kind: Unsupported value: {kind:?}: supported values: \"Secret\", \"\""
            ));
        }
        if let Some(ns) = r.namespace.as_deref().filter(|ns| *ns != namespace) {
            errors.push(format!(
                "{at}.namespace: Invalid value: {ns:?}: cross-namespace secret references are not allowed in listeners"
            ));
        }
    }
    match mode {
        Some("Terminate") => {}
        None => errors.push(format!("{at}.tls.mode: Required value: the mode field is required")),
        Some(m) => errors.push(format!(
            "{at}.tls.mode: Unsupported value: {m:?}: supported values: \"Terminate\""
        )),
    }
    errors
}
