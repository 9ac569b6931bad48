//! Talking to DNS servers: a query, an RFC 2136 update, the zone a name is in, each one
//! exchange through `wire` (UDP, TCP when truncated or where the issuer says `protocol: TCP`).
//! An update's answer counts only with a valid TSIG (`verify`).

use super::Error;
use super::tsig::Key;
use super::verify::{answer_error, error_name, rcode_name};
use super::wire::{self, Failure};
use hickory_proto::op::update_message::{self, MAX_PAYLOAD_LEN};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordSet, RecordType};
use std::net::SocketAddr;

/// `host`, `host:port`, `[v6]:port` or a bare IPv6 address, resolved; port 53 when none is given.
pub async fn server(written: &str) -> Result<SocketAddr, Error> {
    if let Ok(addr) = written.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = written.trim_matches(|c| c == '[' || c == ']').parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    let with_port =
        if written.contains(':') { written.to_string() } else { format!("{written}:53") };
    let mut found = tokio::net::lookup_host(with_port.as_str())
        .await
        .map_err(|e| Error::Config(format!("nameserver {written:?}: {e}")))?;
    found.next().ok_or_else(|| Error::Config(format!("nameserver {written:?} resolves to nothing")))
}

/// The answer of `server` for `name`/`rtype` (recursion desired: the recursive nameservers are
/// asked this way too).
pub async fn query(server: SocketAddr, name: &Name, rtype: RecordType) -> Result<Message, Error> {
    let mut request = Message::new();
    request
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name.clone(), rtype));
    edns(&mut request);
    wire::exchange(server, &request, None, false)
        .await
        .map_err(|f| failure(server, &format!("the query for {name} {rtype}"), f))
}

/// EDNS(0) with a 1232-byte UDP payload (DNS Flag Day 2020's), as hickory's client sends.
fn edns(message: &mut Message) {
    let edns = message.extensions_mut().get_or_insert_with(Edns::new);
    edns.set_max_payload(MAX_PAYLOAD_LEN).set_version(0);
}

fn failure(server: SocketAddr, what: &str, f: Failure) -> Error {
    match f {
        Failure::Unreachable(why) => Error::Unreachable { server, why },
        Failure::Unwritable(why) => Error::Unwritable(format!("{what}: {why}")),
        Failure::Rejected(why) => Error::Unverified { server, what: what.into(), why },
    }
}

/// The TXT strings `server` holds for `name`.
pub async fn txt(server: SocketAddr, name: &Name) -> Result<Vec<String>, Error> {
    let answer = query(server, name, RecordType::TXT).await?;
    Ok(answer
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::TXT(t) => Some(t.to_string()),
            _ => None,
        })
        .collect())
}

/// The zone `name` is in, by the SOA `server` gives for it (in the answer at the apex, else in
/// the authority section); an SOA of a name that does not hold `name` is no answer.
pub async fn zone_of(server: SocketAddr, name: &Name) -> Result<Name, Error> {
    let answer = query(server, name, RecordType::SOA).await?;
    let soa = |records: &[Record]| {
        let mut found = records.iter().filter(|r| r.record_type() == RecordType::SOA);
        found.find(|r| r.name().zone_of(name)).map(|r| r.name().clone())
    };
    soa(answer.answers()).or_else(|| soa(answer.name_servers())).ok_or_else(|| Error::Refused {
        server,
        what: format!("finding the zone of {name}"),
        rcode: format!("no SOA record ({})", answer.response_code()),
    })
}

/// Adds (or, `add == false`, removes) the TXT `value` at `name` in `zone` on `server`, signed by
/// `key`. Adding keeps the other values: a wildcard and its base name share one record name.
pub async fn update(
    server: SocketAddr,
    zone: &Name,
    name: &Name,
    value: &str,
    add: bool,
    key: Option<&Key>,
    tcp: bool,
) -> Result<(), Error> {
    let what = format!("the update of {name} in zone {zone}");
    if !zone.zone_of(name) {
        return Err(Error::Config(format!("{what}: {name} is not in zone {zone}")));
    }
    let mut record = Record::from_rdata(name.clone(), 60, RData::TXT(TXT::new(vec![value.into()])));
    record.set_dns_class(DNSClass::IN);
    let rrset = RecordSet::from(record);
    let request = if add {
        update_message::append(rrset, zone.clone(), false, true)
    } else {
        update_message::delete_by_rdata(rrset, zone.clone(), true)
    };
    let refused = |code, error, signed| Error::Refused {
        server,
        what: what.clone(),
        rcode: refusal(code, error, signed),
    };
    match wire::exchange(server, &request, key, tcp).await {
        Ok(answer) if answer.response_code() == ResponseCode::NoError => Ok(()),
        Ok(answer) => Err(refused(answer.response_code(), answer_error(&answer), false)),
        // An unsigned failure is told as the server's refusal: a server that does not take the
        // key or the MAC answers unsigned (RFC 8945 §5.3.2), one without TSIG answers without,
        // and believing a failure does no harm (the update counts as not made either way).
        // Only an unsigned success is doubted.
        Err(Failure::Rejected(why)) if let Some((rcode, error)) = why.unsigned_failure() => {
            Err(refused(rcode, error, true))
        }
        Err(f) => Err(failure(server, &what, f)),
    }
}

