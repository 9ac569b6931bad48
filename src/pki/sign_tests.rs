use super::*;
use crate::api::{Certificate, CertificateRequest};
use crate::pki::csr::{Sans, build};
use crate::pki::template::to_time;
use x509_parser::extensions::ParsedExtension;

fn cert(spec: &str) -> Certificate {
    serde_yaml::from_str(&format!(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: c, namespace: default}}\n\
         spec:\n  secretName: s\n  issuerRef: {{name: i}}\n{spec}"
    ))
    .unwrap()
}

/// The request the Certificate controller would make for `spec`, with `key`.
fn request(spec: &str, key: &KeyPair) -> CertificateRequest {
    let c = cert(spec);
    let csr = crate::pki::request::to_pem(&build(&c.spec, key, Sans::AsWritten).unwrap());
    crate::certificate::request::build(&c, 1, Some("s"), &csr)
}

fn now() -> Timestamp {
    "2026-11-27T10:00:00Z".parse().unwrap()
}

fn parsed(pem_text: &str) -> Vec<Vec<u8>> {
    pem::parse_many(pem_text).unwrap().into_iter().map(|p| p.into_contents()).collect()
}

/// A self-signed root made the way the classic bootstrap makes it.
fn root() -> (String, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let cr = request("  isCA: true\n  commonName: my-selfsigned-ca", &key);
    let csr = template(&cr.spec, &Urls::default(), now()).unwrap();
    (self_sign(&csr, &key).unwrap(), key)
}

#[test]
fn a_self_signed_ca_is_its_own_issuer_with_the_requested_shape() {
    let (pem_text, _) = root();
    let der = &parsed(&pem_text)[0];
    let (_, c) = X509Certificate::from_der(der).unwrap();
    assert_eq!(c.subject().to_string(), "CN=my-selfsigned-ca");
    assert_eq!(c.subject().as_raw(), c.issuer().as_raw());
    assert!(c.basic_constraints().unwrap().unwrap().value.ca);
    let ku = c.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.digital_signature() && ku.key_encipherment(), "{ku}");
    assert!(c.subject_alternative_name().unwrap().is_none(), "the common name is no SAN");
    let life = c.validity().not_after.timestamp() - c.validity().not_before.timestamp();
    assert_eq!(life, 2160 * 3600, "cert-manager's default duration");
    assert_eq!(c.validity().not_before.timestamp(), now().as_second());
    c.verify_signature(None).unwrap();
}

#[test]
fn a_ca_signs_exactly_the_requested_names_and_usages() {
    let (root_pem, root_key) = root();
    let ca = CaKeyPair::read(Some(&root_pem), Some(&root_key.serialize_pem())).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let cr = request(
        "  commonName: svc.example\n  dnsNames: [svc.example, svc.ns.svc]\n  ipAddresses: [10.0.0.1]\n\
         \x20 uris: ['spiffe://cluster.local/ns/a/sa/b']\n  duration: 24h\n\
         \x20 usages: [digital signature, server auth, client auth]",
        &leaf_key,
    );
    let urls = Urls {
        crl_distribution_points: vec!["http://ca.example/crl".into()],
        ocsp_servers: vec!["http://ca.example/ocsp".into()],
        issuing_certificate_urls: vec!["http://ca.example/ca.crt".into()],
    };
    let csr = template(&cr.spec, &urls, now()).unwrap();
    let (chain, ca_pem) = ca.sign(&csr, now()).unwrap();
    assert_eq!(parsed(&chain).len(), 1, "a self-signed root stays out of tls.crt");
    assert_eq!(ca_pem.trim(), root_pem.trim(), "ca.crt is the root");
    let leaf_der = &parsed(&chain)[0];
    let (_, leaf) = X509Certificate::from_der(leaf_der).unwrap();
    let root_der = &parsed(&root_pem)[0];
    let (_, root_cert) = X509Certificate::from_der(root_der).unwrap();
    leaf.verify_signature(Some(root_cert.public_key())).unwrap();
    assert_eq!(leaf.issuer().as_raw(), root_cert.subject().as_raw());
    assert_eq!(leaf.public_key().raw, leaf_key.subject_public_key_info());
    assert!(!leaf.basic_constraints().unwrap().unwrap().value.ca);
    let issued = crate::pki::inspect::parse_chain(&chain).unwrap();
    assert_eq!(issued.dns_names, ["svc.example", "svc.ns.svc"]);
    assert_eq!(issued.ip_addresses, ["10.0.0.1"]);
    assert_eq!(issued.uris, ["spiffe://cluster.local/ns/a/sa/b"]);
    let c = cert(
        "  commonName: svc.example\n  dnsNames: [svc.example, svc.ns.svc]\n  ipAddresses: [10.0.0.1]\n  uris: ['spiffe://cluster.local/ns/a/sa/b']",
    );
    assert_eq!(crate::pki::csr::names_match(&c.spec, &issued), Ok(()));
    let ku = leaf.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && !ku.key_encipherment() && !ku.key_cert_sign(), "{ku}");
    let eku = leaf.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth && !eku.code_signing);
    assert_eq!(
        leaf.validity().not_after.timestamp() - leaf.validity().not_before.timestamp(),
        86400
    );
    let mut found = vec![];
    for ext in leaf.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(_) => found.push("crl"),
            ParsedExtension::AuthorityInfoAccess(aia) => {
                let text = format!("{aia:?}");
                assert!(text.contains("http://ca.example/ocsp"), "{text}");
                assert!(text.contains("http://ca.example/ca.crt"), "{text}");
                found.push("aia");
            }
            ParsedExtension::AuthorityKeyIdentifier(_) => found.push("aki"),
            _ => {}
        }
    }
    found.sort();
    assert_eq!(found, ["aia", "aki", "crl"]);
    let again = ca.sign(&template(&cr.spec, &urls, now()).unwrap(), now()).unwrap().0;
    let serial = |p: &str| crate::pki::inspect::parse_chain(p).unwrap().serial;
    assert_ne!(serial(&chain), serial(&again), "serials are random");
}

