//! Account keys certsmith finds in other tools' Secrets (RSA, as cert-manager creates them by
//! default; ECDSA P-256 and P-384), and the JWS they sign. instant-acme signs with P-256 only:
//! these signatures are for the few requests that adopt such an account (look it up, roll its
//! key over to P-256), nothing else.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
    KeyPair as _, RsaKeyPair,
};
use base64::Engine as _;
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A private key an ACME account may be registered with.
pub enum SigningKey {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    P384(EcdsaKeyPair),
}

impl std::fmt::Debug for SigningKey {
    // Never the key itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl SigningKey {
    /// Reads a PEM key as cert-manager and other tools store them: PKCS#1 (`RSA PRIVATE KEY`),
    /// SEC1 (`EC PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`).
    pub fn from_pem(text: &str) -> Result<SigningKey, String> {
        let block = pem::parse(text).map_err(|e| format!("the account key is not PEM: {e}"))?;
        let der = block.contents();
        let ec = |der: &[u8]| {
            EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map(SigningKey::P256)
                .or_else(|_| {
                    EcdsaKeyPair::from_private_key_der(&ECDSA_P384_SHA384_FIXED_SIGNING, der)
                        .map(SigningKey::P384)
                })
        };
        let parsed = match block.tag() {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(der).map(SigningKey::Rsa).ok(),
            "EC PRIVATE KEY" => ec(der).ok(),
            "PRIVATE KEY" => {
                RsaKeyPair::from_pkcs8(der).map(SigningKey::Rsa).or_else(|_| ec(der)).ok()
            }
            other => return Err(format!("the account key is a PEM {other} block, not a key")),
        };
        parsed.ok_or_else(|| {
            "the account key is neither RSA (2048 bits or more) nor ECDSA P-256/P-384".to_string()
        })
    }

    /// A fresh P-256 key, the kind instant-acme signs with, as PKCS#8 DER.
    pub fn generate_p256() -> Result<Vec<u8>, String> {
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map(|d| d.as_ref().to_vec())
            .map_err(|e| format!("generating an account key: {e}"))
    }

    /// `RSA-2048`, `ECDSA P-256`, …: for messages.
    pub fn describe(&self) -> String {
        match self {
            SigningKey::Rsa(k) => format!("RSA-{}", k.public_modulus_len() * 8),
            SigningKey::P256(_) => "ECDSA P-256".into(),
            SigningKey::P384(_) => "ECDSA P-384".into(),
        }
    }

    /// Whether instant-acme can sign with it as it is.
    pub fn is_p256(&self) -> bool {
        matches!(self, SigningKey::P256(_))
    }

    /// The key as PKCS#8 DER, for a P-256 key (what instant-acme takes).
    pub fn p256_pkcs8(&self) -> Option<Vec<u8>> {
        match self {
            SigningKey::P256(k) => k.to_pkcs8v1().ok().map(|d| d.as_ref().to_vec()),
            _ => None,
        }
    }

    pub fn alg(&self) -> &'static str {
        match self {
            SigningKey::Rsa(_) => "RS256",
            SigningKey::P256(_) => "ES256",
            SigningKey::P384(_) => "ES384",
        }
    }

    /// The public key as a JWK (RFC 7517), members in the order RFC 7638 hashes them.
    pub fn jwk(&self) -> Value {
        match self {
            SigningKey::Rsa(k) => {
                let public = k.public_key();
                json!({
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                })
            }
            SigningKey::P256(k) | SigningKey::P384(k) => {
                // An uncompressed point: 0x04 || x || y.
                let point = k.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let crv = if matches!(self, SigningKey::P256(_)) { "P-256" } else { "P-384" };
                json!({
                    "crv": crv,
                    "kty": "EC",
                    "x": b64(&point[1..1 + half]),
                    "y": b64(&point[1 + half..]),
                })
            }
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        let failed =
            |e: aws_lc_rs::error::Unspecified| format!("signing with the account key: {e}");
        match self {
            SigningKey::Rsa(k) => {
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out).map_err(failed)?;
                Ok(out)
            }
            SigningKey::P256(k) | SigningKey::P384(k) => {
                Ok(k.sign(&rng, message).map_err(failed)?.as_ref().to_vec())
            }
        }
    }

    /// A flattened JWS (RFC 7515 §7.2.2) of `payload` (`None`: POST-as-GET's empty payload)
    /// under `header`, to which `alg` is added.
    pub fn jws(&self, mut header: Value, payload: Option<&Value>) -> Result<Value, String> {
        header["alg"] = json!(self.alg());
        let protected = b64(header.to_string().as_bytes());
        let payload = payload.map(|p| b64(p.to_string().as_bytes())).unwrap_or_default();
        let signature = self.sign(format!("{protected}.{payload}").as_bytes())?;
        Ok(json!({"protected": protected, "payload": payload, "signature": b64(&signature)}))
    }
}

/// An External Account Binding (RFC 8555 §7.3.4) of `account_jwk`: HS256 under the CA's key.
pub fn eab(kid: &str, hmac_key: &[u8], url: &str, account_jwk: &Value) -> Value {
    let header = json!({"alg": "HS256", "kid": kid, "url": url});
    let protected = b64(header.to_string().as_bytes());
    let payload = b64(account_jwk.to_string().as_bytes());
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, hmac_key);
    let tag = aws_lc_rs::hmac::sign(&key, format!("{protected}.{payload}").as_bytes());
    json!({"protected": protected, "payload": payload, "signature": b64(tag.as_ref())})
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    #[test]
    fn keys_are_read_in_the_encodings_tools_store_them_in() {
        let p256 = SigningKey::generate_p256().unwrap();
        let pkcs8 = pem::encode(&pem::Pem::new("PRIVATE KEY", p256.clone()));
        let key = SigningKey::from_pem(&pkcs8).unwrap();
        assert_eq!(key.describe(), "ECDSA P-256");
        assert_eq!(key.p256_pkcs8().map(|d| d.len()), Some(p256.len()));
        let p384 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let key = SigningKey::from_pem(&pem::encode(&pem::Pem::new("PRIVATE KEY", p384.as_ref())))
            .unwrap();
        assert_eq!((key.describe().as_str(), key.alg()), ("ECDSA P-384", "ES384"));
        let rsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let key = SigningKey::from_pem(&rsa.serialize_pem()).unwrap();
        assert_eq!((key.describe().as_str(), key.alg()), ("RSA-2048", "RS256"));
        assert_eq!(key.jwk()["e"], "AQAB");
        for bad in ["", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
            assert!(SigningKey::from_pem(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_jws_verifies_under_its_jwk() {
        let der = SigningKey::generate_p256().unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        let key = SigningKey::P256(pair);
        let jws = key.jws(json!({"url": "https://ca/x"}), Some(&json!({"a": 1}))).unwrap();
        let text = |k: &str| jws[k].as_str().unwrap().to_string();
        let signed = format!("{}.{}", text("protected"), text("payload"));
        let signature =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text("signature")).unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .verify(signed.as_bytes(), &signature)
            .unwrap();
        let header =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text("protected")).unwrap();
        let header: Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(key.jwk()["kty"], "EC");
    }
}
