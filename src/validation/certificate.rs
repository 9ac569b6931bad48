//! Rules for a Certificate's spec, in the order a user reads the spec.

use super::FieldError;
use super::names::{dns_name_problem, email_problem, go_duration, parse_duration, uri_problem};
use crate::api::CertificateSpec;
use crate::api::certificate::{PrivateKeyAlgorithm, SignatureAlgorithm};
use std::collections::HashSet;
use std::time::Duration;

/// cert-manager's defaults and bounds, kept so Certificates behave the same under certsmith.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(90 * 24 * 3600);
pub const MIN_DURATION: Duration = Duration::from_secs(3600);
pub const MIN_RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// X.509's upper bound for a Common Name (RFC 5280 ub-common-name).
pub const MAX_COMMON_NAME: usize = 64;

/// Every problem with `spec`; empty when it is valid.
pub fn validate_certificate(spec: &CertificateSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if spec.secret_name.is_empty() {
        errs.push(FieldError::required("spec.secretName", "must be specified"));
    } else if let Some(p) = dns1123_subdomain_problem(&spec.secret_name) {
        errs.push(FieldError::invalid("spec.secretName", &spec.secret_name, p));
    }
    issuer_ref(spec, &mut errs);
    subject(spec, &mut errs);
    sans(spec, &mut errs);
    lifetime(spec, &mut errs);
    private_key(spec, &mut errs);
    if let Some(limit) = spec.revision_history_limit.filter(|l| *l < 1) {
        errs.push(FieldError::invalid_raw(
            "spec.revisionHistoryLimit",
            limit,
            "must not be less than 1",
        ));
    }
    if let Some(t) = &spec.secret_template {
        for key in t.annotations.iter().flat_map(|a| a.keys()) {
            if key.starts_with("cert-manager.io/") {
                let path = "spec.secretTemplate.annotations";
                errs.push(FieldError::invalid(
                    path,
                    key,
                    "cert-manager.io/* annotations are not allowed",
                ));
            }
        }
    }
    renewal(spec, &mut errs);
    if let Some(stores) = &spec.keystores {
        let each = [("jks", "JKS", &stores.jks), ("pkcs12", "PKCS#12", &stores.pkcs12)];
        for (field, words, store) in each {
            let Some(store) = store else { continue };
            let path = format!("spec.keystores.{field}");
            let by_ref = store.password_secret_ref.as_ref().is_some_and(|r| !r.name.is_empty());
            match (by_ref, store.password.as_deref()) {
                (true, Some(_)) => errs.push(FieldError::forbidden(
                    path,
                    format!("exactly one of passwordSecretRef and password must be provided for {words} keystores; cannot set both"),
                )),
                (false, None) => errs.push(FieldError::forbidden(
                    path,
                    format!("must set exactly one of passwordSecretRef and password must for {words} keystores"),
                )),
                (false, Some("")) => errs.push(FieldError::forbidden(
                    format!("{path}.password"),
                    format!("literal password cannot be empty if set on {words} keystores"),
                )),
                _ => {}
            }
        }
    }
    let mut formats = HashSet::new();
    for f in spec.additional_output_formats.iter().flatten() {
        if !formats.insert(f.type_) {
            let value = format!("{:?}", f.type_);
            errs.push(FieldError::duplicate("spec.additionalOutputFormats[type]", &value));
        }
    }
    errs
}

fn issuer_ref(spec: &CertificateSpec, errs: &mut Vec<FieldError>) {
    let r = &spec.issuer_ref;
    if r.name.is_empty() {
        errs.push(FieldError::required("spec.issuerRef.name", "must be specified"));
    }
    let group = r.group.as_deref().unwrap_or("");
    let kind = r.kind.as_deref().unwrap_or("");
    if (group.is_empty() || group == crate::api::meta::GROUP)
        && !["", "Issuer", "ClusterIssuer"].contains(&kind)
    {
        errs.push(FieldError::not_supported(
            "spec.issuerRef.kind",
            kind,
            &["Issuer", "ClusterIssuer"],
        ));
    }
}

