//! An operator killed at any step: the next one finishes the same ACME order (no new order),
//! and a Certificate deleted while no operator runs leaves nothing behind once one is back.

use crate::support;

use crate::support::KubeBed;
use crate::support::acme::{Operator, PebbleBed, eventually, free_port, issuing_bed, pipeline};
use certsmith::api::{Certificate, CertificateRequest, Challenge, Order, State};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};

fn certificate(name: &str) -> String {
    support::objects::certificate(name).yaml()
}

/// The one Order of Certificate `name`, once its URL is recorded.
async fn the_order(client: &kube::Client, name: &str) -> Option<Order> {
    let (_, orders, _) = pipeline(client, "default", name).await;
    orders.into_iter().find(|o| o.status.as_ref().is_some_and(|s| s.url.is_some()))
}

/// After a restart: Ready at revision 1, through the one order that was recorded, and the new
/// operator opened none.
async fn finishes_the_same_order(kube: &KubeBed, pebble: &PebbleBed, name: &str, url: &str) {
    let client = kube.client().await;
    let second = Operator::start(kube, pebble, &[]);
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    support::acme::ready(&certs, name, 1, &second).await;
    let (_, orders, _) = pipeline(&client, "default", name).await;
    let urls: Vec<_> = orders.iter().map(|o| o.status.clone().unwrap_or_default().url).collect();
    assert_eq!(urls, [Some(url.to_string())], "{name}: another order was opened");
    assert_eq!(
        second.metric("certsmith_acme_orders_created"),
        0.0,
        "{name}: the restarted operator opened an order"
    );
    eventually(30, "no Challenge left", || async {
        let (_, _, left) = pipeline(&client, "default", name).await;
        left.is_empty().then_some(())
    })
    .await;
    second.kill();
}

/// A Certificate `<step>-<attempt>` whose operator was frozen, then killed, the moment one of
/// its objects in `api` was seen `at` the step, and `still` there (the step not yet taken).
async fn park<K>(
    kube: &KubeBed,
    pebble: &PebbleBed,
    step: &str,
    api: &Api<K>,
    at: impl Fn(&K) -> bool,
    still: impl AsyncFn(&str) -> bool,
) -> String
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    for attempt in 0..6 {
        let name = format!("{step}-{attempt}");
        let op = Operator::start(kube, pebble, &[]);
        let mut seen = watcher(api.clone(), watcher::Config::default()).applied_objects().boxed();
        kube.kubectl_ok(&["apply", "-f", "-"], &certificate(&name));
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut hit = false;
        while let Ok(Some(Ok(o))) = tokio::time::timeout_at(deadline, seen.next()).await {
            let ours = o.meta().name.as_deref().is_some_and(|n| n.starts_with(&format!("{name}-")));
            if ours && at(&o) {
                op.freeze();
                hit = still(&name).await;
                break;
            }
        }
        op.kill();
        if hit {
            println!("parked at {step} on attempt {}", attempt + 1);
            return name;
        }
    }
    panic!("never caught the operator at {step}")
}

