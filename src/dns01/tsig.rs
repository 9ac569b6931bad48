//! TSIG (RFC 8945) signing of RFC 2136 updates: hickory's signer for the SHA-2 HMACs, and the
//! legacy HMAC-MD5 (cert-manager's default) and HMAC-SHA1 that hickory does not sign with.

use super::Error;
use hickory_proto::ProtoError;
use hickory_proto::dnssec::rdata::tsig::{TSIG, TsigAlgorithm, make_tsig_record, message_tbs};
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{Message, MessageFinalizer, MessageVerifier};
use hickory_proto::rr::{Name, Record};
use std::sync::Arc;

/// How far the server's clock may be from ours, as cert-manager (and BIND's tools) allow.
const FUDGE: u16 = 300;

/// The signer for `algorithm` (cert-manager's names; HMACMD5 when unset), key `name` and the
/// base64 `secret`.
pub fn signer(
    algorithm: Option<&str>,
    name: &str,
    secret: &str,
) -> Result<Arc<dyn MessageFinalizer>, Error> {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim())
        .map_err(|e| Error::Secret(format!("the TSIG secret is not base64: {e}")))?;
    let name =
        Name::from_ascii(name).map_err(|e| Error::Config(format!("tsigKeyName {name:?}: {e}")))?;
    let written = algorithm.filter(|a| !a.is_empty()).unwrap_or("HMACMD5");
    let algorithm = match written.to_ascii_uppercase().as_str() {
        "HMACMD5" => TsigAlgorithm::HmacMd5,
        "HMACSHA1" => TsigAlgorithm::HmacSha1,
        "HMACSHA256" => TsigAlgorithm::HmacSha256,
        "HMACSHA384" => TsigAlgorithm::HmacSha384,
        "HMACSHA512" => TsigAlgorithm::HmacSha512,
        _ => {
            return Err(Error::Config(format!(
                "tsigAlgorithm {written:?} is not one of HMACMD5, HMACSHA1, HMACSHA256, HMACSHA512"
            )));
        }
    };
    let legacy = match algorithm {
        // The name in canonical (lower-case) form, as the MAC covers it (RFC 8945 §4.3.3).
        TsigAlgorithm::HmacMd5 => Some((Hash::Md5, "hmac-md5.sig-alg.reg.int.")),
        TsigAlgorithm::HmacSha1 => Some((Hash::Sha1, "hmac-sha1.")),
        _ => None,
    };
    if let Some((hash, algorithm)) = legacy {
        let mut name = name;
        name.set_fqdn(true);
        let algorithm = TsigAlgorithm::Unknown(Name::from_ascii(algorithm).expect("a valid name"));
        return Ok(Arc::new(Legacy { key, hash, algorithm, name }));
    }
    let signer = TSigner::new(key, algorithm, name, FUDGE)
        .map_err(|e| Error::Config(format!("the TSIG key: {e}")))?;
    Ok(Arc::new(Unverified(signer)))
}

/// hickory's signer, without its check of the answer's signature: a server that refuses the
/// key answers unsigned (NOTAUTH), and that refusal is what the user must see. The response
/// code says whether the update was taken, and the record is checked by querying it anyway.
struct Unverified(TSigner);

impl MessageFinalizer for Unverified {
    fn finalize_message(
        &self,
        message: &Message,
        current_time: u32,
    ) -> Result<(Vec<Record>, Option<MessageVerifier>), ProtoError> {
        let (records, _) = self.0.finalize_message(message, current_time)?;
        Ok((records, None))
    }
}

#[derive(Debug, Clone, Copy)]
enum Hash {
    Md5,
    Sha1,
}

/// Signs with HMAC-MD5 or HMAC-SHA1, which hickory does not; answers unverified, as above.
struct Legacy {
    key: Vec<u8>,
    hash: Hash,
    algorithm: TsigAlgorithm,
    name: Name,
}

impl Legacy {
    fn mac(&self, data: &[u8]) -> Vec<u8> {
        use hmac::Mac as _;
        match self.hash {
            Hash::Md5 => {
                let mut mac = hmac::Hmac::<md5::Md5>::new_from_slice(&self.key)
                    .expect("HMAC takes keys of any length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            _ => {
                let key = aws_lc_rs::hmac::Key::new(
                    aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                    &self.key,
                );
                aws_lc_rs::hmac::sign(&key, data).as_ref().to_vec()
            }
        }
    }
}

impl MessageFinalizer for Legacy {
    fn finalize_message(
        &self,
        message: &Message,
        current_time: u32,
    ) -> Result<(Vec<Record>, Option<MessageVerifier>), ProtoError> {
        let pre = TSIG::new(
            self.algorithm.clone(),
            current_time as u64,
            FUDGE,
            Vec::new(),
            message.id(),
            0,
            Vec::new(),
        );
        let tbs = message_tbs(None, message, &pre, &self.name)?;
        let mac = self.mac(&tbs);
        Ok((vec![make_tsig_record(self.name.clone(), pre.set_mac(mac))], None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_and_secrets_are_checked() {
        let secret = "c2VjcmV0";
        for alg in [
            None,
            Some(""),
            Some("HMACMD5"),
            Some("hmacsha1"),
            Some("HMACSHA256"),
            Some("HMACSHA512"),
        ] {
            assert!(signer(alg, "key.", secret).is_ok(), "{alg:?}");
        }
        let e = signer(Some("HMACSHA3"), "key", secret).err().unwrap().to_string();
        assert!(e.contains("not one of HMACMD5"), "{e}");
        let e = signer(None, "key", "not base64!").err().unwrap().to_string();
        assert!(e.contains("not base64"), "{e}");
    }

    #[test]
    fn md5_is_rfc_2104s_hmac() {
        // RFC 2104's test vector 2: key "Jefe", "what do ya want for nothing?".
        let legacy = Legacy {
            key: b"Jefe".to_vec(),
            hash: Hash::Md5,
            algorithm: TsigAlgorithm::HmacMd5,
            name: Name::root(),
        };
        let mac = legacy.mac(b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "750c783e6ab0b503eaa86e310a5db738");
    }
}
