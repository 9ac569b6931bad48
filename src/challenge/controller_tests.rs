//! The Challenge step's request sequences, on the mocked API (`mock_api`), where no CA is
//! asked: Challenges certsmith leaves untouched, a solver certsmith does not have, and the
//! clean-up of decided or deleted ones, done as the Order and the issuer say.

use super::fixtures::{issuer, order, planned, request};
use crate::api::Challenge;
use crate::mock_api::{cache, context, event, events, now, ok};
use kube::runtime::controller::Action;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const CHALLENGES: &str = "/apis/acme.cert-manager.io/v1/namespaces/team/challenges";

/// An RFC 2136 solver (its server is never reached: nothing here is cleaned up through it).
const DNS: &str = "[{dns01: {rfc2136: {nameserver: '192.0.2.53'}}}]";

fn owner(uid: &str) -> serde_json::Value {
    json!([{"apiVersion": "acme.cert-manager.io/v1", "kind": "Order", "name": "web-1-abc",
            "uid": uid, "controller": true}])
}

/// A Challenge as someone with write access to Challenges makes it: their own solver (a
/// nameserver of theirs, the cluster's DNS issuer), their own name.
fn hand_made(owners: serde_json::Value) -> Challenge {
    serde_json::from_value(json!({
        "metadata": {"name": "mine", "namespace": "team", "resourceVersion": "5",
                     "ownerReferences": owners},
        "spec": {"url": "https://evil/chall/1", "authorizationURL": "https://evil/authz/1",
                 "dnsName": "bank.example", "type": "DNS-01", "token": "t", "key": "k",
                 "solver": {"dns01": {"rfc2136": {"nameserver": "198.51.100.1"}}},
                 "issuerRef": {"name": "le", "kind": "ClusterIssuer"}}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_challenge_no_order_of_certsmiths_controls_is_left_untouched() {
    // Made by hand; made to look like the Order's child with another UID; the child of an
    // Order no approved request controls: one Event each, nothing presented, no status written.
    let cases = [
        (hand_made(json!([])), true, "no Order certsmith acts for controls"),
        (hand_made(owner("o-2")), true, "no Order certsmith acts for controls"),
        (hand_made(owner("o-1")), false, "no CertificateRequest controls this Order"),
    ];
    for (ch, with_request, why) in cases {
        let script = vec![ok("POST", &events("team"), event())];
        let (ctx, mut caches, served) = context(now, script);
        cache(&mut caches.orders, order());
        if with_request {
            cache(&mut caches.requests, request());
        }
        let action = super::controller::reconcile(Arc::new(ch), ctx).await.unwrap();
        assert_eq!(action, Action::await_change(), "not young: no creation time");
        let calls = served.await.unwrap();
        assert_eq!(calls[0].body["reason"], json!("NotOwnedByOrder"));
        let note = calls[0].body["note"].as_str().unwrap();
        assert!(note.contains(why), "{note}");
    }
}

#[tokio::test]
async fn a_challenge_its_issuers_solvers_cannot_answer_says_so() {
    let ch = hand_made(owner("o-1"));
    let reply = serde_json::to_value(&ch).unwrap();
    let script = vec![
        ok("POST", &events("team"), event()),
        ok("PATCH", &format!("{CHALLENGES}/mine/status"), reply),
    ];
    let (ctx, mut caches, served) = context(now, script);
    cache(&mut caches.orders, order());
    cache(&mut caches.requests, request());
    cache(&mut caches.issuers, issuer("[{http01: {}}]"));
    let action = super::controller::reconcile(Arc::new(ch), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let calls = served.await.unwrap();
    let why = "presenting the challenge: the solver selected for a.example.com configures no \
               HTTP-01 solver certsmith has (http01.ingress, http01.gatewayHTTPRoute)";
    assert_eq!(
        (&calls[0].body["reason"], &calls[0].body["note"]),
        (&json!("PresentError"), &json!(why))
    );
    assert_eq!(calls[1].body[1]["value"]["reason"], json!(why));
}

#[tokio::test]
async fn an_edit_in_place_from_before_the_upgrade_is_found_and_removed() {
    // Made by the previous certsmith: the finalizer, no Ingress name in its solver, decided:
    // removed as the Order and issuer made it.
    let solvers = "[{http01: {ingress: {}}}]";
    let mut ch = planned(solvers);
    let made = ch.clone();
    ch.metadata.finalizers = Some(vec!["finalizer.acme.cert-manager.io".into()]);
    ch.status = serde_json::from_value(json!({"state": "valid", "presented": true})).unwrap();
    let rule = crate::http01::solver_ingress::rule(&crate::mock_api::config(), &made);
    let other = json!({"host": "b.example.com"});
    let ingress = json!({"metadata": {"name": "web", "namespace": "team", "resourceVersion": "4"},
                         "spec": {"rules": [other, rule]}});
    let ingresses = "/apis/networking.k8s.io/v1/namespaces/team/ingresses";
    let solver = format!("{ingresses}/{}", crate::http01::solver_name(&made));
    let gone = json!({"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404});
    let name = made.metadata.name.clone().unwrap();
    let script = vec![
        crate::mock_api::Step { method: "DELETE", path: solver, status: 404, reply: gone },
        ok("GET", ingresses, json!({"metadata": {}, "items": [ingress.clone()]})),
        ok("GET", &format!("{ingresses}/web"), ingress.clone()),
        ok("PATCH", &format!("{ingresses}/web"), ingress),
        ok("PATCH", &format!("{CHALLENGES}/{name}/status"), serde_json::to_value(&ch).unwrap()),
    ];
    let (ctx, mut caches, served) = context(now, script);
    cache(&mut caches.orders, order());
    cache(&mut caches.issuers, issuer(solvers));
    let action = super::controller::reconcile(Arc::new(ch), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = served.await.unwrap();
    assert_eq!(calls[3].body[1], json!({"op": "add", "path": "/spec/rules", "value": [other]}));
    assert_eq!(calls[4].body[1]["value"]["presented"], json!(false));
}

#[tokio::test]
async fn a_decided_httproute_challenge_deletes_its_route_and_nothing_else() {
    let solvers = "[{http01: {gatewayHTTPRoute: {parentRefs: [{name: gw}]}}}]";
    let mut ch = planned(solvers);
    ch.status = serde_json::from_value(json!({"state": "valid", "presented": true})).unwrap();
    let routes = "/apis/gateway.networking.k8s.io/v1/namespaces/team/httproutes";
    let route = format!("{routes}/{}", crate::http01::solver_name(&ch));
    let name = ch.metadata.name.clone().unwrap();
    let script = vec![
        ok("DELETE", &route, json!({"kind": "Status", "status": "Success"})),
        ok("PATCH", &format!("{CHALLENGES}/{name}/status"), serde_json::to_value(&ch).unwrap()),
    ];
    let (ctx, mut caches, served) = context(now, script);
    cache(&mut caches.orders, order());
    cache(&mut caches.issuers, issuer(solvers));
    let action = super::controller::reconcile(Arc::new(ch), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = served.await.unwrap();
    assert_eq!(calls[1].body[1]["value"]["presented"], json!(false));
}

#[tokio::test]
async fn what_cannot_be_rebuilt_is_not_cleaned_up_as_its_spec_says() {
    // A hand-made Challenge with certsmith's finalizer, deleted: never presented, so only the
    // finalizer goes (no DNS UPDATE signed with the cluster's key for its record).
    let mut ch = hand_made(json!([]));
    ch.metadata.finalizers = Some(vec!["finalizer.acme.cert-manager.io".into()]);
    ch.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
    let reply = serde_json::to_value(&ch).unwrap();
    let (ctx, _, served) = context(now, vec![ok("PATCH", &format!("{CHALLENGES}/mine"), reply)]);
    let action = super::controller::reconcile(Arc::new(ch.clone()), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = served.await.unwrap();
    assert_eq!(calls[0].body["metadata"]["finalizers"], json!([]));
    // One presented whose Order went while certsmith was down; one of certsmith's Order whose
    // spec (its TXT value among it) was patched since: said, and left in place.
    ch.metadata.deletion_timestamp = None;
    ch.metadata.uid = Some("c-9".into());
    ch.status = serde_json::from_value(json!({"state": "valid", "presented": true})).unwrap();
    let mut patched = planned(DNS);
    patched.metadata.generation = Some(2);
    patched.spec.key = "another-challenges-value".into();
    patched.status = ch.status.clone();
    for ch in [ch, patched] {
        let name = ch.metadata.name.clone().unwrap();
        let reply = serde_json::to_value(&ch).unwrap();
        let script = vec![
            ok("POST", &events("team"), event()),
            ok("PATCH", &format!("{CHALLENGES}/{name}/status"), reply),
        ];
        let (ctx, mut caches, served) = context(now, script);
        cache(&mut caches.orders, order());
        cache(&mut caches.issuers, issuer(DNS));
        super::controller::reconcile(Arc::new(ch), ctx).await.unwrap();
        let calls = served.await.unwrap();
        assert_eq!(calls[0].body["reason"], json!("CleanUpSkipped"), "{name}");
        assert_eq!(calls[1].body[1]["value"]["presented"], json!(false));
    }
}
