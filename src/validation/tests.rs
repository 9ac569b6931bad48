//! Table tests: a spec as a user writes it → the exact message the user sees.

use super::{Invalid, validate_certificate, validate_issuer};
use crate::api::{CertificateSpec, IssuerSpec};

fn certificate(yaml: &str) -> Result<(), Invalid> {
    let base = "secretName: web-tls\nissuerRef: {name: letsencrypt-prod, kind: ClusterIssuer}\n";
    let spec: CertificateSpec =
        serde_yaml::from_str(&format!("{base}{yaml}")).expect("spec parses");
    Invalid::check(validate_certificate(&spec))
}

fn issuer(yaml: &str) -> Result<(), Invalid> {
    let spec: IssuerSpec = serde_yaml::from_str(yaml).expect("spec parses");
    Invalid::check(validate_issuer(&spec))
}

#[test]
fn certificates() {
    let table: &[(&str, &str)] = &[
        ("dnsNames: [example.com]", ""),
        ("commonName: example.com\nduration: 2160h\nrenewBefore: 360h", ""),
        ("dnsNames: ['*.example.com']\nrenewBeforePercentage: 25", ""),
        ("literalSubject: CN=example.com,O=Example", ""),
        (
            "dnsNames: []",
            r#"spec: Invalid value: "": at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailAddresses, ipAddresses, otherNames, or uris must be set"#,
        ),
        (
            "dnsNames: [a.example.com]\nrenewBefore: 1h\nrenewBeforePercentage: 50",
            r#"spec.renewBefore: Invalid value: "1h": renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set; spec.renewBeforePercentage: Invalid value: 50: renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set"#,
        ),
        (
            "dnsNames: [a.example.com]\nrenewBeforePercentage: 100",
            "spec.renewBeforePercentage: Invalid value: 100: must be in the range (0, 100)",
        ),
        (
            "dnsNames: [a.example.com]\nrenewBeforePercentage: 0",
            "spec.renewBeforePercentage: Invalid value: 0: must be in the range (0, 100)",
        ),
        (
            "dnsNames: [a.example.com]\nduration: 90x",
            r#"spec.duration: Invalid value: "90x": must be a duration such as 2160h or 1h30m (units h, m, s, ms, us, ns)"#,
        ),
        (
            "dnsNames: [a.example.com]\nduration: 30m",
            r#"spec.duration: Invalid value: "30m": certificate duration must be at least 1h0m0s"#,
        ),
        (
            "dnsNames: [a.example.com]\nrenewBefore: 1m",
            r#"spec.renewBefore: Invalid value: "1m": certificate renewBefore must be at least 5m0s"#,
        ),
        (
            "dnsNames: [a.example.com]\nduration: 24h\nrenewBefore: 48h",
            r#"spec.renewBefore: Invalid value: "48h": certificate duration 24h0m0s must be greater than renewBefore 48h0m0s"#,
        ),
        (
            "dnsNames: [a.example.com]\nduration: 1h\nrenewBeforePercentage: 5",
            "spec.renewBeforePercentage: Invalid value: 5: certificate renewBeforePercentage must result in a renewBefore of at least 5m0s (the duration is 1h0m0s)",
        ),
        (
            "dnsNames: [Bad_Name.example.com]",
            r#"spec.dnsNames[0]: Invalid value: "Bad_Name.example.com": must be lowercase"#,
        ),
        (
            "dnsNames: [a.example.com, a.example.com]",
            r#"spec.dnsNames[1]: Duplicate value: "a.example.com""#,
        ),
        (
            "dnsNames: [a.example.com]\nipAddresses: [300.1.1.1]",
            r#"spec.ipAddresses[0]: Invalid value: "300.1.1.1": invalid IP address"#,
        ),
        (
            "emailAddresses: ['Joe <joe@example.com>']",
            r#"spec.emailAddresses[0]: Invalid value: "Joe <joe@example.com>": must be only the address itself, as in user@example.com"#,
        ),
        (
            "dnsNames: [a.example.com]\nprivateKey: {algorithm: RSA, size: 1024}",
            "spec.privateKey.size: Invalid value: 1024: must be between 2048 and 8192 for RSA keys",
        ),
        (
            "dnsNames: [a.example.com]\nprivateKey: {algorithm: ECDSA, size: 512}",
            r#"spec.privateKey.size: Unsupported value: "512": supported values: "256", "384", "521""#,
        ),
        (
            "dnsNames: [a.example.com]\nprivateKey: {algorithm: ECDSA}\nsignatureAlgorithm: SHA256WithRSA",
            r#"spec.signatureAlgorithm: Invalid value: "SHA256WithRSA": does not fit a ECDSA private key"#,
        ),
        (
            "literalSubject: cn=a\ndnsNames: [a.example.com]",
            r#"spec.literalSubject: Invalid value: "cn=a": unknown attribute type "cn": use C, O, OU, CN, SERIALNUMBER, L, ST, STREET, DC, UID or a dotted OID"#,
        ),
        (
            "dnsNames: [a.example.com]\nliteralSubject: 'CN=a\\zz'",
            r#"spec.literalSubject: Invalid value: "CN=a\\zz": bad escape in "a\\zz""#,
        ),
        // A common name from the literalSubject is enough, and held to 64 characters.
        ("literalSubject: O=x+OU=y,CN=a", ""),
        (
            "literalSubject: O=x",
            r#"spec: Invalid value: "": at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailAddresses, ipAddresses, otherNames, or uris must be set"#,
        ),
        ("otherNames: [{oid: 1.3.6.1.4.1.311.20.2.3, utf8Value: u@example.com}]", ""),
        (
            "otherNames: [{oid: 1.x, utf8Value: v}, {utf8Value: v}, {oid: 1.2.3}]",
            "spec.otherNames[0].oid: Invalid value: \"1.x\": invalid oid syntax; spec.otherNames[1].oid: Required value: must be specified; spec.otherNames[2].utf8Value: Required value: must be set to a valid non-empty UTF8 string",
        ),
        (
            "isCA: true\ncommonName: ca\nnameConstraints: {permitted: {dnsDomains: [example.com], ipRanges: [10.0.0.0/8]}}",
            "",
        ),
        (
            "commonName: ca\nnameConstraints: {critical: true, excluded: {ipRanges: [10.0.0.0/33]}}",
            r#"spec.nameConstraints: Invalid value: {"critical":true,"excluded":{"ipRanges":["10.0.0.0/33"]}}: isCA should be true when nameConstraints is set; spec.nameConstraints.excluded.ipRanges[0]: Invalid value: "10.0.0.0/33": invalid CIDR address"#,
        ),
        (
            "isCA: true\ncommonName: ca\nnameConstraints: {critical: true}",
            r#"spec.nameConstraints: Invalid value: {"critical":true}: either permitted or excluded must be set"#,
        ),
        (
            "commonName: a.example.com\nliteralSubject: CN=b.example.com",
            r#"spec.commonName: Invalid value: "a.example.com": When providing a `LiteralSubject` no `commonName` may be provided."#,
        ),
        (
            "commonName: this-common-name-is-much-longer-than-sixty-four-characters.example.com",
            r#"spec.commonName: Invalid value: "this-common-name-is-much-longer-than-sixty-four-characters.example.com": must be no more than 64 characters (X.509 limit); put long names in dnsNames"#,
        ),
        (
            "dnsNames: [a.example.com]\nrevisionHistoryLimit: 0",
            "spec.revisionHistoryLimit: Invalid value: 0: must not be less than 1",
        ),
        (
            "dnsNames: [a.example.com]\nsecretTemplate: {annotations: {cert-manager.io/foo: x}}",
            r#"spec.secretTemplate.annotations: Invalid value: "cert-manager.io/foo": cert-manager.io/* annotations are not allowed"#,
        ),
        (
            "dnsNames: [a.example.com]\nadditionalOutputFormats: [{type: DER}, {type: DER}]",
            r#"spec.additionalOutputFormats[type]: Duplicate value: "DER""#,
        ),
        (
            "dnsNames: [a.example.com]\nkeystores: {jks: {create: true, password: p, passwordSecretRef: {name: s}}}",
            "spec.keystores.jks: Forbidden: exactly one of passwordSecretRef and password must be provided for JKS keystores; cannot set both",
        ),
        (
            "dnsNames: [a.example.com]\nkeystores: {pkcs12: {create: false}}",
            "spec.keystores.pkcs12: Forbidden: must set exactly one of passwordSecretRef and password must for PKCS#12 keystores",
        ),
        (
            "dnsNames: [a.example.com]\nkeystores: {pkcs12: {create: true, password: ''}}",
            "spec.keystores.pkcs12.password: Forbidden: literal password cannot be empty if set on PKCS#12 keystores",
        ),
        ("dnsNames: [a.example.com]\nkeystores: {pkcs12: {create: true, password: p}}", ""),
        (
            "dnsNames: [a.example.com]\nrenewal: {policy: Disabled, windows: [{cron: '@daily', windowDuration: 1h}]}",
            "spec.renewal.windows: Forbidden: windows cannot be set when `renewal.policy` is set to Disabled",
        ),
        (
            "dnsNames: [a.example.com]\nrenewal: {}",
            r#"spec.renewal.policy: Unsupported value: "": supported values: "Disabled", "RenewBefore""#,
        ),
        (
            "dnsNames: [a.example.com]\nrenewal: {policy: RenewBefore, windows: [{cron: '0 2 * * 6', windowDuration: 4h, timezone: Mars/Olympus}]}",
            r#"spec.renewal.windows[0].timezone: Invalid value: "Mars/Olympus": invalid value for timezone. timezone must be IANA compliant"#,
        ),
        (
            "dnsNames: [a.example.com]\nrenewal: {policy: RenewBefore, windows: [{cron: '0 2 * *', windowDuration: 4h}]}",
            r#"spec.renewal.windows[0].cron: Invalid value: "0 2 * *": invalid cron syntax: expected exactly 5 fields, found 4: [0 2 * *]. cron needs to follow: cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow"#,
        ),
        (
            "dnsNames: [a.example.com]\nrenewal: {policy: RenewBefore, windows: [{cron: '0 2 * * SAT', windowDuration: 4h, timezone: Europe/Paris}]}",
            "",
        ),
        (
            "dnsNames: [a.example.com]\nuris: [not-absolute]",
            r#"spec.uris[0]: Invalid value: "not-absolute": must be an absolute URI with a scheme, as in spiffe://cluster.local/ns/a"#,
        ),
    ];
    for (yaml, want) in table {
        let got = certificate(yaml).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(&got, want, "for spec:\n{yaml}");
    }
}

