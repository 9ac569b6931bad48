//! The `acme` block of an Issuer or ClusterIssuer: the CA's directory, the account, the solvers.

use super::meta::{ObjectMetaTemplate, Opaque, SecretKeySelector};
use k8s_openapi::ByteString;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Set on a Certificate (by the shim, or by its author), copied to its requests and Orders: how
/// the issuance shapes its HTTP-01 solver (cert-manager's names). The Order applies them to the
/// solver it writes into each Challenge. These three shape the Ingress solver.
pub const OVERRIDE_INGRESS_NAME: &str = "acme.cert-manager.io/http01-override-ingress-name";
pub const OVERRIDE_CLASS: &str = "acme.cert-manager.io/http01-override-ingress-class";
pub const OVERRIDE_CLASS_NAME: &str =
    "acme.cert-manager.io/http01-override-ingress-ingressclassname";
/// A parent the HTTPRoute solver adds to its `parentRefs` (cert-manager v1.20; the namespace
/// v1.21): the gateway-shim names the Gateway (or ListenerSet) the Certificate came from.
pub const OVERRIDE_PARENT_KIND: &str = "acme.cert-manager.io/http01-parentrefkind";
pub const OVERRIDE_PARENT_NAME: &str = "acme.cert-manager.io/http01-parentrefname";
pub const OVERRIDE_PARENT_NAMESPACE: &str = "acme.cert-manager.io/http01-parentrefnamespace";
/// The annotations a Certificate hands down to its requests and their Orders.
pub const SOLVER_OVERRIDES: [&str; 6] = [
    OVERRIDE_INGRESS_NAME,
    OVERRIDE_CLASS,
    OVERRIDE_CLASS_NAME,
    OVERRIDE_PARENT_KIND,
    OVERRIDE_PARENT_NAME,
    OVERRIDE_PARENT_NAMESPACE,
];

/// The solver overrides among `annotations` (what is handed down, and what the Order applies).
pub fn solver_overrides(annotations: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let keep = |(k, _): &(&String, &String)| SOLVER_OVERRIDES.contains(&k.as_str());
    annotations.iter().filter(keep).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = acme_rules)]
pub struct AcmeIssuer {
    /// The ACME directory URL, e.g. `https://acme-v02.api.letsencrypt.org/directory`.
    #[schemars(regex(pattern = r"^https?://"))]
    pub server: String,
    /// Contact address registered with the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The Secret holding the account's private key (PEM under `tls.key`); created when missing
    /// unless `disableAccountKeyGeneration` is set.
    pub private_key_secret_ref: SecretKeySelector,
    /// The Common Name of the root (or intermediate) the issued chain should lead to, when the
    /// CA offers alternate chains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_chain: Option<String>,
    /// PEM certificates to trust for the ACME server's HTTPS (base64 in the object).
    #[serde(rename = "caBundle", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "byte"))]
    pub ca_bundle: Option<ByteString>,
    /// Skip TLS verification of the ACME server. Insecure; for tests only.
    #[serde(rename = "skipTLSVerify", default, skip_serializing_if = "Option::is_none")]
    pub skip_tls_verify: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<ExternalAccountBinding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solvers: Option<Vec<AcmeChallengeSolver>>,
    /// Use the existing account key only; never generate one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_account_key_generation: Option<bool>,
    /// Send the Certificate's `duration` to the CA as the order's `notAfter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_duration_feature: Option<bool>,
    /// ACME profile to request (draft-aaron-acme-profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Where renewal information comes from (`ari` or none); accepted for compatibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_information_source: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum HmacKeyAlgorithm {
    HS256,
    HS384,
    HS512,
}

/// External Account Binding: ties the ACME account to an account the CA already knows.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAccountBinding {
    #[serde(rename = "keyID")]
    #[schemars(length(min = 1))]
    pub key_id: String,
    /// The Secret holding the base64url-encoded HMAC key.
    pub key_secret_ref: SecretKeySelector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<HmacKeyAlgorithm>,
}

/// One way of answering challenges, for the names its selector picks.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = solver_type)]
pub struct AcmeChallengeSolver {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<CertificateDnsNameSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http01: Option<AcmeChallengeSolverHttp01>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns01: Option<AcmeChallengeSolverDns01>,
    /// Wait this long instead of self-checking the challenge before telling the CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_instead_of_self_check: Option<String>,
}

