//! Every field a cert-manager v1.21 user can set on a Certificate or an Issuer, walked from
//! cert-manager's own v1.21.1 CRDs (../shared/testdata), is either honoured or reported: the
//! table says which, and the test holds each claim against the code. A field that is neither
//! (a new one in cert-manager's schema, say) fails the test by name. No servers.

use certsmith::api::{CertificateSpec, IssuerSpec, crds};
use certsmith::issuer::IssuerView;
use serde_json::Value;
use std::collections::BTreeSet;

/// What certsmith does with the fields under a path (the longest matching path decides).
pub(crate) enum Verdict {
    /// Modelled field by field (certsmith's own schema has each of its leaves) and acted on.
    Honoured,
    /// Accepted, and when set, named in a condition and an Event: `sample` (YAML) sets it on
    /// a Certificate's or an Issuer's spec, and the report must contain `words`.
    Reported { sample: &'static str, words: &'static str },
    /// Ignored by cert-manager itself (deprecated there), so ignored alike.
    AsCertManager,
}
pub(crate) use Verdict::*;

pub(crate) const CERTIFICATE: &[(&str, Verdict)] = &[
    ("spec.additionalOutputFormats", Honoured),
    ("spec.commonName", Honoured),
    ("spec.dnsNames", Honoured),
    ("spec.duration", Honoured),
    ("spec.emailAddresses", Honoured),
    ("spec.encodeUsagesInRequest", Honoured),
    ("spec.ipAddresses", Honoured),
    ("spec.isCA", Honoured),
    ("spec.issuerRef", Honoured),
    ("spec.keystores", Honoured),
    ("spec.literalSubject", Honoured),
    ("spec.nameConstraints", Honoured),
    ("spec.otherNames", Honoured),
    ("spec.privateKey", Honoured),
    ("spec.renewBefore", Honoured),
    ("spec.renewBeforePercentage", Honoured),
    ("spec.renewal", Honoured),
    ("spec.revisionHistoryLimit", Honoured),
    ("spec.secretName", Honoured),
    ("spec.secretTemplate", Honoured),
    // Honoured for RSA (SHA-256/384/512), Ed25519 and each curve's own digest; an ECDSA
    // digest rcgen cannot pair with the curve is reported.
    (
        "spec.signatureAlgorithm",
        Reported {
            sample: "signatureAlgorithm: ECDSAWithSHA384\nprivateKey: {algorithm: ECDSA}",
            words: "with an ECDSA P-256 key is not supported by certsmith",
        },
    ),
    ("spec.subject", Honoured),
    ("spec.uris", Honoured),
    ("spec.usages", Honoured),
];

const ACME: &str = "acme: {server: 'https://ca/dir', privateKeySecretRef: {name: k}, solvers: ";

