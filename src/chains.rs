//! Signed chains between the steps: the Order's chain handed to its request, the request's to
//! its Certificate, and what the operator's caches keep of a finished Order or request.
//!
//! A chain is stored three times in the cluster (Order, request, Secret, as cert-manager does)
//! and each of those kinds is cached. A finished Order or request is never written again, and
//! its chain (and a request's CA) is read once, by the next step, moments after it was written.
//! So the caches keep finished ones without them (and a finished Order without its CSR and
//! authorizations), the writer hands them to the next step in memory, and a step that finds no
//! hand-off (after a restart, or when the hand-off was evicted) reads the object from the API.
//! The Secret's copy is the one read afterwards.

use crate::api::order::State;
use crate::api::{CertificateRequest, Order, OrderStatus};
use k8s_openapi::ByteString;
use kube::api::Api;
use kube::{Resource, ResourceExt};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Hand-offs kept at most: a burst beyond it reads the rest from the API.
const KEPT: usize = 1024;

/// Chains written moments ago, by the uid of the object they were written to, and the uids
/// oldest first (the first to go when full).
type Kept = (HashMap<String, Vec<u8>>, VecDeque<String>);

#[derive(Default)]
pub struct Chains(Mutex<Kept>);

impl Chains {
    /// `object`'s status now holds `chain`: kept for the step that reads it next.
    pub fn give(&self, object: &impl Resource, chain: &[u8]) {
        let Some(uid) = object.meta().uid.clone() else { return };
        self.keep(uid, chain);
    }

    /// `request`'s status now holds `ca` (its `status.ca`), kept as its chain is.
    pub fn give_ca(&self, request: &CertificateRequest, ca: &[u8]) {
        let Some(uid) = request.meta().uid.as_deref() else { return };
        self.keep(format!("{uid}{CA}"), ca);
    }

    fn keep(&self, uid: String, chain: &[u8]) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (chains, order) = &mut *kept;
        while chains.len() >= KEPT {
            let Some(oldest) = order.pop_front() else { break };
            chains.remove(&oldest);
        }
        if chains.insert(uid.clone(), chain.to_vec()).is_none() {
            order.push_back(uid);
        }
    }

    /// The chain handed over for `uid`, once.
    fn handed(&self, uid: &str) -> Option<Vec<u8>> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (chains, order) = &mut *kept;
        let found = chains.remove(uid)?;
        order.retain(|u| u != uid);
        Some(found)
    }

    /// The chain `object` holds: as cached; else, when the cache left it out, as its writer
    /// handed it over or read from the API (`None` when the stored object has none or is
    /// another one of the same name).
    async fn of<K>(
        &self,
        client: &kube::Client,
        object: &K,
        (chain, suffix): (fn(&K) -> Option<&ByteString>, &str),
    ) -> Result<Option<Vec<u8>>, kube::Error>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let Some(cached) = chain(object) else { return Ok(None) };
        if !left_out(cached) {
            return Ok(Some(cached.0.clone()));
        }
        let uid = object.uid();
        if let Some(handed) = uid.as_deref().and_then(|uid| self.handed(&format!("{uid}{suffix}")))
        {
            return Ok(Some(handed));
        }
        let api: Api<K> = Api::namespaced(client.clone(), &object.namespace().unwrap_or_default());
        let stored = api.get_opt(&object.name_any()).await?.filter(|s| s.uid() == uid);
        Ok(stored.as_ref().and_then(chain).map(|c| c.0.clone()).filter(|c| !c.is_empty()))
    }

    /// The chain `order` got (see `of`).
    pub async fn of_order(
        &self,
        client: &kube::Client,
        order: &Order,
    ) -> Result<Option<Vec<u8>>, kube::Error> {
        self.of(client, order, (order_chain, "")).await
    }

    /// The chain `request` was signed with (see `of`).
    pub async fn of_request(
        &self,
        client: &kube::Client,
        request: &CertificateRequest,
    ) -> Result<Option<Vec<u8>>, kube::Error> {
        self.of(client, request, (request_chain, "")).await
    }

    /// The CA `request` was signed under, its `status.ca` (see `of`).
    pub async fn ca_of_request(
        &self,
        client: &kube::Client,
        request: &CertificateRequest,
    ) -> Result<Option<Vec<u8>>, kube::Error> {
        self.of(client, request, (request_ca, CA)).await
    }
}

fn order_chain(order: &Order) -> Option<&ByteString> {
    order.status.as_ref()?.certificate.as_ref()
}

fn request_chain(request: &CertificateRequest) -> Option<&ByteString> {
    request.status.as_ref()?.certificate.as_ref()
}

fn request_ca(request: &CertificateRequest) -> Option<&ByteString> {
    request.status.as_ref()?.ca.as_ref()
}

/// What a request's CA hand-off is kept under, after its uid.
const CA: &str = "/ca";

/// Whether a cached `chain` was left out by `trim_order`/`trim_request` (stored in the API).
pub fn left_out(chain: &ByteString) -> bool {
    chain.0.is_empty()
}

