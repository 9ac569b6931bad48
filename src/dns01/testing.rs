//! Test helpers: answers written and signed as a DNS server writes and signs them (RFC 8945
//! §4.3.1: the MAC covers the request's MAC), and a responder on 127.0.0.1 that answers over
//! UDP and TCP as a test tells it to.

use super::tsig::Key;
use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::dnssec::rdata::tsig::{TSIG, make_tsig_record};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::RData;
use hickory_proto::serialize::binary::BinEncoder;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// The bare answer to `request` with `rcode`: its ID, opcode and question.
pub fn answer_to(request: &Message, rcode: ResponseCode) -> Message {
    let mut answer = Message::new();
    answer
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_response_code(rcode)
        .add_queries(request.queries().to_vec());
    answer
}

/// The MAC `request` is signed with.
pub fn request_mac(request: &Message) -> Vec<u8> {
    match request.signature().last().map(|r| r.data()) {
        Some(RData::DNSSEC(DNSSECRData::TSIG(tsig))) => tsig.mac().to_vec(),
        _ => panic!("the request is not signed"),
    }
}

/// Signs `answer` with `key` at `time`, as the server does: over the request's MAC, the answer
/// as sent (its names compressed) and the TSIG variables; `error` is the TSIG error. (hickory's
/// `message_tbs` compresses after the request's MAC, so a MAC over it fails for any answer that
/// repeats a name.)
pub fn sign(key: &Key, answer: &mut Message, request_mac: &[u8], time: u64, error: u16) {
    let pre = TSIG::new(key.algorithm.clone(), time, 300, Vec::new(), answer.id(), error, vec![]);
    let mut tbs = (request_mac.len() as u16).to_be_bytes().to_vec();
    tbs.extend_from_slice(request_mac);
    tbs.extend_from_slice(&answer.to_vec().unwrap());
    let mut variables = Vec::new();
    pre.emit_tsig_for_mac(&mut BinEncoder::new(&mut variables), &key.name).unwrap();
    tbs.extend_from_slice(&variables);
    let mac = key.mac(&tbs).unwrap();
    answer.add_tsig(make_tsig_record(key.name.clone(), pre.set_mac(mac)));
}

/// Adds the unsigned TSIG of an error answer (RFC 8945 §5.3.2): the key's name and algorithm,
/// no MAC, the TSIG `error`.
pub fn unsigned_error(key: &Key, answer: &mut Message, time: u64, error: u16) {
    let tsig = TSIG::new(key.algorithm.clone(), time, 300, Vec::new(), answer.id(), error, vec![]);
    answer.add_tsig(make_tsig_record(key.name.clone(), tsig));
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// What the responder answers a request with: over UDP, the datagrams it sends back in order;
/// over TCP, the one message.
pub type Script = Arc<dyn Fn(&Message) -> Vec<Vec<u8>> + Send + Sync>;

/// A responder on 127.0.0.1, one port for UDP and TCP, counting the requests each took.
pub struct Responder {
    pub addr: SocketAddr,
    pub udp: Arc<AtomicUsize>,
    pub tcp: Arc<AtomicUsize>,
}

pub async fn responder(udp: Script, tcp: Script) -> Responder {
    // The UDP port may be taken for TCP by someone else: try a few.
    let (socket, listener) = 'bound: {
        for _ in 0..20 {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            if let Ok(listener) = TcpListener::bind(socket.local_addr().unwrap()).await {
                break 'bound (socket, listener);
            }
        }
        panic!("no port free for both UDP and TCP");
    };
    let addr = socket.local_addr().unwrap();
    let (udp_count, tcp_count) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counted = udp_count.clone();
    tokio::spawn(async move {
        let mut buf = vec![0; 65535];
        while let Ok((len, from)) = socket.recv_from(&mut buf).await {
            counted.fetch_add(1, Ordering::SeqCst);
            let request = Message::from_vec(&buf[..len]).unwrap();
            for datagram in udp(&request) {
                socket.send_to(&datagram, from).await.unwrap();
            }
        }
    });
    let counted = tcp_count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let len = stream.read_u16().await.unwrap();
            let mut buf = vec![0; usize::from(len)];
            stream.read_exact(&mut buf).await.unwrap();
            let request = Message::from_vec(&buf).unwrap();
            for message in tcp(&request) {
                stream.write_all(&(message.len() as u16).to_be_bytes()).await.unwrap();
                stream.write_all(&message).await.unwrap();
            }
        }
    });
    Responder { addr, udp: udp_count, tcp: tcp_count }
}
