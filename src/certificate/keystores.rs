//! The Secret step's keystores: `keystore.p12`/`truststore.p12` and `keystore.jks`/
//! `truststore.jks`, encoded as cert-manager v1.21 encodes them (go-pkcs12's profiles,
//! keystore-go's JKS). Pure, but for the salts and the JKS entries' creation time.

use crate::api::certificate::Keystore;
use p12_keystore::{EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKeyChain};
use std::collections::BTreeMap;

type Out = BTreeMap<&'static str, Vec<u8>>;

/// The PKCS#12 profiles certsmith writes: every one cert-manager v1.21 has.
pub const PKCS12_PROFILES: [&str; 4] = ["LegacyRC2", "LegacyDES", "Modern2023", "Modern2026"];

/// `keystore.p12` (the key, the chain, then `ca.crt`'s certificates) and, when `ca.crt` holds
/// any, `truststore.p12`, encrypted with `password` as the keystore's `profile` says.
pub fn pkcs12(
    keystore: &Keystore,
    key: &[u8],
    chain: &[u8],
    ca: &[u8],
    password: &str,
) -> Result<Out, String> {
    let (certs, cas) = chain_and_cas(chain, ca)?;
    let leaf = &certs[0];
    let key = pkcs8(key)?;
    let local_key_id =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, leaf)
            .as_ref()
            .to_vec();
    let p12 = |der: &Vec<u8>| p12_keystore::Certificate::from_der(der).map_err(|e| e.to_string());
    let entity: Vec<_> = certs.iter().chain(&cas).map(p12).collect::<Result<_, _>>()?;
    let key = p12_keystore::PrivateKey::from_der(&key).map_err(|e| e.to_string())?;
    let mut store = KeyStore::new();
    let chain = PrivateKeyChain::new(local_key_id, key, entity);
    store.add_entry(super::outputs::DEFAULT_JKS_ALIAS, KeyStoreEntry::PrivateKeyChain(chain));
    let profile = keystore.profile.as_deref().unwrap_or("LegacyRC2");
    let mut out = Out::new();
    out.insert(super::outputs::PKCS12_KEYSTORE, write_p12(&store, profile, password)?);
    if !cas.is_empty() {
        let mut trust = KeyStore::new();
        for der in &cas {
            let cert = p12(der)?;
            let alias = cert.subject().to_string();
            trust.add_entry(&alias, KeyStoreEntry::Certificate(cert));
        }
        out.insert(super::outputs::PKCS12_TRUSTSTORE, write_p12(&trust, profile, password)?);
    }
    Ok(out)
}

/// go-pkcs12's profiles: 2048 encryption iterations; Legacy* with an HMAC-SHA1 MAC of one
/// iteration, Modern2023 PBES2 (PBKDF2-SHA256, AES-256-CBC) with HMAC-SHA256 of 2048, and
/// Modern2026 the same encryption with a PBMAC1 MAC (pbmac1.rs).
/// `LegacyRC2` encrypts the certificates with 40-bit RC2 and the key with 3DES; the library
/// uses one cipher for both, so certsmith uses 3DES for both: every reader of LegacyRC2 files
/// (Java 8, OpenSSL 1.x, Windows) reads 3DES, and 40-bit RC2 protects nothing.
fn write_p12(store: &KeyStore, profile: &str, password: &str) -> Result<Vec<u8>, String> {
    let writer = store.writer(password).encryption_iterations(2048);
    let writer = match profile {
        "LegacyRC2" | "LegacyDES" => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .mac_algorithm(MacAlgorithm::HmacSha1)
            .mac_iterations(1),
        "Modern2023" | "Modern2026" => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .mac_algorithm(MacAlgorithm::HmacSha256)
            .mac_iterations(2048),
        other => return Err(format!("PKCS#12 profile {other:?} is not supported by certsmith")),
    };
    let pfx = writer.write().map_err(|e| e.to_string())?;
    if profile == "Modern2026" { super::pbmac1::remac(&pfx, password) } else { Ok(pfx) }
}

/// `keystore.jks`: the key under `alias` (default `certificate`) with the whole chain, plus
/// `ca.crt`'s certificates as trusted entries `ca`, `ca-1`, …; and `truststore.jks` with those
/// alone, when there are any. One password for the store and its key, as keystore-go does.
pub fn jks(
    keystore: &Keystore,
    key: &[u8],
    chain: &[u8],
    ca: &[u8],
    password: &str,
) -> Result<Out, String> {
    let (certs, cas) = chain_and_cas(chain, ca)?;
    let now = std::time::SystemTime::now();
    let x509 = |der: &Vec<u8>| jks::Certificate { cert_type: "X509".into(), content: der.clone() };
    let alias = keystore.alias.as_deref().unwrap_or(super::outputs::DEFAULT_JKS_ALIAS);
    let entry = jks::PrivateKeyEntry {
        creation_time: now,
        private_key: pkcs8(key)?,
        certificate_chain: certs.iter().map(x509).collect(),
    };
    let trusted = |store: &mut jks::KeyStore| -> Result<(), String> {
        for (i, der) in cas.iter().enumerate() {
            let alias = if i == 0 { "ca".to_string() } else { format!("ca-{i}") };
            let entry = jks::TrustedCertificateEntry { creation_time: now, certificate: x509(der) };
            store.set_trusted_certificate_entry(&alias, entry).map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    let store = |store: &jks::KeyStore| -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        store.store(&mut out, password.as_bytes()).map_err(|e| e.to_string())?;
        Ok(out)
    };
    // keystore-go (cert-manager's) takes any password, the empty one too.
    let new_store = || {
        let options = jks::KeyStoreOptions { min_password_len: 0, ..Default::default() };
        jks::KeyStore::with_options(options)
    };
    let mut keys = new_store();
    keys.set_private_key_entry(alias, entry, password.as_bytes()).map_err(|e| e.to_string())?;
    trusted(&mut keys)?;
    let mut out = Out::new();
    out.insert(super::outputs::JKS_KEYSTORE, store(&keys)?);
    if !cas.is_empty() {
        let mut trust = new_store();
        trusted(&mut trust)?;
        out.insert(super::outputs::JKS_TRUSTSTORE, store(&trust)?);
    }
    Ok(out)
}

/// Certificates, as DER.
type Ders = Vec<Vec<u8>>;

/// The chain's certificates (a leaf first, required) and `ca.crt`'s, as DER.
fn chain_and_cas(chain: &[u8], ca: &[u8]) -> Result<(Ders, Ders), String> {
    let certs = certificates(chain)?;
    if certs.is_empty() {
        return Err("tls.crt holds no certificate".into());
    }
    Ok((certs, certificates(ca)?))
}

/// The DER of each CERTIFICATE block of a PEM bundle.
fn certificates(pem_text: &[u8]) -> Result<Ders, String> {
    let blocks = pem::parse_many(pem_text).map_err(|e| format!("reading certificates: {e}"))?;
    Ok(blocks.into_iter().filter(|b| b.tag() == "CERTIFICATE").map(|b| b.into_contents()).collect())
}

/// The key as PKCS#8 DER, whichever PEM encoding `tls.key` has.
fn pkcs8(key: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(key).map_err(|_| "tls.key is not PEM text".to_string())?;
    let pair = crate::pki::key::parse_pem(text).map_err(|e| format!("reading tls.key: {e}"))?;
    Ok(pair.serialize_der())
}
