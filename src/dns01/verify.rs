//! The check of an answer to a TSIG-signed request (RFC 8945 §5.4): signed with the request's
//! key and algorithm, its MAC over the request's MAC and the answer, signed within its fudge of
//! our clock. Whoever sees the request (or guesses its port and ID) can answer it; only the
//! holder of the key can sign the answer, so an answer that fails here is not believed.

use super::tsig::{Hmac, Key};
use hickory_proto::dnssec::DnsSecErrorKind;
use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::dnssec::rdata::tsig::{TSIG, TsigAlgorithm, signed_bitmessage_to_buf};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

/// Why an answer's TSIG does not prove it came from the key's holder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("it carries no TSIG record")]
    NoTsig { rcode: ResponseCode },
    /// RFC 8945 §5.3.2: a server answers a key or MAC it does not accept unsigned.
    #[error("it is unsigned ({}, TSIG error {})", rcode_name(*rcode), error_name(*error))]
    NoMac { rcode: ResponseCode, error: u16 },
    /// Each as `<key name> (<algorithm>)`.
    #[error("it is signed with key {found}, not {expected}")]
    WrongKey { found: String, expected: String },
    /// hickory takes no truncated MACs (RFC 8945 §5.2.2.1 allows them); neither do we.
    #[error("its MAC is truncated to {len} of {full} bytes")]
    Truncated { len: usize, full: usize },
    #[error("its MAC does not match: the answer was altered, or signed with another secret")]
    BadMac,
    #[error(
        "it was signed at {signed} (Unix time), more than its fudge of {fudge} s from this \
         machine's clock ({now})"
    )]
    Time { signed: u64, fudge: u16, now: u64 },
    #[error("its TSIG cannot be read: {0}")]
    Malformed(String),
}

impl Key {
    /// Checks `answer` (parsed from `bytes`) to a request this key signed with `request_mac`,
    /// as of `now` (Unix seconds); in RFC 8945 §5.2's order: key, MAC, time.
    pub fn verify(
        &self,
        request_mac: &[u8],
        answer: &Message,
        bytes: &[u8],
        now: u64,
    ) -> Result<(), Rejection> {
        let unsigned = Rejection::NoTsig { rcode: answer.response_code() };
        let Some(record) = answer.signature().last() else {
            return Err(unsigned);
        };
        let RData::DNSSEC(DNSSECRData::TSIG(tsig)) = record.data() else {
            return Err(unsigned);
        };
        if record.name() != &self.name || !same(tsig.algorithm(), &self.algorithm) {
            let named = |key: &Name, alg: &TsigAlgorithm| format!("{key} ({})", alg.to_name());
            return Err(Rejection::WrongKey {
                found: named(record.name(), tsig.algorithm()),
                expected: named(&self.name, &self.algorithm),
            });
        }
        if tsig.mac().is_empty() {
            return Err(Rejection::NoMac { rcode: answer.response_code(), error: error(tsig) });
        }
        let full = self.mac_len();
        if tsig.mac().len() < full {
            return Err(Rejection::Truncated { len: tsig.mac().len(), full });
        }
        match &self.hmac {
            Hmac::Hickory(signer) => {
                if let Err(e) = signer.verify_message_byte(Some(request_mac), bytes, true) {
                    return Err(match e.kind() {
                        DnsSecErrorKind::HmacInvalid => Rejection::BadMac,
                        _ => Rejection::Malformed(e.to_string()),
                    });
                }
            }
            Hmac::Md5(_) | Hmac::Sha1(_) => {
                let (tbv, _) = signed_bitmessage_to_buf(Some(request_mac), bytes, true)
                    .map_err(|e| Rejection::Malformed(e.to_string()))?;
                if !self.mac_matches(&tbv, tsig.mac()) {
                    return Err(Rejection::BadMac);
                }
            }
        }
        if now.abs_diff(tsig.time()) > u64::from(tsig.fudge()) {
            return Err(Rejection::Time { signed: tsig.time(), fudge: tsig.fudge(), now });
        }
        Ok(())
    }
}

impl Rejection {
    /// The response code and TSIG error of an unsigned answer that is a failure.
    pub fn unsigned_failure(&self) -> Option<(ResponseCode, u16)> {
        match *self {
            Rejection::NoTsig { rcode } if rcode != ResponseCode::NoError => Some((rcode, 0)),
            Rejection::NoMac { rcode, error } if rcode != ResponseCode::NoError => {
                Some((rcode, error))
            }
            _ => None,
        }
    }
}

/// The same algorithm: names compare case-insensitively, with or without the final dot
/// (hickory reads `hmac-md5.sig-alg.reg.int` as an unknown algorithm, relative).
fn same(a: &TsigAlgorithm, b: &TsigAlgorithm) -> bool {
    let canonical =
        |a: &TsigAlgorithm| a.to_name().to_ascii().trim_end_matches('.').to_ascii_lowercase();
    canonical(a) == canonical(b)
}

/// The TSIG record's Error field (RFC 8945 §4.2), which hickory parses but does not expose:
/// read back from the record as written, after the algorithm, the times and the MAC.
pub fn error(tsig: &TSIG) -> u16 {
    let mut bytes = Vec::new();
    if tsig.emit(&mut BinEncoder::new(&mut bytes)).is_err() {
        return 0;
    }
    let mut decoder = BinDecoder::new(&bytes);
    if Name::read(&mut decoder).is_err() {
        return 0;
    }
    // Time Signed (6), Fudge (2), MAC Size (2), the MAC, Original ID (2).
    let at = bytes.len() - decoder.len() + 12 + tsig.mac().len();
    bytes.get(at..at + 2).map_or(0, |e| u16::from_be_bytes([e[0], e[1]]))
}

/// RFC 8945 §3's names of the TSIG errors.
pub fn error_name(code: u16) -> String {
    match code {
        0 => "NOERROR".into(),
        16 => "BADSIG".into(),
        17 => "BADKEY".into(),
        18 => "BADTIME".into(),
        22 => "BADTRUNC".into(),
        _ => code.to_string(),
    }
}

/// RFC 1035's and RFC 2136's names of the response codes (hickory's are phrases).
pub fn rcode_name(code: ResponseCode) -> String {
    let names = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE",
    ];
    let name = names.get(usize::from(u16::from(code))).map(|n| n.to_string());
    name.unwrap_or_else(|| code.to_string())
}

/// The TSIG error of a (verified or not) answer, 0 when it has none.
pub fn answer_error(answer: &Message) -> u16 {
    match answer.signature().last().map(|r| r.data()) {
        Some(RData::DNSSEC(DNSSECRData::TSIG(tsig))) => error(tsig),
        _ => 0,
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
