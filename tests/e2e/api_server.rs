//! The API as a user meets it on a real kube-apiserver (v1.36): the CRDs apply, cert-manager
//! manifests apply and read back with no field lost, kubectl shows the columns, bad objects are
//! refused (by the schema where OpenAPI or CEL can say it, by the Rust validation otherwise).

use crate::support::{KubeBed, fixture};
use certsmith::api::{Certificate, ClusterIssuer, Issuer};
use certsmith::validation::{Invalid, validate_certificate, validate_issuer};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// This module's own bed, the CRDs installed: no operator may run on it (its objects are
/// read back as written), so it is not the binary's shared issuing bed.
fn bed() -> &'static KubeBed {
    static BED: std::sync::OnceLock<KubeBed> = std::sync::OnceLock::new();
    BED.get_or_init(|| {
        let bed = KubeBed::start();
        bed.install_crds();
        bed
    })
}

/// Applies `manifest` with kubectl, reads the object back as JSON, and checks that the spec
/// survived the API server (no field pruned) and the Rust type (no field dropped or changed).
fn round_trip<T: Serialize + DeserializeOwned>(manifest: &str, resource: &str) {
    let bed = bed();
    let sent: Value = serde_yaml::from_str(manifest).unwrap();
    bed.kubectl_ok(&["apply", "-f", "-"], manifest);
    let name = sent["metadata"]["name"].as_str().unwrap();
    let mut args = vec!["get", resource, name, "-o", "json"];
    if let Some(ns) = sent["metadata"]["namespace"].as_str() {
        args.extend(["-n", ns]);
    }
    let stored: Value = serde_json::from_str(&bed.kubectl_ok(&args, "")).unwrap();
    assert_eq!(stored["spec"], sent["spec"], "the API server pruned or changed a field");
    let typed: T = serde_json::from_value(stored.clone()).expect("reads into the Rust type");
    let again = serde_json::to_value(&typed).unwrap();
    pretty_assertions::assert_eq!(again, stored, "the Rust type lost or changed a field");
}

#[test]
fn seed_cluster_issuer_applies_verbatim_and_round_trips() {
    round_trip::<ClusterIssuer>(&fixture("seed-clusterissuer.yaml"), "clusterissuer");
}

#[test]
fn certificate_with_every_field_round_trips() {
    round_trip::<Certificate>(&fixture("certificate-full.yaml"), "certificate");
}

#[test]
fn issuer_with_every_field_round_trips() {
    round_trip::<Issuer>(&fixture("issuer-full.yaml"), "issuer");
}

fn header(out: &str) -> Vec<&str> {
    out.lines().next().unwrap_or_default().split_whitespace().collect()
}

#[test]
fn kubectl_shows_cert_manager_columns() {
    let bed = bed();
    let cert = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: columns, \
                namespace: default}\nspec: {secretName: columns-tls, dnsNames: [a.example.com], \
                issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer}}\n";
    bed.kubectl_ok(&["apply", "-f", "-"], cert);
    let plain = bed.kubectl_ok(&["get", "certificates", "-n", "default"], "");
    assert_eq!(header(&plain), ["NAME", "READY", "SECRET", "AGE"]);
    let wide = bed.kubectl_ok(&["get", "certificates", "-n", "default", "-o", "wide"], "");
    assert_eq!(header(&wide), ["NAME", "READY", "SECRET", "ISSUER", "STATUS", "EXPIRATION", "AGE"]);
    let short = bed.kubectl_ok(&["get", "cert", "columns", "-n", "default"], "");
    assert!(short.contains("columns-tls"), "{short}");

    bed.kubectl_ok(&["apply", "-f", "-"], &fixture("seed-clusterissuer.yaml"));
    let issuers = bed.kubectl_ok(&["get", "clusterissuers"], "");
    assert_eq!(header(&issuers), ["NAME", "READY", "AGE"]);
    let wide = bed.kubectl_ok(&["get", "clusterissuers", "-o", "wide"], "");
    assert_eq!(header(&wide), ["NAME", "READY", "STATUS", "AGE"]);
    let wide = bed.kubectl_ok(&["get", "issuers", "-A", "-o", "wide"], "");
    assert!(wide.is_empty() || header(&wide) == ["NAMESPACE", "NAME", "READY", "STATUS", "AGE"]);
}

/// Who refused an invalid object, with the exact words the user reads.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// The API server, on apply: the message `kubectl apply` prints.
    Schema(String),
    /// certsmith's validation (the schema cannot express the rule): the Ready condition's message.
    Validation(String),
}

