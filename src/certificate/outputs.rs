//! The Secret step's outputs beyond `tls.crt`, `tls.key` and `ca.crt`: cert-manager v1.21's
//! `additionalOutputFormats` (CombinedPEM, DER) and `keystores` (PKCS#12, JKS), made from what
//! the Secret holds, and the checks that say when a Secret's outputs no longer fit its spec.
//! Pure: the keystore passwords are read by the caller.

use super::facts::SecretFacts;
use crate::api::CertificateSpec;
use crate::api::certificate::{Keystore, OutputFormatType};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

pub const COMBINED_PEM: &str = "tls-combined.pem";
pub const KEY_DER: &str = "key.der";
pub const PKCS12_KEYSTORE: &str = "keystore.p12";
pub const PKCS12_TRUSTSTORE: &str = "truststore.p12";
pub const JKS_KEYSTORE: &str = "keystore.jks";
pub const JKS_TRUSTSTORE: &str = "truststore.jks";
/// The alias of the key entry in a JKS keystore when `alias` is not set.
pub const DEFAULT_JKS_ALIAS: &str = "certificate";

/// The keystore passwords, as read from the spec or the Secrets it names.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Passwords {
    pub pkcs12: Option<String>,
    pub jks: Option<String>,
}

/// Which keystore, in cert-manager's words for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Pkcs12,
    Jks,
}

impl Store {
    pub fn words(self) -> &'static str {
        match self {
            Store::Pkcs12 => "PKCS12",
            Store::Jks => "JKS",
        }
    }

    pub fn of(self, spec: &CertificateSpec) -> Option<&Keystore> {
        let stores = spec.keystores.as_ref()?;
        match self {
            Store::Pkcs12 => stores.pkcs12.as_ref(),
            Store::Jks => stores.jks.as_ref(),
        }
    }

    fn keys(self) -> [&'static str; 2] {
        match self {
            Store::Pkcs12 => [PKCS12_KEYSTORE, PKCS12_TRUSTSTORE],
            Store::Jks => [JKS_KEYSTORE, JKS_TRUSTSTORE],
        }
    }
}

/// The keystores the spec asks to be written (`create: true`).
pub fn wanted(spec: &CertificateSpec) -> Vec<(Store, &Keystore)> {
    [Store::Pkcs12, Store::Jks]
        .into_iter()
        .filter_map(|s| s.of(spec).filter(|k| k.create).map(|k| (s, k)))
        .collect()
}

/// Adds the outputs `spec` asks for to `secret`, made from its `tls.key`, `tls.crt` and
/// `ca.crt`. A keystore whose password is missing from `passwords` is an error (the caller
/// says why it could not read it).
pub fn add(
    secret: &mut Secret,
    spec: &CertificateSpec,
    passwords: &Passwords,
) -> Result<(), String> {
    add_formats(secret, spec);
    let data = secret.data.get_or_insert_with(BTreeMap::new);
    let field = |k: &str| data.get(k).map(|b| b.0.clone()).unwrap_or_default();
    let (key, chain, ca) = (field("tls.key"), field("tls.crt"), field("ca.crt"));
    let mut out = BTreeMap::new();
    for (store, keystore) in wanted(spec) {
        let password = match store {
            Store::Pkcs12 => passwords.pkcs12.as_deref(),
            Store::Jks => passwords.jks.as_deref(),
        };
        let password =
            password.ok_or_else(|| format!("no password for the {} keystore", store.words()))?;
        let made = match store {
            Store::Pkcs12 => super::keystores::pkcs12(keystore, &key, &chain, &ca, password),
            Store::Jks => super::keystores::jks(keystore, &key, &chain, &ca, password),
        };
        out.extend(made.map_err(|e| format!("failed to add keystores to Secret: {e}"))?);
    }
    data.extend(out.into_iter().map(|(k, v)| (k.to_string(), ByteString(v))));
    Ok(())
}

/// The additional output formats: `tls-combined.pem` (the key, a newline, the chain) and
/// `key.der` (the key's PEM block as DER, in the encoding `tls.key` has), those `spec` asks for.
pub fn formats(
    spec: &CertificateSpec,
    key: &[u8],
    chain: &[u8],
) -> BTreeMap<&'static str, Vec<u8>> {
    let mut out = derived(key, chain);
    out.retain(|k, _| wants(spec, k));
    out
}

/// Both additional output formats, as `key` and `chain` make them (`key.der` only when the key
/// is a PEM block).
pub fn derived(key: &[u8], chain: &[u8]) -> BTreeMap<&'static str, Vec<u8>> {
    let mut out = BTreeMap::from([(COMBINED_PEM, [key, b"\n", chain].concat())]);
    if let Ok(block) = pem::parse(key) {
        out.insert(KEY_DER, block.into_contents());
    }
    out
}

