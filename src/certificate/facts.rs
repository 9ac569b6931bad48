//! The Secret step's cache: of each TLS Secret certsmith watches, the facts the Certificate's
//! policies read (its metadata, the key pair's verdict, the leaf's dates and names, which
//! outputs it holds), never its data. The data is read from the API only where it is written
//! again (a kept Secret rewritten, a key reused under `rotationPolicy: Never`).
//!
//! At 10,000 Certificates a cached Secret was 5 KB, most of it the certificate chain, the key
//! and the CA, which no reconcile reads while the certificate is up to date. The facts are
//! taken once, as the Secret arrives from the watch, where the policies took them from the
//! whole Secret at every reconcile.

use crate::pki::PkiError;
use crate::pki::inspect::{Issued, parse_chain};
use crate::pki::key::{KeySpec, parse_pem};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Why a Secret's key pair cannot be used: cert-manager's reason and message.
pub type Why = (&'static str, String);

/// What is cached of a Secret. It is read from the API as a Secret (it deserializes from one),
/// so a watch or a GET of `Api<SecretFacts>` reads Secrets and keeps only this.
#[derive(Clone, Debug)]
pub struct SecretFacts {
    /// The Secret's metadata, without managed fields and `kubectl apply`'s copy of the object.
    pub metadata: ObjectMeta,
    pub type_: Option<String>,
    /// Each data key, with its value's length and a hash of it: which outputs are there, and
    /// whether they hold what they should, without their bytes.
    pub data: BTreeMap<String, Digest>,
    /// What `tls.crt` says, when it can be read (whatever the key): its chain's last PEM
    /// (`Issued::last_in_chain`) left out, as only a write of the Secret needs it, and a write
    /// reads the Secret.
    pub issued: Option<Issued>,
    /// The key and certificate, read and checked to belong together: the key's type and size;
    /// or why they cannot be used (cert-manager's first issuance policies).
    pub pair: Result<Option<KeySpec>, Why>,
    /// The ARI identifier of the leaf (RFC 9773), when `tls.crt` has one.
    pub ari_id: Option<String>,
    /// The additional output formats `tls.key` and `tls.crt` make, as digests.
    pub derived: BTreeMap<&'static str, Digest>,
    /// Whether `ca.crt` holds a certificate (a truststore is then written with a keystore).
    pub ca_has_certificate: bool,
}

/// A data value's length and hash (the process's own hasher: compared within one process).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest {
    pub len: usize,
    pub hash: u64,
}

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        Digest { len: bytes.len(), hash: h.finish() }
    }
}

impl From<Secret> for SecretFacts {
    fn from(secret: Secret) -> SecretFacts {
        let field = |k: &str| crate::certificate::secret::text(&secret, k);
        let bytes = |k: &str| {
            secret.data.as_ref().and_then(|d| d.get(k)).map(|b| b.0.as_slice()).unwrap_or_default()
        };
        // The chain is read once: for the verdict and for what it says.
        let chain = field("tls.crt").map(|c| parse_chain(&c));
        let pair = verdict(chain.as_ref(), field("tls.key"));
        let mut issued = chain.and_then(Result::ok);
        if let Some(issued) = issued.as_mut() {
            issued.last_in_chain = String::new();
        }
        let ari_id = crate::certificate::ari::leaf_id(bytes("tls.crt")).map(|id| id.to_string());
        let formats = crate::certificate::outputs::derived(bytes("tls.key"), bytes("tls.crt"));
        let derived = formats.iter().map(|(k, v)| (*k, Digest::of(v))).collect();
        let ca_has_certificate = pem::parse_many(bytes("ca.crt"))
            .is_ok_and(|b| b.iter().any(|b| b.tag() == "CERTIFICATE"));
        let data = secret.data.iter().flatten().map(|(k, v)| (k.clone(), Digest::of(&v.0)));
        let mut metadata = secret.metadata;
        metadata.managed_fields = None;
        if let Some(annotations) = metadata.annotations.as_mut() {
            annotations.remove(crate::watches::LAST_APPLIED);
        }
        SecretFacts {
            metadata,
            type_: secret.type_,
            data: data.collect(),
            issued,
            pair,
            ari_id,
            derived,
            ca_has_certificate,
        }
    }
}

impl<'de> serde::Deserialize<'de> for SecretFacts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Secret::deserialize(d).map(SecretFacts::from)
    }
}

