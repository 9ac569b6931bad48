//! cainjector, step 3 (pure): the four kinds a CA is injected into, where each keeps its
//! caBundles, and the server-side apply body that sets only those fields. Only cluster-scoped
//! kinds, which only a cluster admin may annotate: a namespace editor can make no object trust a
//! CA.

use base64::Engine;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::Resource;
use serde_json::{Value, json};

/// One caBundle field: the webhook it belongs to (by name, the list's merge key), and what it
/// holds now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub webhook: Option<String>,
    pub bundle: Vec<u8>,
}

pub trait Target:
    Resource<DynamicType = ()>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
    + serde::Serialize
    + Send
    + Sync
    + 'static
{
    /// The controller's name in logs and metrics.
    const CONTROLLER: &'static str;

    /// The caBundle fields of this object; none when it takes no CA (a CRD whose conversion
    /// is not by webhook).
    fn slots(&self) -> Vec<Slot>;

    /// The fields to apply for `slots` filled (apiVersion, kind and metadata are added).
    fn fields(slots: &[Slot]) -> Value;
}

fn b64(bundle: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bundle)
}

fn bytes(b: Option<&k8s_openapi::ByteString>) -> Vec<u8> {
    b.map(|b| b.0.clone()).unwrap_or_default()
}

/// Each webhook's `clientConfig.caBundle`, keyed by its name.
fn webhook_fields(slots: &[Slot]) -> Value {
    let webhooks: Vec<Value> = slots
        .iter()
        .map(|s| json!({"name": s.webhook, "clientConfig": {"caBundle": b64(&s.bundle)}}))
        .collect();
    json!({ "webhooks": webhooks })
}

/// Both webhook configuration kinds keep a caBundle per webhook, keyed by its name.
macro_rules! webhook_target {
    ($kind:ty, $controller:literal) => {
        impl Target for $kind {
            const CONTROLLER: &'static str = $controller;

            fn slots(&self) -> Vec<Slot> {
                let hooks = self.webhooks.iter().flatten();
                let slot = |name: &str, b| Slot { webhook: Some(name.into()), bundle: bytes(b) };
                hooks.map(|w| slot(&w.name, w.client_config.ca_bundle.as_ref())).collect()
            }

            fn fields(slots: &[Slot]) -> Value {
                webhook_fields(slots)
            }
        }
    };
}

webhook_target!(ValidatingWebhookConfiguration, "cainjector-validatingwebhookconfiguration");
webhook_target!(MutatingWebhookConfiguration, "cainjector-mutatingwebhookconfiguration");

impl Target for APIService {
    const CONTROLLER: &'static str = "cainjector-apiservice";

    fn slots(&self) -> Vec<Slot> {
        let bundle = self.spec.as_ref().and_then(|s| s.ca_bundle.as_ref());
        vec![Slot { webhook: None, bundle: bytes(bundle) }]
    }

    fn fields(slots: &[Slot]) -> Value {
        let bundle = slots.first().map(|s| b64(&s.bundle));
        json!({ "spec": { "caBundle": bundle } })
    }
}

impl Target for CustomResourceDefinition {
    const CONTROLLER: &'static str = "cainjector-customresourcedefinition";

    fn slots(&self) -> Vec<Slot> {
        let Some(conversion) = self.spec.conversion.as_ref().filter(|c| c.strategy == "Webhook")
        else {
            return vec![];
        };
        let config = conversion.webhook.as_ref().and_then(|w| w.client_config.as_ref());
        vec![Slot { webhook: None, bundle: bytes(config.and_then(|c| c.ca_bundle.as_ref())) }]
    }

    /// The strategy is applied too (the same value): a conversion without it would not be
    /// valid on its own, and a user who moves off webhook conversion is told by the conflict
    /// that certsmith injects there.
    fn fields(slots: &[Slot]) -> Value {
        let bundle = slots.first().map(|s| b64(&s.bundle));
        json!({ "spec": { "conversion": {
            "strategy": "Webhook",
            "webhook": { "clientConfig": { "caBundle": bundle } },
        } } })
    }
}

/// The whole apply body for `object` with `slots`: only the caBundle fields, and the
/// resourceVersion read, so that a bundle merged from a stale read is never written (409).
pub fn body<K: Target>(object: &K, slots: &[Slot]) -> Value {
    let mut body = K::fields(slots);
    body["apiVersion"] = K::api_version(&()).into();
    body["kind"] = K::kind(&()).into();
    body["metadata"] = json!({
        "name": object.meta().name,
        "resourceVersion": object.meta().resource_version,
    });
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_says_where_its_bundles_are_and_applies_only_those() {
        let webhooks: ValidatingWebhookConfiguration = serde_json::from_value(json!({
            "metadata": {"name": "hooks", "resourceVersion": "7"},
            "webhooks": [
                {"name": "a.example.com", "clientConfig": {"url": "https://a", "caBundle": "T0xE"},
                 "sideEffects": "None", "admissionReviewVersions": ["v1"]},
                {"name": "b.example.com", "clientConfig": {"url": "https://b"},
                 "sideEffects": "None", "admissionReviewVersions": ["v1"]},
            ],
        }))
        .unwrap();
        let slots = webhooks.slots();
        assert_eq!(
            slots,
            vec![
                Slot { webhook: Some("a.example.com".into()), bundle: b"OLD".to_vec() },
                Slot { webhook: Some("b.example.com".into()), bundle: vec![] },
            ]
        );
        let filled: Vec<Slot> =
            slots.into_iter().map(|s| Slot { bundle: b"NEW".into(), ..s }).collect();
        assert_eq!(
            body(&webhooks, &filled),
            json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "hooks", "resourceVersion": "7"},
                "webhooks": [
                    {"name": "a.example.com", "clientConfig": {"caBundle": "TkVX"}},
                    {"name": "b.example.com", "clientConfig": {"caBundle": "TkVX"}},
                ],
            })
        );

        let crd = |strategy: &str| -> CustomResourceDefinition {
            serde_json::from_value(json!({
                "metadata": {"name": "widgets.example.com"},
                "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"}, "versions": [],
                    "conversion": {"strategy": strategy}},
            }))
            .unwrap()
        };
        assert_eq!(crd("None").slots(), vec![], "no webhook conversion: no CA");
        let slots = crd("Webhook").slots();
        assert_eq!(slots, vec![Slot { webhook: None, bundle: vec![] }]);
        let body = body(&crd("Webhook"), &[Slot { webhook: None, bundle: b"NEW".into() }]);
        assert_eq!(
            body["spec"]["conversion"]["webhook"],
            json!({"clientConfig": {"caBundle": "TkVX"}})
        );
        assert_eq!(body["apiVersion"], "apiextensions.k8s.io/v1");

        let service: APIService = serde_json::from_value(json!({
            "metadata": {"name": "v1.example.com"},
            "spec": {"group": "example.com", "version": "v1", "groupPriorityMinimum": 1000,
                "versionPriority": 15},
        }))
        .unwrap();
        assert_eq!(service.slots(), vec![Slot { webhook: None, bundle: vec![] }]);
        assert_eq!(
            APIService::fields(&[Slot { webhook: None, bundle: b"NEW".into() }]),
            json!({"spec": {"caBundle": "TkVX"}})
        );
    }
}
