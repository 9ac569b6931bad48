//! The Secret step's outputs as tables: what each spec adds, and which Secrets no longer fit.

use super::*;
use crate::api::CertificateSpec;
use crate::api::certificate::{AdditionalOutputFormat, CertificateKeystores};
use crate::api::meta::IssuerReference;
use p12_keystore::{KeyStore as P12, Pkcs12ImportPolicy};

fn spec(formats: &[OutputFormatType], stores: Option<CertificateKeystores>) -> CertificateSpec {
    CertificateSpec {
        secret_name: "web-tls".into(),
        issuer_ref: IssuerReference { name: "ca".into(), ..Default::default() },
        additional_output_formats: Some(
            formats.iter().map(|t| AdditionalOutputFormat { type_: *t }).collect(),
        ),
        keystores: stores,
        ..Default::default()
    }
}

fn store(create: bool, profile: Option<&str>) -> Option<Keystore> {
    Some(Keystore {
        create,
        password: Some("s3cret".into()),
        profile: profile.map(str::to_string),
        ..Default::default()
    })
}

/// A Secret as certsmith writes it: a PKCS#1 key, a leaf signed by a CA, the CA in ca.crt.
fn secret() -> Secret {
    use rcgen::{CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(vec![]).unwrap();
    ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = crate::pki::key::KeySpec::Rsa(2048).generate().unwrap();
    let leaf = CertificateParams::new(vec!["web.example".into()]).unwrap();
    let leaf = leaf.signed_by(&key, &issuer).unwrap();
    let pkcs1 =
        crate::pki::key::to_pem(&key, Some(crate::api::certificate::PrivateKeyEncoding::PKCS1));
    let data = [("tls.key", pkcs1.unwrap()), ("tls.crt", leaf.pem()), ("ca.crt", ca_cert.pem())];
    Secret {
        data: Some(data.map(|(k, v)| (k.to_string(), ByteString(v.into_bytes()))).into()),
        ..Default::default()
    }
}

/// What the Secret step's cache keeps of `s`.
fn facts(s: &Secret) -> SecretFacts {
    SecretFacts::from(s.clone())
}

fn field<'a>(s: &'a Secret, k: &str) -> &'a [u8] {
    s.data.as_ref().unwrap().get(k).map(|b| b.0.as_slice()).unwrap_or_default()
}

#[test]
fn combined_pem_is_the_key_a_newline_and_the_chain_and_der_is_the_key_as_written() {
    let mut s = secret();
    let spec = spec(&[OutputFormatType::CombinedPEM, OutputFormatType::DER], None);
    assert_eq!(
        mismatch(&spec, &facts(&s)),
        Some("Certificate's AdditionalOutputFormats doesn't match Secret Data")
    );
    add(&mut s, &spec, &Passwords::default()).unwrap();
    let want = [field(&s, "tls.key"), b"\n", field(&s, "tls.crt")].concat();
    assert_eq!(field(&s, COMBINED_PEM), want.as_slice());
    let der = pem::parse(field(&s, "tls.key")).unwrap();
    assert_eq!(der.tag(), "RSA PRIVATE KEY", "the encoding of tls.key is kept");
    assert_eq!(field(&s, KEY_DER), der.contents());
    assert_eq!(mismatch(&spec, &facts(&s)), None);
    // A format taken out of the spec: the Secret no longer fits.
    let fewer = super::tests::spec(&[OutputFormatType::DER], None);
    assert!(mismatch(&fewer, &facts(&s)).is_some());
}

#[test]
fn pkcs12_keystores_read_back_with_their_password_in_every_profile() {
    for profile in
        [None, Some("LegacyRC2"), Some("LegacyDES"), Some("Modern2023"), Some("Modern2026")]
    {
        let stores = CertificateKeystores { pkcs12: store(true, profile), jks: None };
        let spec = spec(&[], Some(stores));
        let mut s = secret();
        assert_eq!(mismatch(&spec, &facts(&s)), Some("PKCS12 Keystore key does not contain data"));
        let passwords = Passwords { pkcs12: Some("s3cret".into()), jks: None };
        add(&mut s, &spec, &passwords).unwrap();
        assert_eq!(mismatch(&spec, &facts(&s)), None, "{profile:?}");
        let p12 =
            P12::from_pkcs12(field(&s, PKCS12_KEYSTORE), "s3cret", Pkcs12ImportPolicy::Strict);
        if profile == Some("Modern2026") {
            // The PKCS#12 crate knows no PBMAC1: pbmac1.rs tests the MAC, and the bed opens
            // the file with OpenSSL 3.4+ (tests/e2e/outputs.rs).
            assert!(p12.is_err());
            continue;
        }
        let p12 = p12.unwrap();
        let (_, chain) = p12.private_key_chain().expect("a key entry");
        assert_eq!(chain.certs().len(), 2, "the leaf, then ca.crt's CA");
        let key = pem::parse(field(&s, "tls.key")).unwrap();
        let key = crate::pki::key::parse_pem(&pem::encode(&key)).unwrap();
        assert_eq!(chain.key().as_der(), key.serialize_der(), "the key, as PKCS#8");
        let trust =
            P12::from_pkcs12(field(&s, PKCS12_TRUSTSTORE), "s3cret", Pkcs12ImportPolicy::Relaxed);
        assert_eq!(trust.unwrap().entries_len(), 1);
        assert!(
            P12::from_pkcs12(field(&s, PKCS12_KEYSTORE), "wrong", Pkcs12ImportPolicy::Strict)
                .is_err()
        );
    }
}

