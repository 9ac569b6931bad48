//! The mocked-API tier (tests only): a Context whose kube client is answered by a script of
//! expected requests, so a reconciler's exact request sequence is tested in milliseconds. The
//! behaviour itself is proved on the real bed (`tests/`); this tier pins what is asked of the
//! API server, in which order, with which body.

use crate::context::{Context, Stores};
use http::{Request, Response};
use kube::client::Body;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use std::sync::Arc;

/// One request the script expects, and the API server's answer.
pub struct Step {
    pub method: &'static str,
    pub path: String,
    pub status: u16,
    pub reply: serde_json::Value,
}

/// `method path` answered 200 with `reply`.
pub fn ok(method: &'static str, path: &str, reply: serde_json::Value) -> Step {
    Step { method, path: path.into(), status: 200, reply }
}

/// A PEM CSR for `names` (the first also its commonName), base64 as a request's spec holds it.
pub fn csr(names: &[&str]) -> String {
    use base64::Engine as _;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, names[0]);
    let pem = params.serialize_request(&key).unwrap().pem().unwrap();
    base64::engine::general_purpose::STANDARD.encode(pem)
}

/// The clock of the mocked tier's tests.
pub fn now() -> jiff::Timestamp {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

/// Where Events of objects in `namespace` are created.
pub fn events(namespace: &str) -> String {
    format!("/apis/events.k8s.io/v1/namespaces/{namespace}/events")
}

/// The API server's answer to an Event's creation.
pub fn event() -> serde_json::Value {
    serde_json::json!({"metadata": {"name": "e"}, "eventTime": "2026-06-01T00:00:00.000000Z"})
}

/// A request as it was made.
#[derive(Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: serde_json::Value,
}

/// The caches a test fills before the reconcile (what the watches would have seen).
pub struct Caches {
    pub certificates: Writer<crate::api::Certificate>,
    pub requests: Writer<crate::api::CertificateRequest>,
    pub orders: Writer<crate::api::Order>,
    pub issuers: Writer<crate::api::Issuer>,
    pub cluster_issuers: Writer<crate::api::ClusterIssuer>,
    pub secrets: Writer<crate::certificate::facts::SecretFacts>,
}

/// Puts `object` in a cache, as its watch would.
pub fn cache<K>(writer: &mut Writer<K>, object: K)
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    writer.apply_watcher_event(&watcher::Event::Apply(object));
}

#[derive(clap::Parser)]
struct Flags {
    #[command(flatten)]
    config: crate::config::Config,
}

/// certsmith's default flags.
pub fn config() -> crate::config::Config {
    use clap::Parser as _;
    Flags::try_parse_from(["certsmith"]).expect("the default flags").config
}

/// A client of a scripted API server: `script` answers the requests in order and returns them.
/// A request the script does not expect fails the test.
pub fn scripted(script: Vec<Step>) -> (kube::Client, tokio::task::JoinHandle<Vec<Call>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let served = tokio::spawn(async move {
        let mut calls = Vec::new();
        for step in script {
            let Some((request, reply)) = handle.next_request().await else { break };
            let (parts, body) = request.into_parts();
            let bytes = http_body_util::BodyExt::collect(body).await.unwrap().to_bytes();
            let call = Call {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            };
            assert_eq!(
                (call.method.as_str(), call.path.as_str()),
                (step.method, step.path.as_str()),
                "request {} of the script (made so far: {calls:#?})",
                calls.len() + 1
            );
            let body = Body::from(serde_json::to_vec(&step.reply).unwrap());
            reply.send_response(Response::builder().status(step.status).body(body).unwrap());
            calls.push(call);
        }
        calls
    });
    (client, served)
}

/// A Context on a scripted API server (`scripted`), its clock at `now`.
pub fn context(
    now: fn() -> jiff::Timestamp,
    script: Vec<Step>,
) -> (Arc<Context>, Caches, tokio::task::JoinHandle<Vec<Call>>) {
    context_with(config(), now, script)
}

/// [`context`] with these settings.
pub fn context_with(
    config: crate::config::Config,
    now: fn() -> jiff::Timestamp,
    script: Vec<Step>,
) -> (Arc<Context>, Caches, tokio::task::JoinHandle<Vec<Call>>) {
    let (client, served) = scripted(script);
    let metrics = crate::metrics::Metrics::default();
    let scope = config.scope();
    let (challenges, _) =
        crate::http01::responder::Challenges::watch(client.clone(), &scope, metrics.clone());
    let (certificates, cw) = reflector::store();
    let (requests, rw) = reflector::store();
    let (orders, ow) = reflector::store();
    let (issuers, iw) = reflector::store();
    let (cluster_issuers, cw2) = reflector::store();
    let (secrets, sw) = reflector::store();
    let all_ready = std::sync::Arc::new(tokio::sync::watch::channel(true).0);
    let stores =
        Stores { certificates, requests, orders, issuers, cluster_issuers, secrets, all_ready };
    let mut ctx = Context::new(client, config, challenges, stores, metrics);
    ctx.clock = now;
    let caches = Caches {
        certificates: cw,
        requests: rw,
        orders: ow,
        issuers: iw,
        cluster_issuers: cw2,
        secrets: sw,
    };
    (Arc::new(ctx), caches, served)
}
