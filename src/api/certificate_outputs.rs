//! Certificate's outputs beside the PEM files: `additionalOutputFormats` and `keystores`.

use super::meta::{SecretKeySelector, cel_rules};
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct AdditionalOutputFormat {
    #[serde(rename = "type")]
    pub type_: OutputFormatType,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum OutputFormatType {
    DER,
    CombinedPEM,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateKeystores {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jks: Option<Keystore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs12: Option<Keystore>,
}

/// A JKS or PKCS#12 keystore written beside the PEM files, encrypted with a password given
/// literally or by a Secret in the Certificate's namespace (exactly one of them).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = keystore_rules)]
pub struct Keystore {
    pub create: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// JKS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// PKCS#12 only: `LegacyRC2` (the default), `LegacyDES`, `Modern2023` or `Modern2026`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["LegacyRC2", "LegacyDES", "Modern2023", "Modern2026"]))]
    pub profile: Option<String>,
}

/// Exactly one of the password and the Secret naming it, as cert-manager's webhook says.
fn keystore_rules(schema: &mut Schema) {
    cel_rules(
        schema,
        &[
            (
                "!(has(self.password) && has(self.passwordSecretRef))",
                "exactly one of passwordSecretRef and password must be provided; cannot set both",
            ),
            (
                "has(self.password) || has(self.passwordSecretRef)",
                "must set exactly one of passwordSecretRef and password",
            ),
            (
                "!has(self.password) || self.password != ''",
                "literal password cannot be empty if set",
            ),
        ],
    );
}
