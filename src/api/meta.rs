//! Shared pieces of the `cert-manager.io/v1` API: references, conditions, opaque blocks.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The API group certsmith serves, the same as cert-manager's so its manifests apply unchanged.
pub const GROUP: &str = "cert-manager.io";

/// A Go `time.ParseDuration` string such as `2160h` or `1h30m`. The schema checks the shape
/// (the API server rejects `90x` on apply); `validation` checks the value (minimums, ordering).
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

/// A name that Kubernetes accepts for a Secret: a DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Name of the Secret, in the namespace of the referring object (or, for a ClusterIssuer,
    /// the operator's namespace).
    #[schemars(length(min = 1))]
    pub name: String,
    /// Key of the entry in the Secret's `data`; each use has its own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    #[schemars(length(min = 1))]
    pub name: String,
}

/// Which issuer signs a Certificate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerReference {
    /// Name of the Issuer or ClusterIssuer.
    #[schemars(length(min = 1))]
    pub name: String,
    /// `Issuer` (the default) or `ClusterIssuer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API group of the issuer; `cert-manager.io` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// A status condition, the same shape for Certificates and issuers (cert-manager's
/// `CertificateCondition` and `IssuerCondition`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, or `Issuing` on Certificates.
    #[serde(rename = "type")]
    pub type_: String,
    pub status: ConditionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// A CamelCase word a program can match on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What happened, in words a user can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `metadata.generation` the condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Whether `owners` names the object with `uid` as controller: the objects certsmith makes
/// (and cert-manager's) are found from their owner this way, never by name alone.
pub fn controlled_by(
    owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
    uid: Option<&str>,
) -> bool {
    owners.iter().any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == uid)
}

/// Sets condition `type_` in `conditions`, keeping its lastTransitionTime when its status did
/// not change; the list stays sorted by type.
pub fn set_condition(
    conditions: &mut Option<Vec<Condition>>,
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: jiff::Timestamp,
) {
    let conditions = conditions.get_or_insert_default();
    let since = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    conditions.retain(|c| c.type_ != type_);
    conditions.push(Condition {
        type_: type_.into(),
        status,
        last_transition_time: Some(since),
        reason: Some(reason.into()),
        // No message is left out, as cert-manager's `omitempty` leaves it (an empty string
        // sent by server-side apply reads as null to a 1.20 API server, which its CRDs refuse).
        message: Some(message.to_string()).filter(|m| !m.is_empty()),
        observed_generation: generation,
    });
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

/// Conditions are a list-map keyed by `type`, so server-side apply merges them per type.
pub fn conditions_list_map(schema: &mut Schema) {
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert("x-kubernetes-list-map-keys".into(), serde_json::json!(["type"]));
}

/// A block certsmith accepts and stores as given but does not model field by field yet
/// (DNS-01 providers, Vault, Venafi, pod templates): cert-manager manifests using them apply,
/// and the controller reports when a feature it does not implement is asked for.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(transparent)]
pub struct Opaque(pub serde_json::Map<String, serde_json::Value>);

impl JsonSchema for Opaque {
    fn schema_name() -> Cow<'static, str> {
        "Opaque".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
    }
}

/// Labels and annotations to put on an object certsmith creates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetaTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

/// Adds CEL rules (`x-kubernetes-validations`, Kubernetes 1.25+): `kubectl apply` of an object
/// that breaks one is refused at once with its message, as cert-manager's webhook refuses it.
/// Each `(rule, message)` pair must hold; the controller checks the same rules again for objects
/// stored before (or on cert-manager's own CRDs, which have no such rules).
pub fn cel_rules(schema: &mut Schema, rules: &[(&str, &str)]) {
    let rules: Vec<_> = rules
        .iter()
        .map(|(rule, message)| serde_json::json!({"rule": rule, "message": message}))
        .collect();
    schema.insert("x-kubernetes-validations".into(), rules.into());
}

/// The CEL rules that exactly one of `fields` is set, in the controller's words. Plain
/// arithmetic, no list macros: a rule's cost is multiplied by how many items a list such as
/// `solvers` could hold, and the API server refuses a CRD whose rules could cost too much.
pub fn exactly_one_of(schema: &mut Schema, fields: &[&str], none: &str, more: &str) {
    let at_least = fields.iter().map(|f| format!("has(self.{f})")).collect::<Vec<_>>().join(" || ");
    cel_rules(schema, &[(&at_least, none), (&at_most_one(fields), more)]);
}

/// A CEL rule: at most one of `fields` is set.
pub fn at_most_one(fields: &[&str]) -> String {
    let count = fields.iter().map(|f| format!("(has(self.{f}) ? 1 : 0)")).collect::<Vec<_>>();
    format!("{} <= 1", count.join(" + "))
}