#[test]
fn an_intermediate_goes_into_the_chain_and_the_root_into_ca_crt() {
    let (root_pem, root_key) = root();
    let root_ca = CaKeyPair::read(Some(&root_pem), Some(&root_key.serialize_pem())).unwrap();
    let mid_key = KeyPair::generate().unwrap();
    let cr = request("  isCA: true\n  commonName: intermediate", &mid_key);
    let (mid_chain, _) =
        root_ca.sign(&template(&cr.spec, &Urls::default(), now()).unwrap(), now()).unwrap();
    let bundle = format!("{mid_chain}{root_pem}");
    let mid = CaKeyPair::read(Some(&bundle), Some(&mid_key.serialize_pem())).unwrap();
    let leaf = request("  dnsNames: [a.example]", &KeyPair::generate().unwrap());
    let (chain, ca) =
        mid.sign(&template(&leaf.spec, &Urls::default(), now()).unwrap(), now()).unwrap();
    let certs = parsed(&chain);
    assert_eq!(certs.len(), 2, "leaf and intermediate");
    assert_eq!(certs[1], parsed(&mid_chain)[0]);
    assert_eq!(ca.trim(), root_pem.trim());
}

#[test]
fn requests_that_contradict_their_csr_or_key_are_refused() {
    let key = KeyPair::generate().unwrap();
    // The CSR says CA, the request says not.
    let mut cr = request("  isCA: true\n  commonName: x", &key);
    cr.spec.is_ca = Some(false);
    let e = template(&cr.spec, &Urls::default(), now()).unwrap_err();
    assert_eq!(e.to_string(), "encoded CSR error: IsCA true does not match expected value false");
    // The CSR encodes server auth, the request client auth.
    let mut cr = request("  dnsNames: [a.example]\n  usages: [server auth]", &key);
    cr.spec.usages = Some(vec![crate::api::certificate::KeyUsage::ClientAuth]);
    let e = template(&cr.spec, &Urls::default(), now()).unwrap_err().to_string();
    assert!(e.starts_with("encoded CSR error: the usages the CSR encodes"), "{e}");
    // A request without encoded usages takes the request's.
    let c = cert("  dnsNames: [a.example]\n  encodeUsagesInRequest: false");
    let csr = crate::pki::request::to_pem(&build(&c.spec, &key, Sans::AsWritten).unwrap());
    let mut cr = crate::certificate::request::build(&c, 1, None, &csr);
    cr.spec.usages = Some(vec![crate::api::certificate::KeyUsage::ClientAuth]);
    assert!(template(&cr.spec, &Urls::default(), now()).is_ok());
    // Self-signing with a key that did not make the CSR.
    let csr = template(&request("  commonName: x", &key).spec, &Urls::default(), now()).unwrap();
    assert!(matches!(self_sign(&csr, &KeyPair::generate().unwrap()), Err(SignError::KeyMismatch)));
    assert!(!empty_subject(&csr));
    let bad = CertificateRequest::new("x", crate::api::CertificateRequestSpec::default());
    assert!(matches!(template(&bad.spec, &Urls::default(), now()), Err(SignError::Csr(_))));
    // A hand-made CSR that repeats an extension (RFC 5280 §4.2 allows one of each).
    let san = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_tagged_implicit(yasna::Tag::context(2), |w| w.write_ia5_string("a.x"))
        })
    });
    let mut params = rcgen::CertificateParams::default();
    for _ in 0..2 {
        let ext = rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 17], san.clone());
        params.custom_extensions.push(ext);
    }
    let mut cr = request("  commonName: x", &key);
    cr.spec.request.0 = params.serialize_request(&key).unwrap().pem().unwrap().into_bytes();
    let e = template(&cr.spec, &Urls::default(), now()).unwrap_err().to_string();
    assert!(e.contains("appears twice"), "{e}");
}

