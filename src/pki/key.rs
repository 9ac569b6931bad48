//! Private keys: what the spec asks for, generated or read back from a Secret, and PEM out.

use super::PkiError;
use crate::api::CertificateSpec;
use crate::api::certificate::{PrivateKeyAlgorithm, PrivateKeyEncoding};
use rcgen::{KeyPair, PublicKeyData, RsaKeySize, SignatureAlgorithm};
use x509_parser::der_parser::ber::BerObjectContent;
use x509_parser::prelude::FromDer;

/// The key a Certificate asks for; cert-manager's defaults are RSA 2048 and ECDSA P-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    Rsa(u32),
    Ecdsa(u32),
    Ed25519,
}

impl KeySpec {
    pub fn from_spec(spec: &CertificateSpec) -> Result<KeySpec, PkiError> {
        let pk = spec.private_key.as_ref();
        let size = pk.and_then(|k| k.size).filter(|s| *s > 0);
        let spec = match pk.and_then(|k| k.algorithm).unwrap_or(PrivateKeyAlgorithm::RSA) {
            PrivateKeyAlgorithm::RSA => KeySpec::Rsa(size.unwrap_or(2048) as u32),
            PrivateKeyAlgorithm::ECDSA => KeySpec::Ecdsa(size.unwrap_or(256) as u32),
            PrivateKeyAlgorithm::Ed25519 => KeySpec::Ed25519,
        };
        spec.signature_algorithm().map(|_| spec)
    }

    /// The signature algorithm cert-manager signs with for such a key when none is asked for
    /// (its signatureAlgorithmFromPublicKey): RSA by size (SHA-512 from 4096 bits, SHA-384 from
    /// 3072, else SHA-256), ECDSA by curve, Ed25519. Errs for a size certsmith does not make.
    pub fn signature_algorithm(self) -> Result<&'static SignatureAlgorithm, PkiError> {
        match self {
            KeySpec::Rsa(2048) => Ok(&rcgen::PKCS_RSA_SHA256),
            KeySpec::Rsa(3072) => Ok(&rcgen::PKCS_RSA_SHA384),
            KeySpec::Rsa(4096) => Ok(&rcgen::PKCS_RSA_SHA512),
            KeySpec::Ecdsa(256) => Ok(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeySpec::Ecdsa(384) => Ok(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeySpec::Ecdsa(521) => Ok(&rcgen::PKCS_ECDSA_P521_SHA512),
            KeySpec::Ed25519 => Ok(&rcgen::PKCS_ED25519),
            KeySpec::Rsa(n) => Err(PkiError::Unsupported(format!(
                "spec.privateKey.size {n}: certsmith makes RSA keys of 2048, 3072 or 4096 bits"
            ))),
            KeySpec::Ecdsa(n) => Err(PkiError::Unsupported(format!(
                "spec.privateKey.size {n}: ECDSA keys are 256, 384 or 521 bits"
            ))),
        }
    }

    /// The algorithm `asked` (cert-manager's name) for a key of this spec, if certsmith can
    /// sign with it: SHA-256/384/512 with any RSA key; with ECDSA, the curve's own digest (and
    /// SHA-256 or SHA-384 with P-521 too), as rcgen signs.
    pub fn algorithm_named(
        self,
        asked: crate::api::certificate::SignatureAlgorithm,
    ) -> Result<&'static SignatureAlgorithm, String> {
        use crate::api::certificate::SignatureAlgorithm::*;
        match (self, asked) {
            (KeySpec::Rsa(_), SHA256WithRSA) => Ok(&rcgen::PKCS_RSA_SHA256),
            (KeySpec::Rsa(_), SHA384WithRSA) => Ok(&rcgen::PKCS_RSA_SHA384),
            (KeySpec::Rsa(_), SHA512WithRSA) => Ok(&rcgen::PKCS_RSA_SHA512),
            (KeySpec::Ecdsa(256), ECDSAWithSHA256) => Ok(&rcgen::PKCS_ECDSA_P256_SHA256),
            (KeySpec::Ecdsa(384), ECDSAWithSHA384) => Ok(&rcgen::PKCS_ECDSA_P384_SHA384),
            (KeySpec::Ecdsa(521), ECDSAWithSHA256) => Ok(&rcgen::PKCS_ECDSA_P521_SHA256),
            (KeySpec::Ecdsa(521), ECDSAWithSHA384) => Ok(&rcgen::PKCS_ECDSA_P521_SHA384),
            (KeySpec::Ecdsa(521), ECDSAWithSHA512) => Ok(&rcgen::PKCS_ECDSA_P521_SHA512),
            (KeySpec::Ed25519, PureEd25519) => Ok(&rcgen::PKCS_ED25519),
            (KeySpec::Ecdsa(bits), ECDSAWithSHA256 | ECDSAWithSHA384 | ECDSAWithSHA512) => {
                Err(format!(
                    "spec.signatureAlgorithm {asked:?} with an ECDSA P-{bits} key is not supported \
                     by certsmith: it signs P-{bits} with {:?}",
                    self.signature_algorithm_name()
                ))
            }
            _ => Err(format!(
                "spec.signatureAlgorithm {asked:?} does not fit the private key ({})",
                self.describe()
            )),
        }
    }

