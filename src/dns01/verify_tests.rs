//! The TSIG check of answers, per algorithm: what passes and every way it fails.

use super::*;
use crate::dns01::testing::{answer_to, sign, unsigned_error};
use hickory_proto::dnssec::rdata::tsig::{make_tsig_record, message_tbs};
use hickory_proto::op::update_message;
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, Record, RecordSet};

const T: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const SECRET: &str = "c2VjcmV0IG9mIHRoaXJ0eS10d28gYnl0ZXMgZm9yIHRlc3Rz";
const OTHER: &str = "YW5vdGhlciBzZWNyZXQgb2YgdGhpcnR5LXR3byBieXRlcw==";

fn key(algorithm: &str, name: &str, secret: &str) -> Key {
    Key::new(Some(algorithm), name, secret).unwrap()
}

/// An update signed by `key` at T, and its MAC.
fn request(key: &Key) -> (Message, Vec<u8>) {
    let name = Name::from_ascii("_acme-challenge.example.test.").unwrap();
    let mut record = Record::from_rdata(name, 60, RData::TXT(TXT::new(vec!["v".into()])));
    record.set_dns_class(DNSClass::IN);
    let zone = Name::from_ascii("example.test.").unwrap();
    let mut request = update_message::append(RecordSet::from(record), zone, false, true);
    let mac = key.sign(&mut request, T).unwrap();
    (request, mac)
}

fn bytes(answer: &Message) -> Vec<u8> {
    answer.to_vec().unwrap()
}

/// The answer with a MAC of only its first `len` bytes.
fn truncated(key: &Key, request: &Message, mac: &[u8], len: usize) -> Vec<u8> {
    let mut answer = answer_to(request, ResponseCode::NoError);
    let pre = TSIG::new(key.algorithm.clone(), T, 300, Vec::new(), answer.id(), 0, vec![]);
    let full = key.mac(&message_tbs(Some(mac), &answer, &pre, &key.name).unwrap()).unwrap();
    answer.add_tsig(make_tsig_record(key.name.clone(), pre.set_mac(full[..len].to_vec())));
    bytes(&answer)
}

fn outcome(key: &Key, mac: &[u8], bytes: &[u8], now: u64) -> Result<(), Rejection> {
    let answer = Message::from_vec(bytes).unwrap();
    key.verify(mac, &answer, bytes, now)
}

fn kind(r: &Result<(), Rejection>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err(Rejection::NoTsig { .. }) => "NoTsig",
        Err(Rejection::NoMac { .. }) => "NoMac",
        Err(Rejection::WrongKey { .. }) => "WrongKey",
        Err(Rejection::Truncated { .. }) => "Truncated",
        Err(Rejection::BadMac) => "BadMac",
        Err(Rejection::Time { .. }) => "Time",
        Err(Rejection::Malformed(_)) => "Malformed",
    }
}

#[test]
fn answers_pass_only_signed_by_the_key_over_the_request_within_the_fudge() {
    for alg in ["HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"] {
        let k = key(alg, "certsmith", SECRET);
        let (req, mac) = request(&k);
        let signed_by = |signer: &Key, over: &[u8], rcode, error| {
            let mut answer = answer_to(&req, rcode);
            sign(signer, &mut answer, over, T, error);
            bytes(&answer)
        };
        let good = signed_by(&k, &mac, ResponseCode::NoError, 0);
        let flipped = |at: usize| {
            let mut b = good.clone();
            b[at] ^= 0x01;
            b
        };
        let zone_at = good.windows(7).position(|w| w == b"example").unwrap();
        let other_alg = if alg == "HMACMD5" { "HMACSHA256" } else { "HMACMD5" };
        let mut unsigned_refusal = answer_to(&req, ResponseCode::NotAuth);
        unsigned_error(&k, &mut unsigned_refusal, T, 16);
        let (_, another_request) = request(&key(alg, "certsmith", OTHER));
        let table: [(&str, Vec<u8>, u64, &str); 16] = [
            ("signed", good.clone(), T, "ok"),
            ("signed, the fudge's end", good.clone(), T + 300, "ok"),
            ("signed, the fudge's start", good.clone(), T - 300, "ok"),
            ("signed 301 s ago", good.clone(), T + 301, "Time"),
            ("signed 301 s ahead", good.clone(), T - 301, "Time"),
            ("a header bit flipped", flipped(3), T, "BadMac"),
            ("the zone's name altered", flipped(zone_at), T, "BadMac"),
            ("the MAC altered", flipped(good.len() - 7), T, "BadMac"),
            (
                "another secret",
                signed_by(&key(alg, "certsmith", OTHER), &mac, ResponseCode::NoError, 0),
                T,
                "BadMac",
            ),
            (
                "another key name",
                signed_by(&key(alg, "other", SECRET), &mac, ResponseCode::NoError, 0),
                T,
                "WrongKey",
            ),
            (
                "another algorithm",
                signed_by(&key(other_alg, "certsmith", SECRET), &mac, ResponseCode::NoError, 0),
                T,
                "WrongKey",
            ),
            (
                "the answer to another request",
                signed_by(&k, &another_request, ResponseCode::NoError, 0),
                T,
                "BadMac",
            ),
            ("unsigned", bytes(&answer_to(&req, ResponseCode::NoError)), T, "NoTsig"),
            ("an unsigned refusal", bytes(&unsigned_refusal), T, "NoMac"),
            ("a truncated MAC", truncated(&k, &req, &mac, 10), T, "Truncated"),
            ("a signed BADTIME refusal", signed_by(&k, &mac, ResponseCode::NotAuth, 18), T, "ok"),
        ];
        for (case, answer, now, want) in table {
            let got = outcome(&k, &mac, &answer, now);
            assert_eq!(kind(&got), want, "{alg}, {case}: {got:?}");
        }
    }
}

