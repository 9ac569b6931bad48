//! An operator started on a cluster that already holds more objects of a kind than a watch
//! buffers for its subscribers (1,024): its caches fill and it reconciles. A first version
//! waited for every cache before its controllers read their subscriptions, so a watch with a
//! full buffer never finished its list and no cache was ever ready: at 10,000 Certificates the
//! restarted operator reconciled nothing (the scale bench found it). A second version let the
//! reconciles wait on the caches beside kube's controllers, and a store's readiness wakes only
//! one of its waiters: 2 runs in 7 reconciled nothing.

use crate::support::KubeBed;
use crate::support::acme::{Operator, PebbleBed};
use certsmith::api::Certificate;
use kube::api::Api;

/// More managed Secrets (cert-manager's label, so in the operator's cache) than the buffer.
const SECRETS: usize = 1_100;

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_with_more_objects_than_a_watch_buffers_is_served() {
    let kube = KubeBed::start();
    kube.install_crds();
    kube.kubectl_ok(&["create", "namespace", "certsmith"], "");
    kube.kubectl_ok(&["create", "namespace", "many"], "");
    let items: Vec<String> = (0..SECRETS)
        .map(|i| {
            format!(
                r#"{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":"s-{i}","namespace":"many","labels":{{"controller.cert-manager.io/fao":"true"}}}},"stringData":{{"k":"v"}}}}"#
            )
        })
        .collect();
    let list = format!(r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#, items.join(","));
    kube.kubectl_ok(&["apply", "--server-side", "-f", "-"], &list);
    let pebble = PebbleBed::start(&[]);
    let operator = Operator::start(&kube, &pebble, &[]);
    let objects = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: many}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: after-start, namespace: many}
spec:
  secretName: after-start
  commonName: after-start.example
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: selfsigned}
"#;
    kube.kubectl_ok(&["apply", "-f", "-"], objects);
    let certs: Api<Certificate> = Api::namespaced(kube.client().await, "many");
    crate::support::acme::ready(&certs, "after-start", 1, &operator).await;
}
