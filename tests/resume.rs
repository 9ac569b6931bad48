//! An operator killed mid-order: the next one resumes that order instead of opening another.

mod support;

use certsmith::api::Certificate;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams};
use support::KubeBed;
use support::acme::{Operator, eventually, free_port, issuing_bed};

#[tokio::test]
async fn a_restarted_operator_finishes_the_same_order() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    // The first operator's self-check goes nowhere, so it stops after presenting the challenge.
    let nowhere = format!("127.0.0.1:{}", free_port());
    let first = Operator::start(&kube, &pebble, &["--http01-self-check-address", &nowhere]);
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: resumed, namespace: default}\n\
         spec: {secretName: resumed-tls, dnsNames: [resumed.example.com], issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer}}\n",
    );
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let order_url = eventually(30, "the order recorded with its challenge", || async {
        let order = certs.get("resumed").await.ok()?.status?.acme?.order?;
        order.challenges.filter(|c| !c.is_empty()).map(|_| order.url)
    })
    .await;
    assert_eq!(first.metric("certsmith_acme_orders_created"), 1.0);
    // Its solver Ingress routes exactly the challenge path on the challenge's host to the
    // responder Service, with the solver's class.
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "certsmith");
    let solver = eventually(30, "the solver Ingress", || async {
        ingresses
            .list(&ListParams::default().labels("certsmith.io/http01-solver=true"))
            .await
            .ok()?
            .items
            .pop()
    })
    .await;
    let token = certs
        .get("resumed")
        .await
        .unwrap()
        .status
        .unwrap()
        .acme
        .unwrap()
        .order
        .unwrap()
        .challenges
        .unwrap()[0]
        .token
        .clone();
    let rule = &solver.spec.as_ref().unwrap().rules.as_ref().unwrap()[0];
    assert_eq!(rule.host.as_deref(), Some("resumed.example.com"));
    let path = &rule.http.as_ref().unwrap().paths[0];
    assert_eq!(path.path.as_deref(), Some(format!("/.well-known/acme-challenge/{token}").as_str()));
    assert_eq!(path.path_type, "Exact");
    let backend = path.backend.service.as_ref().unwrap();
    assert_eq!(
        (backend.name.as_str(), backend.port.as_ref().unwrap().number),
        ("certsmith-http01", Some(8089))
    );
    assert_eq!(solver.metadata.annotations.unwrap()["kubernetes.io/ingress.class"], "nginx");
    first.kill();

    let second = Operator::start(&kube, &pebble, &[]);
    let seen = std::sync::Mutex::new(vec![]);
    eventually(60, "Ready after the restart", || async {
        let c = certs.get("resumed").await.ok()?;
        let s = c.status?;
        if let Some(o) = s.acme.as_ref().and_then(|a| a.order.as_ref()) {
            seen.lock().unwrap().push(o.url.clone());
        }
        let ready = s
            .conditions?
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason.as_deref() == Some("Ready"));
        (ready && s.revision == Some(1)).then_some(())
    })
    .await;
    let seen = seen.into_inner().unwrap();
    assert!(
        seen.iter().all(|u| *u == order_url),
        "another order was opened: {seen:?} vs {order_url}"
    );
    assert_eq!(
        second.metric("certsmith_acme_orders_created"),
        0.0,
        "the restarted operator opened an order"
    );
    let solvers = Api::<Ingress>::namespaced(client, "certsmith")
        .list(&ListParams::default().labels("certsmith.io/http01-solver"))
        .await
        .unwrap();
    assert!(solvers.items.is_empty(), "solver Ingresses left behind");
}
