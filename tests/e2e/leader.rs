//! Two replicas: one holds the Lease and writes, both answer challenges; the leader killed
//! mid-order, the other takes the Lease and finishes that same order.

use crate::support;
use crate::support::KubeBed;
use crate::support::acme::{Operator, eventually, free_port, issuing_bed, pipeline};
use crate::support::faults::Row;
use certsmith::api::Certificate;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use std::process::Command;
use std::time::{Duration, Instant};

async fn holder(leases: &Api<Lease>) -> Option<String> {
    // The identity is the pod's name and a per-process suffix.
    let id = leases.get_opt("certsmith").await.ok()??.spec?.holder_identity?;
    Some(id.split_once('_').map(|(pod, _)| pod.to_string()).unwrap_or(id))
}

fn fetch(port: u16, host: &str, token: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-H", &format!("Host: {host}")])
        .arg(format!("http://127.0.0.1:{port}/.well-known/acme-challenge/{token}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (code.to_string(), body.to_string())
}

#[tokio::test]
async fn one_leader_writes_both_answer_and_a_new_leader_finishes_the_order() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let client = kube.client().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "certsmith");
    let lease = "--leader-election-lease-duration=4s";
    let timings =
        [lease, "--leader-election-renew-deadline=3s", "--leader-election-retry-period=1s"];
    // The first leader's self-check goes nowhere: it presents the challenge, then waits.
    let nowhere = format!("127.0.0.1:{}", free_port());
    let mut a_args = timings.to_vec();
    a_args.extend(["--http01-self-check-address", &nowhere]);
    let a = Operator::start_named(Some("replica-a"), &kube.kubeconfig(), &pebble, &a_args);
    eventually(30, "replica-a leading", || async {
        (holder(&leases).await? == "replica-a").then_some(())
    })
    .await;
    let b = Operator::start_named(Some("replica-b"), &kube.kubeconfig(), &pebble, &timings);

    kube.kubectl_ok(&["apply", "-f", "-"], &support::objects::certificate("ha").yaml());
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let (url, challenge) = eventually(30, "the challenge presented", || async {
        let (_, orders, challenges) = pipeline(&client, "default", "ha").await;
        let url = orders.first()?.status.as_ref()?.url.clone()?;
        let c = challenges.first()?;
        (c.status.as_ref()?.presented == Some(true)).then(|| (url, c.spec.clone()))
    })
    .await;

    // Both replicas share the responder port (as pods share a Service): every request is
    // answered, and each replica answered some.
    for _ in 0..40 {
        let (code, body) = fetch(pebble.http01_port, &challenge.dns_name, &challenge.token);
        assert_eq!((code.as_str(), body.as_str()), ("200", challenge.key.as_str()));
    }
    let answered =
        |op: &Operator| op.metric("certsmith_http01_requests_total{result=\"answered\"}");
    assert!(
        answered(&a) > 0.0 && answered(&b) > 0.0,
        "a answered {}, b answered {}",
        answered(&a),
        answered(&b)
    );
    assert_eq!(holder(&leases).await.as_deref(), Some("replica-a"));
    let b_writes = kube.writes_by("certsmith/0.1.0 (replica-b)");
    assert!(b_writes.is_empty(), "the follower wrote: {b_writes:?}");
    assert!(
        !kube.writes_by("certsmith/0.1.0 (replica-a)").is_empty(),
        "the leader's writes are not in the audit log"
    );

    let killed = Instant::now();
    a.kill();
    eventually(60, "replica-b Ready with the same order", || async {
        let c = certs.get("ha").await.ok()?;
        let s = c.status?;
        let (_, orders, _) = pipeline(&client, "default", "ha").await;
        for o in &orders {
            let seen = o.status.as_ref().and_then(|s| s.url.as_deref());
            assert_eq!(seen, Some(url.as_str()), "replica-b opened another order");
        }
        let ready = s
            .conditions?
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason.as_deref() == Some("Ready"));
        ready.then_some(())
    })
    .await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(4 + 10), "takeover and issuance took {took:?}");
    assert_eq!(holder(&leases).await.as_deref(), Some("replica-b"));
    assert_eq!(b.metric("certsmith_acme_orders_created"), 0.0, "replica-b opened an order");
    println!("leader killed -> certificate Ready after {took:?} (lease duration 4s)");
}

#[tokio::test]
async fn a_leader_stopped_with_sigterm_hands_the_lease_over_at_once() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let client = kube.client().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "certsmith");
    // A lease far longer than the wait below: the next replica can only lead this soon if the
    // Lease is given back, never by waiting for it to lapse.
    let timings = [
        "--leader-election-lease-duration=120s",
        "--leader-election-renew-deadline=60s",
        "--leader-election-retry-period=1s",
    ];
    let x = Operator::start_named(Some("replica-x"), &kube.kubeconfig(), &pebble, &timings);
    eventually(30, "replica-x leading", || async {
        (holder(&leases).await? == "replica-x").then_some(())
    })
    .await;
    let _y = Operator::start_named(Some("replica-y"), &kube.kubeconfig(), &pebble, &timings);
    let mut row = Row::new("Lease holder stopped with SIGTERM");
    let exit = x.terminate();
    let stopped = Instant::now();
    assert!(exit.success(), "replica-x exited with {exit}");
    // The follower looks every retry period (1 s): it leads within 2 s of the holder's exit.
    eventually(2, "replica-y leading after replica-x released the Lease", || async {
        (holder(&leases).await? == "replica-y").then_some(())
    })
    .await;
    let took = stopped.elapsed().as_secs_f64();
    row.figure(format!("next replica leading {took:.1} s after the holder exited (lease 120 s)"));
}
