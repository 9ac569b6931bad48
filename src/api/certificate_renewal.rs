//! Certificate's `spec.renewal` (cert-manager v1.21): the renewal policy and the windows
//! renewals may start in.

use super::meta::cel_rules;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = renewal_rules)]
pub struct CertificateRenewal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<RenewalPolicy>,
    /// When renewals may start; a renewal due outside them waits for the next one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub windows: Option<Vec<RenewalWindow>>,
}

/// A policy, and no windows beside `Disabled`, as cert-manager's webhook says.
fn renewal_rules(schema: &mut Schema) {
    cel_rules(
        schema,
        &[
            ("has(self.policy)", "policy must be one of Disabled, RenewBefore"),
            (
                "!has(self.policy) || self.policy != 'Disabled' || !has(self.windows)",
                "windows cannot be set when `renewal.policy` is set to Disabled",
            ),
        ],
    );
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RenewalPolicy {
    RenewBefore,
    Disabled,
}

/// A renewal window: opens at each time the 5-field `cron` (or a descriptor such as `@daily`)
/// names, in `timezone` (IANA; UTC when unset), for `windowDuration`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenewalWindow {
    #[schemars(length(min = 1))]
    pub cron: String,
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(s|m|h))+$"))]
    pub window_duration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub timezone: Option<String>,
}
