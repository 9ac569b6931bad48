//! The Challenge step's request sequences, on the mocked API (`mock_api`), where no CA is
//! asked: a Challenge whose solver certsmith does not have.

use crate::api::Challenge;
use crate::mock_api::{context, event, events, now, ok};
use kube::runtime::controller::Action;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn a_challenge_without_a_solver_certsmith_has_says_so() {
    let ch: Challenge = serde_json::from_value(json!({
        "metadata": {"name": "web-1-abc-1", "namespace": "team", "resourceVersion": "5"},
        "spec": {"url": "https://ca/chall/1", "authorizationURL": "https://ca/authz/1",
                 "dnsName": "a.example.com", "type": "HTTP-01", "token": "t", "key": "t.k",
                 "solver": {"http01": {"gatewayHTTPRoute": {}}}, "issuerRef": {"name": "le"}}
    }))
    .unwrap();
    let reply = serde_json::to_value(&ch).unwrap();
    let status = "/apis/acme.cert-manager.io/v1/namespaces/team/challenges/web-1-abc-1/status";
    let script = vec![ok("POST", &events("team"), event()), ok("PATCH", status, reply)];
    let (ctx, _, served) = context(now, script);
    let action = super::controller::reconcile(Arc::new(ch), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let calls = served.await.unwrap();
    let why = "presenting the challenge: the solver is not http01.ingress; certsmith answers HTTP-01 through Ingresses only";
    assert_eq!(
        (&calls[0].body["reason"], &calls[0].body["note"]),
        (&json!("PresentError"), &json!(why))
    );
    assert_eq!(calls[1].body[1]["value"]["reason"], json!(why));
}