#[test]
fn a_ca_key_pair_must_be_a_matching_ca() {
    let (root_pem, root_key) = root();
    let key_pem = root_key.serialize_pem();
    let leaf_key = KeyPair::generate().unwrap();
    let ca = CaKeyPair::read(Some(&root_pem), Some(&key_pem)).unwrap();
    let leaf_cr = request("  dnsNames: [a.example]", &leaf_key);
    let (leaf, _) =
        ca.sign(&template(&leaf_cr.spec, &Urls::default(), now()).unwrap(), now()).unwrap();
    let other = KeyPair::generate().unwrap().serialize_pem();
    let table: [(Option<&str>, Option<&str>, CaError); 5] = [
        (None, Some(&key_pem), CaError::Missing("tls.crt")),
        (Some(&root_pem), None, CaError::Missing("tls.key")),
        (Some(&root_pem), Some(&other), CaError::Mismatch),
        (Some(&leaf), Some(&leaf_key.serialize_pem()), CaError::NotCa),
        (Some("garbage"), Some(&key_pem), CaError::Certificate("no CERTIFICATE block".into())),
    ];
    for (crt, key, want) in table {
        assert_eq!(CaKeyPair::read(crt, key).err(), Some(want));
    }
}

/// A self-signed CA of path length `path_len`, valid until `not_after`.
fn ca_until(not_after: Timestamp, path_len: u8) -> CaKeyPair {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.not_before = to_time(now() - jiff::SignedDuration::from_hours(24));
    params.not_after = to_time(not_after);
    let pem = params.self_signed(&key).unwrap().pem();
    CaKeyPair::read(Some(&pem), Some(&key.serialize_pem())).unwrap()
}

fn validity_and_path_len(chain: &str) -> (i64, Option<u32>) {
    let der = &parsed(chain)[0];
    let (_, c) = X509Certificate::from_der(der).unwrap();
    let path_len = c.basic_constraints().unwrap().and_then(|b| b.value.path_len_constraint);
    (c.validity().not_after.timestamp(), path_len)
}

#[test]
fn nothing_a_ca_signs_outlives_it_and_path_lengths_go_down() {
    let soon = now() + jiff::SignedDuration::from_hours(240);
    let ca = ca_until(soon, 1);
    // 90 days asked, 10 days left: the CA's notAfter.
    let leaf = request("  dnsNames: [a.example]", &KeyPair::generate().unwrap());
    let (chain, _) =
        ca.sign(&template(&leaf.spec, &Urls::default(), now()).unwrap(), now()).unwrap();
    assert_eq!(validity_and_path_len(&chain).0, soon.as_second());
    // A CA under a path length of 1 gets 0, and signs no CA itself.
    let mid_key = KeyPair::generate().unwrap();
    let mid = request("  isCA: true\n  commonName: mid", &mid_key);
    let (mid_chain, _) =
        ca.sign(&template(&mid.spec, &Urls::default(), now()).unwrap(), now()).unwrap();
    assert_eq!(validity_and_path_len(&mid_chain).1, Some(0));
    let mid_ca = CaKeyPair::read(Some(&mid_chain), Some(&mid_key.serialize_pem())).unwrap();
    let sub = request("  isCA: true\n  commonName: sub", &KeyPair::generate().unwrap());
    let refused = mid_ca.sign(&template(&sub.spec, &Urls::default(), now()).unwrap(), now());
    assert!(matches!(refused, Err(SignError::Ca(m)) if m.contains("path length is 0")));
    // A leaf it still signs.
    assert!(mid_ca.sign(&template(&leaf.spec, &Urls::default(), now()).unwrap(), now()).is_ok());
}