pub(crate) const ISSUER: &[(&str, Verdict)] = &[
    ("spec.acme", Honoured),
    ("spec.acme.externalAccountBinding.keyAlgorithm", AsCertManager),
    ("spec.acme.solvers[].dns01.acmeDNS", Honoured),
    (
        "spec.acme.solvers[].dns01.akamai",
        Reported {
            sample: "[{dns01: {akamai: {serviceConsumerDomain: d}}}]}",
            words: "which certsmith does not write through",
        },
    ),
    (
        "spec.acme.solvers[].dns01.azureDNS",
        Reported {
            sample: "[{dns01: {azureDNS: {subscriptionID: s}}}]}",
            words: "which certsmith does not write through",
        },
    ),
    (
        "spec.acme.solvers[].dns01.cloudDNS",
        Reported {
            sample: "[{dns01: {cloudDNS: {project: p}}}]}",
            words: "which certsmith does not write through",
        },
    ),
    (
        "spec.acme.solvers[].dns01.cloudflare",
        Reported {
            sample: "[{dns01: {cloudflare: {email: e}}}]}",
            words: "which certsmith does not write through",
        },
    ),
    (
        "spec.acme.solvers[].dns01.digitalocean",
        Reported {
            sample: "[{dns01: {digitalocean: {tokenSecretRef: {name: t}}}}]}",
            words: "which certsmith does not write through",
        },
    ),
    ("spec.acme.solvers[].dns01.route53", Honoured),
    // Web identity would need a token certsmith mints for a tenant's ServiceAccount.
    (
        "spec.acme.solvers[].dns01.route53.auth",
        Reported {
            sample: "[{dns01: {route53: {region: r, auth: {kubernetes: {serviceAccountRef: {name: sa}}}}}}]}",
            words: "dns01.route53.auth.kubernetes is not supported",
        },
    ),
    ("spec.acme.solvers[].dns01.webhook", Honoured),
    ("spec.acme.solvers[].http01.gatewayHTTPRoute", Honoured),
    (
        "spec.acme.solvers[].http01.gatewayHTTPRoute.podTemplate",
        Reported {
            sample: "[{http01: {gatewayHTTPRoute: {parentRefs: [{name: gw}], podTemplate: {spec: {}}}}}]}",
            words: "spec.acme.solvers[0].http01.gatewayHTTPRoute.podTemplate has no effect",
        },
    ),
    (
        "spec.acme.solvers[].http01.gatewayHTTPRoute.serviceType",
        Reported {
            sample: "[{http01: {gatewayHTTPRoute: {parentRefs: [{name: gw}], serviceType: NodePort}}}]}",
            words: "spec.acme.solvers[0].http01.gatewayHTTPRoute.serviceType has no effect",
        },
    ),
    (
        "spec.acme.solvers[].http01.ingress.podTemplate",
        Reported {
            sample: "[{http01: {ingress: {podTemplate: {spec: {nodeSelector: {a: b}}}}}}]}",
            words: "spec.acme.solvers[0].http01.ingress.podTemplate has no effect",
        },
    ),
    (
        "spec.acme.solvers[].http01.ingress.serviceType",
        Reported {
            sample: "[{http01: {ingress: {serviceType: NodePort}}}]}",
            words: "spec.acme.solvers[0].http01.ingress.serviceType has no effect",
        },
    ),
    ("spec.acme.solvers[].waitInsteadOfSelfCheck", Honoured),
    ("spec.ca", Honoured),
    ("spec.selfSigned", Honoured),
    (
        "spec.vault",
        Reported {
            sample: "vault: {server: 'https://vault', path: p}",
            words: "a vault issuer; certsmith issues through ACME, SelfSigned and CA issuers only",
        },
    ),
    (
        "spec.venafi",
        Reported {
            sample: "venafi: {zone: z}",
            words: "a venafi issuer; certsmith issues through ACME, SelfSigned and CA issuers only",
        },
    ),
];

/// The leaves of a CRD's `spec` schema, as `spec.a.b[].c`; an object with no properties (a
/// map, or a block kept as given) is a leaf.
fn leaves(crd: &Value) -> BTreeSet<String> {
    fn walk(schema: &Value, path: String, out: &mut BTreeSet<String>) {
        if let Some(items) = schema.get("items") {
            return walk(items, format!("{path}[]"), out);
        }
        match schema.get("properties").and_then(Value::as_object) {
            Some(props) => props.iter().for_each(|(k, v)| walk(v, format!("{path}.{k}"), out)),
            None => {
                out.insert(path);
            }
        }
    }
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let mut out = BTreeSet::new();
    walk(spec, "spec".into(), &mut out);
    out
}

fn cert_manager_crd(file: &str) -> Option<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/cert-manager-crds-v1.21.1")
        .join(file);
    if !path.exists() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{} is missing", path.display());
        eprintln!("skipping: {} not found (a clone outside CI)", path.display());
        return None;
    }
    Some(serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

fn certsmith_crd(kind: &str) -> Value {
    let crd = crds::all().into_iter().find(|c| c.spec.names.kind == kind).unwrap();
    serde_json::to_value(crd).unwrap()
}

/// The table entry that decides for `path`: the longest whose path is `path` or a parent.
fn verdict<'t>(table: &'t [(&str, Verdict)], path: &str) -> Option<&'t (&'t str, Verdict)> {
    let under = |p: &str| {
        path == p || path.starts_with(&format!("{p}.")) || path.starts_with(&format!("{p}["))
    };
    table.iter().filter(|(p, _)| under(p)).max_by_key(|(p, _)| p.len())
}

