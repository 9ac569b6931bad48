//! The issuance pipeline end to end: a real kube-apiserver, a real Pebble, the real binary.

use crate::support;

use crate::support::acme::eventually;
use crate::support::shared::IssuingBed;
use crate::support::verifies;
use certsmith::api::Certificate;
use certsmith::pki::inspect::parse_chain;
use certsmith::pki::key::parse_pem;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams};

/// The binary's shared issuing bed (`support::shared`): each test here in its own namespace.
fn bed() -> &'static IssuingBed {
    support::shared::issuing()
}

fn namespace(name: &str) -> String {
    bed().kube.kubectl_ok(&["create", "namespace", name], "");
    name.to_string()
}

fn certificate_yaml(name: &str, ns: &str, names: &[&str], extra: &str) -> String {
    format!(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         spec:\n  secretName: {name}-tls\n  dnsNames: [{}]\n  issuerRef: {{name: letsencrypt-prod, kind: ClusterIssuer}}\n{extra}",
        names.join(", ")
    )
}

fn condition(cert: &Certificate, type_: &str) -> Option<(String, String, String)> {
    let c = cert.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)?;
    let status = serde_json::to_value(c.status).unwrap().as_str().unwrap().to_string();
    Some((status, c.reason.clone().unwrap_or_default(), c.message.clone().unwrap_or_default()))
}

/// Waits until the Certificate is Ready=True for `revision`, and returns it.
async fn ready(api: &Api<Certificate>, name: &str, revision: i64) -> Certificate {
    support::acme::ready(api, name, revision, &bed().operator).await
}

fn tls(secret: &Secret) -> (String, String) {
    let data = secret.data.as_ref().unwrap();
    let text = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
    (text("tls.crt"), text("tls.key"))
}

#[tokio::test]
async fn cluster_issuer_and_certificate_give_a_verified_secret() {
    let bed = bed();
    let ns = namespace("basic");
    let template = "  secretTemplate: {labels: {team: web}, annotations: {owner: platform}}\n";
    bed.kube.kubectl_ok(
        &["apply", "-f", "-"],
        &certificate_yaml("web", &ns, &["web.example.com", "www.example.com"], template),
    );
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    ready(&certs, "web", 1).await;

    let secret = Api::<Secret>::namespaced(client, &ns).get("web-tls").await.unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let (chain, key) = tls(&secret);
    assert!(
        verifies(&chain, &bed.pebble.root_pem()),
        "chain does not verify against Pebble's root"
    );
    let issued = parse_chain(&chain).unwrap();
    assert!(issued.matches_key(&parse_pem(&key).unwrap()), "key does not match the certificate");
    assert_eq!(issued.identifiers(), ["web.example.com", "www.example.com"]);
    assert_eq!(secret.metadata.labels.as_ref().unwrap()["team"], "web");
    let annotations = secret.metadata.annotations.unwrap();
    assert_eq!(annotations["owner"], "platform");
    assert_eq!(annotations["cert-manager.io/certificate-name"], "web");
    assert_eq!(annotations["cert-manager.io/issuer-kind"], "ClusterIssuer");
    assert_eq!(annotations["cert-manager.io/alt-names"], "web.example.com,www.example.com");

    // Pebble serves renewal information (ARI): the renewal time is picked inside the window it
    // suggests for this certificate, once fetched, as cert-manager does. cert-manager v1.14.7's
    // CRDs have no status.acme.ari to hold that window: there only its bounds are checked.
    // The window is recorded in one status write and the renewal time picked in it by the next
    // reconcile's: both are waited for.
    let cert = eventually(30, "the CA's renewal window in status.acme.ari", || async {
        let c = certs.get("web").await.unwrap();
        let stored = certsmith::certificate::ari::current(&c, &issued).is_some();
        let picked = certsmith::certificate::ari::renewal_time(&c, &issued, None);
        let renewal = c.status.as_ref()?.renewal_time.as_ref().map(|t| t.0);
        let applied = picked.is_none() || picked == renewal;
        ((stored && applied) || support::on_old_cert_manager_crds()).then_some(c)
    })
    .await;
    let status = cert.status.as_ref().unwrap();
    assert_eq!(status.not_after.as_ref().unwrap().0, issued.not_after);
    let renewal = status.renewal_time.as_ref().unwrap().0;
    if let Some(picked) = certsmith::certificate::ari::renewal_time(&cert, &issued, None) {
        assert_eq!(renewal, picked);
    }
    assert!(issued.not_before < renewal && renewal < issued.not_after, "{renewal} in the validity");
    assert!(condition(&ready(&certs, "web", 1).await, "Issuing").is_none());
    // Both of the Certificate's Issuing Events, each with its own words (one reason, two
    // messages: a recorder that merged them would show the first twice).
    let columns = "custom-columns=REASON:.reason,KIND:.regarding.kind,MESSAGE:.note";
    let events =
        bed.kube.kubectl_ok(&["get", "events.events.k8s.io", "-n", &ns, "-o", columns], "");
    for message in [
        "Issuing certificate as Secret does not exist",
        "The certificate has been successfully issued",
    ] {
        assert!(
            events.lines().any(|l| l.starts_with("Issuing")
                && l.contains("Certificate")
                && l.ends_with(message)),
            "no Issuing '{message}' in\n{events}"
        );
    }
    assert!(!bed.operator.logs().contains("BEGIN"), "a PEM block reached the operator's log");

    // The namespace's responder Service routes through an EndpointSlice certsmith keeps (the
    // bed runs no responder pods, so it has no endpoints), never through core/v1 Endpoints.
    let selector = "kubernetes.io/service-name=certsmith-acme-http01,\
                    endpointslice.kubernetes.io/managed-by=certsmith";
    let slices = bed
        .kube
        .kubectl_ok(&["get", "endpointslices", "-n", &ns, "-l", selector, "-o", "name"], "");
    assert_eq!(slices.trim(), "endpointslice.discovery.k8s.io/certsmith-acme-http01");
    let writes = bed.kube.writes_by("certsmith");
    let endpoints = |w: &&String| w.split(['/', '?']).any(|segment| segment == "endpoints");
    assert!(!writes.iter().any(|w| endpoints(&w)), "Endpoints written: {writes:?}");
}