/// An Order the Order step has finished with: valid with its chain stored, or failed.
pub fn order_finished(status: &OrderStatus) -> bool {
    match status.state {
        Some(State::Valid) => status.certificate.is_some(),
        state => state.is_some_and(State::is_final),
    }
}

/// What the cache keeps of `order`: all of it until it is finished, then what its request
/// and the budget read (the state, URL, reason, timestamps) and an empty chain that says the
/// chain is in the API. A failed Order keeps its authorizations: its Challenges, deleted as
/// it fails, are cleaned up as rebuilt from them (`challenge::trust`); a valid one's were
/// cleaned up as each was decided.
pub fn trim_order(order: &mut Order) {
    let Some(status) = order.status.as_mut().filter(|s| order_finished(s)) else { return };
    if status.state == Some(State::Valid) {
        status.authorizations = None;
    }
    if let Some(chain) = status.certificate.as_mut() {
        chain.0 = Vec::new();
    }
    order.spec.request = ByteString(Vec::new());
}

/// What the cache keeps of a finished request: all but the chain and the CA, which empty ones
/// stand for, and the requester's identity, which only approving and signing read. The CSR
/// stays: the Certificate's policies compare it with the spec at every look.
pub fn trim_request(request: &mut CertificateRequest) {
    if !request.finished() {
        return;
    }
    let spec = &mut request.spec;
    (spec.username, spec.uid, spec.groups, spec.extra) = (None, None, None, None);
    let Some(status) = request.status.as_mut() else { return };
    for kept in [status.certificate.as_mut(), status.ca.as_mut()].into_iter().flatten() {
        kept.0 = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn order(yaml: &str) -> Order {
        let base = "apiVersion: acme.cert-manager.io/v1\nkind: Order\nmetadata: {name: o, namespace: n}\n\
                    spec: {request: Q1NS, issuerRef: {name: le}}\n";
        serde_yaml::from_str(&format!("{base}{yaml}")).unwrap()
    }

    #[test]
    fn only_finished_orders_lose_their_chain_and_csr_and_valid_ones_their_authorizations() {
        let authz = "authorizations: [{url: a, identifier: x, initialState: pending}]";
        // (status, trimmed)
        let table = [
            (format!("status: {{state: pending, url: u, {authz}}}"), false),
            (format!("status: {{state: ready, url: u, {authz}}}"), false),
            // Valid but the chain not downloaded yet: the Order step still needs it all.
            (format!("status: {{state: valid, url: u, {authz}}}"), false),
            (format!("status: {{state: valid, url: u, certificate: UEVN, {authz}}}"), true),
            (format!("status: {{state: invalid, url: u, reason: no, {authz}}}"), true),
            ("status: {}".to_string(), false),
        ];
        for (status, trimmed) in table {
            let full = order(&status);
            let mut cached = full.clone();
            trim_order(&mut cached);
            let s = cached.status.clone().unwrap_or_default();
            let before = full.status.clone().unwrap_or_default();
            assert_eq!(cached.spec.request.0.is_empty(), trimmed, "{status}");
            let valid = before.state == Some(State::Valid);
            let dropped = trimmed && valid || before.authorizations.is_none();
            assert_eq!(s.authorizations.is_none(), dropped, "{status}");
            assert_eq!(
                s.certificate.as_ref().is_some_and(left_out),
                trimmed && s.certificate.is_some()
            );
            // Still finished (or not) as the Order step sees it; the rest is untouched.
            assert_eq!(order_finished(&s), order_finished(&before), "{status}");
            assert_eq!((s.state, s.url, s.reason), (before.state, before.url, before.reason));
        }
    }

    #[test]
    fn only_finished_requests_lose_their_chain_ca_and_requester() {
        let base = "apiVersion: cert-manager.io/v1\nkind: CertificateRequest\nmetadata: {name: r, namespace: n}\n\
                    spec: {request: Q1NS, issuerRef: {name: le}, username: u, uid: i, groups: [g], extra: {k: [v]}}\n\
                    status:\n  certificate: UEVN\n  ca: Q0E=\n  conditions:\n";
        let ready = |status: &str, reason: &str| {
            format!("{base}  - {{type: Ready, status: '{status}', reason: {reason}}}\n")
        };
        for (yaml, trimmed) in [
            (ready("True", "Issued"), true),
            (ready("False", "Pending"), false),
            (ready("False", "Failed"), true),
        ] {
            let mut cr: CertificateRequest = serde_yaml::from_str(&yaml).unwrap();
            trim_request(&mut cr);
            let chain = cr.status.as_ref().and_then(|s| s.certificate.as_ref());
            assert_eq!(chain.is_some_and(left_out), trimmed, "{yaml}");
            let ca = cr.status.as_ref().and_then(|s| s.ca.as_ref());
            assert_eq!(ca.is_some_and(left_out), trimmed, "{yaml}");
            let spec = &cr.spec;
            let identity = (&spec.username, &spec.uid, &spec.groups, &spec.extra);
            assert_eq!(identity.0.is_none(), trimmed, "{yaml}");
            assert_eq!(identity.1.is_none() && identity.2.is_none(), trimmed);
            assert_eq!(identity.3.is_none(), trimmed);
            assert_eq!(cr.spec.request.0, b"CSR", "the CSR stays");
            assert!(cr.finished() == trimmed, "{yaml}");
        }
    }

    /// A client answering every request with `stored` (404 without), and what it was asked.
    fn api(stored: Option<CertificateRequest>) -> (kube::Client, Arc<Mutex<Vec<String>>>) {
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = asked.clone();
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            log.lock().unwrap().push(format!("{} {}", req.method(), req.uri().path()));
            let (code, body) = match &stored {
                Some(o) => (200, serde_json::to_vec(o).unwrap()),
                None => (404, br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#.to_vec()),
            };
            let response = http::Response::builder().status(code);
            let response = response.body(http_body_util::Full::new(bytes::Bytes::from(body)));
            async move { Ok::<_, std::convert::Infallible>(response.unwrap()) }
        });
        (kube::Client::new(service, "default"), asked)
    }

    fn request(uid: &str, chain: Option<&str>) -> CertificateRequest {
        let mut cr: CertificateRequest = serde_yaml::from_str(
            "apiVersion: cert-manager.io/v1\nkind: CertificateRequest\nmetadata: {name: r, namespace: n}\n\
             spec: {request: Q1NS, issuerRef: {name: le}}\n",
        )
        .unwrap();
        cr.metadata.uid = Some(uid.into());
        let status = cr.status.get_or_insert_default();
        status.certificate = chain.map(|c| ByteString(c.as_bytes().to_vec()));
        cr
    }

    #[tokio::test]
    async fn a_left_out_chain_is_taken_from_the_hand_off_else_read_from_the_api() {
        let get = "GET /apis/cert-manager.io/v1/namespaces/n/certificaterequests/r";
        // (cached, handed over, stored in the API, wanted, requests made)
        let table: Vec<(_, Option<&str>, _, Option<&str>, Vec<&str>)> = vec![
            (request("u", Some("CACHED")), None, None, Some("CACHED"), vec![]),
            (request("u", None), Some("HANDED"), None, None, vec![]),
            (request("u", Some("")), Some("HANDED"), None, Some("HANDED"), vec![]),
            (request("u", Some("")), None, Some(request("u", Some("API"))), Some("API"), vec![get]),
            // Replaced under the same name since the cache saw it: not its chain.
            (request("u", Some("")), None, Some(request("v", Some("API"))), None, vec![get]),
            (request("u", Some("")), None, None, None, vec![get]),
        ];
        for (cached, handed, stored, want, asked) in table {
            let chains = Chains::default();
            if let Some(h) = handed {
                chains.give(&cached, h.as_bytes());
            }
            let (client, seen) = api(stored.clone());
            let got = chains.of_request(&client, &cached).await.unwrap();
            let shown = format!("{:?} handed {handed:?} stored {stored:?}", cached.status);
            assert_eq!(got.as_deref(), want.map(str::as_bytes), "{shown}");
            assert_eq!(*seen.lock().unwrap(), asked, "{shown}");
        }
    }

    #[tokio::test]
    async fn a_left_out_ca_has_its_own_hand_off_and_is_read_from_the_api_without_one() {
        let with_ca = |ca: &str| {
            let mut r = request("u", Some(""));
            r.status.get_or_insert_default().ca = Some(ByteString(ca.as_bytes().to_vec()));
            r
        };
        let chains = Chains::default();
        chains.give(&with_ca(""), b"CHAIN");
        chains.give_ca(&with_ca(""), b"CA");
        let (client, seen) = api(None);
        let ca = chains.ca_of_request(&client, &with_ca("")).await.unwrap();
        assert_eq!(ca.as_deref(), Some(&b"CA"[..]));
        let chain = chains.of_request(&client, &with_ca("")).await.unwrap();
        assert_eq!(chain.as_deref(), Some(&b"CHAIN"[..]), "each its own");
        assert!(seen.lock().unwrap().is_empty());
        let (client, seen) = api(Some(with_ca("STORED")));
        let ca = chains.ca_of_request(&client, &with_ca("")).await.unwrap();
        assert_eq!(ca.as_deref(), Some(&b"STORED"[..]), "taken once, then read");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn hand_offs_are_bounded_and_taken_once() {
        let chains = Chains::default();
        let named = |uid: &str| {
            let mut o = order("status: {}");
            o.metadata.uid = Some(uid.into());
            o
        };
        for i in 0..KEPT + 10 {
            chains.give(&named(&i.to_string()), b"PEM");
        }
        // The oldest went first.
        assert_eq!(chains.handed("0"), None);
        assert_eq!(chains.handed("10").as_deref(), Some(&b"PEM"[..]));
        assert_eq!(chains.handed("10"), None, "taken once");
        let kept = chains.0.lock().unwrap();
        assert_eq!((kept.0.len(), kept.1.len()), (KEPT - 1, KEPT - 1));
    }
}