#[test]
fn jks_keystores_hold_the_key_under_its_alias_and_the_ca_as_trusted() {
    let mut jks_store = store(true, None).unwrap();
    jks_store.alias = Some("web".into());
    let spec = spec(&[], Some(CertificateKeystores { jks: Some(jks_store), pkcs12: None }));
    let mut s = secret();
    add(&mut s, &spec, &Passwords { jks: Some("s3cret".into()), pkcs12: None }).unwrap();
    let mut keys = jks::KeyStore::new();
    keys.load(field(&s, JKS_KEYSTORE), b"s3cret").unwrap();
    let entry = keys.get_private_key_entry("web", b"s3cret").unwrap();
    assert_eq!(entry.certificate_chain.len(), 1, "tls.crt's chain");
    let mut trust = jks::KeyStore::new();
    trust.load(field(&s, JKS_TRUSTSTORE), b"s3cret").unwrap();
    assert!(trust.get_trusted_certificate_entry("ca").is_ok());
    assert!(jks::KeyStore::new().load(field(&s, JKS_KEYSTORE), b"wrong").is_err());
}

#[test]
fn a_keystore_without_its_password_is_not_written() {
    let spec = spec(&[], Some(CertificateKeystores { pkcs12: store(true, None), jks: None }));
    let mut s = secret();
    let err = add(&mut s, &spec, &Passwords::default()).unwrap_err();
    assert_eq!(err, "no password for the PKCS12 keystore");
}

#[test]
fn which_secrets_no_longer_fit_their_keystores() {
    let both = |pkcs12, jks| CertificateKeystores { pkcs12, jks };
    let mut with_stores = secret();
    let all = both(store(true, None), store(true, None));
    let passwords = Passwords { pkcs12: Some("p".into()), jks: Some("p".into()) };
    add(&mut with_stores, &spec(&[], Some(all.clone())), &passwords).unwrap();
    let mut no_truststore = with_stores.clone();
    no_truststore.data.as_mut().unwrap().remove(JKS_TRUSTSTORE);
    let plain = secret();
    let table = [
        (Some(all.clone()), &with_stores, None),
        (None, &with_stores, Some("Keystore is not defined")),
        (Some(all.clone()), &no_truststore, Some("JKS Keystore key does not contain data")),
        (
            Some(both(store(false, None), store(true, None))),
            &with_stores,
            Some("PKCS12 Keystore create disabled"),
        ),
        (Some(both(store(true, None), None)), &with_stores, Some("JKS Keystore not defined")),
        (Some(both(store(false, None), None)), &plain, None),
        (None, &plain, None),
    ];
    for (i, (stores, secret, want)) in table.into_iter().enumerate() {
        assert_eq!(mismatch(&spec(&[], stores), &facts(secret)), want, "row {i}");
    }
}

#[test]
fn keystores_that_fit_are_carried_over_and_leftovers_named() {
    let stores = CertificateKeystores { pkcs12: store(true, None), jks: None };
    let spec = spec(&[OutputFormatType::DER], Some(stores));
    let mut written = secret();
    let passwords = Passwords { pkcs12: Some("p".into()), jks: None };
    add(&mut written, &spec, &passwords).unwrap();
    // Rebuilt without a password: the formats made again, the keystores carried as they are.
    // The Secret's own key, chain and CA, without the outputs (what tls_secret rebuilds).
    let bare = |s: &Secret| {
        let mut bare = s.clone();
        let data = bare.data.as_mut().unwrap();
        data.retain(|k, _| ["tls.key", "tls.crt", "ca.crt"].contains(&k.as_str()));
        bare
    };
    let mut again = bare(&written);
    add_formats(&mut again, &spec);
    carry_keystores(&mut again, &written, &spec);
    assert_eq!(field(&again, PKCS12_KEYSTORE), field(&written, PKCS12_KEYSTORE), "same bytes");
    assert_eq!(field(&again, KEY_DER), field(&written, KEY_DER));
    assert_eq!(mismatch(&spec, &facts(&again)), None);
    // The formats and stores left by another writer that the spec no longer asks for.
    let fewer = super::tests::spec(&[], None);
    let mut rebuilt = bare(&written);
    add_formats(&mut rebuilt, &fewer);
    assert_eq!(leftovers(&written, &rebuilt), [KEY_DER, PKCS12_KEYSTORE, PKCS12_TRUSTSTORE]);
}

#[test]
fn a_ca_crt_without_a_certificate_asks_for_no_truststore() {
    let stores = CertificateKeystores { pkcs12: store(true, None), jks: None };
    let spec = spec(&[], Some(stores));
    let mut s = secret();
    s.data.as_mut().unwrap().insert("ca.crt".into(), ByteString(b" \n".to_vec()));
    add(&mut s, &spec, &Passwords { pkcs12: Some("p".into()), jks: None }).unwrap();
    assert!(field(&s, PKCS12_TRUSTSTORE).is_empty(), "no CA, no truststore");
    assert_eq!(mismatch(&spec, &facts(&s)), None, "and none is asked for: no rewrite loop");
}
