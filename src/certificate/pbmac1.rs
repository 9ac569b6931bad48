//! The Secret step's PKCS#12 `Modern2026` integrity check: a PBMAC1 MAC (RFC 9579) in place
//! of the password-based HMAC of older profiles. No maintained Rust PKCS#12 crate writes PBMAC1
//! yet, so the file is written as `Modern2023` (the same PBES2/AES-256-CBC encryption) and its
//! MacData replaced here; the DER is assembled with yasna, the MAC with aws-lc-rs.

use aws_lc_rs::{hmac, pbkdf2, rand::SecureRandom};
use std::num::NonZeroU32;
use yasna::models::ObjectIdentifier;

/// go-pkcs12's Modern2026 parameters (cert-manager's library): 2048 PBKDF2 iterations, a
/// 16-byte salt, a 32-byte HMAC-SHA256 key.
const ITERATIONS: u32 = 2048;
const SALT_LEN: usize = 16;
const KEY_LEN: usize = 32;

const OID_PBMAC1: &[u64] = &[1, 2, 840, 113549, 1, 5, 14];
const OID_PBKDF2: &[u64] = &[1, 2, 840, 113549, 1, 5, 12];
const OID_HMAC_SHA256: &[u64] = &[1, 2, 840, 113549, 2, 9];
const OID_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 1];

/// `pfx` (a PFX with any MacData) with its MacData replaced by a PBMAC1 one over the same
/// authenticated safe, keyed by `password` as UTF-8 (RFC 9579 §4; not the BMPString of the
/// legacy key derivation).
pub fn remac(pfx: &[u8], password: &str) -> Result<Vec<u8>, String> {
    let mut salt = [0u8; SALT_LEN];
    aws_lc_rs::rand::SystemRandom::new().fill(&mut salt).map_err(|_| "no randomness")?;
    remac_with_salt(pfx, password, &salt)
}

fn remac_with_salt(pfx: &[u8], password: &str, salt: &[u8]) -> Result<Vec<u8>, String> {
    let (version, auth_safe) = split(pfx).map_err(|e| format!("reading the PKCS#12 file: {e}"))?;
    let content = data_content(&auth_safe).map_err(|e| format!("reading its authSafe: {e}"))?;
    let digest = mac(&content, password, salt);
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u64(version);
            w.next().write_der(&auth_safe);
            // MacData: the PBMAC1 DigestInfo; macSalt empty (as go-pkcs12 writes it) and
            // iterations left at their DEFAULT 1 (go-pkcs12 writes 0, RFC 9579's examples 1):
            // PBMAC1 readers ignore both, its parameters carry the salt and the count.
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&oid(OID_PBMAC1));
                        w.next().write_der(&pbmac1_params(salt));
                    });
                    w.next().write_bytes(&digest);
                });
                w.next().write_bytes(&[]);
            });
        })
    }))
}

/// The MAC: HMAC-SHA256 of `content` under PBKDF2-HMAC-SHA256(password, salt, 2048, 32).
fn mac(content: &[u8], password: &str, salt: &[u8]) -> Vec<u8> {
    let mut key = [0u8; KEY_LEN];
    let iterations = NonZeroU32::new(ITERATIONS).expect("non-zero");
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, password.as_bytes(), &mut key);
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    hmac::sign(&key, content).as_ref().to_vec()
}

/// PBMAC1-params: PBKDF2 (salt, iterations, keyLength, PRF hmacWithSHA256) and HMAC-SHA256.
/// keyLength is required by RFC 9579 §3 even where PBES2 leaves it out.
fn pbmac1_params(salt: &[u8]) -> Vec<u8> {
    let hmac_sha256 = |w: yasna::DERWriter| {
        w.write_sequence(|w| {
            w.next().write_oid(&oid(OID_HMAC_SHA256));
            w.next().write_null();
        })
    };
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid(OID_PBKDF2));
                w.next().write_sequence(|w| {
                    w.next().write_bytes(salt);
                    w.next().write_u32(ITERATIONS);
                    w.next().write_u32(KEY_LEN as u32);
                    hmac_sha256(w.next());
                });
            });
            hmac_sha256(w.next());
        })
    })
}

/// The PFX's version and its authSafe ContentInfo, as DER.
fn split(pfx: &[u8]) -> Result<(u64, Vec<u8>), yasna::ASN1Error> {
    yasna::parse_der(pfx, |r| {
        r.read_sequence(|r| {
            let version = r.next().read_u64()?;
            let auth_safe = r.next().read_der()?;
            r.read_optional(|r| r.read_der())?;
            Ok((version, auth_safe))
        })
    })
}

