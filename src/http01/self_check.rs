//! The self-check: before telling the CA to validate, fetch the challenge URL the way the CA
//! will (through DNS, the load balancer and the solver Ingress, following redirects as Let's
//! Encrypt's validator does), so a broken route shows up as a clear message instead of a
//! failed, rate-limited validation.

use super::CHALLENGE_PATH;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// Let's Encrypt's validator follows at most 10 redirects, to ports 80 and 443 only.
const MAX_REDIRECTS: usize = 10;

/// The most of an answer's body the self-check reads: a key authorization is under 100 bytes,
/// and the host is the tenant's to choose (a 300 MB answer must cost one failed check, not the
/// operator's memory).
pub const MAX_BODY: usize = 16 * 1024;

/// Self-checks in flight at once, across all Challenges: each holds a connection and up to
/// [`MAX_BODY`]; the rest wait their turn.
static IN_FLIGHT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(32);

/// Why the challenge is not answered correctly yet, or `Ok` when it is.
/// `address` overrides where to connect for the challenge's host on port 80 (like
/// `curl --resolve`); by default DNS and `host:80`.
pub async fn check(
    host: &str,
    token: &str,
    key_authorization: &str,
    address: Option<&str>,
) -> Result<(), String> {
    let resolve = |h: &str, port: u16| match address {
        Some(a) if h == host && port == 80 => a.to_string(),
        _ => format!("{h}:{port}"),
    };
    check_with(host, token, key_authorization, &resolve).await
}

/// [`check`], with `resolve` saying where to connect for a host and port.
pub async fn check_with(
    host: &str,
    token: &str,
    key_authorization: &str,
    resolve: &(dyn Fn(&str, u16) -> String + Sync),
) -> Result<(), String> {
    let url = format!("http://{host}{CHALLENGE_PATH}{token}");
    let _turn = IN_FLIGHT.acquire().await.map_err(|e| e.to_string())?;
    let follow = async {
        let mut at: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
        for _ in 0..=MAX_REDIRECTS {
            let (status, location, body) = fetch(&at, resolve).await?;
            if status.is_redirection() {
                let location = location.ok_or(format!("got HTTP {status} without a Location"))?;
                at = redirect(&at, &location)?;
                continue;
            }
            if !status.is_success() {
                return Err(format!("got HTTP {status} from {at}"));
            }
            if body.as_ref() != key_authorization.as_bytes() {
                return Err(format!(
                    "got a response from {at} that is not this challenge's key authorization"
                ));
            }
            return Ok(());
        }
        Err(format!("more than {MAX_REDIRECTS} redirects (the CA follows {MAX_REDIRECTS})"))
    };
    match tokio::time::timeout(Duration::from_secs(10), follow).await {
        Ok(result) => result.map_err(|e| format!("self-check GET {url} failed: {e}")),
        Err(_) => Err(format!("self-check GET {url} timed out after 10s")),
    }
}

/// Where a redirect leads, as the CA would take it: relative locations resolved, only http
/// and https, only ports 80 and 443.
fn redirect(from: &http::Uri, location: &str) -> Result<http::Uri, String> {
    let absolute = if location.starts_with('/') {
        format!(
            "{}://{}{location}",
            from.scheme_str().unwrap_or("http"),
            from.authority().map_or("", |a| a.as_str())
        )
    } else {
        location.to_string()
    };
    let to: http::Uri =
        absolute.parse().map_err(|e| format!("redirected to {location:?}, not a URL: {e}"))?;
    let scheme = to.scheme_str().unwrap_or("");
    let default = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return Err(format!("redirected to {to}: the CA follows http and https only")),
    };
    let port = to.port_u16().unwrap_or(default);
    if port != 80 && port != 443 {
        return Err(format!(
            "redirected to {to}: the CA follows redirects to ports 80 and 443 only"
        ));
    }
    Ok(to)
}

/// One GET: the status, the Location, the body. HTTPS certificates are not checked, as the
/// CA does not check them when it follows a redirect.
async fn fetch(
    url: &http::Uri,
    resolve: &(dyn Fn(&str, u16) -> String + Sync),
) -> Result<(http::StatusCode, Option<String>, bytes::Bytes), String> {
    let host = url.host().ok_or(format!("{url} has no host"))?;
    let https = url.scheme_str() == Some("https");
    let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
    let target = resolve(host, port);
    let stream =
        TcpStream::connect(&target).await.map_err(|e| format!("connecting to {target}: {e}"))?;
    let path = url.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let request = Request::get(path)
        .header(hyper::header::HOST, url.authority().map_or(host, |a| a.as_str()))
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = if https {
        let tls = crate::acme::client::unverified_tls().map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| format!("{host}: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls))
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS with {target}: {e}"))?;
        send(TokioIo::new(stream), request).await?
    } else {
        send(TokioIo::new(stream), request).await?
    };
    let status = response.status();
    let location = response
        .headers()
        .get(hyper::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let limited = http_body_util::Limited::new(response.into_body(), MAX_BODY);
    let body = match limited.collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(format!("the answer is larger than {} KiB", MAX_BODY / 1024));
        }
        Err(e) => return Err(e.to_string()),
    };
    Ok((status, location, body))
}

async fn send<T>(
    io: T,
    request: Request<Empty<bytes::Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    sender.send_request(request).await.map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "self_check_tests.rs"]
mod tests;