#[test]
fn certificate_issuer_refs() {
    let spec: CertificateSpec = serde_yaml::from_str(
        "secretName: Web_TLS\nissuerRef: {name: '', kind: Vault}\ndnsNames: [a.example.com]",
    )
    .unwrap();
    let got = Invalid::check(validate_certificate(&spec)).unwrap_err().to_string();
    assert_eq!(
        got,
        r#"spec.secretName: Invalid value: "Web_TLS": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character; spec.issuerRef.name: Required value: must be specified; spec.issuerRef.kind: Unsupported value: "Vault": supported values: "Issuer", "ClusterIssuer""#
    );
}

#[test]
fn issuers() {
    let acme = "acme: {server: 'https://acme.example/dir', privateKeySecretRef: {name: k}";
    let table: &[(String, &str)] = &[
        (format!("{acme}}}"), ""),
        (format!("{acme}, solvers: [{{http01: {{ingress: {{class: nginx}}}}}}]}}"), ""),
        ("{}".into(), "spec: Required value: at least one issuer must be configured"),
        (
            format!("{acme}}}\nselfSigned: {{}}"),
            "spec.selfSigned: Forbidden: may not specify more than one issuer type",
        ),
        (
            "acme: {server: 'ftp://x', privateKeySecretRef: {name: k}}".into(),
            r#"spec.acme.server: Invalid value: "ftp://x": must be the ACME directory URL, as in https://acme-v02.api.letsencrypt.org/directory"#,
        ),
        (
            "acme: {server: 'https://acme.example/dir', privateKeySecretRef: {name: ''}}".into(),
            "spec.acme.privateKeySecretRef.name: Required value: private key secret name is a required field",
        ),
        (
            format!("{acme}, email: 'not-an-email'}}"),
            r#"spec.acme.email: Invalid value: "not-an-email": must be an address such as user@example.com"#,
        ),
        (
            format!("{acme}, skipTLSVerify: true, caBundle: 'aGVsbG8='}}"),
            r#"spec.acme.caBundle: Invalid value: "": caBundle and skipTLSVerify are mutually exclusive and cannot both be set; spec.acme.skipTLSVerify: Invalid value: true: caBundle and skipTLSVerify are mutually exclusive and cannot both be set; spec.acme.caBundle: Invalid value: "<snip>": must be base64 of one or more PEM certificates (-----BEGIN CERTIFICATE-----)"#,
        ),
        (
            format!("{acme}, externalAccountBinding: {{keyID: '', keySecretRef: {{name: eab}}}}}}"),
            "spec.acme.externalAccountBinding.keyID: Required value: the keyID field is required when using externalAccountBinding",
        ),
        (
            format!("{acme}, solvers: [{{selector: {{}}}}]}}"),
            "spec.acme.solvers[0]: Required value: no solver type configured",
        ),
        (
            format!(
                "{acme}, solvers: [{{http01: {{ingress: {{}}}}, dns01: {{rfc2136: {{nameserver: x}}}}}}]}}"
            ),
            "spec.acme.solvers[0]: Forbidden: may not specify more than one solver type in a single solver",
        ),
        (
            format!(
                "{acme}, solvers: [{{http01: {{ingress: {{class: a, ingressClassName: b}}}}}}]}}"
            ),
            "spec.acme.solvers[0].http01.ingress: Forbidden: only one of 'ingressClassName', 'name' or 'class' should be specified",
        ),
        (
            format!("{acme}, solvers: [{{http01: {{ingress: {{serviceType: LoadBalancer}}}}}}]}}"),
            r#"spec.acme.solvers[0].http01.ingress.serviceType: Invalid value: "LoadBalancer": must be empty, "ClusterIP" or "NodePort""#,
        ),
    ];
    for (yaml, want) in table {
        let got = issuer(yaml).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(&got, want, "for spec:\n{yaml}");
    }
}