/// The octets of a `data` ContentInfo: the DER AuthenticatedSafe the MAC covers. A password
/// MAC is over `data` only (a public-key-signed PFX has none to replace).
fn data_content(content_info: &[u8]) -> Result<Vec<u8>, yasna::ASN1Error> {
    yasna::parse_der(content_info, |r| {
        r.read_sequence(|r| {
            if r.next().read_oid()? != oid(OID_DATA) {
                return Err(yasna::ASN1Error::new(yasna::ASN1ErrorKind::Invalid));
            }
            r.next().read_tagged(yasna::Tag::context(0), |r| r.read_bytes())
        })
    })
}

fn oid(arcs: &[u64]) -> ObjectIdentifier {
    ObjectIdentifier::from_slice(arcs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PFX with a legacy MAC, as p12-keystore writes Modern2023.
    fn modern2023() -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let mut store = p12_keystore::KeyStore::new();
        let chain = p12_keystore::PrivateKeyChain::new(
            vec![1u8; 20],
            p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
            [p12_keystore::Certificate::from_der(cert.der()).unwrap()],
        );
        store.add_entry("certificate", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        store.writer("pw").write().unwrap()
    }

    #[test]
    fn the_mac_data_is_pbmac1_over_the_unchanged_auth_safe() {
        let before = modern2023();
        let salt = [7u8; SALT_LEN];
        let after = remac_with_salt(&before, "pw", &salt).unwrap();
        let (v0, safe0) = split(&before).unwrap();
        let (v1, safe1) = split(&after).unwrap();
        assert_eq!((v0, &safe0), (v1, &safe1), "version and content kept byte for byte");
        // Read the MacData back field by field.
        let (alg, params, digest, mac_salt) = yasna::parse_der(&after, |r| {
            r.read_sequence(|r| {
                r.next().read_u64()?;
                r.next().read_der()?;
                r.next().read_sequence(|r| {
                    let (alg, params, digest) = r.next().read_sequence(|r| {
                        let (alg, params) = r
                            .next()
                            .read_sequence(|r| Ok((r.next().read_oid()?, r.next().read_der()?)))?;
                        Ok((alg, params, r.next().read_bytes()?))
                    })?;
                    let mac_salt = r.next().read_bytes()?;
                    Ok((alg, params, digest, mac_salt))
                })
            })
        })
        .unwrap();
        assert_eq!(alg, oid(OID_PBMAC1));
        assert!(mac_salt.is_empty());
        // PBKDF2 parameters as RFC 9579 wants them: salt, count, keyLength, PRF.
        let (kdf, salt_read, count, len, prf, scheme) = yasna::parse_der(&params, |r| {
            r.read_sequence(|r| {
                let (kdf, salt, count, len, prf) = r.next().read_sequence(|r| {
                    let kdf = r.next().read_oid()?;
                    r.next().read_sequence(|r| {
                        let salt = r.next().read_bytes()?;
                        let count = r.next().read_u32()?;
                        let len = r.next().read_u32()?;
                        let prf = r.next().read_sequence(|r| {
                            let o = r.next().read_oid()?;
                            r.next().read_null()?;
                            Ok(o)
                        })?;
                        Ok((kdf, salt, count, len, prf))
                    })
                })?;
                let scheme = r.next().read_sequence(|r| {
                    let o = r.next().read_oid()?;
                    r.next().read_null()?;
                    Ok(o)
                })?;
                Ok((kdf, salt, count, len, prf, scheme))
            })
        })
        .unwrap();
        assert_eq!(kdf, oid(OID_PBKDF2));
        assert_eq!((salt_read.as_slice(), count, len), (&salt[..], 2048, 32));
        assert_eq!((prf, scheme), (oid(OID_HMAC_SHA256), oid(OID_HMAC_SHA256)));
        // The digest: HMAC-SHA256 over the AuthenticatedSafe octets under the PBKDF2 key,
        // computed here from first principles (an independent PBKDF2 and HMAC).
        let content = data_content(&safe1).unwrap();
        let mut key = [0u8; 32];
        let n = NonZeroU32::new(2048).unwrap();
        pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, n, &salt, b"pw", &mut key);
        let k = hmac::Key::new(hmac::HMAC_SHA256, &key);
        assert!(hmac::verify(&k, &content, &digest).is_ok());
        assert!(hmac::verify(&k, b"other", &digest).is_err());
    }

    #[test]
    fn a_file_that_is_not_pkcs12_is_refused() {
        assert!(remac(b"not DER", "pw").is_err());
    }
}
