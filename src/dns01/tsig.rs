//! TSIG (RFC 8945) keys: signing RFC 2136 updates, and the MACs the answers are checked with
//! (the check itself is in `verify`). hickory computes the SHA-2 HMACs; the legacy HMAC-MD5
//! (cert-manager's default) and HMAC-SHA1, which hickory does not, are computed here.

use super::Error;
use hickory_proto::ProtoError;
use hickory_proto::dnssec::rdata::tsig::{TSIG, TsigAlgorithm, make_tsig_record, message_tbs};
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::Message;
use hickory_proto::rr::Name;

/// How far the server's clock may be from ours, as cert-manager (and BIND's tools) allow.
pub const FUDGE: u16 = 300;

/// A TSIG key: its name, its algorithm and the secret.
pub struct Key {
    /// Fully qualified: the name is compared with the one the answer is signed with.
    pub(super) name: Name,
    /// The algorithm as written in the TSIG record.
    pub(super) algorithm: TsigAlgorithm,
    pub(super) hmac: Hmac,
}

pub(super) enum Hmac {
    /// HMAC-SHA256, -SHA384, -SHA512: hickory signs and checks these.
    Hickory(TSigner),
    Md5(Vec<u8>),
    Sha1(Vec<u8>),
}

impl Key {
    /// The key for `algorithm` (cert-manager's names; HMACMD5 when unset), key `name` and the
    /// base64 `secret`.
    pub fn new(algorithm: Option<&str>, name: &str, secret: &str) -> Result<Key, Error> {
        use base64::Engine as _;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret.trim())
            .map_err(|e| Error::Secret(format!("the TSIG secret is not base64: {e}")))?;
        let mut name = Name::from_ascii(name)
            .map_err(|e| Error::Config(format!("tsigKeyName {name:?}: {e}")))?;
        name.set_fqdn(true);
        let written = algorithm.filter(|a| !a.is_empty()).unwrap_or("HMACMD5");
        // The legacy names in canonical (lower-case) form, as the MAC covers them (RFC 8945
        // §4.3.3); hickory's own name for HMAC-MD5 is upper-case.
        let legacy = |n: &str| TsigAlgorithm::Unknown(Name::from_ascii(n).expect("a valid name"));
        let (algorithm, hmac) = match written.to_ascii_uppercase().as_str() {
            "HMACMD5" => (legacy("hmac-md5.sig-alg.reg.int."), Hmac::Md5(secret)),
            "HMACSHA1" => (legacy("hmac-sha1."), Hmac::Sha1(secret)),
            sha2 @ ("HMACSHA256" | "HMACSHA384" | "HMACSHA512") => {
                let algorithm = match sha2 {
                    "HMACSHA256" => TsigAlgorithm::HmacSha256,
                    "HMACSHA384" => TsigAlgorithm::HmacSha384,
                    _ => TsigAlgorithm::HmacSha512,
                };
                let signer = TSigner::new(secret, algorithm.clone(), name.clone(), FUDGE)
                    .map_err(|e| Error::Config(format!("the TSIG key: {e}")))?;
                (algorithm, Hmac::Hickory(signer))
            }
            _ => {
                return Err(Error::Config(format!(
                    "tsigAlgorithm {written:?} is not one of HMACMD5, HMACSHA1, HMACSHA256, \
                     HMACSHA384, HMACSHA512"
                )));
            }
        };
        Ok(Key { name, algorithm, hmac })
    }

    /// Signs `message` as of `now` (Unix seconds) with a TSIG record, and returns its MAC: the
    /// answer's MAC covers it (RFC 8945 §4.3.1), so only an answer to this request verifies.
    pub fn sign(&self, message: &mut Message, now: u64) -> Result<Vec<u8>, ProtoError> {
        let pre =
            TSIG::new(self.algorithm.clone(), now, FUDGE, Vec::new(), message.id(), 0, Vec::new());
        let tbs = message_tbs(None, message, &pre, &self.name)?;
        let mac = self.mac(&tbs)?;
        message.add_tsig(make_tsig_record(self.name.clone(), pre.set_mac(mac.clone())));
        Ok(mac)
    }

    /// The MAC of `data`.
    pub(super) fn mac(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        use hmac::Mac as _;
        match &self.hmac {
            Hmac::Hickory(signer) => signer.sign(data).map_err(|e| e.to_string()),
            Hmac::Md5(key) => {
                let mut mac = hmac::Hmac::<md5::Md5>::new_from_slice(key)
                    .expect("HMAC takes keys of any length");
                mac.update(data);
                Ok(mac.finalize().into_bytes().to_vec())
            }
            Hmac::Sha1(key) => Ok(aws_lc_rs::hmac::sign(&sha1(key), data).as_ref().to_vec()),
        }
    }

    /// Whether `tag` is the MAC of `data`, compared in constant time.
    pub(super) fn mac_matches(&self, data: &[u8], tag: &[u8]) -> bool {
        use hmac::Mac as _;
        match &self.hmac {
            Hmac::Hickory(signer) => signer.verify(data, tag).is_ok(),
            Hmac::Md5(key) => {
                let mut mac = hmac::Hmac::<md5::Md5>::new_from_slice(key)
                    .expect("HMAC takes keys of any length");
                mac.update(data);
                mac.verify_slice(tag).is_ok()
            }
            Hmac::Sha1(key) => aws_lc_rs::hmac::verify(&sha1(key), data, tag).is_ok(),
        }
    }

    /// The length of an untruncated MAC.
    pub(super) fn mac_len(&self) -> usize {
        match &self.hmac {
            Hmac::Hickory(signer) => signer.algorithm().output_len().unwrap_or(usize::MAX),
            Hmac::Md5(_) => 16,
            Hmac::Sha1(_) => 20,
        }
    }
}

