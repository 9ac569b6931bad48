//! CertificateRequest: one signing request (a CSR) to an issuer, as cert-manager defines it. The
//! Certificate controller makes one per issuance; other clients (csi-driver, istio-csr) may too.
// The repeated `printcolumn(...)` keys are separate columns, not duplicates.
#![allow(clippy::duplicated_attributes)]

use super::certificate::KeyUsage;
use super::meta::{Condition, DURATION_PATTERN, IssuerReference, conditions_list_map};
use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "CertificateRequest",
    // cert-manager v1.20+'s field selectors (Kubernetes 1.30+): `kubectl get --field-selector
    // spec.issuerRef.name=letsencrypt-prod`.
    selectable = ".spec.issuerRef.group",
    selectable = ".spec.issuerRef.kind",
    selectable = ".spec.issuerRef.name",
    namespaced,
    status = "CertificateRequestStatus",
    shortname = "cr",
    shortname = "crs",
    category = "cert-manager",
    annotation("helm.sh/resource-policy", "keep"),
    doc = "A request to an issuer to sign a PEM CSR; the signed chain lands in status.certificate.",
    printcolumn(
        name = "Approved",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Approved")].status"#
    ),
    printcolumn(
        name = "Denied",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Denied")].status"#
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(name = "Issuer", type_ = "string", json_path = ".spec.issuerRef.name"),
    printcolumn(name = "Requestor", type_ = "string", json_path = ".spec.username"),
    printcolumn(
        name = "Status",
        type_ = "string",
        priority = 1,
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestSpec {
    /// The PEM-encoded CSR (base64 in the object).
    #[schemars(with = "String", extend("format" = "byte"))]
    pub request: ByteString,
    pub issuer_ref: IssuerReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub duration: Option<String>,
    #[serde(rename = "isCA", default, skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usages: Option<Vec<KeyUsage>>,
    /// Who created the request; set by cert-manager's webhook, which certsmith does not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestStatus {
    /// `Approved`, `Denied`, `Ready` and `InvalidRequest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = conditions_list_map)]
    pub conditions: Option<Vec<Condition>>,
    /// The signed PEM chain, leaf first (base64 in the object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "byte"))]
    pub certificate: Option<ByteString>,
    /// The PEM CA certificate, when the issuer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "byte"))]
    pub ca: Option<ByteString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Time>,
}

/// The annotations cert-manager puts on the requests a Certificate makes.
pub const ANN_CERTIFICATE_NAME: &str = "cert-manager.io/certificate-name";
pub const ANN_REVISION: &str = "cert-manager.io/certificate-revision";
pub const ANN_PRIVATE_KEY_SECRET: &str = "cert-manager.io/private-key-secret-name";

impl CertificateRequest {
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
    }

    fn is(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(|c| c.status == super::meta::ConditionStatus::True)
    }

    pub fn approved(&self) -> bool {
        self.is("Approved")
    }

    pub fn denied(&self) -> bool {
        self.is("Denied")
    }

    /// The revision of the Certificate this request was made for.
    pub fn revision(&self) -> Option<i64> {
        self.metadata.annotations.as_ref()?.get(ANN_REVISION)?.parse().ok()
    }

    /// Ready=True, or Ready=False for good (Failed, Denied, InvalidRequest): nothing more to do.
    pub fn finished(&self) -> bool {
        self.is("Ready")
            || self.condition("Ready").is_some_and(|c| {
                matches!(c.reason.as_deref(), Some("Failed" | "Denied" | "InvalidRequest"))
            })
    }

    /// Ready=False for good.
    pub fn failed(&self) -> bool {
        self.finished() && !self.is("Ready")
    }
}