    fn describe(self) -> String {
        match self {
            KeySpec::Rsa(n) => format!("RSA {n}"),
            KeySpec::Ecdsa(n) => format!("ECDSA P-{n}"),
            KeySpec::Ed25519 => "Ed25519".into(),
        }
    }

    /// That default algorithm as cert-manager's `signatureAlgorithm` names it.
    pub fn signature_algorithm_name(self) -> crate::api::certificate::SignatureAlgorithm {
        use crate::api::certificate::SignatureAlgorithm::*;
        match self {
            KeySpec::Rsa(4096..) => SHA512WithRSA,
            KeySpec::Rsa(3072..) => SHA384WithRSA,
            KeySpec::Rsa(_) => SHA256WithRSA,
            KeySpec::Ecdsa(384) => ECDSAWithSHA384,
            KeySpec::Ecdsa(521) => ECDSAWithSHA512,
            KeySpec::Ecdsa(_) => ECDSAWithSHA256,
            KeySpec::Ed25519 => PureEd25519,
        }
    }

    pub fn generate(self) -> Result<KeyPair, PkiError> {
        let alg = self.signature_algorithm()?;
        let key = match self {
            KeySpec::Rsa(bits) => {
                let size = match bits {
                    2048 => RsaKeySize::_2048,
                    3072 => RsaKeySize::_3072,
                    _ => RsaKeySize::_4096,
                };
                KeyPair::generate_rsa_for(alg, size)
            }
            _ => KeyPair::generate_for(alg),
        };
        key.map_err(PkiError::Generate)
    }

    /// The spec of an existing key, to notice a key that no longer fits the Certificate.
    pub fn of(key: &KeyPair) -> Option<KeySpec> {
        let alg = key.algorithm();
        if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
            Some(KeySpec::Ecdsa(256))
        } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
            Some(KeySpec::Ecdsa(384))
        } else if alg == &rcgen::PKCS_ECDSA_P521_SHA512 {
            Some(KeySpec::Ecdsa(521))
        } else if alg == &rcgen::PKCS_ED25519 {
            Some(KeySpec::Ed25519)
        } else if alg == &rcgen::PKCS_ECDSA_P521_SHA256 || alg == &rcgen::PKCS_ECDSA_P521_SHA384 {
            Some(KeySpec::Ecdsa(521))
        } else if [&rcgen::PKCS_RSA_SHA256, &rcgen::PKCS_RSA_SHA384, &rcgen::PKCS_RSA_SHA512]
            .contains(&alg)
        {
            rsa_bits(key).map(KeySpec::Rsa)
        } else {
            None
        }
    }
}

/// `key`, signing with `alg` (rcgen ties a pair to one algorithm).
pub fn signing_with(key: &KeyPair, alg: &'static SignatureAlgorithm) -> Result<KeyPair, PkiError> {
    let der = key.serialize_der();
    KeyPair::from_pkcs8_der_and_sign_algo(&der.as_slice().into(), alg).map_err(PkiError::ParseKey)
}

/// `key`, signing as cert-manager's CA and SelfSigned signers do: with the default algorithm
/// of its own type and size (see [`KeySpec::signature_algorithm`]).
pub fn signing_by_default(key: &KeyPair) -> Result<KeyPair, PkiError> {
    let spec = KeySpec::of(key)
        .ok_or_else(|| PkiError::Unsupported("a signing key of an unknown type".into()))?;
    signing_with(key, spec.signature_algorithm()?)
}