/// An IP identifier (RFC 8738): Pebble validates it at the address itself; the solver Ingress
/// has no host for it (an IP cannot be one) and the responder answers for that address.
#[tokio::test]
async fn an_ip_address_is_validated_and_issued() {
    let bed = bed();
    let ns = namespace("by-address");
    let cert = certificate_yaml("addr", &ns, &["addr.example.com"], "  ipAddresses: [127.0.0.1]\n");
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &cert);
    let client = bed.kube.client().await;
    ready(&Api::<Certificate>::namespaced(client.clone(), &ns), "addr", 1).await;
    let secret = Api::<Secret>::namespaced(client, &ns).get("addr-tls").await.unwrap();
    let issued = parse_chain(&tls(&secret).0).unwrap();
    assert_eq!(issued.identifiers(), ["127.0.0.1", "addr.example.com"]);
}

/// `preferredChain` picks the CA's alternate chain by the name of its root, and
/// `enableDurationFeature` sends the Certificate's `duration` to the CA as `notAfter`.
#[tokio::test]
async fn preferred_chain_and_duration_reach_the_ca() {
    let bed = bed();
    let ns = namespace("chains");
    let subject_cn = |pem: &str| {
        let block = pem::parse(pem).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(block.contents()).unwrap();
        cert.subject().iter_common_name().next().unwrap().as_str().unwrap().to_string()
    };
    let alternate = subject_cn(&bed.pebble.root(1));
    let issuer = bed.pebble.issuer_yaml("Issuer", "alt", Some(&ns)).replace(
        "    email:",
        &format!("    preferredChain: {alternate:?}\n    enableDurationFeature: true\n    email:"),
    );
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &issuer);
    let cert = certificate_yaml("alt", &ns, &["alt.example.com"], "  duration: 2h\n")
        .replace("{name: letsencrypt-prod, kind: ClusterIssuer}", "{name: alt}");
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &cert);
    let client = bed.kube.client().await;
    ready(&Api::<Certificate>::namespaced(client.clone(), &ns), "alt", 1).await;
    let secret = Api::<Secret>::namespaced(client, &ns).get("alt-tls").await.unwrap();
    let chain = tls(&secret).0;
    assert!(verifies(&chain, &bed.pebble.root(1)), "not the chain to {alternate}");
    assert!(!verifies(&chain, &bed.pebble.root_pem()), "the default chain was kept");
    let issued = parse_chain(&chain).unwrap();
    let lifetime = issued.not_after.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((7000..=7300).contains(&lifetime), "valid for {lifetime} s more, not 2 h");
}

