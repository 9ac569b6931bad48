//! The cainjector on the shared issuing bed (its operator runs it by default): a CA
//! Certificate's CA injected into a ValidatingWebhookConfiguration and merged with the next one
//! when the CA is renewed with a new key; a CRD's conversion webhook refused a Secret that does
//! not allow direct injection, then filled once it does; the API server's CA injected into a
//! MutatingWebhookConfiguration. Every webhook here matches only a made-up group, with
//! failurePolicy Ignore, so the bed's other tests never meet it. `standby`: on a bed of its
//! own, standing by for cert-manager's cainjector; `chart`: what the chart grants it.

mod chart;
mod standby;

use crate::support::acme::{eventually, ready};
use crate::support::shared::issuing;
use crate::support::{KubeBed, renew};
use certsmith::api::Certificate;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;

const NAMESPACE: &str = "cainjector-e2e";

pub(crate) fn ders(pem: &[u8]) -> Vec<Vec<u8>> {
    pem::parse_many(pem).unwrap().into_iter().map(pem::Pem::into_contents).collect()
}

fn ca_crt(secret: &Secret) -> Vec<u8> {
    secret.data.as_ref().unwrap()["ca.crt"].0.clone()
}

pub(crate) fn webhook(name: &str, path: &str) -> String {
    format!(
        r#"
- name: {name}
  clientConfig: {{url: "https://127.0.0.1:1/{path}"}}
  rules: [{{apiGroups: [cainjector.example.com], apiVersions: [v1], operations: [CREATE], resources: [widgets]}}]
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1]"#
    )
}

fn setup(kube: &KubeBed, namespace: &str) {
    let objects = format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: {namespace}}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: selfsigned, namespace: {namespace}}}
spec: {{selfSigned: {{}}}}
"#
    );
    kube.kubectl_ok(&["apply", "-f", "-"], &objects);
}

/// The caBundle of each webhook of `name`.
async fn validating_bundles(api: &Api<ValidatingWebhookConfiguration>, name: &str) -> Vec<Vec<u8>> {
    let hooks = api.get(name).await.unwrap().webhooks.unwrap_or_default();
    hooks.into_iter().map(|w| w.client_config.ca_bundle.map(|b| b.0).unwrap_or_default()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ca_certificate_is_injected_into_webhooks_and_a_renewed_ca_is_merged_in() {
    let bed = issuing();
    setup(&bed.kube, NAMESPACE);
    let objects = format!(
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: webhook-ca, namespace: {NAMESPACE}}}
spec:
  isCA: true
  commonName: webhook-ca
  secretName: webhook-ca
  privateKey: {{algorithm: ECDSA, size: 256, rotationPolicy: Always}}
  issuerRef: {{name: selfsigned, kind: Issuer}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: cainjector-e2e
  annotations: {{cert-manager.io/inject-ca-from: {NAMESPACE}/webhook-ca}}
webhooks:{}{}
"#,
        webhook("a.cainjector.example.com", "a"),
        webhook("b.cainjector.example.com", "b"),
    );
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &objects);
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), NAMESPACE);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let hooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());

    ready(&certs, "webhook-ca", 1, &bed.operator).await;
    let first = ca_crt(&secrets.get("webhook-ca").await.unwrap());
    assert_eq!(ders(&first).len(), 1);
    eventually(30, "both webhooks' caBundle to be the CA's ca.crt", || async {
        let bundles = validating_bundles(&hooks, "cainjector-e2e").await;
        bundles.iter().all(|b| *b == first).then_some(())
    })
    .await;

    // A new key: a new CA certificate; the webhooks trust both until the old one expires.
    renew(&bed.kube, NAMESPACE, "webhook-ca").await;
    ready(&certs, "webhook-ca", 2, &bed.operator).await;
    let second = ca_crt(&secrets.get("webhook-ca").await.unwrap());
    assert_ne!(ders(&first), ders(&second), "rotationPolicy Always: a new CA");
    // The old CA first, the new one last. (A renewal may write the Secret more than once on the
    // way, each with a CA of its own: the bundle then keeps those too, until they expire.)
    let (old, new) = (ders(&first).remove(0), ders(&second).remove(0));
    eventually(30, "both webhooks' caBundle to hold the old CA then the new one", || async {
        let bundles = validating_bundles(&hooks, "cainjector-e2e").await;
        let merged = |b: &Vec<u8>| {
            let certs = ders(b);
            certs.first() == Some(&old) && certs.last() == Some(&new)
        };
        bundles.iter().all(merged).then_some(())
    })
    .await;
    // Only the caBundle fields are certsmith's.
    let written = hooks.get("cainjector-e2e").await.unwrap();
    let ours: Vec<_> = written
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.manager.as_deref() == Some("certsmith"))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let fields = serde_json::to_string(&ours[0].fields_v1).unwrap();
    assert!(fields.contains("f:caBundle") && !fields.contains("f:url"), "{fields}");
    bed.kube.kubectl_ok(&["delete", "validatingwebhookconfiguration", "cainjector-e2e"], "");
}