fn sha1(key: &[u8]) -> aws_lc_rs::hmac::Key {
    aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_and_secrets_are_checked() {
        let secret = "c2VjcmV0";
        for (alg, len) in [
            (None, 16),
            (Some(""), 16),
            (Some("HMACMD5"), 16),
            (Some("hmacsha1"), 20),
            (Some("HMACSHA256"), 32),
            (Some("HMACSHA384"), 48),
            (Some("HMACSHA512"), 64),
        ] {
            let key = Key::new(alg, "key", secret).unwrap();
            assert_eq!(key.mac_len(), len, "{alg:?}");
            assert_eq!(key.mac(b"data").unwrap().len(), len, "{alg:?}");
            assert!(key.name.is_fqdn());
        }
        let e = Key::new(Some("HMACSHA3"), "key", secret).err().unwrap().to_string();
        assert!(e.contains("not one of HMACMD5"), "{e}");
        let e = Key::new(None, "key", "not base64!").err().unwrap().to_string();
        assert!(e.contains("not base64"), "{e}");
    }

    #[test]
    fn md5_and_sha1_are_rfc_2202s_hmacs() {
        // RFC 2202's test case 2: key "Jefe", "what do ya want for nothing?".
        let jefe = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "Jefe");
        let data = b"what do ya want for nothing?";
        for (alg, want) in [
            ("HMACMD5", "750c783e6ab0b503eaa86e310a5db738"),
            ("HMACSHA1", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        ] {
            let key = Key::new(Some(alg), "k", &jefe).unwrap();
            let mac = key.mac(data).unwrap();
            let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, want, "{alg}");
            assert!(key.mac_matches(data, &mac), "{alg}");
            let mut wrong = mac.clone();
            wrong[0] ^= 1;
            assert!(!key.mac_matches(data, &wrong), "{alg}");
            assert!(!key.mac_matches(data, &mac[..8]), "{alg}: a truncated MAC");
        }
    }
}