/// The server's refusal in words: its response code, its TSIG error and what they mean for a
/// signed update (RFC 8945 §5.2: the key, the MAC or the time was not accepted), and whether
/// the answer was `unsigned` where a signed one was due.
fn refusal(code: ResponseCode, tsig_error: u16, unsigned: bool) -> String {
    let why = match (code, tsig_error) {
        (_, 16) => BADSIG,
        (_, 17) => BADKEY,
        (_, 18) => BADTIME,
        (ResponseCode::NotAuth, _) => NOTAUTH,
        (ResponseCode::Refused, _) => "the server does not allow this update",
        _ => "",
    };
    let mut out = rcode_name(code);
    if tsig_error != 0 {
        out += &format!(", TSIG error {}", error_name(tsig_error));
    }
    if !why.is_empty() {
        out += &format!(" ({why})");
    }
    if unsigned {
        out += ", in an unsigned answer";
    }
    out
}

const BADSIG: &str =
    "the server did not accept the signature: check the secret, tsigKeyName and tsigAlgorithm";
const BADKEY: &str =
    "the server knows no key of that name and algorithm: check tsigKeyName and tsigAlgorithm";
const BADTIME: &str = "the server's clock and this machine's differ by more than the fudge";
const NOTAUTH: &str = "the server is not authoritative for the zone, or did not accept the TSIG \
                       signature: check nameserver, tsigKeyName, tsigAlgorithm and the secret";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns01::testing::{
        Script, answer_to, now, request_mac, responder, sign, unsigned_error,
    };
    use std::sync::Arc;

    fn key() -> Key {
        Key::new(None, "certsmith", "c2VjcmV0").unwrap()
    }

    /// An update over TCP to a server answering as `script` says, and what it came to.
    async fn updated(script: fn(&Message) -> Vec<u8>) -> Result<(), Error> {
        let script: Script = Arc::new(move |req| vec![script(req)]);
        let r = responder(script.clone(), script).await;
        let zone = Name::from_ascii("example.test.").unwrap();
        let name = Name::from_ascii("_acme-challenge.example.test.").unwrap();
        update(r.addr, &zone, &name, "v", true, Some(&key()), true).await
    }

    #[tokio::test]
    async fn an_update_is_done_only_on_a_signed_noerror() {
        updated(|req| {
            let mut a = answer_to(req, ResponseCode::NoError);
            sign(&key(), &mut a, &request_mac(req), now(), 0);
            a.to_vec().unwrap()
        })
        .await
        .unwrap();

        let e = updated(|req| answer_to(req, ResponseCode::NoError).to_vec().unwrap())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Unverified { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.contains("answered the update of _acme-challenge.example.test. in zone"), "{e}");
        assert!(e.ends_with("without a valid TSIG signature: it carries no TSIG record"), "{e}");

        // A wrong secret, as BIND answers it (RFC 8945 §5.3.2: unsigned): told as its refusal.
        let e = updated(|req| {
            let mut a = answer_to(req, ResponseCode::NotAuth);
            unsigned_error(&key(), &mut a, now(), 16);
            a.to_vec().unwrap()
        })
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Refused { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.contains("refused the update of _acme-challenge.example.test."), "{e}");
        assert!(e.contains(": NOTAUTH, TSIG error BADSIG (the server did not"), "{e}");
        assert!(e.ends_with(", in an unsigned answer"), "{e}");

        // A signed refusal is a refusal too.
        let e = updated(|req| {
            let mut a = answer_to(req, ResponseCode::Refused);
            sign(&key(), &mut a, &request_mac(req), now(), 0);
            a.to_vec().unwrap()
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(e.ends_with(": REFUSED (the server does not allow this update)"), "{e}");
    }

    #[test]
    fn refusals_name_the_tsig_error() {
        let cases = [
            (
                ResponseCode::NotAuth,
                17,
                false,
                "NOTAUTH, TSIG error BADKEY (the server knows no key",
            ),
            (ResponseCode::NotAuth, 18, false, "NOTAUTH, TSIG error BADTIME (the server's clock"),
            (ResponseCode::NotAuth, 0, false, "NOTAUTH (the server is not authoritative"),
            (ResponseCode::ServFail, 0, false, "SERVFAIL"),
            (ResponseCode::BADCOOKIE, 0, false, "Bad server cookie"),
            (ResponseCode::FormErr, 0, true, "FORMERR, in an unsigned answer"),
        ];
        for (code, error, unsigned, want) in cases {
            let got = refusal(code, error, unsigned);
            assert!(got.contains(want), "{got}");
            assert_eq!(got.contains("unsigned"), unsigned, "{got}");
        }
    }
}
