//! The shim step's Ingress source, by table: Ingress → Certificates, and every bad annotation or entry → its message.

use super::annotations::{AnnotationError, DefaultIssuer};
use super::{Desired, Inputs, Source};
use k8s_openapi::api::networking::v1::Ingress;

fn desired(
    ingress: &Ingress,
    defaults: &DefaultIssuer,
) -> Result<Option<Desired>, AnnotationError> {
    ingress.desired(&Inputs { defaults, extra_protocols: &[], parent: None })
}

fn ingress(annotations: &str, tls: &str) -> Ingress {
    serde_yaml::from_str(&format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n  uid: u-1\n  \
         annotations: {{{annotations}}}\nspec:\n  tls: {tls}\n"
    ))
    .unwrap()
}

fn defaults() -> DefaultIssuer {
    DefaultIssuer { name: None, kind: "Issuer".into(), group: "cert-manager.io".into() }
}

const TLS: &str = "[{hosts: [a.example.com], secretName: a-tls}]";

#[test]
fn the_seed_ingress_asks_for_one_certificate() {
    let seed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/e2e/fixtures/seed-auto-tls-ingress.yaml"
    ))
    .unwrap();
    let mut ing: Ingress = serde_yaml::from_str(&seed).unwrap();
    ing.metadata.namespace = Some("default".into());
    ing.metadata.uid = Some("u-1".into());
    let d = desired(&ing, &defaults()).unwrap().unwrap();
    assert!(d.problems.is_empty());
    let [cert] = d.certificates.as_slice() else { panic!("{:?}", d.certificates) };
    assert_eq!(cert.metadata.name.as_deref(), Some("app-tls-cert"));
    assert_eq!(cert.spec.secret_name, "app-tls-cert");
    assert_eq!(cert.spec.dns_names.as_deref(), Some(&["app.example.com".to_string()][..]));
    assert_eq!(cert.spec.issuer_ref.name, "letsencrypt-prod");
    assert_eq!(cert.spec.issuer_ref.kind.as_deref(), Some("ClusterIssuer"));
    let owner = &cert.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("Ingress", "auto-tls-ingress", Some(true))
    );
}

#[test]
fn one_certificate_per_tls_block_and_entries_sharing_a_secret_merge() {
    let tls = "[{hosts: [api.example.com], secretName: api-tls}, {hosts: [admin.example.com], secretName: admin-tls}, \
               {hosts: [docs.example.com], secretName: docs-tls}, {hosts: [www.api.example.com], secretName: api-tls}]";
    let d =
        desired(&ingress("cert-manager.io/cluster-issuer: le", tls), &defaults()).unwrap().unwrap();
    let names: Vec<_> = d
        .certificates
        .iter()
        .map(|c| (c.spec.secret_name.clone(), c.spec.dns_names.clone().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("admin-tls".to_string(), vec!["admin.example.com".to_string()]),
            (
                "api-tls".to_string(),
                vec!["api.example.com".to_string(), "www.api.example.com".to_string()]
            ),
            ("docs-tls".to_string(), vec!["docs.example.com".to_string()]),
        ]
    );
}

#[test]
fn triggers_and_issuer_references() {
    let issuer = |a: &str, d: &DefaultIssuer| {
        desired(&ingress(a, TLS), d).unwrap().map(|d| {
            let r = &d.certificates[0].spec.issuer_ref;
            format!("{}/{}/{}", r.group.clone().unwrap(), r.kind.clone().unwrap(), r.name)
        })
    };
    let none = defaults();
    let with_default = DefaultIssuer {
        name: Some("default-ca".into()),
        kind: "ClusterIssuer".into(),
        group: "cert-manager.io".into(),
    };
    assert_eq!(issuer("", &none), None);
    assert_eq!(issuer("kubernetes.io/tls-acme: 'false'", &with_default), None);
    assert_eq!(
        issuer("cert-manager.io/cluster-issuer: le", &none).unwrap(),
        "cert-manager.io/ClusterIssuer/le"
    );
    assert_eq!(
        issuer("cert-manager.io/issuer: team", &none).unwrap(),
        "cert-manager.io/Issuer/team"
    );
    assert_eq!(
        issuer("cert-manager.io/issuer: x, cert-manager.io/issuer-kind: AWSPCAIssuer, cert-manager.io/issuer-group: awspca.cert-manager.io", &none).unwrap(),
        "awspca.cert-manager.io/AWSPCAIssuer/x"
    );
    assert_eq!(
        issuer("kubernetes.io/tls-acme: 'true'", &with_default).unwrap(),
        "cert-manager.io/ClusterIssuer/default-ca"
    );
}

