//! A namespace editor as an attacker: a ServiceAccount bound to `edit` in its own namespace
//! (with the chart's aggregated roles), using its own token, tries what the tenant-safety review
//! found. Each attempt is refused by the API server or ignored by certsmith, while certsmith goes
//! on issuing for another namespace through the cluster's DNS key, its memory stays under the
//! chart's limit, and no record, Secret or order is made for the attacker. What the RBAC allows
//! nobody in a tenant's place (hand-made Orders and Challenges) is also made as an administrator
//! would, to show certsmith ignores them on a cluster whose roles are wider.

use crate::chart::{client_of, render, service_account_kubeconfig};
use crate::support::acme::{Operator, eventually, issuing_bed_with, ready};
use crate::support::hostile::Hostile;
use crate::support::{KubeBed, start, state_var, txt};
use certsmith::api::{Certificate, CertificateRequest, Challenge, Issuer, Order};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// The chart's memory limit for the operator (values.yaml `resources.limits.memory`).
const CHART_LIMIT_KIB: u64 = 256 * 1024;

/// The operator's peak resident memory (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Whether `result` is the API server's 403.
fn forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(e)) if e.code == 403)
}

/// Events with `reason` on objects of `namespace`, as their notes.
fn events(kube: &KubeBed, namespace: &str, reason: &str) -> String {
    let selector = format!("reason={reason}");
    let path = "jsonpath={range .items[*]}{.involvedObject.name}: {.message}{\"\\n\"}{end}";
    kube.kubectl_ok(
        &["get", "events", "-n", namespace, "--field-selector", &selector, "-o", path],
        "",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_editor_gets_nothing_certsmith_would_not_give_them() {
    let bind = start("start-bind.sh", &[]);
    let port = state_var(&bind, "DNS_PORT");
    let kube = KubeBed::start();
    let dns = format!("127.0.0.1:{port}");
    let pebble = issuing_bed_with(&kube, &[("PEBBLE_DNS_SERVER", &dns)]);
    let hostile = Hostile::start().await;
    // Every HTTP-01 self-check is sent to the hostile server: a tenant's host answering 300 MB.
    let flags = ["--dns01-recursive-nameservers", &dns, "--dns01-recursive-nameservers-only"];
    let self_check = ["--http01-self-check-address", &hostile.http];
    let operator = Operator::start(&kube, &pebble, &[&flags[..], &self_check[..]].concat());

    // The cluster: the DNS key in certsmith's namespace behind a ClusterIssuer, the chart's
    // aggregated roles, the tenant `mallory` with `edit` in `tenant`, a victim namespace.
    let cluster_issuer = pebble.issuer_yaml("ClusterIssuer", "dns", None).replace(
        "    - http01:\n        ingress:\n          class: nginx\n",
        &format!(
            "    - dns01:\n        rfc2136:\n          nameserver: {dns}\n          \
             tsigKeyName: certsmith-md5\n          tsigSecretSecretRef: {{name: tsig-md5, key: secret}}\n"
        ),
    );
    let md5 = state_var(&bind, "TSIG_MD5_SECRET");
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: tsig-md5, namespace: certsmith}}\n\
             stringData: {{secret: \"{md5}\"}}\n---\n{cluster_issuer}---\n\
             apiVersion: v1\nkind: Namespace\nmetadata: {{name: tenant}}\n---\n\
             apiVersion: v1\nkind: Namespace\nmetadata: {{name: victim}}\n---\n\
             apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: mallory, namespace: tenant}}\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\
             metadata: {{name: mallory-edit, namespace: tenant}}\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}}\n\
             subjects: [{{kind: ServiceAccount, name: mallory, namespace: tenant}}]\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata: {{name: app-db, namespace: tenant}}\n\
             stringData: {{password: hunter2}}\n"
        ),
    );
    for role in render("").into_iter().filter(|d| {
        d["kind"] == "ClusterRole"
            && d["metadata"]["name"].as_str().is_some_and(|n| n != "certsmith")
    }) {
        kube.kubectl_ok(&["apply", "-f", "-"], &serde_json::to_string(&role).unwrap());
    }
    let admin = kube.client().await;
    let mallory = client_of(&service_account_kubeconfig(&kube, "tenant", "mallory").await).await;

    // The victim's certificate, through the cluster's DNS key, issues whatever the tenant does.
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: bank, namespace: victim}\n\
         spec: {secretName: bank-tls, dnsNames: [bank.example.test], issuerRef: {name: dns, kind: ClusterIssuer}}\n",
    );
    let victim_certs: Api<Certificate> = Api::namespaced(admin.clone(), "victim");
    ready(&victim_certs, "bank", 1, &operator).await;
    let orders_before = pebble.orders_opened();

    // 1. Hand-made Challenges and Orders: the API server refuses them to the tenant.
    let forged_challenge: Challenge = serde_json::from_value(json!({
        "metadata": {"name": "forged", "namespace": "tenant",
                     "finalizers": ["finalizer.acme.cert-manager.io"]},
        "spec": {"url": "https://evil/chall/1", "authorizationURL": "https://evil/authz/1",
                 "dnsName": "bank.example.test", "type": "DNS-01", "token": "t",
                 "key": "forged-by-mallory", "issuerRef": {"name": "dns", "kind": "ClusterIssuer"},
                 "solver": {"dns01": {"rfc2136": {"nameserver": dns, "tsigKeyName": "certsmith-md5",
                            "tsigSecretSecretRef": {"name": "tsig-md5", "key": "secret"}}}}}
    }))
    .unwrap();
    let csr = crate::support::cert_manager::csr(
        &crate::support::cert_manager::rsa_key(),
        "bank.example.test",
    );
    let forged_order: Order = serde_json::from_value(json!({
        "metadata": {"name": "forged", "namespace": "tenant"},
        "spec": {"request": base64(&csr), "dnsNames": ["bank.example.test"],
                 "issuerRef": {"name": "dns", "kind": "ClusterIssuer"}}
    }))
    .unwrap();
    let pp = PostParams::default();
    let as_tenant: (Api<Challenge>, Api<Order>) =
        (Api::namespaced(mallory.clone(), "tenant"), Api::namespaced(mallory.clone(), "tenant"));
    assert!(forbidden(as_tenant.0.create(&pp, &forged_challenge).await), "Challenge create");
    assert!(forbidden(as_tenant.1.create(&pp, &forged_order).await), "Order create");
    // … and certsmith ignores them where wider roles let someone make them.
    let as_admin: (Api<Challenge>, Api<Order>) =
        (Api::namespaced(admin.clone(), "tenant"), Api::namespaced(admin.clone(), "tenant"));
    as_admin.0.create(&pp, &forged_challenge).await.unwrap();
    as_admin.1.create(&pp, &forged_order).await.unwrap();

    // 2. CertificateRequests under the chart's admission policies (chart_admission tests every
    //    rule): a forged requester is replaced by the tenant's own, the spec cannot change, and
    //    approving is not the tenant's to do.
    let mutating = crate::chart_identity::install_request_policies(&kube).await;
    let requests: Api<CertificateRequest> = Api::namespaced(mallory.clone(), "tenant");
    let forged = crate::chart_admission::request(
        "forged",
        json!({"spec": {"username": "system:serviceaccount:certsmith:certsmith",
                        "groups": ["system:masters"]}}),
    );
    let made = requests.create(&pp, &forged).await.unwrap();
    if mutating {
        let username = made.spec.username.as_deref();
        assert_eq!(username, Some("system:serviceaccount:tenant:mallory"));
    }
    let at = PatchParams::default();
    let other =
        Patch::Merge(json!({"spec": {"issuerRef": {"name": "dns", "kind": "ClusterIssuer"}}}));
    assert!(requests.patch("forged", &at, &other).await.is_err(), "spec changed");
    let approval = crate::chart_admission::condition("Approved", "mallory");
    let approve = Patch::Merge(json!({"status": {"conditions": [approval]}}));
    assert!(forbidden(requests.patch_status("forged", &at, &approve).await), "self-approved");

    // 3. An Issuer of the tenant's pointing at a hostile "CA", and a Certificate whose HTTP-01
    //    self-check meets a 300 MB answer: one failure each, the operator unharmed.
    let hostile_issuer = pebble
        .issuer_yaml("Issuer", "evil", Some("tenant"))
        .replace(&pebble.directory_url, &format!("{}/directory", hostile.https))
        .replace(
            &format!("caBundle: {}", ca_of(&pebble)),
            &format!("caBundle: {}", base64(&hostile.ca_pem)),
        );
    apply_as(&mallory, &hostile_issuer).await;
    apply_as(
        &mallory,
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: mine, namespace: tenant}\n\
         spec: {secretName: mine-tls, dnsNames: [mine.example.test], issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer}}\n",
    )
    .await;
    let issuers: Api<Issuer> = Api::namespaced(mallory.clone(), "tenant");
    let refused = eventually(60, "the hostile CA's answer refused", || async {
        let i = issuers.get("evil").await.ok()?;
        let ready = i.status?.conditions?.into_iter().find(|c| c.type_ == "Ready")?;
        ready.message.filter(|m| m.contains("larger than"))
    })
    .await;
    assert!(refused.contains("1024 KiB"), "{refused}");
    let challenges: Api<Challenge> = Api::namespaced(mallory.clone(), "tenant");
    let waiting = eventually(60, "the self-check's 300 MB answer refused", || async {
        let list = challenges.list(&Default::default()).await.ok()?;
        let ch = list.items.into_iter().find(|c| c.spec.dns_name == "mine.example.test")?;
        ch.status?.reason.filter(|r| r.contains("larger than"))
    })
    .await;
    assert!(waiting.contains("16 KiB"), "{waiting}");

    // 4. status.nextPrivateKeySecretName pointed at the tenant's database password, and a
    //    re-issue asked for (certificates/status is the tenant's, for `cmctl renew`).
    apply_as(
        &mallory,
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: self, namespace: tenant}\nspec: {selfSigned: {}}\n---\n\
         apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: rekey, namespace: tenant}\n\
         spec: {secretName: rekey-tls, commonName: rekey, issuerRef: {name: self}}\n",
    )
    .await;
    let certs: Api<Certificate> = Api::namespaced(mallory.clone(), "tenant");
    ready(&certs, "rekey", 1, &operator).await;
    let status = json!({"status": {"nextPrivateKeySecretName": "app-db", "conditions": [
        {"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
         "message": "mallory", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    certs.patch_status("rekey", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    ready(&certs, "rekey", 2, &operator).await;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "tenant");
    let db = secrets.get("app-db").await.unwrap();
    assert_eq!(db.data.unwrap()["password"].0, b"hunter2", "the tenant's Secret was used");
    assert!(events(&kube, "tenant", "InvalidNextKey").contains("app-db"));

    // What certsmith did with the hand-made objects, once they are past its patience: nothing
    // but an Event each; no record in the zone, no order at the CA.
    let said = eventually(60, "the hand-made objects' Events", || async {
        let o = events(&kube, "tenant", "NotOwnedByRequest");
        let c = events(&kube, "tenant", "NotOwnedByOrder");
        (o.contains("forged: ") && c.contains("forged: ")).then_some(format!("{o}{c}"))
    })
    .await;
    assert!(said.contains("Left untouched"), "{said}");
    assert!(txt(&port, "_acme-challenge.bank.example.test").is_empty(), "a record was written");
    let order = as_admin.1.get("forged").await.unwrap();
    assert!(order.status.and_then(|s| s.url).is_none(), "the hand-made Order was placed");
    assert_eq!(pebble.orders_opened(), orders_before + 1, "only `mine`'s order reached the CA");
    // Deleted, the hand-made Challenge loses certsmith's finalizer, and nothing is cleaned up
    // as its spec says.
    as_admin.0.delete("forged", &Default::default()).await.unwrap();
    eventually(30, "the hand-made Challenge gone", || async {
        as_admin.0.get_opt("forged").await.unwrap().is_none().then_some(())
    })
    .await;

    // The victim is renewed through the cluster's key all along; the operator's peak memory
    // stayed under the chart's limit, and the hostile server could not make it read much.
    kube.kubectl_ok(&["delete", "secret", "-n", "victim", "bank-tls"], "");
    ready(&victim_certs, "bank", 2, &operator).await;
    let peak = peak_rss_kib(operator.pid());
    assert!(peak < CHART_LIMIT_KIB, "peak RSS {peak} KiB");
    assert!(hostile.requests() > 0, "the hostile server was never asked");
    // Each connection is dropped once certsmith has read its cap (16 KiB, 1 MiB); what the
    // server got out beyond that sat in socket buffers, never in the operator.
    let (sent, most, requests) = (hostile.sent(), hostile.most(), hostile.requests());
    assert!(most < 32 * 1024 * 1024, "one connection took {most} bytes of 300 MB");
    println!(
        "tenant: peak RSS {} MiB (chart limit {} MiB); the hostile server's {requests} answers \
         of 300 MB each got {} KiB out in all, {} KiB at most on one connection",
        peak / 1024,
        CHART_LIMIT_KIB / 1024,
        sent / 1024,
        most / 1024
    );
}

fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The `caBundle` an issuer of `pebble`'s has.
fn ca_of(pebble: &crate::support::acme::PebbleBed) -> String {
    let yaml = pebble.issuer_yaml("ClusterIssuer", "x", None);
    let line = yaml.lines().find(|l| l.trim_start().starts_with("caBundle:")).unwrap();
    line.trim_start().trim_start_matches("caBundle: ").to_string()
}

/// Applies `yaml` (one or more documents) as `client` would with `kubectl apply`.
async fn apply_as(client: &kube::Client, yaml: &str) {
    use kube::discovery::{ApiResource, Discovery};
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let object: kube::api::DynamicObject = serde::Deserialize::deserialize(doc).unwrap();
        let types = object.types.clone().unwrap();
        let gvk = kube::api::GroupVersionKind::try_from(&types).unwrap();
        let (resource, _): (ApiResource, _) = discovery.resolve_gvk(&gvk).unwrap();
        let namespace = object.metadata.namespace.clone().unwrap();
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(client.clone(), &namespace, &resource);
        let name = object.metadata.name.clone().unwrap();
        let params = PatchParams::apply("tenant").force();
        api.patch(&name, &params, &Patch::Apply(&object)).await.unwrap();
    }
}
