//! The challenge responder: answers `GET /.well-known/acme-challenge/<token>` with the key
//! authorization, only for a token in flight and a Host that is the challenge's name. Challenge
//! state comes from the API (the `Challenge` objects, watched), so every replica answers every
//! challenge, whoever presented it.

use crate::api::Challenge;
use crate::api::order::ChallengeType;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Future, StreamExt};
use kube::ResourceExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use std::time::Duration;
use tokio::net::TcpListener;

/// The challenges in flight, as this replica last saw them.
#[derive(Clone)]
pub struct Challenges {
    store: Store<Challenge>,
    metrics: crate::metrics::Metrics,
}

impl Challenges {
    /// Watches Challenges in `scope`'s namespaces. Only what the responder and the Order
    /// controller read is kept (no managed fields, no solver, of the annotations only the
    /// challenge type), so the cache stays small.
    pub fn watch(
        client: kube::Client,
        scope: &crate::scope::Scope,
        metrics: crate::metrics::Metrics,
    ) -> (Challenges, impl Future<Output = ()> + use<>) {
        let (store, writer) = reflector::store();
        let stream = watcher(scope.api::<Challenge>(client), watcher::Config::default())
            .backoff(crate::relist::backoff())
            .modify(|c| {
                c.metadata.managed_fields = None;
                let kind = crate::solver::dns_persist::CHALLENGE_ANNOTATION;
                c.metadata.annotations = c.metadata.annotations.take().and_then(|mut a| {
                    let kept = a.remove_entry(kind)?;
                    Some([kept].into())
                });
                c.spec.solver = Default::default();
            })
            .reflect(writer)
            .applied_objects()
            .for_each(|_| futures::future::ready(()));
        (Challenges { store, metrics }, stream)
    }

    pub async fn ready(&self) {
        let _ = self.store.wait_until_ready().await;
    }

    /// The key authorization for `token` requested for `host`, from a Challenge whose spec is
    /// as it was made: namespace editors may patch Challenges (not make them), and a patched
    /// spec (its `generation` past 1) could name any host, token and key.
    pub fn lookup(&self, host: &str, token: &str) -> Option<String> {
        self.store.state().iter().find_map(|c| {
            (c.spec.type_ == ChallengeType::Http01
                && c.metadata.generation == Some(1)
                && c.spec.token == token
                && same_name(&c.spec.dns_name, host))
            .then(|| c.spec.key.clone())
        })
    }

    /// The Challenges controlled by the object with `uid` (an Order), as last seen.
    pub fn owned_by(&self, uid: &str) -> Vec<std::sync::Arc<Challenge>> {
        self.store
            .state()
            .into_iter()
            .filter(|c| crate::api::meta::controlled_by(c.owner_references(), Some(uid)))
            .collect()
    }
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

/// `example.com:80` → `example.com`; `[::1]:80` → `::1` (an IPv6 identifier, RFC 8738).
fn strip_port(host: &str) -> &str {
    match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(bracketed),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    }
}

/// A DNS name matches without regard to case; an IP address matches in any of its spellings.
fn same_name(identifier: &str, host: &str) -> bool {
    match (identifier.parse::<std::net::IpAddr>(), host.parse::<std::net::IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => identifier.eq_ignore_ascii_case(host),
    }
}

/// Connections served at once; further ones wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 512;

/// Serves `router` on `listener` with HTTP/1, a 10-second limit on reading request headers and
/// a minute on a connection, so slow or idle clients cannot hold connections open, and at most
/// [`MAX_CONNECTIONS`] at once.
pub async fn serve(listener: TcpListener, router: axum::Router) {
    serve_at_most(listener, router, MAX_CONNECTIONS).await
}

async fn serve_at_most(listener: TcpListener, router: axum::Router, max: usize) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(max));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of descriptors (EMFILE) or the like: accepting again at once would spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(Duration::from_secs(60), connection).await;
            drop(slot);
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
        let challenge: Challenge = serde_yaml::from_str(
            "apiVersion: acme.cert-manager.io/v1\nkind: Challenge\nmetadata: {name: a, namespace: default, generation: 1}\n\
             spec: {url: 'https://ca/chall/1', authorizationURL: 'https://ca/authz/1', dnsName: app.example.com,\
             type: HTTP-01, token: tok-1, key: tok-1.thumb, solver: {http01: {ingress: {}}}, issuerRef: {name: i}}",
        )
        .unwrap();
        let mut writer = Writer::default();
        writer.apply_watcher_event(&watcher::Event::Apply(challenge.clone()));
        let mut ip = challenge;
        ip.metadata.name = Some("b".into());
        (ip.spec.dns_name, ip.spec.token, ip.spec.key) =
            ("2001:db8::1".into(), "tok-6".into(), "tok-6.thumb".into());
        writer.apply_watcher_event(&watcher::Event::Apply(ip.clone()));
        // One whose spec someone patched since it was made (a tenant's own host, token, key).
        let mut patched = ip;
        patched.metadata.name = Some("c".into());
        patched.metadata.generation = Some(2);
        (patched.spec.dns_name, patched.spec.token, patched.spec.key) =
            ("app.example.com".into(), "tok-9".into(), "tok-9.theirs".into());
        writer.apply_watcher_event(&watcher::Event::Apply(patched));
        Challenges { store: writer.as_reader(), metrics: Default::default() }
    }

    #[tokio::test]
    async fn connections_past_the_limit_wait_for_a_free_slot() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap();
        tokio::spawn(serve_at_most(listener, router(challenges()), 1));
        let request = b"GET /.well-known/acme-challenge/tok-1 HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n";
        // The one slot, held by a client that says nothing.
        let idle = tokio::net::TcpStream::connect(at).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut waiting = tokio::net::TcpStream::connect(at).await.unwrap();
        waiting.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let early =
            tokio::time::timeout(Duration::from_millis(300), waiting.read_to_end(&mut answer));
        assert!(early.await.is_err(), "answered past the limit: {answer:?}");
        drop(idle);
        tokio::time::timeout(Duration::from_secs(5), waiting.read_to_end(&mut answer))
            .await
            .expect("answered once the slot was free")
            .unwrap();
        assert!(String::from_utf8_lossy(&answer).ends_with("tok-1.thumb"), "{answer:?}");
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
            // A Challenge whose spec was patched after it was made is never answered.
            ("GET", "app.example.com", "/.well-known/acme-challenge/tok-9", 404, ""),
            ("GET", "app.example.com", "/.well-known/acme-challenge/tok-1/x", 404, ""),
            ("GET", "app.example.com", "/.well-known/acme-challenge/", 404, ""),
            ("GET", "app.example.com", "/", 404, ""),
            ("GET", "[2001:db8::1]:5002", "/.well-known/acme-challenge/tok-6", 200, "tok-6.thumb"),
            ("GET", "[2001:DB8:0::1]", "/.well-known/acme-challenge/tok-6", 200, "tok-6.thumb"),
            ("GET", "[2001:db8::2]", "/.well-known/acme-challenge/tok-6", 404, ""),
            ("GET", "app.example.com", "/.well-known/acme-challenge/tok-6", 404, ""),
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
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("[::1]"), "::1");
        assert_eq!(strip_port("192.0.2.1:80"), "192.0.2.1");
    }
}