#[tokio::test]
async fn namespaced_issuer_works_the_same_way() {
    let bed = bed();
    let ns = namespace("team-a");
    bed.kube.kubectl_ok(
        &["apply", "-f", "-"],
        &bed.pebble.issuer_yaml("Issuer", "team-issuer", Some(&ns)),
    );
    let cert = certificate_yaml("api", &ns, &["api.team-a.example.com"], "")
        .replace("{name: letsencrypt-prod, kind: ClusterIssuer}", "{name: team-issuer}");
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &cert);
    let client = bed.kube.client().await;
    ready(&Api::<Certificate>::namespaced(client.clone(), &ns), "api", 1).await;
    // The account key lives beside the Issuer, as cert-manager keeps it.
    let key = Api::<Secret>::namespaced(client.clone(), &ns).get("team-issuer").await.unwrap();
    assert!(key.data.unwrap().contains_key("tls.key"));
    let issuer = bed.kube.kubectl_ok(
        &["get", "issuer", "team-issuer", "-n", &ns, "-o", "jsonpath={.status.acme.uri}"],
        "",
    );
    assert!(issuer.starts_with("https://127.0.0.1"), "status.acme.uri: {issuer}");
}

#[tokio::test]
async fn twenty_certificates_at_once_all_become_ready_and_leave_no_solver() {
    let bed = bed();
    let ns = namespace("twenty");
    let all: String = (0..20)
        .map(|i| {
            certificate_yaml(&format!("c{i}"), &ns, &[&format!("c{i}.example.com")], "") + "---\n"
        })
        .collect();
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &all);
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    for i in 0..20 {
        ready(&certs, &format!("c{i}"), 1).await;
    }
    let ingresses: Api<Ingress> = Api::namespaced(client, "certsmith");
    for cert in certs.list(&ListParams::default()).await.unwrap() {
        let selector = format!("certsmith.io/certificate-uid={}", cert.metadata.uid.unwrap());
        let left = ingresses.list(&ListParams::default().labels(&selector)).await.unwrap();
        assert!(left.items.is_empty(), "solver Ingresses left behind: {:?}", left.items);
    }
}

#[tokio::test]
async fn renew_issues_revision_two_with_a_new_serial_and_never_rotation_keeps_the_key() {
    let bed = bed();
    let ns = namespace("renewals");
    let never = "  privateKey: {rotationPolicy: Never, algorithm: ECDSA}\n";
    bed.kube.kubectl_ok(
        &["apply", "-f", "-"],
        &certificate_yaml("always", &ns, &["always.example.com"], ""),
    );
    bed.kube.kubectl_ok(
        &["apply", "-f", "-"],
        &certificate_yaml("never", &ns, &["never.example.com"], never),
    );
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    let requests: Api<certsmith::api::CertificateRequest> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client, &ns);
    for name in ["always", "never"] {
        ready(&certs, name, 1).await;
        let (chain1, key1) = tls(&secrets.get(&format!("{name}-tls")).await.unwrap());
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_certsmith"))
            .args(["renew", name, "-n", &ns])
            .env("KUBECONFIG", bed.kube.kubeconfig())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        ready(&certs, name, 2).await;
        let (chain2, key2) = tls(&secrets.get(&format!("{name}-tls")).await.unwrap());
        let (old, new) = (parse_chain(&chain1).unwrap(), parse_chain(&chain2).unwrap());
        assert_ne!(old.serial, new.serial, "{name}: renewal kept the serial");
        assert_eq!(
            name == "never",
            key1 == key2,
            "{name}: rotationPolicy decides whether the key changes"
        );
        assert!(new.matches_key(&parse_pem(&key2).unwrap()));
        // No revisionHistoryLimit: cert-manager v1.18+ keeps one revision, the newest.
        eventually(30, &format!("{name}'s revision 1 pruned"), || async {
            let left = requests.list(&ListParams::default()).await.ok()?.items;
            let left: Vec<_> = left.iter().filter_map(|r| r.metadata.name.as_deref()).collect();
            let mine: Vec<_> = left.into_iter().filter(|n| n.starts_with(name)).collect();
            (mine == [format!("{name}-2")]).then_some(())
        })
        .await;
    }
    // One renew is one issuance: nothing keeps re-issuing afterwards.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for name in ["always", "never"] {
        let cert = certs.get(name).await.unwrap();
        assert_eq!(cert.status.as_ref().unwrap().revision, Some(2), "{name} re-issued again");
        assert!(condition(&cert, "Issuing").is_none(), "{name} still Issuing");
    }
    // The next-key Secrets of the issuances are gone.
    let left = bed.kube.kubectl_ok(
        &["get", "secrets", "-n", &ns, "-l", "cert-manager.io/next-private-key", "-o", "name"],
        "",
    );
    assert_eq!(left.trim(), "", "in-flight key Secrets left behind; log:\n{}", bed.operator.logs());
}

