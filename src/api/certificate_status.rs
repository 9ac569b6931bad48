//! Certificate's status: its conditions, the current certificate's dates and revision, the
//! issuance in flight, and what the ACME server says of it (ARI).

use super::meta::{Condition, conditions_list_map};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = conditions_list_map)]
    pub conditions: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<Time>,
    /// Counts issuances: 1 after the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// The Secret holding the private key of the issuance in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_private_key_secret_name: Option<String>,
    /// Consecutive failed issuances; cleared by a success. Drives the retry backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_issuance_attempts: Option<i64>,
    /// What the ACME server says of this certificate (cert-manager's newer schema; an older
    /// CRD prunes it, and certsmith then asks the server again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<CertificateAcmeStatus>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAcmeStatus {
    /// ACME Renewal Information (RFC 9773) for the current certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ari: Option<AriStatus>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AriStatus {
    /// When the renewal information was last fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked: Option<Time>,
    /// When to fetch it again (the server's Retry-After).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check: Option<Time>,
    /// The window the server suggests renewing in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_window: Option<SuggestedWindow>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuggestedWindow {
    pub start: Time,
    pub end: Time,
}
