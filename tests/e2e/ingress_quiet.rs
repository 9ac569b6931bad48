//! Ingresses that ask certsmith for nothing cost it nothing: 1,000 of them, no API writes
//! (counted in the API server's audit log). And `kubernetes.io/tls-acme` without a default
//! issuer gives an Event and no Certificate.

use crate::support::KubeBed;
use crate::support::acme::{Operator, PebbleBed, eventually};

#[tokio::test]
async fn untriggered_ingresses_cost_no_writes_and_tls_acme_needs_a_default_issuer() {
    let kube = KubeBed::start();
    kube.install_crds();
    kube.kubectl_ok(&["create", "namespace", "certsmith"], "");
    kube.kubectl_ok(&["create", "namespace", "quiet"], "");
    let pebble = PebbleBed::start(&[]);
    let operator = Operator::start(&kube, &pebble, &[]);

    let plain: String = (0..1000)
        .map(|i| {
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: plain-{i}, annotations: \
                 {{nginx.ingress.kubernetes.io/ssl-redirect: 'true'}}}}\nspec:\n  tls: [{{secretName: plain-{i}-tls, \
                 hosts: [plain-{i}.example.com]}}]\n  rules: [{{host: plain-{i}.example.com, http: {{paths: [{{path: /, \
                 pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]}}}}]\n---\n"
            )
        })
        .collect();
    kube.kubectl_ok(&["apply", "-n", "quiet", "-f", "-"], &plain);
    eventually(120, "the shim to have looked at all 1,000 Ingresses", || async {
        (operator.metric("certmanager_controller_sync_call_count{controller=\"ingress-shim\"}")
            >= 1000.0)
            .then_some(())
    })
    .await;
    // Renewing the leader Lease is the only write an idle operator makes.
    let not_lease = |w: &String| !w.contains("/leases");
    let writes: Vec<String> = kube.writes_by("certsmith/").into_iter().filter(not_lease).collect();
    assert!(writes.is_empty(), "the operator wrote for Ingresses that ask for nothing: {writes:?}");
    let certs = kube.kubectl_ok(&["get", "certificates", "-n", "quiet", "-o", "name"], "");
    assert_eq!(certs.trim(), "");

    kube.kubectl_ok(
        &["apply", "-n", "quiet", "-f", "-"],
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: acme, annotations: {kubernetes.io/tls-acme: 'true'}}\n\
         spec:\n  defaultBackend: {service: {name: web, port: {number: 80}}}\n  \
         tls: [{secretName: acme-tls, hosts: [acme.example.com]}]\n",
    );
    let event = eventually(30, "the tls-acme Event", || async {
        let out = kube.kubectl_ok(
            &["get", "events", "-n", "quiet", "-o", "custom-columns=R:.reason,M:.message"],
            "",
        );
        out.lines().find(|l| l.contains("kubernetes.io/tls-acme")).map(str::to_string)
    })
    .await;
    assert!(event.contains("BadConfig") && event.contains("--default-issuer-name"), "{event}");
    let certs = kube.kubectl_ok(&["get", "certificates", "-n", "quiet", "-o", "name"], "");
    assert_eq!(certs.trim(), "", "a Certificate was made without an issuer");
    // The audit log does see the operator's writes: here, only that Event.
    let writes: Vec<String> = kube.writes_by("certsmith/").into_iter().filter(not_lease).collect();
    assert!(!writes.is_empty() && writes.iter().all(|w| w.contains("/events")), "{writes:?}");
}