#[tokio::test]
async fn a_foreign_secret_is_never_touched() {
    let bed = bed();
    let ns = namespace("foreign");
    bed.kube.kubectl_ok(
        &["create", "secret", "generic", "mine-tls", "-n", &ns, "--from-literal=tls.crt=hand-made"],
        "",
    );
    let client = bed.kube.client().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let before = secrets.get("mine-tls").await.unwrap();
    bed.kube.kubectl_ok(
        &["apply", "-f", "-"],
        &certificate_yaml("mine", &ns, &["mine.example.com"], ""),
    );
    let certs: Api<Certificate> = Api::namespaced(client, &ns);
    let (_, reason, message) = eventually(30, "Ready=False SecretNotOwned", || async {
        condition(&certs.get("mine").await.ok()?, "Ready")
            .filter(|(s, r, _)| s == "False" && r == "SecretNotOwned")
    })
    .await;
    assert_eq!(reason, "SecretNotOwned");
    assert!(
        message.contains("\"mine-tls\" exists and was not created for this Certificate"),
        "{message}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let after = secrets.get("mine-tls").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "the Secret was written"
    );
    assert_eq!(after.data, before.data);
    let events = bed
        .kube
        .kubectl_ok(&["get", "events", "-n", &ns, "-o", "custom-columns=R:.reason,T:.type"], "");
    assert!(events.contains("SecretNotOwned") && events.contains("Warning"), "{events}");
    // Deleted, as the message says to: issued soon after, though foreign Secrets are not watched.
    secrets.delete("mine-tls", &Default::default()).await.unwrap();
    ready(&certs, "mine", 1).await;
}