#[test]
fn an_expired_ca_signs_nothing() {
    let ca = ca_until(now() - jiff::SignedDuration::from_hours(1), 0);
    assert!(ca.expired(now()).is_some());
    let leaf = request("  dnsNames: [a.example]", &KeyPair::generate().unwrap());
    let refused = ca.sign(&template(&leaf.spec, &Urls::default(), now()).unwrap(), now());
    assert!(matches!(refused, Err(SignError::Ca(m)) if m.contains("expired")), "signed");
}

/// The signature algorithm OID of a DER CSR or certificate.
fn signed_with_csr(der: &[u8]) -> String {
    use x509_parser::certification_request::X509CertificationRequest;
    let (_, csr) = X509CertificationRequest::from_der(der).unwrap();
    csr.signature_algorithm.algorithm.to_id_string()
}

fn signed_with_cert(pem_text: &str) -> String {
    let der = &parsed(pem_text)[0];
    let (_, c) = X509Certificate::from_der(der).unwrap();
    c.signature_algorithm.algorithm.to_id_string()
}

const SHA256_RSA: &str = "1.2.840.113549.1.1.11";
const SHA384_RSA: &str = "1.2.840.113549.1.1.12";
const SHA512_RSA: &str = "1.2.840.113549.1.1.13";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";

#[test]
fn requests_are_signed_as_the_spec_asks_and_certificates_as_the_signer_key_says() {
    use crate::pki::key::KeySpec;
    let rsa3072 = KeySpec::Rsa(3072).generate().unwrap();
    let rsa2048 = KeySpec::Rsa(2048).generate().unwrap();
    let p384 = KeySpec::Ecdsa(384).generate().unwrap();
    // (spec, key, the request's algorithm)
    let table = [
        ("  commonName: a\n  privateKey: {size: 3072}\n", &rsa3072, SHA384_RSA),
        ("  commonName: a\n", &rsa2048, SHA256_RSA),
        ("  commonName: a\n  signatureAlgorithm: SHA512WithRSA\n", &rsa2048, SHA512_RSA),
        ("  commonName: a\n  privateKey: {algorithm: ECDSA, size: 384}\n", &p384, ECDSA_SHA384),
    ];
    for (spec, key, want) in table {
        let der = build(&cert(spec).spec, key, Sans::AsWritten).unwrap();
        assert_eq!(signed_with_csr(&der), want, "{spec}");
    }
    // A self-signed certificate of an RSA 3072 key is signed with SHA-384 whatever its
    // request asked (cert-manager's signer: the signing key's default).
    let cr = request(
        "  commonName: a\n  signatureAlgorithm: SHA256WithRSA\n  privateKey: {size: 3072}\n",
        &rsa3072,
    );
    let csr = template(&cr.spec, &Urls::default(), now()).unwrap();
    assert_eq!(signed_with_cert(&self_sign(&csr, &rsa3072).unwrap()), SHA384_RSA);
    // A CA with an RSA 3072 key signs its leaves with SHA-384.
    let ca_req = request("  isCA: true\n  commonName: ca\n  privateKey: {size: 3072}\n", &rsa3072);
    let ca_csr = template(&ca_req.spec, &Urls::default(), now()).unwrap();
    let ca_pem = self_sign(&ca_csr, &rsa3072).unwrap();
    let ca = CaKeyPair::read(Some(&ca_pem), Some(&rsa3072.serialize_pem())).unwrap();
    let leaf = request("  commonName: leaf\n", &rsa2048);
    let (chain, _) =
        ca.sign(&template(&leaf.spec, &Urls::default(), now()).unwrap(), now()).unwrap();
    assert_eq!(signed_with_cert(&chain), SHA384_RSA);
}

