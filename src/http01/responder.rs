//! The challenge responder: answers `GET /.well-known/acme-challenge/<token>` with the key
//! authorization, only for a token in flight and a Host that is the challenge's name. Challenge
//! state comes from the API (Certificates' `status.acme.order.challenges`, watched), so every
//! replica answers every challenge, whoever presented it.

use crate::api::Certificate;
use crate::api::certificate::Http01Challenge;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Future, StreamExt};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use std::time::Duration;
use tokio::net::TcpListener;

/// The challenges in flight, as this replica last saw them.
#[derive(Clone)]
pub struct Challenges {
    store: Store<Certificate>,
    metrics: crate::metrics::Metrics,
}

impl Challenges {
    /// Watches Certificates in all namespaces, keeping only what the responder needs (the
    /// challenges), so the cache stays small however many Certificates there are.
    pub fn watch(
        client: kube::Client,
        metrics: crate::metrics::Metrics,
    ) -> (Challenges, impl Future<Output = ()>) {
        let (store, writer) = reflector::store();
        let stream = watcher(Api::<Certificate>::all(client), watcher::Config::default())
            .default_backoff()
            .modify(|c| {
                c.metadata.managed_fields = None;
                c.metadata.annotations = None;
                c.metadata.labels = None;
                c.spec = Default::default();
                if let Some(status) = c.status.take() {
                    let order = status.acme.and_then(|a| a.order);
                    let challenges = order.and_then(|o| o.challenges);
                    c.status = challenges.map(|ch| crate::api::CertificateStatus {
                        acme: Some(crate::api::certificate::CertificateAcmeStatus {
                            order: Some(crate::api::certificate::AcmeOrderStatus {
                                challenges: Some(ch),
                                ..Default::default()
                            }),
                            ari: None,
                        }),
                        ..Default::default()
                    });
                }
            })
            .reflect(writer)
            .applied_objects()
            .for_each(|_| futures::future::ready(()));
        (Challenges { store, metrics }, stream)
    }

    pub async fn ready(&self) {
        let _ = self.store.wait_until_ready().await;
    }

    /// The key authorization for `token` requested for `host`.
    pub fn lookup(&self, host: &str, token: &str) -> Option<String> {
        self.store.state().iter().find_map(|cert| {
            challenges(cert)
                .iter()
                .find(|c| c.token == token && c.host.eq_ignore_ascii_case(host))
                .map(|c| c.key_authorization.clone())
        })
    }
}

fn challenges(cert: &Certificate) -> &[Http01Challenge] {
    cert.status
        .as_ref()
        .and_then(|s| s.acme.as_ref())
        .and_then(|a| a.order.as_ref())
        .and_then(|o| o.challenges.as_deref())
        .unwrap_or_default()
}

pub fn router(challenges: Challenges) -> axum::Router {
    axum::Router::new()
        .route(
            "/.well-known/acme-challenge/{token}",
            axum::routing::get(answer).fallback(|| async { StatusCode::NOT_FOUND }),
        )
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(challenges)
}

async fn answer(
    State(challenges): State<Challenges>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let host =
        headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(strip_port).unwrap_or_default();
    match challenges.lookup(host, &token) {
        Some(key_authorization) => {
            challenges.metrics.http01_request("answered");
            let mut response = key_authorization.into_response();
            // A cached answer would outlive its challenge, or serve a stale one to the CA.
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, no-store, must-revalidate"),
            );
            response
        }
        None => {
            challenges.metrics.http01_request("unknown");
            StatusCode::NOT_FOUND.into_response()
        }
    }
}

/// `example.com:80` → `example.com`; `[::1]:80` → `[::1]`.
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

/// Serves `router` on `listener` with HTTP/1 and a 10-second limit on reading request headers,
/// so slow or idle clients cannot hold connections open.
pub async fn serve(listener: TcpListener, router: axum::Router) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use kube::runtime::reflector::store::Writer;
    use tower::ServiceExt;

    fn challenges() -> Challenges {
        let cert: Certificate = serde_yaml::from_str(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a, namespace: default}\n\
             spec: {secretName: a, issuerRef: {name: i}}\n\
             status: {acme: {order: {url: 'https://ca/order/1', challenges: [\
             {host: app.example.com, token: tok-1, keyAuthorization: tok-1.thumb}]}}}",
        )
        .unwrap();
        let mut writer = Writer::default();
        writer.apply_watcher_event(&watcher::Event::Apply(cert));
        Challenges { store: writer.as_reader(), metrics: Default::default() }
    }

    #[tokio::test]
    async fn answers_only_known_tokens_for_their_host() {
        let router = router(challenges());
        let table = [
            ("GET", "app.example.com", "/.well-known/acme-challenge/tok-1", 200, "tok-1.thumb"),
            (
                "GET",
                "app.example.com:5002",
                "/.well-known/acme-challenge/tok-1",
                200,
                "tok-1.thumb",
            ),
            ("GET", "APP.example.com", "/.well-known/acme-challenge/tok-1", 200, "tok-1.thumb"),
            ("GET", "other.example.com", "/.well-known/acme-challenge/tok-1", 404, ""),
            ("GET", "", "/.well-known/acme-challenge/tok-1", 404, ""),
            ("GET", "app.example.com", "/.well-known/acme-challenge/tok-2", 404, ""),
            ("GET", "app.example.com", "/.well-known/acme-challenge/tok-1/x", 404, ""),
            ("GET", "app.example.com", "/.well-known/acme-challenge/", 404, ""),
            ("GET", "app.example.com", "/", 404, ""),
            ("POST", "app.example.com", "/.well-known/acme-challenge/tok-1", 404, ""),
            ("PUT", "app.example.com", "/.well-known/acme-challenge/tok-1", 404, ""),
            ("DELETE", "app.example.com", "/.well-known/acme-challenge/tok-1", 404, ""),
        ];
        for (method, host, path, want_status, want_body) in table {
            let mut request = axum::http::Request::builder().method(method).uri(path);
            if !host.is_empty() {
                request = request.header(header::HOST, host);
            }
            let response =
                router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(response.status().as_u16(), want_status, "{method} {host}{path}");
            if want_status == 200 {
                let cache = response
                    .headers()
                    .get(header::CACHE_CONTROL)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                assert_eq!(cache, "no-cache, no-store, must-revalidate");
                let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
                assert_eq!(body, want_body, "{method} {host}{path}");
            }
        }
    }

    #[test]
    fn ports_are_stripped_from_host_headers() {
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("example.com:5002"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}
