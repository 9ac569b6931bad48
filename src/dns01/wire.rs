//! One DNS exchange with a server: over UDP and, when the answer comes back truncated (TC), again
//! over TCP (RFC 7766 §5); or over TCP only (`protocol: TCP`). Each try is bounded: one
//! timeout, one DNS message read (at most 65535 bytes, what TCP's length prefix can say and
//! more than any UDP datagram holds). The answer to a signed request counts only with a valid
//! TSIG; over UDP a failing one is dropped and the wait goes on (RFC 8945 §5.4), so a forged
//! answer racing the server's can make an update neither fail nor seem done.

use super::tsig::Key;
use super::verify::Rejection;
use hickory_proto::op::{Message, MessageType};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long one try (UDP, or TCP) waits for its answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The largest DNS message.
const MAX_MESSAGE: usize = 65535;

/// Why an exchange brought no answer to believe.
#[derive(Debug)]
pub enum Failure {
    /// No answer: unreachable, silent, or not talking DNS.
    Unreachable(String),
    /// Answers came, but none with a valid TSIG; the last one's fault.
    Rejected(Rejection),
    /// The request cannot be written or signed.
    Unwritable(String),
}

/// The server's answer to `request` (its ID replaced by a random one), signed by `key` when
/// given: over UDP, then TCP when truncated; over TCP only when `tcp`.
pub async fn exchange(
    server: SocketAddr,
    request: &Message,
    key: Option<&Key>,
    tcp: bool,
) -> Result<Message, Failure> {
    within(TIMEOUT, server, request, key, tcp).await
}

/// `exchange`, each try waiting `timeout`.
async fn within(
    timeout: Duration,
    server: SocketAddr,
    request: &Message,
    key: Option<&Key>,
    tcp: bool,
) -> Result<Message, Failure> {
    if !tcp && let Some(answer) = udp(timeout, server, request, key).await? {
        return Ok(answer);
    }
    stream(timeout, server, request, key).await
}

/// The request as sent: its ID, its bytes, and its MAC when signed.
struct Sent {
    request: Message,
    bytes: Vec<u8>,
    mac: Option<Vec<u8>>,
}

/// A fresh ID (every try is a new request, with its own signature) and the signature.
fn prepare(request: &Message, key: Option<&Key>) -> Result<Sent, Failure> {
    let mut id = [0; 2];
    aws_lc_rs::rand::fill(&mut id).map_err(|_| Failure::Unwritable("no random ID".into()))?;
    let mut request = request.clone();
    request.set_id(u16::from_be_bytes(id));
    let mac = match key {
        Some(key) => {
            let signed = key.sign(&mut request, now());
            Some(signed.map_err(|e| Failure::Unwritable(format!("signing it: {e}")))?)
        }
        None => None,
    };
    let bytes = request.to_vec().map_err(|e| Failure::Unwritable(e.to_string()))?;
    if bytes.len() > MAX_MESSAGE {
        return Err(Failure::Unwritable(format!("{} bytes, more than a DNS message", bytes.len())));
    }
    Ok(Sent { request, bytes, mac })
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The answer over UDP, `None` when it is truncated.
async fn udp(
    timeout: Duration,
    server: SocketAddr,
    request: &Message,
    key: Option<&Key>,
) -> Result<Option<Message>, Failure> {
    let sent = prepare(request, key)?;
    let io = |e: std::io::Error| Failure::Unreachable(e.to_string());
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    // Connected, so the kernel drops datagrams from any other address and port.
    socket.connect(server).await.map_err(io)?;
    socket.send(&sent.bytes).await.map_err(io)?;
    let mut buf = vec![0; MAX_MESSAGE];
    let mut rejected = None;
    let received = tokio::time::timeout(timeout, async {
        loop {
            let len = socket.recv(&mut buf).await.map_err(io)?;
            let bytes = &buf[..len];
            // Anything else (another ID, another question, no DNS) is not the answer.
            let Some(answer) = answer_to(&sent.request, bytes) else { continue };
            if answer.truncated() {
                return Ok(None);
            }
            match check(&sent, key, answer, bytes) {
                Ok(answer) => return Ok(Some(answer)),
                Err(why) => rejected = Some(why),
            }
        }
    })
    .await;
    let silent = || silent(timeout);
    received.unwrap_or_else(|_| Err(rejected.map_or_else(silent, Failure::Rejected)))
}

/// The answer over TCP: one length-prefixed message each way.
async fn stream(
    timeout: Duration,
    server: SocketAddr,
    request: &Message,
    key: Option<&Key>,
) -> Result<Message, Failure> {
    let sent = prepare(request, key)?;
    let io = |e: std::io::Error| Failure::Unreachable(e.to_string());
    let exchanged = tokio::time::timeout(timeout, async {
        let mut tcp = TcpStream::connect(server).await.map_err(io)?;
        let mut framed = Vec::with_capacity(2 + sent.bytes.len());
        framed.extend_from_slice(&(sent.bytes.len() as u16).to_be_bytes());
        framed.extend_from_slice(&sent.bytes);
        tcp.write_all(&framed).await.map_err(io)?;
        // The two-byte length bounds the read to 65535 bytes.
        let len = tcp.read_u16().await.map_err(io)?;
        let mut bytes = vec![0; usize::from(len)];
        tcp.read_exact(&mut bytes).await.map_err(io)?;
        Ok(bytes)
    })
    .await;
    let bytes = exchanged.unwrap_or_else(|_| Err(silent(timeout)))?;
    let Some(answer) = answer_to(&sent.request, &bytes) else {
        return Err(Failure::Unreachable(
            "it answered over TCP with a message that is not the answer to the request".into(),
        ));
    };
    check(&sent, key, answer, &bytes).map_err(Failure::Rejected)
}

fn silent(timeout: Duration) -> Failure {
    Failure::Unreachable(format!("no answer within {:?}", timeout))
}

/// `bytes` as the answer to `request`: a response with its ID, opcode and question (RFC 1035
/// §7.3; the zone, for an update).
fn answer_to(request: &Message, bytes: &[u8]) -> Option<Message> {
    let answer = Message::from_vec(bytes).ok()?;
    let matches = answer.id() == request.id()
        && answer.message_type() == MessageType::Response
        && answer.op_code() == request.op_code()
        && answer.queries().iter().all(|q| request.queries().contains(q));
    matches.then_some(answer)
}

/// The answer, if the request was not signed or the answer's TSIG is valid.
fn check(
    sent: &Sent,
    key: Option<&Key>,
    answer: Message,
    bytes: &[u8],
) -> Result<Message, Rejection> {
    match (key, &sent.mac) {
        (Some(key), Some(mac)) => key.verify(mac, &answer, bytes, now()).map(|()| answer),
        _ => Ok(answer),
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