/// A CA that cannot be reached decided nothing: the order waits for it (asked again every 15 s)
/// and says so on the request, and no failed attempt is counted, so a CA that comes back is
/// used at once rather than after the Certificate's backoff.
#[tokio::test]
async fn an_unreachable_acme_server_is_waited_for_not_counted_as_a_failure() {
    let bed = bed();
    let ns = namespace("unreachable");
    let dead = format!("https://127.0.0.1:{}/dir", support::acme::free_port());
    let issuer = bed
        .pebble
        .issuer_yaml("Issuer", "dead", Some(&ns))
        .replace(&bed.pebble.directory_url, &dead);
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &issuer);
    let cert = certificate_yaml("lost", &ns, &["lost.example.com"], "")
        .replace("{name: letsencrypt-prod, kind: ClusterIssuer}", "{name: dead}");
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &cert);
    let client = bed.kube.client().await;
    let requests: Api<certsmith::api::CertificateRequest> = Api::namespaced(client.clone(), &ns);
    let orders: Api<certsmith::api::Order> = Api::namespaced(client.clone(), &ns);
    let message = eventually(30, "the request naming the unreachable CA", || async {
        let r = requests.list(&ListParams::default()).await.ok()?.items.pop()?;
        let c = r.status?.conditions?.into_iter().find(|c| c.type_ == "Ready")?;
        c.message.filter(|m| m.contains(&format!("the ACME server {dead} could not be reached")))
    })
    .await;
    assert!(message.starts_with("Waiting on certificate issuance from order "), "{message}");
    // Waiting writes nothing new: the Order is not rewritten while the CA stays away.
    let order = orders.list(&ListParams::default()).await.unwrap().items.pop().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let later = orders.get(&order.metadata.name.clone().unwrap()).await.unwrap();
    assert_eq!(later.metadata.resource_version, order.metadata.resource_version, "rewritten");
    let certs: Api<Certificate> = Api::namespaced(client, &ns);
    let lost = certs.get("lost").await.unwrap();
    assert_eq!(lost.status.unwrap().failed_issuance_attempts, None, "counted as a failure");
    let issuer = bed.kube.kubectl_ok(
        &["get", "issuer", "dead", "-n", &ns, "-o", "jsonpath={.status.conditions[0].reason}"],
        "",
    );
    assert_eq!(issuer, "ErrRegisterACMEAccount");
}

#[tokio::test]
async fn an_invalid_spec_is_reported_on_the_certificate() {
    let bed = bed();
    let ns = namespace("invalid");
    bed.kube.kubectl_ok(
        &["apply", "-f", "-"],
        &certificate_yaml("short", &ns, &["short.example.com"], "  renewBefore: 1m\n"),
    );
    let certs: Api<Certificate> = Api::namespaced(bed.kube.client().await, &ns);
    let (_, _, message) = eventually(30, "Ready=False InvalidSpec", || async {
        condition(&certs.get("short").await.ok()?, "Ready").filter(|(_, r, _)| r == "InvalidSpec")
    })
    .await;
    assert_eq!(
        message,
        "spec.renewBefore: Invalid value: \"1m\": certificate renewBefore must be at least 5m0s"
    );
}

#[tokio::test]
async fn a_changed_request_reissues_and_a_changed_secret_template_does_not() {
    let bed = bed();
    let ns = namespace("changes");
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client, &ns);
    for (name, change) in [
        ("usages", "  usages: [digital signature, key encipherment, server auth]\n"),
        ("subject", "  subject: {organizations: [Example Org]}\n"),
    ] {
        bed.kube.kubectl_ok(
            &["apply", "-f", "-"],
            &certificate_yaml(name, &ns, &[&format!("{name}.example.com")], ""),
        );
        ready(&certs, name, 1).await;
        bed.kube.kubectl_ok(
            &["apply", "-f", "-"],
            &certificate_yaml(name, &ns, &[&format!("{name}.example.com")], change),
        );
        let c = ready(&certs, name, 2).await;
        assert_eq!(c.status.unwrap().revision, Some(2), "{name}: not re-issued");
    }
    bed.kube.kubectl_ok(
        &["apply", "-f", "-"],
        &certificate_yaml("tmpl", &ns, &["tmpl.example.com"], ""),
    );
    ready(&certs, "tmpl", 1).await;
    let before = tls(&secrets.get("tmpl-tls").await.unwrap());
    bed.kube.kubectl_ok(
        &["apply", "-f", "-"],
        &certificate_yaml(
            "tmpl",
            &ns,
            &["tmpl.example.com"],
            "  secretTemplate: {labels: {team: blue}, annotations: {owner: ops}}\n",
        ),
    );
    let secret = eventually(10, "the template on the Secret", || async {
        let s = secrets.get("tmpl-tls").await.ok()?;
        let labelled = s.metadata.labels.as_ref()?.get("team").map(String::as_str) == Some("blue");
        let annotated =
            s.metadata.annotations.as_ref()?.get("owner").map(String::as_str) == Some("ops");
        (labelled && annotated).then_some(s)
    })
    .await;
    assert_eq!(tls(&secret), before, "the template change rewrote the certificate or key");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let c = certs.get("tmpl").await.unwrap();
    assert_eq!(c.status.unwrap().revision, Some(1), "a template change re-issued");
}