#[tokio::test]
async fn killed_at_every_order_state_the_next_operator_finishes_the_same_order() {
    let mut row = support::faults::Row::new("operator SIGKILLed at each order state");
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let client = kube.client().await;

    // pending: the first operator's self-check goes nowhere, so it never accepts the challenge.
    let nowhere = format!("127.0.0.1:{}", free_port());
    let first = Operator::start(&kube, &pebble, &["--http01-self-check-address", &nowhere]);
    kube.kubectl_ok(&["apply", "-f", "-"], &certificate("pending"));
    let url = eventually(30, "the order pending with its challenge presented", || async {
        let (_, orders, challenges) = pipeline(&client, "default", "pending").await;
        let o = orders.first()?.status.clone()?;
        let presented = challenges.first()?.status.as_ref()?.presented == Some(true);
        (o.state == Some(State::Pending) && presented).then_some(o.url?)
    })
    .await;
    assert_eq!(first.metric("certsmith_acme_orders_created"), 1.0);
    // The solver Ingress is in the Certificate's namespace and routes exactly the challenge
    // path to the namespace's responder Service.
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "default");
    let solver = ingresses
        .list(&ListParams::default().labels("acme.cert-manager.io/http01-solver=true"))
        .await
        .unwrap()
        .items
        .pop()
        .expect("a solver Ingress in the Certificate's namespace");
    let rule = &solver.spec.as_ref().unwrap().rules.as_ref().unwrap()[0];
    assert_eq!(rule.host.as_deref(), Some("pending.example.com"));
    let path = &rule.http.as_ref().unwrap().paths[0];
    assert!(path.path.as_deref().unwrap().starts_with("/.well-known/acme-challenge/"));
    assert_eq!(path.path_type, "Exact");
    let backend = path.backend.service.as_ref().unwrap();
    assert_eq!(backend.name, "certsmith-acme-http01");
    assert_eq!(solver.metadata.annotations.unwrap()["kubernetes.io/ingress.class"], "nginx");
    first.kill();
    finishes_the_same_order(&kube, &pebble, "pending", &url).await;

    // The CA's order ready (its challenge just recorded valid; finalizing comes next and is
    // not recorded first, so the CA is what tells the next operator), and the Order recorded
    // valid with its chain: the operator is frozen the moment that is seen, and killed if the
    // step is still to take (else tried again with a new Certificate).
    let challenges: Api<Challenge> = Api::namespaced(client.clone(), "default");
    let orders: Api<Order> = Api::namespaced(client.clone(), "default");
    let valid_challenge =
        |c: &Challenge| c.status.as_ref().and_then(|s| s.state) == Some(State::Valid);
    let name = park(&kube, &pebble, "ready", &challenges, valid_challenge, async |name| {
        the_order(&client, name).await.is_some_and(|o| o.state() != Some(State::Valid))
    })
    .await;
    let url = the_order(&client, &name).await.and_then(|o| o.status?.url).unwrap();
    finishes_the_same_order(&kube, &pebble, &name, &url).await;
    let valid_order = |o: &Order| o.state() == Some(State::Valid);
    let name = park(&kube, &pebble, "valid", &orders, valid_order, async |name| {
        the_order(&client, name).await.is_some_and(|o| o.state() == Some(State::Valid))
    })
    .await;
    let url = the_order(&client, &name).await.and_then(|o| o.status?.url).unwrap();
    finishes_the_same_order(&kube, &pebble, &name, &url).await;
    // The request signed, its Secret not written yet: the next operator's caches hold the
    // Order and the request without their chains, and nothing was handed over in memory, so
    // the chain is read from the request in the API.
    let requests: Api<CertificateRequest> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let signed =
        |r: &CertificateRequest| r.status.as_ref().is_some_and(|s| s.certificate.is_some());
    let name = park(&kube, &pebble, "signed", &requests, signed, async |name| {
        let secret = secrets.get_opt(&format!("{name}-tls")).await.unwrap();
        secret.and_then(|s| s.data?.remove("tls.crt")).is_none_or(|c| c.0.is_empty())
    })
    .await;
    let url = the_order(&client, &name).await.and_then(|o| o.status?.url).unwrap();
    finishes_the_same_order(&kube, &pebble, &name, &url).await;
    row.figure(
        "killed while pending, ready at the CA, valid, signed: each time the same order finished",
    );
}

#[tokio::test]
async fn a_certificate_deleted_while_the_operator_is_down_leaves_nothing_behind() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let client = kube.client().await;
    let nowhere = format!("127.0.0.1:{}", free_port());
    let first = Operator::start(&kube, &pebble, &["--http01-self-check-address", &nowhere]);
    kube.kubectl_ok(&["apply", "-f", "-"], &certificate("gone"));
    eventually(30, "the challenge presented", || async {
        let (_, _, challenges) = pipeline(&client, "default", "gone").await;
        (challenges.first()?.status.as_ref()?.presented == Some(true)).then_some(())
    })
    .await;
    first.kill();
    kube.kubectl_ok(&["delete", "certificate", "gone", "--wait=false"], "");
    let _second = Operator::start(&kube, &pebble, &[]);
    let challenges: Api<certsmith::api::Challenge> = Api::namespaced(client.clone(), "default");
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let lp = ListParams::default();
    eventually(60, "no Challenge, solver Ingress or next-key Secret left", || async {
        let c = challenges.list(&lp).await.ok()?.items.len();
        let i = ingresses
            .list(&ListParams::default().labels("acme.cert-manager.io/http01-solver"))
            .await
            .ok()?
            .items
            .len();
        let s = secrets
            .list(&ListParams::default().labels("cert-manager.io/next-private-key"))
            .await
            .ok()?
            .items
            .len();
        (c + i + s == 0).then_some(())
    })
    .await;
}
