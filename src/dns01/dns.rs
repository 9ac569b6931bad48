//! Talking to DNS servers: a query, an RFC 2136 update, the zone a name is in. One exchange
//! each (UDP; an update over TCP where the issuer says `protocol: TCP`), with a timeout, through
//! hickory's client.

use super::Error;
use hickory_client::client::{Client, ClientHandle};
use hickory_proto::op::{MessageFinalizer, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::runtime::TokioRuntimeProvider;
use hickory_proto::tcp::TcpClientStream;
use hickory_proto::udp::UdpClientStream;
use hickory_proto::xfer::DnsResponse;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

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

async fn client(
    server: SocketAddr,
    signer: Option<Arc<dyn MessageFinalizer>>,
    tcp: bool,
) -> Result<Client, Error> {
    let unreachable =
        |e: hickory_proto::ProtoError| Error::Unreachable { server, why: e.to_string() };
    if tcp {
        let provider = TokioRuntimeProvider::default();
        let (stream, handle) = TcpClientStream::new(server, None, Some(TIMEOUT), provider);
        let (client, background) =
            Client::with_timeout(stream, handle, TIMEOUT, signer).await.map_err(unreachable)?;
        tokio::spawn(background);
        return Ok(client);
    }
    let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
        .with_timeout(Some(TIMEOUT))
        .with_signer(signer)
        .build();
    let (client, background) = Client::connect(stream).await.map_err(unreachable)?;
    tokio::spawn(background);
    Ok(client)
}

/// The answer of `server` for `name`/`rtype`.
pub async fn query(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
) -> Result<DnsResponse, Error> {
    let mut c = client(server, None, false).await?;
    c.query(name.clone(), DNSClass::IN, rtype)
        .await
        .map_err(|e| Error::Unreachable { server, why: e.to_string() })
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
/// the authority section).
pub async fn zone_of(server: SocketAddr, name: &Name) -> Result<Name, Error> {
    let answer = query(server, name, RecordType::SOA).await?;
    let soa = |records: &[Record]| {
        records.iter().find(|r| r.record_type() == RecordType::SOA).map(|r| r.name().clone())
    };
    soa(answer.answers()).or_else(|| soa(answer.name_servers())).ok_or_else(|| Error::Refused {
        server,
        what: format!("finding the zone of {name}"),
        rcode: format!("no SOA record ({})", answer.response_code()),
    })
}

/// The CNAME `server` holds for `name`, if any.
pub async fn cname(server: SocketAddr, name: &Name) -> Result<Option<Name>, Error> {
    let answer = query(server, name, RecordType::CNAME).await?;
    Ok(answer.answers().iter().find_map(|r| match r.data() {
        RData::CNAME(c) => Some(c.0.clone()),
        _ => None,
    }))
}

/// Adds (or, `add == false`, removes) the TXT `value` at `name` in `zone` on `server`, signed by
/// `signer`. Adding keeps the other values: a wildcard and its base name share one record name.
pub async fn update(
    server: SocketAddr,
    zone: &Name,
    name: &Name,
    value: &str,
    add: bool,
    signer: Option<Arc<dyn MessageFinalizer>>,
    tcp: bool,
) -> Result<(), Error> {
    let mut c = client(server, signer, tcp).await?;
    let mut record = Record::from_rdata(name.clone(), 60, RData::TXT(TXT::new(vec![value.into()])));
    record.set_dns_class(DNSClass::IN);
    let sent = if add {
        c.append(record, zone.clone(), false).await
    } else {
        c.delete_by_rdata(record, zone.clone()).await
    };
    let answer = sent.map_err(|e| Error::Unreachable { server, why: e.to_string() })?;
    match answer.response_code() {
        ResponseCode::NoError => Ok(()),
        code => Err(Error::Refused {
            server,
            what: format!("the update of {name} in zone {zone}"),
            rcode: refusal(code),
        }),
    }
}

/// The server's refusal in words: its response code, and what NOTAUTH means for an update
/// (RFC 8945 §5.3: a TSIG key, algorithm or signature the server does not accept).
fn refusal(code: ResponseCode) -> String {
    match code {
        ResponseCode::NotAuth => "NOTAUTH (the server did not accept the TSIG signature: check \
                                  tsigKeyName, tsigAlgorithm and the secret)"
            .into(),
        ResponseCode::Refused => "REFUSED (the server does not allow this update)".into(),
        _ => code.to_string(),
    }
}