fn subject(spec: &CertificateSpec, errs: &mut Vec<FieldError>) {
    let literal = spec.literal_subject.as_deref().filter(|s| !s.is_empty());
    let cn = spec.common_name.as_deref().filter(|s| !s.is_empty());
    if let Some(literal) = literal {
        if let Some(cn) = cn {
            errs.push(FieldError::invalid(
                "spec.commonName",
                cn,
                "When providing a `LiteralSubject` no `commonName` may be provided.",
            ));
        }
        if spec.subject.is_some() {
            errs.push(FieldError::forbidden(
                "spec.subject",
                "When providing a `LiteralSubject` no `Subject` properties may be provided.",
            ));
        }
        // Parsed as the CSR builder parses it, so what passes here can be issued.
        if let Err(e) = crate::pki::dn::parse(literal) {
            errs.push(FieldError::invalid("spec.literalSubject", literal, e));
        }
    }
    let cn = crate::pki::csr::common_name(spec);
    let cn = cn.as_deref();
    if let Some(cn) = cn.filter(|cn| cn.chars().count() > MAX_COMMON_NAME) {
        let detail = format!(
            "must be no more than {MAX_COMMON_NAME} characters (X.509 limit); put long names in dnsNames"
        );
        errs.push(FieldError::invalid("spec.commonName", cn, detail));
    }
    let nonempty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    let has_other_names = spec.other_names.as_ref().is_some_and(|v| !v.is_empty());
    if cn.is_none()
        && !nonempty(&spec.dns_names)
        && !nonempty(&spec.ip_addresses)
        && !nonempty(&spec.uris)
        && !nonempty(&spec.email_addresses)
        && !has_other_names
    {
        errs.push(FieldError::invalid(
            "spec",
            "",
            "at least one of commonName (from the commonName field or from a literalSubject), \
             dnsNames, emailAddresses, ipAddresses, otherNames, or uris must be set",
        ));
    }
}

fn sans(spec: &CertificateSpec, errs: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    for (i, name) in spec.dns_names.iter().flatten().enumerate() {
        let path = format!("spec.dnsNames[{i}]");
        if let Some(p) = dns_name_problem(name) {
            errs.push(FieldError::invalid(path, name, p));
        } else if !seen.insert(name) {
            errs.push(FieldError::duplicate(path, name));
        }
    }
    for (i, ip) in spec.ip_addresses.iter().flatten().enumerate() {
        if ip.parse::<std::net::IpAddr>().is_err() {
            errs.push(FieldError::invalid(
                format!("spec.ipAddresses[{i}]"),
                ip,
                "invalid IP address",
            ));
        }
    }
    for (i, addr) in spec.email_addresses.iter().flatten().enumerate() {
        if let Some(p) = email_problem(addr) {
            errs.push(FieldError::invalid(format!("spec.emailAddresses[{i}]"), addr, p));
        }
    }
    for (i, uri) in spec.uris.iter().flatten().enumerate() {
        if let Some(p) = uri_problem(uri) {
            errs.push(FieldError::invalid(format!("spec.uris[{i}]"), uri, p));
        }
    }
    for (i, name) in spec.other_names.iter().flatten().enumerate() {
        let path = |f: &str| format!("spec.otherNames[{i}].{f}");
        match name.oid.as_deref().filter(|o| !o.is_empty()) {
            None => errs.push(FieldError::required(path("oid"), "must be specified")),
            Some(oid) => {
                if let Err(e) = crate::pki::ext::oid(oid) {
                    errs.push(FieldError::invalid(path("oid"), oid, e));
                }
            }
        }
        if name.utf8_value.as_deref().is_none_or(str::is_empty) {
            let detail = "must be set to a valid non-empty UTF8 string";
            errs.push(FieldError::required(path("utf8Value"), detail));
        }
    }
    name_constraints(spec, errs);
}

fn name_constraints(spec: &CertificateSpec, errs: &mut Vec<FieldError>) {
    let Some(nc) = &spec.name_constraints else { return };
    let shown = serde_json::to_string(nc).unwrap_or_default();
    if spec.is_ca != Some(true) {
        let detail = "isCA should be true when nameConstraints is set";
        errs.push(FieldError::invalid_raw("spec.nameConstraints", &shown, detail));
    }
    if nc.permitted.is_none() && nc.excluded.is_none() {
        let detail = "either permitted or excluded must be set";
        errs.push(FieldError::invalid_raw("spec.nameConstraints", &shown, detail));
    }
    for (side, item) in [("permitted", &nc.permitted), ("excluded", &nc.excluded)] {
        let ranges = item.iter().flat_map(|i| i.ip_ranges.iter().flatten());
        for (i, cidr) in ranges.enumerate() {
            if let Err(e) = crate::pki::ext::cidr(cidr) {
                errs.push(FieldError::invalid(
                    format!("spec.nameConstraints.{side}.ipRanges[{i}]"),
                    cidr,
                    e,
                ));
            }
        }
    }
}

