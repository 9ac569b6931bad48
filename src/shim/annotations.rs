//! Ingress annotations → which issuer, and the Certificate fields cert-manager's ingress-shim
//! reads from annotations. Pure; every error names the annotation and what it expects.

use crate::api::CertificateSpec;
use crate::api::certificate::{
    CertificatePrivateKey, KeyUsage, PrivateKeyAlgorithm, PrivateKeyEncoding, RotationPolicy,
    X509Subject,
};
use crate::api::meta::{IssuerReference, ObjectMetaTemplate};
use crate::validation::certificate::{MIN_DURATION, MIN_RENEW_BEFORE};
use crate::validation::names::{email_problem, go_duration, parse_duration};
use std::collections::BTreeMap;

pub const ISSUER: &str = "cert-manager.io/issuer";
pub const CLUSTER_ISSUER: &str = "cert-manager.io/cluster-issuer";
pub const ISSUER_KIND: &str = "cert-manager.io/issuer-kind";
pub const ISSUER_GROUP: &str = "cert-manager.io/issuer-group";
pub const TLS_ACME: &str = "kubernetes.io/tls-acme";
pub const EDIT_IN_PLACE: &str = "acme.cert-manager.io/http01-edit-in-place";
pub const HTTP01_CLASS: &str = "acme.cert-manager.io/http01-ingress-class";
pub const HTTP01_CLASS_NAME: &str = "acme.cert-manager.io/http01-ingress-ingressclassname";
pub use crate::api::acme::{OVERRIDE_CLASS, OVERRIDE_CLASS_NAME, OVERRIDE_INGRESS_NAME};

/// One bad annotation: which, and what it should say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("annotation {annotation:?}: {message}")]
pub struct AnnotationError {
    pub annotation: String,
    pub message: String,
}

fn bad(annotation: &str, message: impl Into<String>) -> AnnotationError {
    AnnotationError { annotation: annotation.into(), message: message.into() }
}

/// The `--default-issuer-*` flags, used for `kubernetes.io/tls-acme: "true"`.
#[derive(Debug, Clone, Default)]
pub struct DefaultIssuer {
    pub name: Option<String>,
    pub kind: String,
    pub group: String,
}

/// The issuer an Ingress asks for; `Ok(None)` when it asks certsmith for nothing.
pub fn issuer_ref(
    a: &BTreeMap<String, String>,
    defaults: &DefaultIssuer,
) -> Result<Option<IssuerReference>, AnnotationError> {
    let get = |k: &str| a.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    match (get(ISSUER), get(CLUSTER_ISSUER)) {
        (Some(_), Some(_)) => {
            Err(bad(CLUSTER_ISSUER, format!("set either {ISSUER} or {CLUSTER_ISSUER}, not both")))
        }
        (None, Some(name)) => Ok(Some(reference(name, "ClusterIssuer", crate::api::meta::GROUP))),
        (Some(name), None) => Ok(Some(reference(
            name,
            get(ISSUER_KIND).unwrap_or("Issuer"),
            get(ISSUER_GROUP).unwrap_or(crate::api::meta::GROUP),
        ))),
        (None, None) if a.get(TLS_ACME).map(String::as_str) == Some("true") => match &defaults.name
        {
            Some(name) => Ok(Some(reference(name, &defaults.kind, &defaults.group))),
            None => Err(bad(
                TLS_ACME,
                "\"true\" needs a default issuer: run certsmith with --default-issuer-name (and -kind), \
                 or set cert-manager.io/cluster-issuer on the Ingress",
            )),
        },
        (None, None) => Ok(None),
    }
}

fn reference(name: &str, kind: &str, group: &str) -> IssuerReference {
    IssuerReference { name: name.into(), kind: Some(kind.into()), group: Some(group.into()) }
}

/// The HTTP-01 Ingress annotations, turned into the overrides the issuance reads off the
/// Certificate (cert-manager reads them on every kind of source; only the Ingress solver uses
/// them). Edit-in-place names the source.
pub fn solver_overrides(
    a: &BTreeMap<String, String>,
    source_name: &str,
) -> Result<BTreeMap<String, String>, AnnotationError> {
    let mut out = BTreeMap::new();
    match a.get(EDIT_IN_PLACE).map(String::as_str) {
        Some("true") => {
            out.insert(OVERRIDE_INGRESS_NAME.into(), source_name.to_string());
        }
        None | Some("false") => {}
        Some(other) => {
            return Err(AnnotationError {
                annotation: EDIT_IN_PLACE.into(),
                message: format!("{other:?} is not \"true\" or \"false\""),
            });
        }
    }
    if let Some(class) = a.get(HTTP01_CLASS) {
        out.insert(OVERRIDE_CLASS.into(), class.clone());
    }
    if let Some(class) = a.get(HTTP01_CLASS_NAME) {
        out.insert(OVERRIDE_CLASS_NAME.into(), class.clone());
    }
    Ok(out)
}

