//! A hostile server on 127.0.0.1, as a tenant would run one: every request, over plain HTTP or
//! TLS, is answered 200 with a 300 MB body it streams for as long as the client reads. It
//! counts what it got sent out, so a test sees where certsmith stopped reading.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// The body every answer promises.
pub const BODY: u64 = 300 * 1024 * 1024;

pub struct Hostile {
    pub http: String,
    pub https: String,
    /// The TLS certificate's PEM, for an Issuer's `caBundle`.
    pub ca_pem: String,
    sent: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    most: Arc<AtomicU64>,
}

impl Hostile {
    pub async fn start() -> Hostile {
        let sent = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let most = Arc::new(AtomicU64::new(0));
        let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (http, https) = (plain.local_addr().unwrap(), tls.local_addr().unwrap());
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let ca_pem = cert.pem();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let counts = Counts { sent: sent.clone(), requests: requests.clone(), most: most.clone() };
        let c = counts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = plain.accept().await {
                tokio::spawn(answer(stream, c.clone()));
            }
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = tls.accept().await {
                let (acceptor, c) = (acceptor.clone(), counts.clone());
                tokio::spawn(async move {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        answer(stream, c).await;
                    }
                });
            }
        });
        Hostile {
            http: http.to_string(),
            https: format!("https://{https}"),
            ca_pem,
            sent,
            requests,
            most,
        }
    }

    /// Body bytes written to clients so far (what the kernel took: the client read at most
    /// this, less what sat in its buffers when it hung up).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The most body bytes one connection took before its client hung up (the client's and
    /// the loopback's socket buffers hold several MB of it unread).
    pub fn most(&self) -> u64 {
        self.most.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct Counts {
    sent: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    most: Arc<AtomicU64>,
}

/// Reads a request's head, then writes the 300 MB answer until the client goes.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, counts: Counts) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    counts.requests.fetch_add(1, Ordering::Relaxed);
    let start = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nReplay-Nonce: n\r\n\
         Content-Length: {BODY}\r\n\r\n{{\"x\": \""
    );
    if stream.write_all(start.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![b'a'; 64 * 1024];
    let mut left = BODY;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        if stream.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        counts.sent.fetch_add(n as u64, Ordering::Relaxed);
        left -= n as u64;
    }
    counts.most.fetch_max(BODY - left, Ordering::Relaxed);
}
