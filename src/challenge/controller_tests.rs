//! The Challenge step's request sequences, on the mocked API (`mock_api`), where no CA is
//! asked: a Challenge whose solver certsmith does not have, and the clean-up of decided ones.

use crate::api::{Challenge, Order};
use crate::mock_api::{cache, context, event, events, now, ok};
use kube::runtime::controller::Action;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The Order `web-1-abc` of namespace `team`, and the owner reference its Challenges carry.
fn order() -> (Order, serde_json::Value) {
    let order: Order = serde_json::from_value(json!({
        "metadata": {"name": "web-1-abc", "namespace": "team", "uid": "o-1"},
        "spec": {"request": "", "issuerRef": {"name": "le"}}
    }))
    .unwrap();
    let owner = json!([{"apiVersion": "acme.cert-manager.io/v1", "kind": "Order",
                        "name": "web-1-abc", "uid": "o-1", "controller": true}]);
    (order, owner)
}

#[tokio::test]
async fn a_challenge_no_order_of_certsmiths_controls_is_left_untouched() {
    let (order, owner) = order();
    let made = |owners: serde_json::Value| -> Challenge {
        serde_json::from_value(json!({
            "metadata": {"name": "mine", "namespace": "team", "resourceVersion": "5",
                         "ownerReferences": owners},
            "spec": {"url": "https://evil/chall/1", "authorizationURL": "https://evil/authz/1",
                     "dnsName": "bank.example", "type": "DNS-01", "token": "t", "key": "k",
                     "solver": {"dns01": {"rfc2136": {"nameserver": "198.51.100.1"}}},
                     "issuerRef": {"name": "le", "kind": "ClusterIssuer"}}
        }))
        .unwrap()
    };
    // Made by hand, and made to look like the Order's child with another UID: one Event each,
    // nothing presented, no status written.
    let mut forged = owner.clone();
    forged[0]["uid"] = json!("o-2");
    for ch in [made(json!([])), made(forged)] {
        let script = vec![ok("POST", &events("team"), event())];
        let (ctx, mut caches, served) = context(now, script);
        cache(&mut caches.orders, order.clone());
        let action = super::controller::reconcile(Arc::new(ch), ctx).await.unwrap();
        assert_eq!(action, Action::await_change(), "not young: no creation time");
        let calls = served.await.unwrap();
        assert_eq!(calls[0].body["reason"], json!("NotOwnedByOrder"));
    }
}

#[tokio::test]
async fn a_challenge_without_a_solver_certsmith_has_says_so() {
    let (order, owner) = order();
    let ch: Challenge = serde_json::from_value(json!({
        "metadata": {"name": "web-1-abc-1", "namespace": "team", "resourceVersion": "5",
                     "ownerReferences": owner},
        "spec": {"url": "https://ca/chall/1", "authorizationURL": "https://ca/authz/1",
                 "dnsName": "a.example.com", "type": "HTTP-01", "token": "t", "key": "t.k",
                 "solver": {"http01": {}}, "issuerRef": {"name": "le"}}
    }))
    .unwrap();
    let reply = serde_json::to_value(&ch).unwrap();
    let status = "/apis/acme.cert-manager.io/v1/namespaces/team/challenges/web-1-abc-1/status";
    let script = vec![ok("POST", &events("team"), event()), ok("PATCH", status, reply)];
    let (ctx, mut caches, served) = context(now, script);
    cache(&mut caches.orders, order);
    let action = super::controller::reconcile(Arc::new(ch), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let calls = served.await.unwrap();
    let why = "presenting the challenge: the solver configures no HTTP-01 solver certsmith has (http01.ingress, http01.gatewayHTTPRoute)";
    assert_eq!(
        (&calls[0].body["reason"], &calls[0].body["note"]),
        (&json!("PresentError"), &json!(why))
    );
    assert_eq!(calls[1].body[1]["value"]["reason"], json!(why));
}

#[tokio::test]
async fn an_edit_in_place_from_before_the_upgrade_is_found_and_removed() {
    // Made by the previous certsmith: the finalizer, no Ingress name in its solver, decided.
    let ch: Challenge = serde_json::from_value(json!({
        "metadata": {"name": "web-1-abc-2", "namespace": "team", "uid": "c-2",
                     "resourceVersion": "9", "finalizers": ["finalizer.acme.cert-manager.io"]},
        "spec": {"url": "https://ca/chall/2", "authorizationURL": "https://ca/authz/2",
                 "dnsName": "a.example.com", "type": "HTTP-01", "token": "tok", "key": "tok.k",
                 "solver": {"http01": {"ingress": {}}}, "issuerRef": {"name": "le"}},
        "status": {"state": "valid", "presented": true, "processing": false}
    }))
    .unwrap();
    let rule = crate::http01::solver_ingress::rule(&crate::mock_api::config(), &ch);
    let other = json!({"host": "b.example.com"});
    let ingress = json!({"metadata": {"name": "web", "namespace": "team", "resourceVersion": "4"},
                         "spec": {"rules": [other, rule]}});
    let ingresses = "/apis/networking.k8s.io/v1/namespaces/team/ingresses";
    let solver = format!("{ingresses}/{}", crate::http01::solver_name(&ch));
    let gone = json!({"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404});
    let script = vec![
        crate::mock_api::Step { method: "DELETE", path: solver, status: 404, reply: gone },
        ok("GET", ingresses, json!({"metadata": {}, "items": [ingress.clone()]})),
        ok("GET", &format!("{ingresses}/web"), ingress.clone()),
        ok("PATCH", &format!("{ingresses}/web"), ingress),
        ok(
            "PATCH",
            "/apis/acme.cert-manager.io/v1/namespaces/team/challenges/web-1-abc-2/status",
            serde_json::to_value(&ch).unwrap(),
        ),
    ];
    let (ctx, _, served) = context(now, script);
    let action = super::controller::reconcile(Arc::new(ch), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = served.await.unwrap();
    assert_eq!(calls[3].body[1], json!({"op": "add", "path": "/spec/rules", "value": [other]}));
    assert_eq!(calls[4].body[1]["value"]["presented"], json!(false));
}

#[tokio::test]
async fn a_decided_httproute_challenge_deletes_its_route_and_nothing_else() {
    let ch: Challenge = serde_json::from_value(json!({
        "metadata": {"name": "web-1-abc-3", "namespace": "team", "uid": "c-3", "resourceVersion": "9"},
        "spec": {"url": "https://ca/chall/3", "authorizationURL": "https://ca/authz/3",
                 "dnsName": "a.example.com", "type": "HTTP-01", "token": "tok", "key": "tok.k",
                 "solver": {"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw"}]}}},
                 "issuerRef": {"name": "le"}},
        "status": {"state": "valid", "presented": true, "processing": false}
    }))
    .unwrap();
    let routes = "/apis/gateway.networking.k8s.io/v1/namespaces/team/httproutes";
    let route = format!("{routes}/{}", crate::http01::solver_name(&ch));
    let status = "/apis/acme.cert-manager.io/v1/namespaces/team/challenges/web-1-abc-3/status";
    let script = vec![
        ok("DELETE", &route, json!({"kind": "Status", "status": "Success"})),
        ok("PATCH", status, serde_json::to_value(&ch).unwrap()),
    ];
    let (ctx, _, served) = context(now, script);
    let action = super::controller::reconcile(Arc::new(ch), ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = served.await.unwrap();
    assert_eq!(calls[1].body[1]["value"]["presented"], json!(false));
}