/// Creates `spec` as a `kind` named `name`; when the API server accepts it, runs certsmith's
/// validation on what was stored. `None` when neither refuses it.
async fn refusal(client: &kube::Client, kind: &str, name: &str, spec: &str) -> Option<Refusal> {
    let gvk = GroupVersionKind::gvk("cert-manager.io", "v1", kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, &format!("{}s", kind.to_lowercase()));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let mut obj = DynamicObject::new(name, &resource);
    obj.data = serde_json::json!({"spec": serde_yaml::from_str::<Value>(spec).unwrap()});
    let stored = match api.create(&PostParams::default(), &obj).await {
        Err(kube::Error::Api(status)) => return Some(Refusal::Schema(status.message)),
        Err(e) => panic!("{kind} {name}: {e}"),
        Ok(stored) => serde_json::to_value(stored).unwrap(),
    };
    let errors = match kind {
        "Certificate" => {
            validate_certificate(&serde_json::from_value::<Certificate>(stored).unwrap().spec)
        }
        _ => validate_issuer(&serde_json::from_value::<Issuer>(stored).unwrap().spec),
    };
    Invalid::check(errors).err().map(|e| Refusal::Validation(e.to_string()))
}

fn cert(extra: &str) -> String {
    format!(
        "secretName: bad-tls\nissuerRef: {{name: letsencrypt-prod, kind: ClusterIssuer}}\n{extra}"
    )
}

fn acme(extra: &str) -> String {
    format!(
        "acme:\n  server: https://acme.example/dir\n  privateKeySecretRef: {{name: k}}\n{extra}"
    )
}

fn schema(msg: &str) -> Option<Refusal> {
    Some(Refusal::Schema(msg.into()))
}

fn validation(msg: &str) -> Option<Refusal> {
    Some(Refusal::Validation(msg.into()))
}

