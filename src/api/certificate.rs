//! Certificate: the desired X.509 certificate, kept valid in the Secret `spec.secretName`.
// The repeated `printcolumn(...)` keys are separate columns, not duplicates.
#![allow(clippy::duplicated_attributes)]

use super::meta::{DNS1123_SUBDOMAIN_PATTERN, DURATION_PATTERN, IssuerReference, cel_rules};
use kube::CustomResource;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

pub use super::certificate_outputs::{
    AdditionalOutputFormat, CertificateKeystores, Keystore, OutputFormatType,
};
pub use super::certificate_renewal::{CertificateRenewal, RenewalPolicy, RenewalWindow};
pub use super::certificate_status::{
    AriStatus, CertificateAcmeStatus, CertificateStatus, SuggestedWindow,
};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    // cert-manager v1.20+'s field selectors (Kubernetes 1.30+): `kubectl get --field-selector
    // spec.issuerRef.name=letsencrypt-prod`.
    selectable = ".spec.issuerRef.group",
    selectable = ".spec.issuerRef.kind",
    selectable = ".spec.issuerRef.name",
    namespaced,
    status = "CertificateStatus",
    shortname = "cert",
    shortname = "certs",
    category = "cert-manager",
    annotation("helm.sh/resource-policy", "keep"),
    doc = "A certificate to obtain from an issuer and keep renewed in the Secret spec.secretName.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(name = "Secret", type_ = "string", json_path = ".spec.secretName"),
    printcolumn(
        name = "Issuer",
        type_ = "string",
        priority = 1,
        json_path = ".spec.issuerRef.name"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        priority = 1,
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#
    ),
    printcolumn(
        name = "Expiration",
        type_ = "string",
        priority = 1,
        json_path = ".status.notAfter"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = certificate_rules)]
pub struct CertificateSpec {
    /// The Secret that receives `tls.crt`, `tls.key` and `ca.crt`.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN_PATTERN))]
    pub secret_name: String,
    pub issuer_ref: IssuerReference,
    /// Subject CN; at most 64 characters. Also requested as a SAN by ACME issuers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uris: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_names: Option<Vec<OtherName>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<X509Subject>,
    /// An RFC 4514 subject, used as given instead of `commonName` and `subject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal_subject: Option<String>,
    /// Requested lifetime, e.g. `2160h` (default 90 days; the CA may ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub duration: Option<String>,
    /// Renew this long before expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub renew_before: Option<String>,
    /// Renew when this percentage of the lifetime is left, in (0, 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 99))]
    pub renew_before_percentage: Option<i32>,
    /// How the certificate is renewed (cert-manager v1.21): `RenewBefore` (as renewBefore and
    /// renewBeforePercentage say, within `windows` when given) or `Disabled` (never for its age).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<CertificateRenewal>,
    #[serde(rename = "isCA", default, skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usages: Option<Vec<KeyUsage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<CertificatePrivateKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<SignatureAlgorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode_usages_in_request: Option<bool>,
    /// Labels and annotations copied onto the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_template: Option<super::meta::ObjectMetaTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_output_formats: Option<Vec<AdditionalOutputFormat>>,
    /// How many past issuances to remember; at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub revision_history_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystores: Option<CertificateKeystores>,
    /// X.509 name constraints of a CA certificate (isCA): the names it may sign for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_constraints: Option<NameConstraints>,
}

/// Fields at least one of which must name the certificate's subject.
pub const SUBJECT_FIELDS: [&str; 7] = [
    "commonName",
    "literalSubject",
    "dnsNames",
    "ipAddresses",
    "uris",
    "emailAddresses",
    "otherNames",
];

/// The cross-field rules of `validation::certificate` that CEL can say, in its words.
fn certificate_rules(schema: &mut Schema) {
    let named = |f: &str| match f {
        "commonName" => "(has(self.commonName) && self.commonName != '')".to_string(),
        "literalSubject" => {
            "(has(self.literalSubject) && self.literalSubject.contains('CN='))".into()
        }
        list => format!("(has(self.{list}) && size(self.{list}) > 0)"),
    };
    let any_subject = SUBJECT_FIELDS.map(named).join(" || ");
    let no_literal = "!has(self.literalSubject) || self.literalSubject == ''";
    let issuer_kind = "!has(self.issuerRef.kind) || self.issuerRef.kind in ['', 'Issuer', 'ClusterIssuer'] \
        || (has(self.issuerRef.group) && !(self.issuerRef.group in ['', 'cert-manager.io']))";
    cel_rules(
        schema,
        &[
            (
                &any_subject,
                "at least one of commonName (from the commonName field or from a literalSubject), \
                 dnsNames, emailAddresses, ipAddresses, otherNames, or uris must be set",
            ),
            (
                "!(has(self.renewBefore) && has(self.renewBeforePercentage))",
                "renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set",
            ),
            (
                &format!("{no_literal} || !has(self.commonName) || self.commonName == ''"),
                "When providing a `LiteralSubject` no `commonName` may be provided.",
            ),
            (
                &format!("{no_literal} || !has(self.subject)"),
                "When providing a `LiteralSubject` no `Subject` properties may be provided.",
            ),
            (
                "!has(self.nameConstraints) || (has(self.isCA) && self.isCA)",
                "isCA should be true when nameConstraints is set",
            ),
            (
                "!has(self.nameConstraints) || has(self.nameConstraints.permitted) || has(self.nameConstraints.excluded)",
                "either permitted or excluded must be set",
            ),
            (
                issuer_kind,
                "issuerRef.kind must be Issuer or ClusterIssuer for an issuer of the cert-manager.io group",
            ),
        ],
    );
}