/// Fills `spec` from the Certificate-shaping annotations.
pub fn apply(
    spec: &mut CertificateSpec,
    a: &BTreeMap<String, String>,
) -> Result<(), AnnotationError> {
    let r = Read(a);
    names(spec, r)?;
    subject(spec, r);
    lifetimes(spec, r)?;
    usages_and_history(spec, r)?;
    private_key(spec, a)?;
    secret_template(spec, r)
}

/// The `cert-manager.io/` annotations of a source, read as cert-manager reads them.
#[derive(Clone, Copy)]
struct Read<'a>(&'a BTreeMap<String, String>);

impl Read<'_> {
    fn key(&self, k: &str) -> String {
        format!("cert-manager.io/{k}")
    }

    /// The value, trimmed.
    fn get(&self, k: &str) -> Option<String> {
        self.0.get(&self.key(k)).map(|v| v.trim().to_string())
    }

    /// A Go duration of at least `min`, as written.
    fn duration_at_least(
        &self,
        k: &str,
        min: std::time::Duration,
    ) -> Result<Option<String>, AnnotationError> {
        let Some(d) = self.get(k) else { return Ok(None) };
        let parsed = parse_duration(&d).map_err(|p| bad(&self.key(k), format!("{d:?} {p}")))?;
        if parsed < min {
            return Err(bad(&self.key(k), format!("must be at least {}", go_duration(min))));
        }
        Ok(Some(d))
    }

    /// A comma-separated list, its entries trimmed, empty ones dropped.
    fn list(&self, k: &str) -> Option<Vec<String>> {
        let v = self.get(k)?;
        Some(v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
    }
}

/// `common-name`, `alt-names`, `ip-sans`, `uri-sans`, `email-sans`.
fn names(spec: &mut CertificateSpec, r: Read) -> Result<(), AnnotationError> {
    if let Some(cn) = r.get("common-name") {
        if cn.len() > 64 {
            return Err(bad(&r.key("common-name"), "a common name may not be more than 64 bytes"));
        }
        spec.common_name = Some(cn);
    }
    if let Some(names) = r.list("alt-names").filter(|l| !l.is_empty()) {
        let dns = spec.dns_names.get_or_insert_default();
        dns.extend(names.into_iter().filter(|n| !dns.contains(n)).collect::<Vec<_>>());
    }
    if let Some(ips) = r.list("ip-sans").filter(|l| !l.is_empty()) {
        if let Some(ip) = ips.iter().find(|ip| ip.parse::<std::net::IpAddr>().is_err()) {
            return Err(bad(&r.key("ip-sans"), format!("{ip:?} is not a valid IP address")));
        }
        spec.ip_addresses = Some(ips);
    }
    if let Some(uris) = r.list("uri-sans").filter(|l| !l.is_empty()) {
        spec.uris = Some(uris);
    }
    if let Some(emails) = r.list("email-sans").filter(|l| !l.is_empty()) {
        if let Some((e, p)) = emails.iter().find_map(|e| email_problem(e).map(|p| (e, p))) {
            return Err(bad(&r.key("email-sans"), format!("{e:?} {p}")));
        }
        spec.email_addresses = Some(emails);
    }
    Ok(())
}

/// The `subject-*` annotations.
fn subject(spec: &mut CertificateSpec, r: Read) {
    let subject = [
        ("subject-organizations", 0),
        ("subject-organizationalunits", 1),
        ("subject-countries", 2),
        ("subject-provinces", 3),
        ("subject-localities", 4),
        ("subject-streetaddresses", 5),
        ("subject-postalcodes", 6),
    ];
    for (k, field) in subject {
        if let Some(values) = r.list(k) {
            let s = spec.subject.get_or_insert_with(X509Subject::default);
            let slot = match field {
                0 => &mut s.organizations,
                1 => &mut s.organizational_units,
                2 => &mut s.countries,
                3 => &mut s.provinces,
                4 => &mut s.localities,
                5 => &mut s.street_addresses,
                _ => &mut s.postal_codes,
            };
            *slot = Some(values);
        }
    }
    if let Some(serial) = r.get("subject-serialnumber") {
        spec.subject.get_or_insert_with(X509Subject::default).serial_number = Some(serial);
    }
}

/// `duration`, `renew-before`, `renew-before-percentage`.
fn lifetimes(spec: &mut CertificateSpec, r: Read) -> Result<(), AnnotationError> {
    if let Some(d) = r.duration_at_least("duration", MIN_DURATION)? {
        spec.duration = Some(d);
    }
    if let Some(d) = r.duration_at_least("renew-before", MIN_RENEW_BEFORE)? {
        spec.renew_before = Some(d);
    }
    if let Some(p) = r.get("renew-before-percentage") {
        let n: i32 = p.parse().ok().filter(|n| (1..=99).contains(n)).ok_or_else(|| {
            bad(
                &r.key("renew-before-percentage"),
                format!("{p:?} is not a whole number between 1 and 99"),
            )
        })?;
        spec.renew_before_percentage = Some(n);
    }
    Ok(())
}