#[test]
fn subjects_other_names_and_name_constraints_are_signed_exactly() {
    // A CA whose subject repeats an attribute: rcgen's own Name would lose one of the two.
    let ca_key = KeyPair::generate().unwrap();
    let ca_req = request(
        "  isCA: true\n  literalSubject: CN=root,O=A,O=B\n  nameConstraints:\n    critical: true\n    permitted: {dnsDomains: [example.com], ipRanges: [10.0.0.0/8]}\n    excluded: {emailAddresses: [bad@example.com]}",
        &ca_key,
    );
    let ca_csr = template(&ca_req.spec, &Urls::default(), now()).unwrap();
    let ca_pem = self_sign(&ca_csr, &ca_key).unwrap();
    let ca_der = &parsed(&ca_pem)[0];
    let (_, ca_cert) = X509Certificate::from_der(ca_der).unwrap();
    let ca_subject = crate::pki::dn::to_der(&crate::pki::dn::parse("CN=root,O=A,O=B").unwrap());
    assert_eq!(ca_cert.subject().as_raw(), ca_subject.unwrap());
    assert_eq!(ca_cert.issuer().as_raw(), ca_cert.subject().as_raw());
    ca_cert.verify_signature(None).unwrap();
    let nc =
        ca_cert.get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_NAME_CONSTRAINTS);
    let nc = nc.unwrap().expect("the CA certificate has the CSR's nameConstraints");
    assert!(nc.critical);
    let ParsedExtension::NameConstraints(parsed_nc) = nc.parsed_extension() else { panic!() };
    let permitted = parsed_nc.permitted_subtrees.as_ref().unwrap();
    assert_eq!(permitted.len(), 2);
    assert_eq!(parsed_nc.excluded_subtrees.as_ref().unwrap().len(), 1);

    let ca = CaKeyPair::read(Some(&ca_pem), Some(&ca_key.serialize_pem())).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = request(LEAF, &key);
    let (chain, _) =
        ca.sign(&template(&leaf.spec, &Urls::default(), now()).unwrap(), now()).unwrap();
    let der = &parsed(&chain)[0];
    let (_, c) = X509Certificate::from_der(der).unwrap();
    let want = crate::pki::dn::parse("CN=app,O=Org1+OU=Unit,O=Org2").unwrap();
    assert_eq!(c.subject().as_raw(), crate::pki::dn::to_der(&want).unwrap());
    assert_eq!(c.subject().to_string(), "O=Org2, O=Org1 + OU=Unit, CN=app");
    // The issuer is the CA certificate's subject byte for byte; the signature verifies.
    assert_eq!(c.issuer().as_raw(), ca_cert.subject().as_raw());
    c.verify_signature(Some(ca_cert.public_key())).unwrap();
    let san = c.subject_alternative_name().unwrap().unwrap();
    assert!(!san.critical, "a subject is there");
    let issued = crate::pki::inspect::parse_chain(&chain).unwrap();
    assert_eq!(issued.dns_names, ["app.example.com"]);
    assert_eq!(issued.other_names, ["1.3.6.1.4.1.311.20.2.3=app@example.com"]);
    assert!(crate::pki::csr::names_match(&cert(LEAF).spec, &issued).is_ok());
    // otherNames are held against the request (request.rs), not here: an external issuer may
    // leave them out, as cert-manager's own names check allows.
    let other = cert(&LEAF.replace("app@example.com", "other@example.com"));
    assert!(crate::pki::csr::names_match(&other.spec, &issued).is_ok());
}

const LEAF: &str = "  literalSubject: CN=app,O=Org1+OU=Unit,O=Org2\n  dnsNames: [app.example.com]\n  otherNames: [{oid: 1.3.6.1.4.1.311.20.2.3, utf8Value: app@example.com}]";

#[test]
fn a_subjectless_certificate_has_critical_sans() {
    let key = KeyPair::generate().unwrap();
    let cr = request("  otherNames: [{oid: 1.2.3.4, utf8Value: x}]", &key);
    let csr = template(&cr.spec, &Urls::default(), now()).unwrap();
    assert!(empty_subject(&csr));
    let pem_text = self_sign(&csr, &key).unwrap();
    let der = &parsed(&pem_text)[0];
    let (_, c) = X509Certificate::from_der(der).unwrap();
    assert!(c.subject_alternative_name().unwrap().unwrap().critical);
    assert_eq!(c.subject().as_raw(), crate::pki::dn::EMPTY);
}

#[test]
fn a_csr_whose_signature_does_not_verify_is_refused() {
    let key = KeyPair::generate().unwrap();
    let c = cert("  commonName: a");
    let mut der = build(&c.spec, &key, Sans::AsWritten).unwrap();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let mut cr = request("  commonName: a", &key);
    cr.spec.request = k8s_openapi::ByteString(crate::pki::request::to_pem(&der).into_bytes());
    let e = template(&cr.spec, &Urls::default(), now()).unwrap_err();
    assert!(matches!(e, SignError::Csr(_)), "{e}");
}