/// Reads a PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC). The pair always holds the key
/// as PKCS#8 (rcgen keeps a PKCS#1 or SEC1 key's DER as given, and what is written from it, a
/// keystore or another encoding, wants PKCS#8).
pub fn parse_pem(pem_text: &str) -> Result<KeyPair, PkiError> {
    let key = KeyPair::from_pem(pem_text).map_err(PkiError::ParseKey)?;
    let tag = pem::parse(pem_text).map(|b| b.tag().to_string()).unwrap_or_default();
    if tag != "RSA PRIVATE KEY" && tag != "EC PRIVATE KEY" {
        return Ok(key);
    }
    let pkcs8 = pkcs8_of(&key, &key.serialize_der())?;
    KeyPair::try_from(pkcs8.as_slice()).map_err(PkiError::ParseKey)
}

/// The PKCS#8 form of `der`, the PKCS#1 (RSA) or SEC1 (EC) encoding of `key`.
fn pkcs8_of(key: &KeyPair, der: &[u8]) -> Result<Vec<u8>, PkiError> {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
        ECDSA_P521_SHA512_ASN1_SIGNING, EcdsaKeyPair,
    };
    let failed =
        |e: &dyn std::fmt::Display| PkiError::Unsupported(format!("re-encoding the key: {e}"));
    let alg = key.algorithm();
    let ec = if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        Some(&ECDSA_P256_SHA256_ASN1_SIGNING)
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        Some(&ECDSA_P384_SHA384_ASN1_SIGNING)
    } else if alg == &rcgen::PKCS_ECDSA_P521_SHA512 {
        Some(&ECDSA_P521_SHA512_ASN1_SIGNING)
    } else {
        None
    };
    let pkcs8 = match ec {
        Some(alg) => {
            let pair = EcdsaKeyPair::from_private_key_der(alg, der).map_err(|e| failed(&e))?;
            pair.to_pkcs8v1().map_err(|e| failed(&e))?.as_ref().to_vec()
        }
        None => {
            let pair = aws_lc_rs::rsa::KeyPair::from_der(der).map_err(|e| failed(&e))?;
            let encoded: Pkcs8V1Der = pair.as_der().map_err(|e| failed(&e))?;
            encoded.as_ref().to_vec()
        }
    };
    Ok(pkcs8)
}

/// The key as PEM in the requested encoding: PKCS#8 (`PRIVATE KEY`), or PKCS#1 for RSA
/// (`RSA PRIVATE KEY`) and SEC1 for EC (`EC PRIVATE KEY`) as cert-manager writes `PKCS1`, its
/// default.
pub fn to_pem(key: &KeyPair, encoding: Option<PrivateKeyEncoding>) -> Result<String, PkiError> {
    if encoding == Some(PrivateKeyEncoding::PKCS8) {
        return Ok(key.serialize_pem());
    }
    let pkcs8 = key.serialize_der();
    match KeySpec::of(key) {
        // PKCS#8 wraps the PKCS#1 RSAPrivateKey in its privateKey OCTET STRING.
        Some(KeySpec::Rsa(_)) => {
            let inner = pkcs8_private_key(&pkcs8).ok_or_else(|| {
                PkiError::Unsupported("could not unwrap the RSA key from PKCS#8".into())
            })?;
            Ok(pem("RSA PRIVATE KEY", &inner))
        }
        Some(KeySpec::Ecdsa(bits)) => {
            use aws_lc_rs::encoding::AsDer;
            use aws_lc_rs::signature::{
                ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
                ECDSA_P521_SHA512_ASN1_SIGNING, EcdsaKeyPair,
            };
            let alg = match bits {
                256 => &ECDSA_P256_SHA256_ASN1_SIGNING,
                384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
                _ => &ECDSA_P521_SHA512_ASN1_SIGNING,
            };
            let ec = EcdsaKeyPair::from_pkcs8(alg, &pkcs8)
                .map_err(|e| PkiError::Unsupported(format!("reading the EC key: {e}")))?;
            let sec1 = ec
                .private_key()
                .as_der()
                .map_err(|e| PkiError::Unsupported(format!("encoding the EC key: {e}")))?;
            Ok(pem("EC PRIVATE KEY", sec1.as_ref()))
        }
        // Ed25519 has no PKCS#1 form; cert-manager writes PKCS#8 for it too.
        _ => Ok(key.serialize_pem()),
    }
}

fn pem(tag: &str, der: &[u8]) -> String {
    super::pem_text(&pem::Pem::new(tag, der))
}

/// The privateKey OCTET STRING of a PKCS#8 PrivateKeyInfo.
fn pkcs8_private_key(pkcs8: &[u8]) -> Option<Vec<u8>> {
    let (_, info) = x509_parser::der_parser::parse_der(pkcs8).ok()?;
    let items = info.as_sequence().ok()?;
    match &items.get(2)?.content {
        BerObjectContent::OctetString(bytes) => Some(bytes.to_vec()),
        _ => None,
    }
}

