//! Exchanges with a responder on 127.0.0.1 that truncates, forges, stays silent or signs, as
//! each test has it.

use super::*;
use crate::dns01::testing::{Script, answer_to, now, request_mac, responder, sign};
use hickory_proto::op::{OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::sync::Arc;
use std::sync::atomic::Ordering;

const SECRET: &str = "c2VjcmV0IG9mIHRoaXJ0eS10d28gYnl0ZXMgZm9yIHRlc3Rz";
const SHORT: Duration = Duration::from_millis(300);

fn key() -> Key {
    Key::new(Some("HMACSHA256"), "certsmith", SECRET).unwrap()
}

fn name() -> Name {
    Name::from_ascii("_acme-challenge.example.test.").unwrap()
}

fn txt_query() -> Message {
    let mut m = Message::new();
    m.set_op_code(OpCode::Query).add_query(Query::query(name(), RecordType::TXT));
    m
}

/// The answer to `request`, holding the TXT `value`, signed when the request is.
fn answer(request: &Message, value: &str, truncated: bool) -> Vec<u8> {
    let mut a = answer_to(request, ResponseCode::NoError);
    a.set_truncated(truncated);
    a.add_answer(Record::from_rdata(name(), 60, RData::TXT(TXT::new(vec![value.into()]))));
    if !request.signature().is_empty() {
        sign(&key(), &mut a, &request_mac(request), now(), 0);
    }
    a.to_vec().unwrap()
}

fn unsigned(request: &Message) -> Vec<u8> {
    answer_to(request, ResponseCode::NoError).to_vec().unwrap()
}

fn script(f: fn(&Message) -> Vec<Vec<u8>>) -> Script {
    Arc::new(f)
}

fn values(m: &Message) -> Vec<String> {
    m.answers().iter().map(|r| r.data().to_string()).collect()
}

#[tokio::test]
async fn a_truncated_udp_answer_is_asked_again_over_tcp() {
    let r = responder(
        script(|req| vec![answer(req, "cut", true)]),
        script(|req| vec![answer(req, "whole", false)]),
    )
    .await;
    let got = within(SHORT, r.addr, &txt_query(), None, false).await.unwrap();
    assert_eq!(values(&got), ["whole"]);
    let signed = within(SHORT, r.addr, &txt_query(), Some(&key()), false).await.unwrap();
    assert_eq!(values(&signed), ["whole"]);
    assert_eq!((r.udp.load(Ordering::SeqCst), r.tcp.load(Ordering::SeqCst)), (2, 2));
    // dns.rs's queries go the same way.
    let txt = crate::dns01::dns::txt(r.addr, &name()).await.unwrap();
    assert_eq!(txt, ["whole"]);
}

#[tokio::test]
async fn protocol_tcp_asks_over_tcp_only() {
    let r = responder(
        script(|req| vec![answer(req, "udp", false)]),
        script(|req| vec![answer(req, "tcp", false)]),
    )
    .await;
    let got = within(SHORT, r.addr, &txt_query(), Some(&key()), true).await.unwrap();
    assert_eq!(values(&got), ["tcp"]);
    assert_eq!((r.udp.load(Ordering::SeqCst), r.tcp.load(Ordering::SeqCst)), (0, 1));
}

#[tokio::test]
async fn over_udp_other_messages_and_failed_signatures_are_dropped_while_waiting() {
    // Noise, an answer to another ID, a forged unsigned answer; then the server's.
    let r = responder(
        script(|req| {
            let mut other_id = answer_to(req, ResponseCode::NoError);
            other_id.set_id(req.id().wrapping_add(1));
            vec![
                b"noise".to_vec(),
                other_id.to_vec().unwrap(),
                unsigned(req),
                answer(req, "real", false),
            ]
        }),
        script(|_| vec![]),
    )
    .await;
    let got = within(SHORT, r.addr, &txt_query(), Some(&key()), false).await.unwrap();
    assert_eq!(values(&got), ["real"]);
}

#[tokio::test]
async fn an_answer_without_a_valid_signature_is_not_believed() {
    let r = responder(script(|req| vec![unsigned(req)]), script(|req| vec![unsigned(req)])).await;
    for tcp in [false, true] {
        let got = within(SHORT, r.addr, &txt_query(), Some(&key()), tcp).await;
        let unsigned = Rejection::NoTsig { rcode: ResponseCode::NoError };
        assert!(matches!(&got, Err(Failure::Rejected(r)) if *r == unsigned), "tcp {tcp}: {got:?}");
    }
    // Unsigned, the same answer is taken.
    within(SHORT, r.addr, &txt_query(), None, false).await.unwrap();
}

#[tokio::test]
async fn silence_and_a_closed_port_are_unreachable() {
    let r = responder(script(|_| vec![]), script(|_| vec![])).await;
    let got = within(SHORT, r.addr, &txt_query(), None, false).await;
    assert!(
        matches!(&got, Err(Failure::Unreachable(why)) if why == "no answer within 300ms"),
        "{got:?}"
    );
    // A TCP peer that closes without answering.
    let got = within(SHORT, r.addr, &txt_query(), None, true).await;
    assert!(matches!(got, Err(Failure::Unreachable(_))), "{got:?}");
}
