//! The cainjector stands by while cert-manager's cainjector holds its Lease.

use super::{ders, webhook};
use crate::support::KubeBed;
use crate::support::acme::eventually;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use kube::api::Api;

/// A bed of its own (it holds cert-manager's cainjector Lease, and adds an APIService nobody
/// serves): nothing is injected while that Lease is renewed, and the API server's CA is
/// injected into a webhook and the APIService once it lapses.
#[tokio::test(flavor = "multi_thread")]
async fn the_cainjector_stands_by_while_cert_managers_cainjector_holds_its_lease() {
    use crate::support::acme::{Operator, issuing_bed};
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
    use kube::api::{Patch, PatchParams, PostParams};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let client = kube.client().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "cert-manager-cainjector-leader-election", "namespace": "kube-system"},
        "spec": {"holderIdentity": "cert-manager-cainjector-0", "leaseDurationSeconds": 3,
                 "renewTime": MicroTime(jiff::Timestamp::now())},
    }))
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
    // cert-manager's cainjector, renewing its Lease until told to stop.
    let renewing = Arc::new(AtomicBool::new(true));
    let renewer = {
        let (leases, renewing) = (leases.clone(), renewing.clone());
        tokio::spawn(async move {
            while renewing.load(Ordering::SeqCst) {
                let patch =
                    serde_json::json!({"spec": {"renewTime": MicroTime(jiff::Timestamp::now())}});
                let name = "cert-manager-cainjector-leader-election";
                let _ = leases.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        })
    };
    let operator = Operator::start(&kube, &pebble, &[]);
    let objects = format!(
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: cainjector-e2e-standby
  annotations: {{cert-manager.io/inject-apiserver-ca: "true"}}
webhooks:{}
---
# An aggregated API nobody serves (its bed is this test's own: discovery misses it).
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1.aggregated.cainjector.example.com
  annotations: {{cert-manager.io/inject-apiserver-ca: "true"}}
spec:
  group: aggregated.cainjector.example.com
  version: v1
  groupPriorityMinimum: 1000
  versionPriority: 15
  service: {{namespace: default, name: nobody, port: 443}}
"#,
        webhook("s.cainjector.example.com", "s"),
    );
    kube.kubectl_ok(&["apply", "-f", "-"], &objects);
    let hooks: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let services: Api<APIService> = Api::all(client);
    let service_bundle = || async {
        let found = services.get("v1.aggregated.cainjector.example.com").await.unwrap();
        found.spec.unwrap().ca_bundle.map(|b| b.0)
    };
    let bundle = || async {
        let found = hooks.get("cainjector-e2e-standby").await.unwrap();
        found.webhooks.unwrap().pop().unwrap().client_config.ca_bundle.map(|b| b.0)
    };
    eventually(30, "the operator's log to say the cainjector stands by", || async {
        let log = operator.logs();
        log.contains("cainjector: Lease kube-system/cert-manager-cainjector-leader-election is held by \"cert-manager-cainjector-0\"")
            .then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(bundle().await, None, "injected while cert-manager's cainjector leads");
    assert_eq!(service_bundle().await, None, "injected while cert-manager's cainjector leads");

    renewing.store(false, Ordering::SeqCst);
    renewer.await.unwrap();
    eventually(30, "the CA injected once the Lease lapsed", || async {
        bundle().await.map(|_| ())
    })
    .await;
    assert!(operator.logs().contains("is not held: certsmith injects"), "{}", operator.logs());
    let kubeconfig = kube::config::Kubeconfig::read_from(kube.kubeconfig()).unwrap();
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.unwrap();
    let want = config.root_cert.unwrap();
    eventually(30, "the APIService's caBundle to be the API server's CA", || async {
        service_bundle().await.filter(|b| ders(b) == want).map(|_| ())
    })
    .await;
}