/// A CA PEM that belongs to no Certificate.
fn some_ca() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "direct-ca");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    params.self_signed(&key).unwrap().pem().replace("\r\n", "\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_is_injected_into_a_crd_only_once_it_allows_direct_injection() {
    let bed = issuing();
    const NAMESPACE: &str = "cainjector-e2e-direct";
    setup(&bed.kube, NAMESPACE);
    let ca = some_ca();
    let indented: String = ca.lines().map(|l| format!("    {l}\n")).collect();
    let crd = "gadgets.cainjector.example.com";
    let objects = format!(
        r#"
apiVersion: v1
kind: Secret
metadata: {{name: direct-ca, namespace: {NAMESPACE}}}
stringData:
  ca.crt: |
{indented}---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {crd}
  annotations: {{cert-manager.io/inject-ca-from-secret: {NAMESPACE}/direct-ca}}
spec:
  group: cainjector.example.com
  names: {{kind: Gadget, plural: gadgets}}
  scope: Namespaced
  versions:
  - {{name: v1, served: true, storage: true, schema: {{openAPIV3Schema: {{type: object}}}}}}
  - {{name: v2, served: true, storage: false, schema: {{openAPIV3Schema: {{type: object}}}}}}
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1]
      clientConfig: {{url: "https://127.0.0.1:1/convert"}}
"#
    );
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &objects);
    let client = bed.kube.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let bundle = || async {
        let found = crds.get(crd).await.unwrap();
        let conversion = found.spec.conversion.unwrap().webhook.unwrap();
        conversion.client_config.unwrap().ca_bundle.map(|b| b.0).unwrap_or_default()
    };

    let columns = "-o=custom-columns=TYPE:.type,REASON:.reason,NAME:.regarding.name,NOTE:.note";
    let refused = eventually(30, "a Warning Event refusing the Secret", || async {
        let events =
            bed.kube.kubectl_ok(&["get", "events.events.k8s.io", "-n", "default", columns], "");
        events
            .lines()
            .find(|l| l.contains("CAInjectionRefused") && l.contains(crd))
            .map(str::to_string)
    })
    .await;
    assert!(refused.starts_with("Warning"), "{refused}");
    assert!(
        refused.contains(&format!(
            "Secret {NAMESPACE}/direct-ca is not annotated cert-manager.io/allow-direct-injection: \"true\""
        )),
        "{refused}"
    );
    assert!(bundle().await.is_empty(), "a Secret that does not allow it is never injected");

    // Allowed: the Secret's change alone wakes the CRD (an unlabelled Secret, no resync).
    bed.kube.kubectl_ok(
        &[
            "annotate",
            "secret",
            "-n",
            NAMESPACE,
            "direct-ca",
            "cert-manager.io/allow-direct-injection=true",
        ],
        "",
    );
    eventually(30, "the CRD's conversion caBundle to be the Secret's ca.crt", || async {
        (bundle().await == ca.as_bytes()).then_some(())
    })
    .await;
    bed.kube.kubectl_ok(&["delete", "crd", crd], "");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_servers_ca_is_injected_into_a_mutating_webhook() {
    let bed = issuing();
    let objects = format!(
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: cainjector-e2e-apiserver
  annotations: {{cert-manager.io/inject-apiserver-ca: "true"}}
webhooks:{}
"#,
        webhook("m.cainjector.example.com", "m"),
    );
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &objects);
    let kubeconfig = kube::config::Kubeconfig::read_from(bed.kube.kubeconfig()).unwrap();
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.unwrap();
    let want = config.root_cert.expect("the bed's kubeconfig names its CA");
    let client = bed.kube.client().await;
    let hooks: Api<MutatingWebhookConfiguration> = Api::all(client);
    eventually(30, "the webhook's caBundle to be the API server's CA", || async {
        let found = hooks.get("cainjector-e2e-apiserver").await.unwrap();
        let bundle = found.webhooks?.pop()?.client_config.ca_bundle?.0;
        (ders(&bundle) == want).then_some(())
    })
    .await;
    bed.kube
        .kubectl_ok(&["delete", "mutatingwebhookconfiguration", "cainjector-e2e-apiserver"], "");
}