/// The account's rules CEL can say, in `validation::issuer`'s words.
fn acme_rules(schema: &mut Schema) {
    super::meta::cel_rules(
        schema,
        &[(
            "!(has(self.caBundle) && size(self.caBundle) > 0 && has(self.skipTLSVerify) && self.skipTLSVerify)",
            "caBundle and skipTLSVerify are mutually exclusive and cannot both be set",
        )],
    );
}

fn ingress_rules(schema: &mut Schema) {
    super::meta::cel_rules(
        schema,
        &[(
            &super::meta::at_most_one(&["ingressClassName", "class", "name"]),
            "only one of 'ingressClassName', 'name' or 'class' should be specified",
        )],
    );
}

fn solver_type(schema: &mut Schema) {
    super::meta::exactly_one_of(
        schema,
        &["http01", "dns01"],
        "no solver type configured: http01 or dns01",
        "may not specify more than one solver type in a single solver",
    );
}

/// Picks the Certificates a solver is used for; the most specific match wins.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDnsNameSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "dnsNames", default, skip_serializing_if = "Option::is_none")]
    pub dns_names: Option<Vec<String>>,
    #[serde(rename = "dnsZones", default, skip_serializing_if = "Option::is_none")]
    pub dns_zones: Option<Vec<String>>,
}

/// DNS-01: the TXT record `_acme-challenge.<name>`, written through one DNS provider. certsmith
/// writes through RFC 2136, Route 53, acme-dns or a cert-manager webhook solver; the other
/// providers are accepted as given and reported unsupported.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverDns01 {
    /// `Follow`: a CNAME at `_acme-challenge.<name>` is followed, and its target written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cname_strategy: Option<CnameStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfc2136: Option<AcmeIssuerDnsRfc2136>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub akamai: Option<Opaque>,
    #[serde(rename = "cloudDNS", default, skip_serializing_if = "Option::is_none")]
    pub cloud_dns: Option<Opaque>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudflare: Option<Opaque>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route53: Option<AcmeIssuerDnsRoute53>,
    #[serde(rename = "azureDNS", default, skip_serializing_if = "Option::is_none")]
    pub azure_dns: Option<Opaque>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digitalocean: Option<Opaque>,
    #[serde(rename = "acmeDNS", default, skip_serializing_if = "Option::is_none")]
    pub acme_dns: Option<AcmeIssuerAcmeDns>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<AcmeIssuerDnsWebhook>,
}

impl AcmeChallengeSolverDns01 {
    /// The providers it sets, by cert-manager's field names.
    pub fn providers(&self) -> Vec<&'static str> {
        [
            ("rfc2136", self.rfc2136.is_some()),
            ("route53", self.route53.is_some()),
            ("acmeDNS", self.acme_dns.is_some()),
            ("webhook", self.webhook.is_some()),
            ("akamai", self.akamai.is_some()),
            ("cloudDNS", self.cloud_dns.is_some()),
            ("cloudflare", self.cloudflare.is_some()),
            ("azureDNS", self.azure_dns.is_some()),
            ("digitalocean", self.digitalocean.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// A cert-manager DNS-01 webhook solver: an aggregated API the API server serves at
/// `/apis/<groupName>/v1alpha1/<solverName>`, which certsmith asks to present and clean up.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDnsWebhook {
    /// The API group the solver is registered under (its APIService).
    #[schemars(length(min = 1))]
    pub group_name: String,
    /// The solver's name within the group (the resource certsmith posts to).
    #[schemars(length(min = 1))]
    pub solver_name: String,
    /// Passed to the solver as it is; the solver alone reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Opaque>,
}

/// AWS Route 53 (cert-manager's `ACMEIssuerDNS01ProviderRoute53`): the TXT record written with
/// ChangeResourceRecordSets, signed with the static access key the issuer names (or the `role`
/// it assumes). certsmith uses no ambient credentials, so `auth.kubernetes` is reported
/// unsupported.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDnsRoute53 {
    /// Web identity (AssumeRoleWithWebIdentity with a ServiceAccount's token): not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Route53Auth>,
    /// The access key ID; not with `accessKeyIDSecretRef`.
    #[serde(rename = "accessKeyID", default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The Secret entry holding the access key ID; not with `accessKeyID`.
    #[serde(rename = "accessKeyIDSecretRef", default, skip_serializing_if = "Option::is_none")]
    pub access_key_id_secret_ref: Option<SecretKeySelector>,
    /// The Secret entry holding the secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_secret_ref: Option<SecretKeySelector>,
    /// A role ARN to assume through STS with the access key (session `cert-manager`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The hosted zone to write to; found with ListHostedZonesByName when unset.
    #[serde(rename = "hostedZoneID", default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_id: Option<String>,
    /// The AWS region; it picks the partition (`cn-`, `us-gov-`) whose Route 53 is asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// cert-manager's `Route53Auth`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Route53Auth {
    pub kubernetes: Route53KubernetesAuth,
}

/// cert-manager's `Route53KubernetesAuth`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Route53KubernetesAuth {
    pub service_account_ref: Route53ServiceAccountRef,
}

