//! Order and Challenge (`acme.cert-manager.io/v1`): one ACME order and one challenge of it, as
//! cert-manager stores them, so that every step of an issuance is resumable from the cluster.
// The repeated `printcolumn(...)` keys are separate columns, not duplicates.
#![allow(clippy::duplicated_attributes)]

use super::acme::AcmeChallengeSolver;
use super::meta::IssuerReference;
use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const ACME_GROUP: &str = "acme.cert-manager.io";

/// cert-manager's Challenge finalizer, so either controller can clean up the other's
/// Challenges: set by the Order on a Challenge whose solver leaves something behind.
pub const CHALLENGE_FINALIZER: &str = "finalizer.acme.cert-manager.io";

/// The states of orders, authorizations and challenges (RFC 8555), plus cert-manager's
/// `errored` for a failure on the client's side.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Valid,
    Ready,
    Pending,
    Processing,
    Invalid,
    Expired,
    Errored,
}

impl State {
    /// Nothing will change any more.
    pub fn is_final(self) -> bool {
        matches!(self, State::Valid | State::Invalid | State::Expired | State::Errored)
    }

    pub fn is_failure(self) -> bool {
        matches!(self, State::Invalid | State::Expired | State::Errored)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Valid => "valid",
            State::Ready => "ready",
            State::Pending => "pending",
            State::Processing => "processing",
            State::Invalid => "invalid",
            State::Expired => "expired",
            State::Errored => "errored",
        }
    }
}

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "acme.cert-manager.io",
    version = "v1",
    kind = "Order",
    // cert-manager v1.20+'s field selectors (Kubernetes 1.30+): `kubectl get --field-selector
    // spec.issuerRef.name=letsencrypt-prod`.
    selectable = ".spec.issuerRef.group",
    selectable = ".spec.issuerRef.kind",
    selectable = ".spec.issuerRef.name",
    namespaced,
    status = "OrderStatus",
    category = "cert-manager",
    category = "cert-manager-acme",
    annotation("helm.sh/resource-policy", "keep"),
    doc = "An ACME order for the names of one CertificateRequest.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Issuer",
        type_ = "string",
        priority = 1,
        json_path = ".spec.issuerRef.name"
    ),
    printcolumn(name = "Reason", type_ = "string", priority = 1, json_path = ".status.reason"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct OrderSpec {
    /// The PEM CSR the order is finalized with (base64 in the object).
    #[schemars(with = "String", extend("format" = "byte"))]
    pub request: ByteString,
    pub issuer_ref: IssuerReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// The ARI certificate identifier (RFC 9773) of the certificate this order replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatus {
    /// The order's URL at the CA: set once, and every later step resumes from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(rename = "finalizeURL", default, skip_serializing_if = "Option::is_none")]
    pub finalize_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizations: Option<Vec<AcmeAuthorization>>,
    /// The PEM chain the CA issued (base64 in the object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "byte"))]
    pub certificate: Option<ByteString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    /// Why the order is in its state, in the CA's words where it gave any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Time>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeAuthorization {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<State>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenges: Option<Vec<AcmeChallenge>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallenge {
    pub url: String,
    pub token: String,
    /// `http-01`, `dns-01`, ... as the CA names it.
    #[serde(rename = "type")]
    pub type_: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ChallengeType {
    #[default]
    #[serde(rename = "HTTP-01")]
    Http01,
    #[serde(rename = "DNS-01")]
    Dns01,
}

impl ChallengeType {
    /// cert-manager's word for it (`spec.type`, Events and reasons).
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeType::Http01 => "HTTP-01",
            ChallengeType::Dns01 => "DNS-01",
        }
    }

    /// Its name at the CA (RFC 8555 §8).
    pub fn acme_name(self) -> &'static str {
        match self {
            ChallengeType::Http01 => "http-01",
            ChallengeType::Dns01 => "dns-01",
        }
    }
}

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "acme.cert-manager.io",
    version = "v1",
    kind = "Challenge",
    // cert-manager v1.20+'s field selectors (Kubernetes 1.30+): `kubectl get --field-selector
    // spec.issuerRef.name=letsencrypt-prod`.
    selectable = ".spec.issuerRef.group",
    selectable = ".spec.issuerRef.kind",
    selectable = ".spec.issuerRef.name",
    namespaced,
    status = "ChallengeStatus",
    category = "cert-manager",
    category = "cert-manager-acme",
    annotation("helm.sh/resource-policy", "keep"),
    doc = "One ACME challenge of an Order: presented, self-checked, accepted, cleaned up.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Domain", type_ = "string", json_path = ".spec.dnsName"),
    printcolumn(name = "Reason", type_ = "string", priority = 1, json_path = ".status.reason"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeSpec {
    /// The challenge's URL at the CA.
    pub url: String,
    #[serde(rename = "authorizationURL")]
    pub authorization_url: String,
    /// The name being validated; the responder answers only requests for this Host.
    pub dns_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard: Option<bool>,
    #[serde(rename = "type")]
    pub type_: ChallengeType,
    pub token: String,
    /// The key authorization the responder serves (public by design: token + account thumbprint).
    pub key: String,
    pub solver: AcmeChallengeSolver,
    pub issuer_ref: IssuerReference,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeStatus {
    /// The controller is working on it (presented, self-checking, or waiting for the CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing: Option<bool>,
    /// The solver resources exist (solver Ingress, or the rule in an edited Ingress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presented: Option<bool>,
    /// When the solver first presented it (cert-manager v1.21): `waitInsteadOfSelfCheck`
    /// counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presented_at: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
}

impl Challenge {
    pub fn state(&self) -> Option<State> {
        self.status.as_ref()?.state
    }
}

impl Order {
    pub fn state(&self) -> Option<State> {
        self.status.as_ref()?.state
    }
}