/// A private key's size fits its algorithm (RSA the default); 0 or none means the default.
fn private_key_rules(schema: &mut Schema) {
    let no_size = "!has(self.size) || self.size == 0";
    cel_rules(
        schema,
        &[
            (
                &format!(
                    "{no_size} || (has(self.algorithm) && self.algorithm != 'RSA') || (self.size >= 2048 && self.size <= 8192)"
                ),
                "size must be between 2048 and 8192 for RSA keys",
            ),
            (
                &format!(
                    "{no_size} || !has(self.algorithm) || self.algorithm != 'ECDSA' || self.size in [256, 384, 521]"
                ),
                "size must be 256, 384 or 521 for ECDSA keys",
            ),
        ],
    );
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtherName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    #[serde(rename = "utf8Value", default, skip_serializing_if = "Option::is_none")]
    pub utf8_value: Option<String>,
}

/// The NameConstraints extension (RFC 5280 §4.2.1.10) of a CA certificate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameConstraints {
    /// Whether the extension is marked critical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<bool>,
    /// The names certificates under this CA may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted: Option<NameConstraintItem>,
    /// The names certificates under this CA may not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<NameConstraintItem>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameConstraintItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domains: Option<Vec<String>>,
    /// CIDRs, e.g. `10.0.0.0/8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_ranges: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_domains: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct X509Subject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countries: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizational_units: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provinces: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_codes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = private_key_rules)]
pub struct CertificatePrivateKey {
    /// `Always` (the default) makes a new key at every issuance; `Never` keeps the stored one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<RotationPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<PrivateKeyEncoding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<PrivateKeyAlgorithm>,
    /// RSA: 2048 to 8192 bits (default 2048); ECDSA: 256, 384 or 521 (default 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub size: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RotationPolicy {
    Never,
    Always,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PrivateKeyEncoding {
    PKCS1,
    PKCS8,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PrivateKeyAlgorithm {
    RSA,
    ECDSA,
    Ed25519,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SignatureAlgorithm {
    SHA256WithRSA,
    SHA384WithRSA,
    SHA512WithRSA,
    ECDSAWithSHA256,
    ECDSAWithSHA384,
    ECDSAWithSHA512,
    PureEd25519,
}

/// X.509 key usages and extended key usages, spelled as cert-manager spells them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyUsage {
    Signing,
    #[serde(rename = "digital signature")]
    DigitalSignature,
    #[serde(rename = "content commitment")]
    ContentCommitment,
    #[serde(rename = "key encipherment")]
    KeyEncipherment,
    #[serde(rename = "key agreement")]
    KeyAgreement,
    #[serde(rename = "data encipherment")]
    DataEncipherment,
    #[serde(rename = "cert sign")]
    CertSign,
    #[serde(rename = "crl sign")]
    CrlSign,
    #[serde(rename = "encipher only")]
    EncipherOnly,
    #[serde(rename = "decipher only")]
    DecipherOnly,
    Any,
    #[serde(rename = "server auth")]
    ServerAuth,
    #[serde(rename = "client auth")]
    ClientAuth,
    #[serde(rename = "code signing")]
    CodeSigning,
    #[serde(rename = "email protection")]
    EmailProtection,
    #[serde(rename = "s/mime")]
    SMime,
    #[serde(rename = "ipsec end system")]
    IpsecEndSystem,
    #[serde(rename = "ipsec tunnel")]
    IpsecTunnel,
    #[serde(rename = "ipsec user")]
    IpsecUser,
    Timestamping,
    #[serde(rename = "ocsp signing")]
    OcspSigning,
    #[serde(rename = "microsoft sgc")]
    MicrosoftSgc,
    #[serde(rename = "netscape sgc")]
    NetscapeSgc,
}
