//! A proxy in front of Pebble that reads the ACME exchange in clear, for faults between the CA
//! and the operator: it can SIGKILL the operator once the CA has registered an account and
//! before the CA's answer reaches the operator, the one moment nothing outside the operator
//! can otherwise hit (the ACME traffic is TLS end to end).
//!
//! It ends TLS with Pebble's own certificate (so an issuer's `caBundle` is Pebble's), and passes
//! each request on to Pebble with its Host header: Pebble builds every URL it hands out (the
//! directory, accounts, orders) from that header, so an issuer whose `server` is the proxy's
//! directory talks to Pebble through the proxy alone, and the JWS `url`s it signs match.

use crate::support::acme::PebbleBed;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use std::sync::{Arc, Mutex};

type Upstream = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

pub struct CaProxy {
    /// The directory URL to give an issuer as its `server`.
    pub directory_url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct State {
    /// The operator to SIGKILL when the CA next registers an account.
    kill: Option<u32>,
    /// The URL of each account the CA registered (`newAccount` answered 201 Created).
    registered: Vec<String>,
}

/// Pebble's HTTPS certificate chain and key (`start-pebble.sh` writes them to its directory).
fn pebble_identity(pebble: &PebbleBed) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let read = |f: &str| pem::parse_many(std::fs::read(pebble.dir.join(f)).unwrap()).unwrap();
    let certs =
        read("cert.pem").iter().map(|p| CertificateDer::from(p.contents().to_vec())).collect();
    let key = read("key.pem").into_iter().next().expect("Pebble's key");
    let key = match key.tag() {
        "EC PRIVATE KEY" => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(key.contents().to_vec())),
        _ => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.contents().to_vec())),
    };
    (certs, key)
}

fn upstream(pebble: &PebbleBed) -> Upstream {
    let mut roots = rustls::RootCertStore::empty();
    let ca = pem::parse_many(std::fs::read(&pebble.ca_pem).unwrap()).unwrap();
    for c in ca {
        roots.add(CertificateDer::from(c.contents().to_vec())).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

impl CaProxy {
    /// Listens on a free loopback port, in front of `pebble`.
    pub async fn start(pebble: &PebbleBed) -> CaProxy {
        let (certs, key) = pebble_identity(pebble);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        // HTTP/1.1 only: one request, one answer, read whole.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let pebble_uri: http::Uri = pebble.directory_url.parse().unwrap();
        let origin = format!("https://{}", pebble_uri.authority().unwrap());
        let client = upstream(pebble);
        // The path Pebble registers accounts at, from its directory.
        let get = Request::get(&pebble.directory_url).header("user-agent", "certsmith-e2e-proxy");
        let get = get.body(Full::default()).unwrap();
        let directory = client.request(get).await.unwrap().into_body().collect().await.unwrap();
        let directory: serde_json::Value = serde_json::from_slice(&directory.to_bytes()).unwrap();
        let new_account: http::Uri = directory["newAccount"].as_str().unwrap().parse().unwrap();
        let new_account = new_account.path().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = (Arc::new(origin), Arc::new(new_account), client, state.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let (acceptor, shared) = (acceptor.clone(), shared.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, std::convert::Infallible>(forward(req, shared).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new();
                    let _ = conn.serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        let path = pebble_uri.path();
        CaProxy { directory_url: format!("https://127.0.0.1:{port}{path}"), state, task }
    }

    /// The next account registration kills process `pid` (SIGKILL) after the CA registered
    /// it, before the answer is passed on; once.
    pub fn kill_on_registration(&self, pid: u32) {
        self.state.lock().unwrap().kill = Some(pid);
    }

    /// The URL of every account the CA registered through the proxy, in order.
    pub fn registered(&self) -> Vec<String> {
        self.state.lock().unwrap().registered.clone()
    }
}

impl Drop for CaProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = (Arc<String>, Arc<String>, Upstream, Arc<Mutex<State>>);

/// One request passed on to Pebble, and its answer back; a registration noted, and the
/// operator killed first when asked.
async fn forward(
    req: Request<Incoming>,
    (origin, new_account, client, state): Shared,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let registering =
        parts.method == http::Method::POST && parts.uri.path() == new_account.as_str();
    let mut onward = Request::builder().method(parts.method.clone()).uri(format!("{origin}{path}"));
    for (name, value) in parts.headers.iter().filter(|(n, _)| !framing(n)) {
        onward = onward.header(name, value);
    }
    let answer = match client.request(onward.body(Full::new(body)).unwrap()).await {
        Ok(answer) => answer,
        Err(e) => {
            let mut failed = Response::new(Full::new(Bytes::from(format!("proxy: {e}"))));
            *failed.status_mut() = StatusCode::BAD_GATEWAY;
            return failed;
        }
    };
    let (mut parts, body) = answer.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let framed: Vec<_> = parts.headers.keys().filter(|n| framing(n)).cloned().collect();
    framed.iter().for_each(|n| _ = parts.headers.remove(n));
    if registering && parts.status == StatusCode::CREATED {
        let location = parts.headers.get(http::header::LOCATION);
        let url = location.and_then(|l| l.to_str().ok()).unwrap_or_default().to_string();
        let kill = {
            let mut state = state.lock().unwrap();
            state.registered.push(url);
            state.kill.take()
        };
        if let Some(pid) = kill {
            kill_now(pid).await;
        }
    }
    Response::from_parts(parts, Full::new(body))
}

/// Headers of one hop's framing: each side's body is read whole and framed anew.
fn framing(name: &http::HeaderName) -> bool {
    use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
    [CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING].contains(name)
}

/// SIGKILL, and wait until the process is gone: nothing of the answer reaches it.
async fn kill_now(pid: u32) {
    let pid = pid.to_string();
    let _ = tokio::process::Command::new("kill").args(["-KILL", &pid]).status().await;
    // Gone, or a zombie its parent (the test) has yet to reap: either runs no code.
    for _ in 0..100 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("process {pid} still runs after SIGKILL");
}