fn lifetime(spec: &CertificateSpec, errs: &mut Vec<FieldError>) {
    let mut duration = DEFAULT_DURATION;
    if let Some(s) = &spec.duration {
        match parse_duration(s) {
            Err(p) => errs.push(FieldError::invalid("spec.duration", s, p)),
            Ok(d) if d < MIN_DURATION => errs.push(FieldError::invalid(
                "spec.duration",
                s,
                format!("certificate duration must be at least {}", go_duration(MIN_DURATION)),
            )),
            Ok(d) => duration = d,
        }
    }
    if let (Some(rb), Some(pct)) = (&spec.renew_before, spec.renew_before_percentage) {
        let detail =
            "renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set";
        errs.push(FieldError::invalid("spec.renewBefore", rb, detail));
        errs.push(FieldError::invalid_raw("spec.renewBeforePercentage", pct, detail));
        return;
    }
    if let Some(s) = &spec.renew_before {
        match parse_duration(s) {
            Err(p) => errs.push(FieldError::invalid("spec.renewBefore", s, p)),
            Ok(rb) if rb < MIN_RENEW_BEFORE => errs.push(FieldError::invalid(
                "spec.renewBefore",
                s,
                format!(
                    "certificate renewBefore must be at least {}",
                    go_duration(MIN_RENEW_BEFORE)
                ),
            )),
            Ok(rb) if rb >= duration => errs.push(FieldError::invalid(
                "spec.renewBefore",
                s,
                format!(
                    "certificate duration {} must be greater than renewBefore {}",
                    go_duration(duration),
                    go_duration(rb)
                ),
            )),
            Ok(_) => {}
        }
    }
    if let Some(pct) = spec.renew_before_percentage {
        let path = "spec.renewBeforePercentage";
        if !(1..=99).contains(&pct) {
            errs.push(FieldError::invalid_raw(path, pct, "must be in the range (0, 100)"));
        } else if duration.mul_f64(f64::from(pct) / 100.0) < MIN_RENEW_BEFORE {
            let detail = format!(
                "certificate renewBeforePercentage must result in a renewBefore of at least {} \
                 (the duration is {})",
                go_duration(MIN_RENEW_BEFORE),
                go_duration(duration)
            );
            errs.push(FieldError::invalid_raw(path, pct, detail));
        }
    }
}

fn private_key(spec: &CertificateSpec, errs: &mut Vec<FieldError>) {
    let key = spec.private_key.as_ref();
    let algorithm = key.and_then(|k| k.algorithm).unwrap_or(PrivateKeyAlgorithm::RSA);
    if let Some(size) = key.and_then(|k| k.size).filter(|s| *s != 0) {
        let path = "spec.privateKey.size";
        match algorithm {
            PrivateKeyAlgorithm::RSA if !(2048..=8192).contains(&size) => {
                errs.push(FieldError::invalid_raw(
                    path,
                    size,
                    "must be between 2048 and 8192 for RSA keys",
                ));
            }
            PrivateKeyAlgorithm::ECDSA if ![256, 384, 521].contains(&size) => {
                errs.push(FieldError::not_supported(
                    path,
                    &size.to_string(),
                    &["256", "384", "521"],
                ));
            }
            _ => {}
        }
    }
    if let Some(sig) = spec.signature_algorithm {
        use SignatureAlgorithm::*;
        let fits = match algorithm {
            PrivateKeyAlgorithm::RSA => {
                matches!(sig, SHA256WithRSA | SHA384WithRSA | SHA512WithRSA)
            }
            PrivateKeyAlgorithm::ECDSA => {
                matches!(sig, ECDSAWithSHA256 | ECDSAWithSHA384 | ECDSAWithSHA512)
            }
            PrivateKeyAlgorithm::Ed25519 => sig == PureEd25519,
        };
        if !fits {
            errs.push(FieldError::invalid(
                "spec.signatureAlgorithm",
                &format!("{sig:?}"),
                format!("does not fit a {algorithm:?} private key"),
            ));
        }
    }
}

/// Why `name` cannot name a Kubernetes object such as a Secret (a DNS-1123 subdomain), or `None`.
pub fn dns1123_subdomain_problem(name: &str) -> Option<String> {
    let ok_chars =
        name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ok_ends = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if name.len() > 253 || !ok_chars || !name.split('.').all(ok_ends) {
        return Some(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
             '-' or '.', and must start and end with an alphanumeric character"
                .into(),
        );
    }
    None
}

/// `spec.renewal` as cert-manager v1.21's webhook checks it: a policy, no windows beside
/// `Disabled`, and windows that parse.
fn renewal(spec: &CertificateSpec, errs: &mut Vec<FieldError>) {
    use crate::api::certificate::RenewalPolicy;
    let Some(renewal) = &spec.renewal else { return };
    match renewal.policy {
        None => errs.push(FieldError::not_supported(
            "spec.renewal.policy",
            "",
            &["Disabled", "RenewBefore"],
        )),
        Some(RenewalPolicy::Disabled) if renewal.windows.is_some() => {
            errs.push(FieldError::forbidden(
                "spec.renewal.windows",
                "windows cannot be set when `renewal.policy` is set to Disabled",
            ))
        }
        Some(_) => {}
    }
    for (i, window) in renewal.windows.iter().flatten().enumerate() {
        if let Err(e) = crate::renewal::windows::parse(window) {
            let path = format!("spec.renewal.windows[{i}].{}", e.field());
            let value = match e.field() {
                "cron" => window.cron.clone(),
                "timezone" => window.timezone.clone().unwrap_or_default(),
                _ => window.window_duration.clone(),
            };
            errs.push(match e {
                crate::renewal::windows::Invalid::Duration => {
                    FieldError::required(path, e.detail())
                }
                _ => FieldError::invalid(path, &value, e.detail()),
            });
        }
    }
}