#[tokio::test]
async fn invalid_objects_are_refused_with_a_precise_message() {
    let client = bed().client().await;
    let table: Vec<(&str, String, Option<Refusal>)> = vec![
        (
            "Issuer",
            acme("selfSigned: {}"),
            schema(
                r#"Issuer.cert-manager.io "invalid-0" is invalid: spec: Invalid value: may not specify more than one issuer type"#,
            ),
        ),
        (
            "Issuer",
            "{}".into(),
            schema(
                r#"Issuer.cert-manager.io "invalid-1" is invalid: spec: Invalid value: at least one issuer must be configured: acme, ca, selfSigned, vault or venafi"#,
            ),
        ),
        (
            "Issuer",
            acme(
                "  solvers: [{http01: {ingress: {class: a}}, dns01: {rfc2136: {nameserver: 127.0.0.1}}}]",
            ),
            schema(
                r#"Issuer.cert-manager.io "invalid-2" is invalid: spec.acme.solvers[0]: Invalid value: may not specify more than one solver type in a single solver"#,
            ),
        ),
        (
            "Issuer",
            acme(
                "  externalAccountBinding: {keyID: k, keySecretRef: {name: e}, keyAlgorithm: HS1}",
            ),
            schema(
                r#"Issuer.cert-manager.io "invalid-3" is invalid: [spec.acme.externalAccountBinding.keyAlgorithm: Unsupported value: "HS1": supported values: "HS256", "HS384", "HS512", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"#,
            ),
        ),
        (
            "Issuer",
            "acme: {server: 'ftp://acme.example', privateKeySecretRef: {name: k}}".into(),
            schema(
                r#"Issuer.cert-manager.io "invalid-4" is invalid: spec.acme.server: Invalid value: "ftp://acme.example": spec.acme.server in body should match '^https?://'"#,
            ),
        ),
        (
            "Issuer",
            acme("  email: not-an-email"),
            validation(
                r#"spec.acme.email: Invalid value: "not-an-email": must be an address such as user@example.com"#,
            ),
        ),
        (
            "Issuer",
            acme("  solvers: [{http01: {ingress: {class: a, ingressClassName: b}}}]"),
            schema(
                r#"Issuer.cert-manager.io "invalid-6" is invalid: spec.acme.solvers[0].http01.ingress: Invalid value: only one of 'ingressClassName', 'name' or 'class' should be specified"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nrenewBefore: 1h\nrenewBeforePercentage: 50"),
            schema(
                r#"Certificate.cert-manager.io "invalid-7" is invalid: spec: Invalid value: renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nrenewBeforePercentage: 100"),
            schema(
                r#"Certificate.cert-manager.io "invalid-8" is invalid: spec.renewBeforePercentage: Invalid value: 100: spec.renewBeforePercentage in body should be less than or equal to 99"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nrenewBeforePercentage: 0"),
            schema(
                r#"Certificate.cert-manager.io "invalid-9" is invalid: spec.renewBeforePercentage: Invalid value: 0: spec.renewBeforePercentage in body should be greater than or equal to 1"#,
            ),
        ),
        (
            "Certificate",
            cert(""),
            schema(
                r#"Certificate.cert-manager.io "invalid-10" is invalid: spec: Invalid value: at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailAddresses, ipAddresses, otherNames, or uris must be set"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: []"),
            schema(
                r#"Certificate.cert-manager.io "invalid-11" is invalid: spec: Invalid value: at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailAddresses, ipAddresses, otherNames, or uris must be set"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nduration: 90x"),
            schema(
                r#"Certificate.cert-manager.io "invalid-12" is invalid: spec.duration: Invalid value: "90x": spec.duration in body should match '^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$'"#,
            ),
        ),
        (
            "Certificate",
            "secretName: Bad_TLS\nissuerRef: {name: x}\ndnsNames: [a.example.com]".into(),
            schema(
                r#"Certificate.cert-manager.io "invalid-13" is invalid: spec.secretName: Invalid value: "Bad_TLS": spec.secretName in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'"#,
            ),
        ),
        (
            "Certificate",
            "secretName: bad-tls\ndnsNames: [a.example.com]".into(),
            schema(
                r#"Certificate.cert-manager.io "invalid-14" is invalid: [spec.issuerRef: Required value, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nusages: [bogus]"),
            schema(
                r#"Certificate.cert-manager.io "invalid-15" is invalid: [spec.usages[0]: Unsupported value: "bogus": supported values: "signing", "digital signature", "content commitment", "key encipherment", "key agreement", "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth", "client auth", "code signing", "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nprivateKey: {algorithm: DSA}"),
            schema(
                r#"Certificate.cert-manager.io "invalid-16" is invalid: [spec.privateKey.algorithm: Unsupported value: "DSA": supported values: "RSA", "ECDSA", "Ed25519", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nrevisionHistoryLimit: 0"),
            schema(
                r#"Certificate.cert-manager.io "invalid-17" is invalid: spec.revisionHistoryLimit: Invalid value: 0: spec.revisionHistoryLimit in body should be greater than or equal to 1"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nprivateKey: {algorithm: RSA, size: 1024}"),
            schema(
                r#"Certificate.cert-manager.io "invalid-18" is invalid: spec.privateKey: Invalid value: size must be between 2048 and 8192 for RSA keys"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nrenewBefore: 1m"),
            validation(
                r#"spec.renewBefore: Invalid value: "1m": certificate renewBefore must be at least 5m0s"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nduration: 30m"),
            validation(
                r#"spec.duration: Invalid value: "30m": certificate duration must be at least 1h0m0s"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [App.Example.com]"),
            validation(r#"spec.dnsNames[0]: Invalid value: "App.Example.com": must be lowercase"#),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com, a.example.com]"),
            validation(r#"spec.dnsNames[1]: Duplicate value: "a.example.com""#),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nprivateKey: {algorithm: ECDSA, size: 512}"),
            schema(
                r#"Certificate.cert-manager.io "invalid-23" is invalid: spec.privateKey: Invalid value: size must be 256, 384 or 521 for ECDSA keys"#,
            ),
        ),
        (
            "Certificate",
            cert("literalSubject: CN=a.example.com\ncommonName: a.example.com"),
            schema(
                r#"Certificate.cert-manager.io "invalid-24" is invalid: spec: Invalid value: When providing a `LiteralSubject` no `commonName` may be provided."#,
            ),
        ),
        (
            "Certificate",
            "secretName: bad-tls\nissuerRef: {name: x, kind: Secret}\ndnsNames: [a.example.com]".into(),
            schema(
                r#"Certificate.cert-manager.io "invalid-25" is invalid: spec: Invalid value: issuerRef.kind must be Issuer or ClusterIssuer for an issuer of the cert-manager.io group"#,
            ),
        ),
        (
            "Issuer",
            acme("  skipTLSVerify: true\n  caBundle: Zm9v"),
            schema(
                r#"Issuer.cert-manager.io "invalid-26" is invalid: spec.acme: Invalid value: caBundle and skipTLSVerify are mutually exclusive and cannot both be set"#,
            ),
        ),
        (
            "Issuer",
            acme("  solvers: [{selector: {dnsNames: [a.example.com]}}]"),
            schema(
                r#"Issuer.cert-manager.io "invalid-27" is invalid: spec.acme.solvers[0]: Invalid value: no solver type configured: http01 or dns01"#,
            ),
        ),
        (
            "Certificate",
            "secretName: bad-tls\nissuerRef: {name: x, kind: VaultIssuer, group: vault.example.com}\n\
             dnsNames: [a.example.com]"
                .into(),
            None,
        ),
        (
            "Certificate",
            cert("commonName: ca\nnameConstraints: {permitted: {dnsDomains: [example.com]}}"),
            schema(
                r#"Certificate.cert-manager.io "invalid-29" is invalid: spec: Invalid value: isCA should be true when nameConstraints is set"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\nliteralSubject: CN=a.example.com,cn=b"),
            validation(
                r#"spec.literalSubject: Invalid value: "CN=a.example.com,cn=b": unknown attribute type "cn": use C, O, OU, CN, SERIALNUMBER, L, ST, STREET, DC, UID or a dotted OID"#,
            ),
        ),
        (
            "Certificate",
            cert("dnsNames: [a.example.com]\notherNames: [{oid: 1.3.x, utf8Value: v}]"),
            validation(r#"spec.otherNames[0].oid: Invalid value: "1.3.x": invalid oid syntax"#),
        ),
        ("Certificate", cert("dnsNames: [a.example.com]"), None),
    ];
    let mut failures = Vec::new();
    for (i, (kind, spec, want)) in table.into_iter().enumerate() {
        let got = refusal(&client, kind, &format!("invalid-{i}"), &spec).await;
        if got != want {
            failures.push(format!("row {i} ({kind}):\n{spec}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
