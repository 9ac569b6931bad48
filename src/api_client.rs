//! The API server client: every request and watch of the operator over one HTTP/2 connection.
//!
//! kube's own client speaks HTTP/1.1 only and its pool has no timer, so each concurrent request
//! opened a connection that was never closed: 1,000 Certificates reconciled at once left ~1,000
//! TLS connections and descriptors open. This client offers HTTP/2 by ALPN (as client-go does;
//! every API server accepts it) and multiplexes on one connection, kept alive by pings; a server
//! that answers HTTP/1.1 gets a pool whose idle connections expire.

use futures::future::BoxFuture;
use hyper_util::client::legacy::Client as Http;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::{Body, ConfigExt, retry::RetryPolicy};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{BoxError, Service, ServiceBuilder, retry::RetryLayer};

/// How long an idle HTTP/1.1 connection is kept, and how many per server.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const MAX_IDLE: usize = 4;
/// client-go's HTTP/2 health check: a ping after 30 s of silence, dead after 15 s without a pong.
const PING_AFTER: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a request other than a watch may wait for its answer. Without it one answer that
/// never comes would hold its reconcile, and any lock it holds (an issuer's ACME account), for
/// good; with it the step fails and is retried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

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
        .layer_fn(|inner| Deadline { inner, limit: REQUEST_TIMEOUT })
        .layer(config.base_uri_layer())
        // kube's: 429, 503 and 504 are retried with backoff.
        .option_layer(config.default_retry.then(|| RetryLayer::new(RetryPolicy::server_retry())))
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(http);
    Ok(kube::Client::new(service, config.default_namespace))
}

/// Fails a request that is not a watch when no answer came within `limit`.
#[derive(Clone)]
struct Deadline<S> {
    inner: S,
    limit: Duration,
}

impl<S, B> Service<http::Request<B>> for Deadline<S>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // A watch answers at once and then streams for minutes; its end is the server's.
        let watch = request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
        let (answer, limit) = (self.inner.call(request), self.limit);
        Box::pin(async move {
            if watch {
                return answer.await.map_err(Into::into);
            }
            match tokio::time::timeout(limit, answer).await {
                Ok(answered) => answered.map_err(Into::into),
                Err(_) => Err(format!("no answer from the API server within {limit:?}").into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test(start_paused = true)]
    async fn a_request_without_answer_fails_after_the_limit_and_a_watch_does_not() {
        let silent = tower::service_fn(|_: http::Request<()>| {
            futures::future::pending::<Result<http::Response<()>, BoxError>>()
        });
        let deadline = Deadline { inner: silent, limit: Duration::from_secs(60) };
        let request = |uri: &str| http::Request::get(uri).body(()).unwrap();
        let get = deadline.clone().oneshot(request("/api/v1/namespaces/a/secrets/b"));
        let error = get.await.expect_err("a timeout");
        assert!(error.to_string().contains("within 60s"), "{error}");
        let watch = deadline.oneshot(request("/api/v1/secrets?labelSelector=x&watch=true"));
        let waited = tokio::time::timeout(Duration::from_secs(3600), watch).await;
        assert!(waited.is_err(), "a watch is not cut by the request limit");
    }
}