/// The modulus size of an RSA key, read from its public key.
fn rsa_bits(key: &KeyPair) -> Option<u32> {
    let spki = key.subject_public_key_info();
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki).ok()?;
    match spki.parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => Some(rsa.key_size() as u32),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_asked_spec_and_round_trip_through_pem() {
        for spec in [KeySpec::Rsa(2048), KeySpec::Ecdsa(256), KeySpec::Ecdsa(384), KeySpec::Ed25519]
        {
            let key = spec.generate().unwrap();
            assert_eq!(KeySpec::of(&key), Some(spec));
            for enc in [None, Some(PrivateKeyEncoding::PKCS1), Some(PrivateKeyEncoding::PKCS8)] {
                let pem = to_pem(&key, enc).unwrap();
                let back = parse_pem(&pem).unwrap();
                assert_eq!(
                    back.subject_public_key_info(),
                    key.subject_public_key_info(),
                    "{spec:?} {enc:?}"
                );
                // A key read back from any encoding is written again in any (a Secret's
                // PKCS#1 key reused under rotationPolicy: Never; keystores want PKCS#8).
                assert_eq!(back.serialize_der(), key.serialize_der(), "PKCS#8 inside");
                for again in [PrivateKeyEncoding::PKCS1, PrivateKeyEncoding::PKCS8] {
                    assert_eq!(
                        to_pem(&back, Some(again)).unwrap(),
                        to_pem(&key, Some(again)).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn pkcs1_headers() {
        let rsa = KeySpec::Rsa(2048).generate().unwrap();
        assert!(
            to_pem(&rsa, Some(PrivateKeyEncoding::PKCS1))
                .unwrap()
                .starts_with("-----BEGIN RSA PRIVATE KEY-----")
        );
        assert!(
            to_pem(&rsa, None).unwrap().starts_with("-----BEGIN RSA PRIVATE KEY-----"),
            "PKCS#1 is cert-manager's default"
        );
        let ec = KeySpec::Ecdsa(256).generate().unwrap();
        assert!(
            to_pem(&ec, Some(PrivateKeyEncoding::PKCS1))
                .unwrap()
                .starts_with("-----BEGIN EC PRIVATE KEY-----")
        );
        assert!(
            to_pem(&ec, Some(PrivateKeyEncoding::PKCS8))
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
    }

    #[test]
    fn signature_algorithms_by_key_and_by_name() {
        use crate::api::certificate::SignatureAlgorithm::*;
        let defaults = [
            (KeySpec::Rsa(2048), &rcgen::PKCS_RSA_SHA256),
            (KeySpec::Rsa(3072), &rcgen::PKCS_RSA_SHA384),
            (KeySpec::Rsa(4096), &rcgen::PKCS_RSA_SHA512),
            (KeySpec::Ecdsa(384), &rcgen::PKCS_ECDSA_P384_SHA384),
            (KeySpec::Ed25519, &rcgen::PKCS_ED25519),
        ];
        for (key, want) in defaults {
            assert_eq!(key.signature_algorithm().unwrap(), want, "{key:?}");
        }
        let named = [
            (KeySpec::Rsa(2048), SHA512WithRSA, Ok(&rcgen::PKCS_RSA_SHA512)),
            (KeySpec::Ecdsa(521), ECDSAWithSHA256, Ok(&rcgen::PKCS_ECDSA_P521_SHA256)),
            (
                KeySpec::Ecdsa(256),
                ECDSAWithSHA384,
                Err(
                    "spec.signatureAlgorithm ECDSAWithSHA384 with an ECDSA P-256 key is not supported by certsmith: it signs P-256 with ECDSAWithSHA256",
                ),
            ),
            (
                KeySpec::Ed25519,
                SHA256WithRSA,
                Err("spec.signatureAlgorithm SHA256WithRSA does not fit the private key (Ed25519)"),
            ),
        ];
        for (key, asked, want) in named {
            assert_eq!(
                key.algorithm_named(asked),
                want.map_err(str::to_string),
                "{key:?} {asked:?}"
            );
        }
    }

    #[test]
    fn unsupported_sizes_are_named() {
        let err = KeySpec::Rsa(2500).signature_algorithm().unwrap_err().to_string();
        assert_eq!(
            err,
            "spec.privateKey.size 2500: certsmith makes RSA keys of 2048, 3072 or 4096 bits"
        );
    }
}