/// cert-manager's `ServiceAccountRef`: a ServiceAccount whose bound token would be exchanged.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Route53ServiceAccountRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
}

/// An acme-dns server (cert-manager's `ACMEIssuerDNS01ProviderAcmeDNS`): the TXT value is
/// POSTed to `<host>/update` with the credentials of the account registered for the name; the
/// name's `_acme-challenge` record is a CNAME to that account's `fulldomain`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct AcmeIssuerAcmeDns {
    /// The acme-dns server's API, e.g. `https://auth.acme-dns.io`.
    pub host: String,
    /// The Secret entry holding the account JSON acme-dns's clients write: a map from each
    /// domain to its account (`username`, `password`, `fulldomain`, `subdomain`, `allowfrom`).
    #[serde(rename = "accountSecretRef")]
    pub account_secret_ref: SecretKeySelector,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum CnameStrategy {
    None,
    Follow,
}

/// RFC 2136 dynamic updates to the zone's primary server, signed with a TSIG key.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDnsRfc2136 {
    /// The server that takes the updates: `host`, `host:port` or `[IPv6]:port` (port 53 when
    /// none is given).
    #[schemars(length(min = 1))]
    pub nameserver: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key_name: Option<String>,
    /// HMACMD5 (the default), HMACSHA1, HMACSHA256 or HMACSHA512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_algorithm: Option<String>,
    /// The Secret entry holding the base64 TSIG secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_secret_secret_ref: Option<SecretKeySelector>,
    /// How updates are sent: `UDP` (the default) or `TCP` (cert-manager v1.20+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Rfc2136Protocol>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Rfc2136Protocol {
    TCP,
    UDP,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<AcmeChallengeSolverHttp01Ingress>,
    /// HTTP-01 through a temporary Gateway API HTTPRoute attached to `parentRefs`.
    #[serde(rename = "gatewayHTTPRoute", default, skip_serializing_if = "Option::is_none")]
    pub gateway_http_route: Option<AcmeChallengeSolverHttp01GatewayHttpRoute>,
}

/// HTTP-01 through a temporary HTTPRoute that routes the challenge path to certsmith's
/// responder, attached to the Gateways (or listeners) the CA's request arrives through.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01GatewayHttpRoute {
    /// Type of the Service in front of the responder (cert-manager: the solver pod's Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    /// Labels added to the solver HTTPRoutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The parents (Gateways, listeners) each solver HTTPRoute attaches to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_refs: Option<Vec<super::gateway::ParentReference>>,
    /// Accepted for compatibility: certsmith runs no solver pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Opaque>,
}

/// HTTP-01 through a temporary Ingress that routes the challenge path to certsmith's responder.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = ingress_rules)]
pub struct AcmeChallengeSolverHttp01Ingress {
    /// Type of the Service in front of the responder (cert-manager: the solver pod's Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    /// `spec.ingressClassName` of the solver Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class_name: Option<String>,
    /// `kubernetes.io/ingress.class` annotation of the solver Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Edit this existing Ingress in place instead of creating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Accepted for compatibility: certsmith runs no solver pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Opaque>,
    /// Labels and annotations for the solver Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_template: Option<IngressTemplate>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMetaTemplate>,
}