impl kube::Resource for SecretFacts {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Secret::kind(&())
    }
    fn group(_: &()) -> Cow<'_, str> {
        Secret::group(&())
    }
    fn version(_: &()) -> Cow<'_, str> {
        Secret::version(&())
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Secret::plural(&())
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl SecretFacts {
    /// Whether the data key `k` is there and not empty.
    pub fn has(&self, k: &str) -> bool {
        self.data.get(k).is_some_and(|d| d.len > 0)
    }

    /// What the certificate says, when it can be read.
    pub fn issued(&self) -> Option<&Issued> {
        self.issued.as_ref()
    }

    /// Whether the additional output format `k` holds what the key and chain make.
    pub fn format_fits(&self, k: &str, wanted: bool) -> bool {
        let want = if wanted { self.derived.get(k) } else { None };
        want == self.data.get(k)
    }
}

/// The key pair's verdict from `tls.crt` (as read) and `tls.key`, in cert-manager's words.
fn verdict(
    chain: Option<&Result<Issued, PkiError>>,
    key: Option<String>,
) -> Result<Option<KeySpec>, Why> {
    let (Some(chain), Some(key)) = (chain, key) else {
        let message =
            "Issuing certificate as Secret does not contain a certificate and private key";
        return Err(("MissingData", message.into()));
    };
    let key = parse_pem(&key).map_err(|e| {
        let message = format!("Issuing certificate as Secret contains an invalid private key: {e}");
        ("InvalidKeyPair", message)
    })?;
    let issued = chain.as_ref().map_err(|e| {
        let message = format!("Issuing certificate as Secret contains an invalid certificate: {e}");
        ("InvalidCertificate", message)
    })?;
    if !issued.matches_key(&key) {
        let message = "Issuing certificate as Secret contains a private key that does not match the certificate";
        return Err(("InvalidKeyPair", message.into()));
    }
    Ok(KeySpec::of(&key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    #[test]
    fn facts_keep_no_data_and_say_what_the_policies_read() {
        let key = KeySpec::Ecdsa(256).generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["a.example".into()]).unwrap();
        let leaf = params.self_signed(&key).unwrap();
        let key_pem = key.serialize_pem();
        let mut annotations = BTreeMap::from([(
            "kubectl.kubernetes.io/last-applied-configuration".to_string(),
            "{\"data\":{\"tls.key\":\"...\"}}".to_string(),
        )]);
        annotations.insert("cert-manager.io/certificate-name".into(), "web".into());
        let data = [("tls.crt", leaf.pem()), ("tls.key", key_pem.clone()), ("ca.crt", leaf.pem())];
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("web-tls".into()),
                annotations: Some(annotations),
                ..Default::default()
            },
            data: Some(data.map(|(k, v)| (k.to_string(), ByteString(v.into_bytes()))).into()),
            ..Default::default()
        };
        let facts = SecretFacts::from(secret.clone());
        assert_eq!(facts.pair, Ok(Some(KeySpec::Ecdsa(256))));
        let issued = facts.issued().unwrap();
        assert_eq!(issued.dns_names, ["a.example"]);
        assert!(issued.last_in_chain.is_empty(), "no PEM kept");
        assert!(facts.ca_has_certificate && facts.has("tls.key") && !facts.has("key.der"));
        let kept = facts.metadata.annotations.as_ref().unwrap();
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["cert-manager.io/certificate-name"]);
        // Nothing of the key is kept in any form that shows it.
        assert!(!format!("{facts:?}").contains(&key_pem[30..60]));

        // A key that is not the certificate's, and a Secret without data: cert-manager's words.
        let other = KeySpec::Ecdsa(256).generate().unwrap().serialize_pem();
        let mut mismatched = secret.clone();
        let data = mismatched.data.as_mut().unwrap();
        data.insert("tls.key".into(), ByteString(other.into_bytes()));
        let mismatched = SecretFacts::from(mismatched);
        assert_eq!(mismatched.pair.clone().unwrap_err().0, "InvalidKeyPair");
        // The certificate is still read: the status and the Secret can still be compared.
        assert!(mismatched.issued().is_some());
        let mut empty = secret;
        empty.data = None;
        assert_eq!(SecretFacts::from(empty).pair.unwrap_err().0, "MissingData");
    }
}