/// Whether `spec` asks for the additional output format `k`.
fn wants(spec: &CertificateSpec, k: &str) -> bool {
    spec.additional_output_formats.iter().flatten().any(|f| match f.type_ {
        OutputFormatType::CombinedPEM => k == COMBINED_PEM,
        OutputFormatType::DER => k == KEY_DER,
    })
}

/// Why `secret`'s outputs no longer fit `spec`, in cert-manager's words, when they do not: the
/// Secret is then written again from what it holds (no new certificate).
pub fn mismatch(spec: &CertificateSpec, secret: &SecretFacts) -> Option<&'static str> {
    formats_mismatch(spec, secret).or_else(|| keystores_mismatch(spec, secret))
}

/// The additional output formats differ from what the Secret's key and chain give.
pub fn formats_mismatch(spec: &CertificateSpec, secret: &SecretFacts) -> Option<&'static str> {
    let differ = [COMBINED_PEM, KEY_DER].iter().any(|k| !secret.format_fits(k, wants(spec, k)));
    differ.then_some("Certificate's AdditionalOutputFormats doesn't match Secret Data")
}

/// A keystore asked for is missing, or one not asked for is there. Its content is not
/// compared (it is encrypted with fresh salt each time): only whether it is there.
pub fn keystores_mismatch(spec: &CertificateSpec, secret: &SecretFacts) -> Option<&'static str> {
    let has = |k: &str| secret.has(k);
    let stores = [Store::Pkcs12, Store::Jks];
    if spec.keystores.is_none() && stores.iter().flat_map(|s| s.keys()).any(has) {
        return Some("Keystore is not defined");
    }
    // A truststore is written when `ca.crt` holds a certificate (the writer's own test).
    let issuer_provides_ca = secret.ca_has_certificate;
    for store in stores {
        let [keystore, truststore] = store.keys();
        let present = has(keystore) || has(truststore);
        let why = match store.of(spec) {
            Some(k) if k.create && (!has(keystore) || (issuer_provides_ca && !has(truststore))) => {
                match store {
                    Store::Pkcs12 => "PKCS12 Keystore key does not contain data",
                    Store::Jks => "JKS Keystore key does not contain data",
                }
            }
            Some(k) if !k.create && present => match store {
                Store::Pkcs12 => "PKCS12 Keystore create disabled",
                Store::Jks => "JKS Keystore create disabled",
            },
            None if present => match store {
                Store::Pkcs12 => "PKCS12 Keystore not defined",
                Store::Jks => "JKS Keystore not defined",
            },
            _ => continue,
        };
        return Some(why);
    }
    None
}

/// Adds the additional output formats only (no keystore: no password needed).
pub fn add_formats(secret: &mut Secret, spec: &CertificateSpec) {
    let data = secret.data.get_or_insert_with(BTreeMap::new);
    let field = |k: &str| data.get(k).map(|b| b.0.clone()).unwrap_or_default();
    let out = formats(spec, &field("tls.key"), &field("tls.crt"));
    data.extend(out.into_iter().map(|(k, v)| (k.to_string(), ByteString(v))));
}

/// Keeps the keystores `from` holds for those `spec` asks for: rewriting them would change
/// their bytes (fresh salt, a new timestamp) and wake the Certificate again for nothing.
pub fn carry_keystores(secret: &mut Secret, from: &Secret, spec: &CertificateSpec) {
    let data = secret.data.get_or_insert_with(BTreeMap::new);
    let held = from.data.as_ref();
    for (store, _) in wanted(spec) {
        for key in store.keys() {
            if let Some(bytes) = held.and_then(|d| d.get(key)) {
                data.insert(key.to_string(), bytes.clone());
            }
        }
    }
}

/// The output keys `target` holds that `updated` does not: left by another writer (cert-manager
/// before a switch), so certsmith's apply does not remove them; they are removed by name.
pub fn leftovers(target: &Secret, updated: &Secret) -> Vec<&'static str> {
    let has = |s: &Secret, k: &str| s.data.as_ref().is_some_and(|d| d.contains_key(k));
    let all =
        [COMBINED_PEM, KEY_DER, PKCS12_KEYSTORE, PKCS12_TRUSTSTORE, JKS_KEYSTORE, JKS_TRUSTSTORE];
    all.into_iter().filter(|k| has(target, k) && !has(updated, k)).collect()
}

#[cfg(test)]
#[path = "outputs_tests.rs"]
mod tests;
