//! The API server client: every request and watch of the operator over one HTTP/2 connection.
//!
//! kube's own client speaks HTTP/1.1 only and its pool has no timer, so each concurrent request
//! opened a connection that was never closed: 1,000 Certificates reconciled at once left ~1,000
//! TLS connections and descriptors open. This client offers HTTP/2 by ALPN (as client-go does;
//! every API server accepts it) and multiplexes on one connection, kept alive by pings; a server
//! that answers HTTP/1.1 gets a pool whose idle connections expire.

use hyper_util::client::legacy::Client as Http;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::{Body, ConfigExt, retry::RetryPolicy};
use std::time::Duration;
use tower::{BoxError, ServiceBuilder, retry::RetryLayer};

/// How long an idle HTTP/1.1 connection is kept, and how many per server.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const MAX_IDLE: usize = 4;
/// client-go's HTTP/2 health check: a ping after 30 s of silence, dead after 15 s without a pong.
const PING_AFTER: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// A client for `config`. A kubeconfig with a proxy gets kube's own client (HTTP/1.1 through
/// the proxy), which knows the proxy schemes.
pub fn build(config: kube::Config) -> Result<kube::Client, kube::Error> {
    if config.proxy_url.is_some() {
        return kube::Client::try_from(config);
    }
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(config.connect_timeout);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http();
    let https = match &config.tls_server_name {
        Some(name) => {
            let name = name.clone().try_into().map_err(|e| {
                kube::Error::Service(format!("tls-server-name {name:?}: {e}").into())
            })?;
            https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => https,
    };
    let connector = https.enable_all_versions().wrap_connector(tcp);
    let http: Http<_, Body> = Http::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .pool_max_idle_per_host(MAX_IDLE)
        .http2_keep_alive_interval(PING_AFTER)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        .http2_keep_alive_while_idle(true)
        .build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        // kube's: 429, 503 and 504 are retried with backoff.
        .option_layer(config.default_retry.then(|| RetryLayer::new(RetryPolicy::server_retry())))
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(http);
    Ok(kube::Client::new(service, config.default_namespace))
}