/// `usages`, `revision-history-limit`.
fn usages_and_history(spec: &mut CertificateSpec, r: Read) -> Result<(), AnnotationError> {
    if let Some(usages) = r.list("usages") {
        let parsed: Result<Vec<KeyUsage>, _> = usages
            .iter()
            .map(|u| serde_json::from_value(serde_json::Value::String(u.clone())).map_err(|_| u))
            .collect();
        spec.usages = Some(parsed.map_err(|u| {
            bad(
                &r.key("usages"),
                format!("{u:?} is not a key usage (e.g. \"digital signature\", \"server auth\")"),
            )
        })?);
    }
    if let Some(n) = r.get("revision-history-limit") {
        let limit = n.parse::<i32>().ok().filter(|n| *n >= 1);
        let limit = limit.ok_or_else(|| {
            bad(
                &r.key("revision-history-limit"),
                format!("{n:?} is not a whole number of at least 1"),
            )
        })?;
        spec.revision_history_limit = Some(limit);
    }
    Ok(())
}

/// `secret-template`: JSON labels and annotations, none of cert-manager's own.
fn secret_template(spec: &mut CertificateSpec, r: Read) -> Result<(), AnnotationError> {
    if let Some(json) = r.get("secret-template") {
        let t: ObjectMetaTemplate = serde_json::from_str(&json).map_err(|e| {
            bad(
                &r.key("secret-template"),
                format!("is not JSON of {{\"labels\": {{…}}, \"annotations\": {{…}}}}: {e}"),
            )
        })?;
        if let Some(k) = t
            .annotations
            .iter()
            .flatten()
            .map(|(k, _)| k)
            .find(|k| k.starts_with("cert-manager.io/"))
        {
            return Err(bad(
                &r.key("secret-template"),
                format!("may not set cert-manager.io/ annotations ({k:?})"),
            ));
        }
        spec.secret_template = Some(t);
    }
    Ok(())
}

fn private_key(
    spec: &mut CertificateSpec,
    a: &BTreeMap<String, String>,
) -> Result<(), AnnotationError> {
    let get =
        |k: &str| a.get(&format!("cert-manager.io/private-key-{k}")).map(|v| v.trim().to_string());
    let key = |k: &str| format!("cert-manager.io/private-key-{k}");
    let mut pk = spec.private_key.clone().unwrap_or_default();
    let not_one_of =
        |k: &str, v: &str, expected: &str| bad(&key(k), format!("{v:?} is not one of {expected}"));
    if let Some(v) = get("algorithm") {
        pk.algorithm = Some(match v.as_str() {
            "RSA" => PrivateKeyAlgorithm::RSA,
            "ECDSA" => PrivateKeyAlgorithm::ECDSA,
            "Ed25519" => PrivateKeyAlgorithm::Ed25519,
            _ => return Err(not_one_of("algorithm", &v, "RSA, ECDSA, Ed25519")),
        });
    }
    if let Some(v) = get("encoding") {
        pk.encoding = Some(match v.as_str() {
            "PKCS1" => PrivateKeyEncoding::PKCS1,
            "PKCS8" => PrivateKeyEncoding::PKCS8,
            _ => return Err(not_one_of("encoding", &v, "PKCS1, PKCS8")),
        });
    }
    if let Some(v) = get("rotation-policy") {
        pk.rotation_policy = Some(match v.as_str() {
            "Never" => RotationPolicy::Never,
            "Always" => RotationPolicy::Always,
            _ => return Err(not_one_of("rotation-policy", &v, "Never, Always")),
        });
    }
    if let Some(v) = get("size") {
        let size: i64 =
            v.parse().map_err(|_| bad(&key("size"), format!("{v:?} is not a number of bits")))?;
        let ok = match pk.algorithm.unwrap_or(PrivateKeyAlgorithm::RSA) {
            PrivateKeyAlgorithm::RSA => (2048..=8192).contains(&size),
            PrivateKeyAlgorithm::ECDSA => [256, 384, 521].contains(&size),
            PrivateKeyAlgorithm::Ed25519 => true,
        };
        if !ok {
            return Err(bad(
                &key("size"),
                format!(
                    "{size} is not a valid size for the key algorithm (RSA: 2048-8192, ECDSA: 256, 384, 521)"
                ),
            ));
        }
        pk.size = Some(size);
    }
    if pk != CertificatePrivateKey::default() {
        spec.private_key = Some(pk);
    }
    Ok(())
}