#[test]
fn rejections_say_what_was_wrong() {
    let k = key("HMACMD5", "certsmith", SECRET);
    let (req, mac) = request(&k);
    let mut refusal = answer_to(&req, ResponseCode::NotAuth);
    unsigned_error(&k, &mut refusal, T, 16);
    let got = outcome(&k, &mac, &bytes(&refusal), T).unwrap_err();
    assert_eq!(got, Rejection::NoMac { rcode: ResponseCode::NotAuth, error: 16 });
    assert_eq!(got.to_string(), "it is unsigned (NOTAUTH, TSIG error BADSIG)");
    assert_eq!(answer_error(&Message::from_vec(&bytes(&refusal)).unwrap()), 16);

    let mut answer = answer_to(&req, ResponseCode::NoError);
    sign(&key("HMACSHA256", "other", SECRET), &mut answer, &mac, T, 0);
    let got = outcome(&k, &mac, &bytes(&answer), T).unwrap_err().to_string();
    assert_eq!(
        got,
        "it is signed with key other. (hmac-sha256), not certsmith. (hmac-md5.sig-alg.reg.int.)"
    );
    let mut answer = answer_to(&req, ResponseCode::NoError);
    sign(&k, &mut answer, &mac, T, 0);
    let got = outcome(&k, &mac, &bytes(&answer), T + 1000).unwrap_err().to_string();
    assert!(got.contains(&format!("signed at {T}")) && got.contains("fudge of 300 s"), "{got}");
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Answers BIND 9.20 (Debian's named, e2e/testbed/start-bind.sh) gave to updates signed at
/// `BIND_T`: the key, its secret, the request's MAC, the answer.
const BIND_T: u64 = 1_796_324_054;
const BIND: [(&str, &str, &str, &str, &str); 3] = [
    (
        "HMACMD5",
        "certsmith-md5",
        "WpyIDu+5P6hg5SRnmM6l9QCWxNT0M5XKA9eeyNtq+cU=",
        "a6435b7ec160278066a7a13cf351fef9",
        "1092a8000001000000000002076578616d706c650474657374000006000100002904d0000000000000\
         0d63657274736d6974682d6d64350000fa00ff00000000003a08686d61632d6d6435077369672d616c\
         670372656703696e740000006b11bad6012c00109e7fd83d4a739bb8bcbf5a20cc30e9d71092000000\
         00",
    ),
    (
        "HMACSHA256",
        "certsmith-sha256",
        "NfFl8D/BITuv4LN0fxd8avmvHZySgiOaeaeWy7BHbs4=",
        "08364dfc8b7c37ced74ee29ea4865b6116d8a54341845e7233091a48c3d2a4dd",
        "1092a8000001000000000002076578616d706c650474657374000006000100002904d0000000000000\
         1063657274736d6974682d7368613235360000fa00ff00000000003d0b686d61632d73686132353600\
         00006b11bad6012c002057f2ddec6adfca74b7d91f75107acb9a0878640e09454c35987c1979fcb0fb\
         ee109200000000",
    ),
    // Signed with another secret than BIND's: NOTAUTH, BADSIG, unsigned.
    (
        "HMACSHA256",
        "certsmith-sha256",
        "NfFl8D/BITuv4LN0fxd8avmvHZySgiOaeaeWy7BHbs4=",
        "ad86db629a3e7112c682d4d3a587aea0eed36f640522a8722c74e578eecc8d2a",
        "1092a8090001000000000002076578616d706c650474657374000006000100002904d0000000000000\
         1063657274736d6974682d7368613235360000fa00ff00000000001d0b686d61632d73686132353600\
         00006b11bad6012c0000109200100000",
    ),
];

#[test]
fn answers_bind_signed_pass_and_fail_once_altered() {
    for (alg, name, secret, mac, answer) in &BIND[..2] {
        let (k, mac, answer) = (key(alg, name, secret), unhex(mac), unhex(answer));
        assert_eq!(outcome(&k, &mac, &answer, BIND_T), Ok(()), "{alg}");
        let got = outcome(&k, &mac, &answer, BIND_T + 301);
        assert_eq!(kind(&got), "Time", "{alg}: {got:?}");
        let got = outcome(&key(alg, name, OTHER), &mac, &answer, BIND_T);
        assert_eq!(kind(&got), "BadMac", "{alg}: {got:?}");
        for at in [3, 13, answer.len() - 7] {
            let mut altered = answer.clone();
            altered[at] ^= 0x01;
            let got = outcome(&k, &mac, &altered, BIND_T);
            assert_eq!(kind(&got), "BadMac", "{alg}, byte {at}: {got:?}");
        }
    }
    let (alg, name, secret, mac, answer) = BIND[2];
    let got = outcome(&key(alg, name, secret), &unhex(mac), &unhex(answer), BIND_T);
    assert_eq!(got, Err(Rejection::NoMac { rcode: ResponseCode::NotAuth, error: 16 }));
}