fn self_signed() -> IssuerView {
    view(serde_yaml::from_str("selfSigned: {}").unwrap())
}

fn view(spec: IssuerSpec) -> IssuerView {
    IssuerView {
        kind: "Issuer",
        name: "i".into(),
        secrets_namespace: "ns".into(),
        spec,
        status: None,
        dns_persist: false,
    }
}

fn certificate(extra: &str) -> CertificateSpec {
    let yaml = format!("secretName: s\nissuerRef: {{name: i}}\ndnsNames: [a.example.com]\n{extra}");
    serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{extra}: {e}"))
}

/// What certsmith says about the issuer `spec` with a Certificate for a.example.com.
fn issuer_report(spec: &IssuerSpec) -> String {
    let mut said = certsmith::issuer::ignored::ignored(spec);
    let labels = Default::default();
    said.extend(certsmith::certificate::support::unsupported(
        &certificate(""),
        &labels,
        &view(spec.clone()),
    ));
    said.join("; ")
}

fn check(kind: &str, file: &str, table: &[(&str, Verdict)], report: impl Fn(&str) -> String) {
    let Some(theirs) = cert_manager_crd(file) else { return };
    let theirs = leaves(&theirs);
    let ours = leaves(&certsmith_crd(kind));
    let mut problems = Vec::new();
    for path in &theirs {
        match verdict(table, path) {
            None => {
                problems.push(format!("{path}: neither honoured nor reported (not in the table)"))
            }
            Some((_, Honoured)) if !ours.contains(path) => problems
                .push(format!("{path}: said honoured, but certsmith's schema has no such field")),
            _ => {}
        }
    }
    for (path, v) in table {
        if !theirs.iter().any(|p| {
            p == path || p.starts_with(&format!("{path}.")) || p.starts_with(&format!("{path}["))
        }) {
            problems.push(format!("{path}: in the table, not in cert-manager v1.21's {kind}"));
        }
        if let Reported { sample, words } = v {
            let said = report(sample);
            if !said.contains(words) {
                problems.push(format!(
                    "{path}: set by `{sample}`, certsmith says {said:?}, not {words:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{kind}, {} fields:\n{}", theirs.len(), problems.join("\n"));
}

#[test]
fn every_v1_21_certificate_field_is_honoured_or_reported() {
    check("Certificate", "crd-cert-manager.io_certificates.yaml", CERTIFICATE, |sample| {
        let labels = Default::default();
        certsmith::certificate::support::unsupported(&certificate(sample), &labels, &self_signed())
            .unwrap_or_default()
    });
}

#[test]
fn every_v1_21_issuer_field_is_honoured_or_reported() {
    check("Issuer", "crd-cert-manager.io_issuers.yaml", ISSUER, |sample| {
        let yaml =
            if sample.starts_with('[') { format!("{ACME}{sample}") } else { sample.to_string() };
        issuer_report(&serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}")))
    });
}

#[test]
fn a_field_missing_from_the_table_fails_by_name() {
    // The walk and the lookup the two tests rest on: a path no entry covers has no verdict.
    assert!(verdict(CERTIFICATE, "spec.somethingNew").is_none());
    assert!(matches!(
        verdict(ISSUER, "spec.acme.solvers[].dns01.route53.auth.kubernetes"),
        Some((_, Reported { .. }))
    ));
    assert!(matches!(
        verdict(ISSUER, "spec.acme.externalAccountBinding.keyAlgorithm"),
        Some((_, AsCertManager))
    ));
    assert!(matches!(
        verdict(ISSUER, "spec.acme.externalAccountBinding.keyID"),
        Some((_, Honoured))
    ));
}