#[test]
fn every_annotation_shapes_the_certificate() {
    let a = "cert-manager.io/cluster-issuer: le, cert-manager.io/common-name: a.example.com, \
             cert-manager.io/duration: 2160h, cert-manager.io/renew-before: 360h, \
             cert-manager.io/usages: 'digital signature,server auth', cert-manager.io/revision-history-limit: '3', \
             cert-manager.io/private-key-algorithm: ECDSA, cert-manager.io/private-key-encoding: PKCS8, \
             cert-manager.io/private-key-size: '384', cert-manager.io/private-key-rotation-policy: Never, \
             cert-manager.io/email-sans: 'ops@example.com', cert-manager.io/subject-organizations: 'Example, Other', \
             cert-manager.io/subject-organizationalunits: Platform, cert-manager.io/subject-countries: NL, \
             cert-manager.io/subject-provinces: NH, cert-manager.io/subject-localities: Amsterdam, \
             cert-manager.io/subject-streetaddresses: Dam 1, cert-manager.io/subject-postalcodes: 1012JS, \
             cert-manager.io/subject-serialnumber: '42', cert-manager.io/alt-names: 'b.example.com', \
             cert-manager.io/ip-sans: '192.0.2.1', cert-manager.io/uri-sans: 'spiffe://x/y', \
             cert-manager.io/secret-template: '{\"labels\": {\"team\": \"web\"}}', \
             acme.cert-manager.io/http01-edit-in-place: 'true', acme.cert-manager.io/http01-ingress-class: traefik, \
             acme.cert-manager.io/http01-ingress-ingressclassname: nginx";
    let d = desired(&ingress(a, TLS), &defaults()).unwrap().unwrap();
    let got = serde_json::to_value(&d.certificates[0]).unwrap();
    let want = serde_json::json!({
        "secretName": "a-tls",
        "issuerRef": {"name": "le", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        "commonName": "a.example.com",
        "dnsNames": ["a.example.com", "b.example.com"],
        "ipAddresses": ["192.0.2.1"],
        "uris": ["spiffe://x/y"],
        "emailAddresses": ["ops@example.com"],
        "subject": {"organizations": ["Example", "Other"], "organizationalUnits": ["Platform"], "countries": ["NL"],
                    "provinces": ["NH"], "localities": ["Amsterdam"], "streetAddresses": ["Dam 1"],
                    "postalCodes": ["1012JS"], "serialNumber": "42"},
        "duration": "2160h",
        "renewBefore": "360h",
        "usages": ["digital signature", "server auth"],
        "revisionHistoryLimit": 3,
        "privateKey": {"algorithm": "ECDSA", "encoding": "PKCS8", "size": 384, "rotationPolicy": "Never"},
        "secretTemplate": {"labels": {"team": "web"}},
    });
    assert_eq!(got["spec"], want);
    assert_eq!(
        got["metadata"]["annotations"],
        serde_json::json!({
            "acme.cert-manager.io/http01-override-ingress-name": "web",
            "acme.cert-manager.io/http01-override-ingress-class": "traefik",
            "acme.cert-manager.io/http01-override-ingress-ingressclassname": "nginx",
        })
    );
    let pct = desired(
        &ingress(
            "cert-manager.io/cluster-issuer: le, cert-manager.io/renew-before-percentage: '25'",
            TLS,
        ),
        &defaults(),
    );
    assert_eq!(pct.unwrap().unwrap().certificates[0].spec.renew_before_percentage, Some(25));
}

#[test]
fn bad_annotations_and_entries_say_what_is_expected() {
    let ci = "cert-manager.io/cluster-issuer: le";
    let table: &[(&str, &str, &str)] = &[
        (
            &format!("{ci}, cert-manager.io/duration: 90x"),
            TLS,
            "annotation \"cert-manager.io/duration\": \"90x\" must be a duration such as 2160h or 1h30m (units h, m, s, ms, us, ns)",
        ),
        (
            &format!("{ci}, cert-manager.io/duration: 30m"),
            TLS,
            "annotation \"cert-manager.io/duration\": must be at least 1h0m0s",
        ),
        (
            &format!("{ci}, cert-manager.io/renew-before: 1m"),
            TLS,
            "annotation \"cert-manager.io/renew-before\": must be at least 5m0s",
        ),
        (
            &format!("{ci}, cert-manager.io/renew-before-percentage: '150'"),
            TLS,
            "annotation \"cert-manager.io/renew-before-percentage\": \"150\" is not a whole number between 1 and 99",
        ),
        (
            &format!("{ci}, cert-manager.io/usages: 'server auth,flying'"),
            TLS,
            "annotation \"cert-manager.io/usages\": \"flying\" is not a key usage (e.g. \"digital signature\", \"server auth\")",
        ),
        (
            &format!("{ci}, cert-manager.io/revision-history-limit: '0'"),
            TLS,
            "annotation \"cert-manager.io/revision-history-limit\": \"0\" is not a whole number of at least 1",
        ),
        (
            &format!("{ci}, cert-manager.io/private-key-algorithm: DSA"),
            TLS,
            "annotation \"cert-manager.io/private-key-algorithm\": \"DSA\" is not one of RSA, ECDSA, Ed25519",
        ),
        (
            &format!("{ci}, cert-manager.io/private-key-encoding: PEM"),
            TLS,
            "annotation \"cert-manager.io/private-key-encoding\": \"PEM\" is not one of PKCS1, PKCS8",
        ),
        (
            &format!("{ci}, cert-manager.io/private-key-size: '1024'"),
            TLS,
            "annotation \"cert-manager.io/private-key-size\": 1024 is not a valid size for the key algorithm (RSA: 2048-8192, ECDSA: 256, 384, 521)",
        ),
        (
            &format!("{ci}, cert-manager.io/private-key-rotation-policy: Sometimes"),
            TLS,
            "annotation \"cert-manager.io/private-key-rotation-policy\": \"Sometimes\" is not one of Never, Always",
        ),
        (
            &format!("{ci}, cert-manager.io/ip-sans: '10.0.0.300'"),
            TLS,
            "annotation \"cert-manager.io/ip-sans\": \"10.0.0.300\" is not a valid IP address",
        ),
        (
            &format!("{ci}, cert-manager.io/email-sans: 'Joe <j@example.com>'"),
            TLS,
            "annotation \"cert-manager.io/email-sans\": \"Joe <j@example.com>\" must be only the address itself, as in user@example.com",
        ),
        (
            &format!("{ci}, cert-manager.io/common-name: {}", "a".repeat(65)),
            TLS,
            "annotation \"cert-manager.io/common-name\": a common name may not be more than 64 bytes",
        ),
        (
            &format!("{ci}, cert-manager.io/secret-template: 'not json'"),
            TLS,
            "annotation \"cert-manager.io/secret-template\": is not JSON of {\"labels\": {…}, \"annotations\": {…}}: expected ident at line 1 column 2",
        ),
        (
            &format!("{ci}, acme.cert-manager.io/http01-edit-in-place: 'yes'"),
            TLS,
            "annotation \"acme.cert-manager.io/http01-edit-in-place\": \"yes\" is not \"true\" or \"false\"",
        ),
        (
            "cert-manager.io/cluster-issuer: a, cert-manager.io/issuer: b",
            TLS,
            "annotation \"cert-manager.io/cluster-issuer\": set either cert-manager.io/issuer or cert-manager.io/cluster-issuer, not both",
        ),
        (
            "kubernetes.io/tls-acme: 'true'",
            TLS,
            "annotation \"kubernetes.io/tls-acme\": \"true\" needs a default issuer: run certsmith with --default-issuer-name (and -kind), or set cert-manager.io/cluster-issuer on the Ingress",
        ),
    ];
    for (annotations, tls, want) in table {
        let got = desired(&ingress(annotations, tls), &defaults())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(&got, want, "annotations: {annotations}");
    }
    let entries: &[(&str, &str)] = &[
        (
            "[{hosts: [a.example.com]}]",
            "spec.tls[0] has no secretName: add the name of the Secret certsmith should fill",
        ),
        (
            "[{secretName: a-tls}]",
            "spec.tls[0] (secretName \"a-tls\") has no hosts: list the names the certificate is for",
        ),
        (
            "[{hosts: [Bad_Host.example.com], secretName: a-tls}]",
            "spec.tls[0] (secretName \"a-tls\"): host \"Bad_Host.example.com\" must be lowercase",
        ),
        (
            "[{hosts: ['*.example.com', 'a..b'], secretName: a-tls}]",
            "spec.tls[0] (secretName \"a-tls\"): host \"a..b\" must not contain empty labels (leading, trailing or double dots)",
        ),
    ];
    for (tls, want) in entries {
        let d = desired(&ingress(ci, tls), &defaults()).unwrap().unwrap();
        assert_eq!(d.problems, [want.to_string()], "tls: {tls}");
        assert!(d.certificates.is_empty(), "tls: {tls}");
    }
}
