//! The self-check: before telling the CA to validate, fetch the challenge URL the way the CA
//! will (through DNS, the load balancer and the solver Ingress), so a broken route shows up as
//! a clear message instead of a failed, rate-limited validation.

use super::CHALLENGE_PATH;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// Why the challenge is not answered correctly yet, or `Ok` when it is.
/// `address` overrides where to connect (like `curl --resolve`); by default `host:80`.
pub async fn check(
    host: &str,
    token: &str,
    key_authorization: &str,
    address: Option<&str>,
) -> Result<(), String> {
    let url = format!("http://{host}{CHALLENGE_PATH}{token}");
    let target = address.map(str::to_string).unwrap_or_else(|| format!("{host}:80"));
    let fetch = async {
        let stream = TcpStream::connect(&target)
            .await
            .map_err(|e| format!("connecting to {target}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let request = Request::get(format!("{CHALLENGE_PATH}{token}"))
            .header(hyper::header::HOST, host)
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        if !status.is_success() {
            return Err(format!("got HTTP {status}"));
        }
        if body.as_ref() != key_authorization.as_bytes() {
            return Err("got a response that is not this challenge's key authorization".into());
        }
        Ok(())
    };
    match tokio::time::timeout(Duration::from_secs(5), fetch).await {
        Ok(result) => result.map_err(|e| format!("self-check GET {url} failed: {e}")),
        Err(_) => Err(format!("self-check GET {url} timed out after 5s")),
    }
}
