//! The ACME client's way out through an HTTP proxy: `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and
//! `NO_PROXY` as curl reads them, CONNECT tunnels to the CA (TLS stays end to end).

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects straight to the destination, or through the proxy the environment names for it.
/// ACME servers are HTTPS (RFC 8555 §6.1): those are tunnelled; plain-HTTP URLs (test CAs)
/// are connected directly.
#[derive(Clone)]
pub struct ProxyConnector {
    direct: HttpConnector,
    matcher: Arc<Matcher>,
}

impl ProxyConnector {
    pub fn from_env() -> ProxyConnector {
        let mut direct = HttpConnector::new();
        // hyper-rustls does the TLS; this connector hands it TCP for https URLs too.
        direct.enforce_http(false);
        ProxyConnector { direct, matcher: Arc::new(Matcher::from_env()) }
    }
}

impl tower_service::Service<http::Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let proxy =
            (dst.scheme_str() == Some("https")).then(|| self.matcher.intercept(&dst)).flatten();
        let mut direct = self.direct.clone();
        match proxy {
            None => Box::pin(async move { Ok(direct.call(dst).await?) }),
            Some(proxy) => {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), direct);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move {
                    let mut tunnel = tunnel;
                    std::future::poll_fn(|cx| tunnel.poll_ready(cx)).await?;
                    Ok(tunnel.call(dst).await?)
                })
            }
        }
    }
}
