//! Gateway API end to end, on Gateway API's v1.6.1 CRDs (../shared/testdata): annotated
//! Gateways and ListenerSets get Ready Certificates, through HTTP-01 via HTTPRoutes (Pebble's
//! validation sent through a real Gateway implementation, Traefik, to certsmith's responder)
//! and through DNS-01 (RFC 2136 to BIND); listeners added and removed are followed; bad
//! listeners get cert-manager's Events and change nothing.

use crate::support::acme::{Operator, PebbleBed, eventually, free_port};
use crate::support::gateway::{Traefik, install_gateway_api};
use crate::support::{KubeBed, start, state_var, verifies};
use certsmith::api::Certificate;
use certsmith::api::gateway::HTTPRoute;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

struct Bed {
    kube: KubeBed,
    pebble: PebbleBed,
    _bind: PathBuf,
    traefik: Traefik,
    operator: Operator,
}

/// The module's bed: BIND (names under http.test and example.test are 127.0.0.1, and
/// example.test takes RFC 2136 updates), Pebble resolving through it and validating HTTP-01 at
/// Traefik's entry point, Traefik routing by the bed's Gateways and HTTPRoutes, and the
/// operator, whose responder Traefik reaches through the namespaces' responder Services. The
/// ClusterIssuer `gateway-le` answers example.test by DNS-01 and everything else by HTTP-01
/// through an HTTPRoute with no parentRefs of its own (the Certificates' Gateways are the
/// parents).
fn bed() -> &'static Bed {
    static BED: OnceLock<Bed> = OnceLock::new();
    BED.get_or_init(|| {
        let bind = start("start-bind.sh", &[]);
        let dns = format!("127.0.0.1:{}", state_var(&bind, "DNS_PORT"));
        let kube = KubeBed::start();
        install_gateway_api(&kube);
        let traefik = Traefik::start(&kube);
        let web = traefik.web_port.to_string();
        let pebble = crate::support::acme::issuing_bed_with(
            &kube,
            &[("PEBBLE_DNS_SERVER", &dns), ("HTTP01_PORT", &web)],
        );
        // The responder listens apart; Traefik sends the CA to it through the Service's
        // EndpointSlice, which certsmith copies from its own responder Service's.
        let responder = free_port();
        traefik.expose_responder(&kube, responder);
        let listen = format!("127.0.0.1:{responder}");
        let through_traefik = format!("127.0.0.1:{web}");
        let operator = Operator::start(
            &kube,
            &pebble,
            &[
                "--http01-listen",
                &listen,
                "--http01-self-check-address",
                &through_traefik,
                "--dns01-recursive-nameservers",
                &dns,
                "--dns01-recursive-nameservers-only",
            ],
        );
        let tsig = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: tsig-md5, namespace: certsmith}}\n\
             stringData: {{secret: \"{}\"}}\n",
            state_var(&bind, "TSIG_MD5_SECRET")
        );
        kube.kubectl_ok(&["apply", "-f", "-"], &tsig);
        kube.kubectl_ok(&["apply", "-f", "-"], &issuer(&pebble, &dns));
        Bed { kube, pebble, _bind: bind, traefik, operator }
    })
}

fn issuer(pebble: &PebbleBed, dns: &str) -> String {
    let base = pebble.issuer_yaml("ClusterIssuer", "gateway-le", None);
    let (head, _) = base.split_once("    solvers:\n").unwrap();
    format!(
        "{head}    solvers:\n    - http01:\n        gatewayHTTPRoute:\n          labels: {{team: web}}\n    \
         - selector: {{dnsZones: [example.test]}}\n      dns01:\n        rfc2136:\n          nameserver: {dns}\n          \
         tsigKeyName: certsmith-md5\n          tsigSecretSecretRef: {{name: tsig-md5, key: secret}}\n"
    )
}

fn namespace(name: &str) -> String {
    bed().kube.kubectl_ok(&["create", "namespace", name], "");
    name.to_string()
}

fn apply(ns: &str, yaml: &str) {
    bed().kube.kubectl_ok(&["apply", "-n", ns, "-f", "-"], yaml);
}

/// A Gateway of Traefik's class with an HTTP listener (routes from every namespace) and one
/// HTTPS listener per (name, hostname, Secret), at Traefik's two entry points' ports.
fn gateway(name: &str, annotations: &str, https: &[(&str, &str, &str)]) -> String {
    let (web, secure) = (bed().traefik.web_port, bed().traefik.secure_port);
    let listeners: String = https
        .iter()
        .map(|(l, host, secret)| {
            let host = if host.is_empty() { String::new() } else { format!("hostname: '{host}', ") };
            format!(
                "  - {{name: {l}, {host}port: {secure}, protocol: HTTPS, tls: {{mode: Terminate, certificateRefs: [{{name: {secret}}}]}}}}\n"
            )
        })
        .collect();
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: {name}\n  \
         annotations: {{{annotations}}}\nspec:\n  gatewayClassName: traefik\n  \
         allowedListeners: {{namespaces: {{from: All}}}}\n  listeners:\n  \
         - {{name: http, port: {web}, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}\n{listeners}"
    )
}

async fn ready(certs: &Api<Certificate>, name: &str) -> Certificate {
    crate::support::acme::ready(certs, name, 1, &bed().operator).await
}

/// The names in the Secret's chain, once it verifies against Pebble's root.
async fn signed_names(secrets: &Api<Secret>, name: &str) -> Vec<String> {
    let s = secrets.get(name).await.unwrap();
    let chain = String::from_utf8(s.data.unwrap()["tls.crt"].0.clone()).unwrap();
    assert!(verifies(&chain, &bed().pebble.root_pem()), "{name}: not signed by Pebble");
    certsmith::pki::inspect::parse_chain(&chain).unwrap().identifiers()
}

/// Every version of every HTTPRoute in `ns` seen from now on, until the handle is aborted.
fn record_routes(
    client: kube::Client,
    ns: &str,
) -> (Arc<Mutex<Vec<HTTPRoute>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let api: Api<HTTPRoute> = Api::namespaced(client, ns);
    let recorder = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut stream = watcher(api, watcher::Config::default()).applied_objects().boxed();
            while let Some(Ok(route)) = stream.next().await {
                seen.lock().unwrap().push(route);
            }
        })
    };
    (seen, recorder)
}

/// `kubectl get events` in `ns` as "reason object message" lines, once `until` is in them.
async fn events(ns: &str, until: &str) -> String {
    eventually(30, until, || async {
        let columns = "custom-columns=R:.reason,O:.involvedObject.name,M:.message";
        let out = bed().kube.kubectl_ok(&["get", "events", "-n", ns, "-o", columns], "");
        let out: String = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
            .collect();
        out.contains(until).then_some(out)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_gets_certificates_through_an_httproute_and_through_dns01() {
    let bed = bed();
    let ns = namespace("edge");
    let client = bed.kube.client().await;
    let (seen, recorder) = record_routes(client.clone(), &ns);
    let listeners = [("app", "app.http.test", "app-tls"), ("wild", "*.example.test", "wild-tls")];
    apply(&ns, &gateway("edge", "cert-manager.io/cluster-issuer: gateway-le", &listeners));
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    let app = ready(&certs, "app-tls").await;
    ready(&certs, "wild-tls").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    assert_eq!(signed_names(&secrets, "app-tls").await, ["app.http.test"]);
    assert_eq!(signed_names(&secrets, "wild-tls").await, ["*.example.test"]);
    let owner = &app.metadata.owner_references.unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Gateway", "edge"));
    let a = app.metadata.annotations.unwrap();
    assert_eq!(a["acme.cert-manager.io/http01-parentrefname"], "edge");

    // The route Pebble came through: the Gateway as its parent, the exact token path to the
    // namespace's responder Service, accepted by Traefik; gone once the Challenge is.
    let routes = seen.lock().unwrap().clone();
    let route = routes.iter().find(|r| !r.spec.hostnames.is_empty()).expect("no HTTPRoute seen");
    assert_eq!(route.spec.hostnames, ["app.http.test"]);
    let parent = &route.spec.parent_refs[0];
    assert_eq!(
        (parent.kind.as_deref(), parent.name.as_str(), parent.namespace.as_deref()),
        (Some("Gateway"), "edge", Some(ns.as_str()))
    );
    assert_eq!(route.metadata.labels.as_ref().unwrap()["team"], "web");
    let rule = &route.spec.rules[0];
    let path = rule.matches[0].path.as_ref().unwrap();
    assert!(path.value.starts_with("/.well-known/acme-challenge/") && path.type_ == "Exact");
    assert_eq!(rule.backend_refs[0].name, "certsmith-acme-http01");
    let accepted =
        routes.iter().filter_map(|r| r.status.as_ref()).flat_map(|s| &s.parents).any(|p| {
            p.controller_name == crate::support::gateway::CONTROLLER
                && p.conditions.iter().any(|c| c.type_ == "Accepted" && c.status == "True")
        });
    assert!(
        accepted,
        "Traefik never accepted the solver HTTPRoute: {routes:#?}\n{}",
        bed.traefik.logs()
    );
    recorder.abort();
    let routes: Api<HTTPRoute> = Api::namespaced(client, &ns);
    eventually(30, "the solver HTTPRoute deleted", || async {
        routes.list(&Default::default()).await.ok()?.items.is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_set_gets_certificates_with_its_gateways_issuer() {
    let bed = bed();
    let infra = namespace("infra");
    let team = namespace("team-a");
    apply(&infra, &gateway("shared", "cert-manager.io/cluster-issuer: gateway-le", &[]));
    // No issuer of its own: the parent Gateway's. Traefik routes through Gateways, so the
    // solver route attaches to the parent (cert-manager v1.21's fallback annotation).
    let secure = bed.traefik.secure_port;
    let set = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata:\n  name: team\n  \
         annotations: {{acme.cert-manager.io/http01-parentreffallback: 'true'}}\nspec:\n  \
         parentRef: {{name: shared, namespace: infra}}\n  listeners:\n  \
         - {{name: team, hostname: team.http.test, port: {secure}, protocol: HTTPS, tls: {{mode: Terminate, certificateRefs: [{{name: team-tls}}]}}}}\n  \
         - {{name: wild, hostname: '*.team.example.test', port: {secure}, protocol: HTTPS, tls: {{mode: Terminate, certificateRefs: [{{name: team-wild-tls}}]}}}}\n"
    );
    apply(&team, &set);
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &team);
    let cert = ready(&certs, "team-tls").await;
    let owner = &cert.metadata.owner_references.unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("ListenerSet", "team"));
    assert_eq!(cert.spec.issuer_ref.name, "gateway-le");
    let a = cert.metadata.annotations.unwrap();
    assert_eq!(a["acme.cert-manager.io/http01-parentrefnamespace"], "infra");
    // Its wildcard listener, through DNS-01.
    ready(&certs, "team-wild-tls").await;
    let secrets: Api<Secret> = Api::namespaced(client, &team);
    assert_eq!(signed_names(&secrets, "team-tls").await, ["team.http.test"]);
    assert_eq!(signed_names(&secrets, "team-wild-tls").await, ["*.team.example.test"]);

    // The parent Gateway no longer names an issuer: the ListenerSet, which inherited it, no
    // longer asks for Certificates (their Secrets stay).
    bed.kube.kubectl_ok(
        &["annotate", "gateway", "shared", "-n", &infra, "cert-manager.io/cluster-issuer-"],
        "",
    );
    eventually(30, "the ListenerSet's Certificates deleted", || async {
        certs.list(&Default::default()).await.ok()?.items.is_empty().then_some(())
    })
    .await;
    events(&team, "Successfully deleted unrequired Certificate \"team-wild-tls\"").await;
    assert!(secrets.get_opt("team-tls").await.unwrap().is_some(), "a Secret was deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn listeners_are_followed_and_bad_listeners_get_cert_managers_events() {
    let bed = bed();
    let ns = namespace("follow");
    // A SelfSigned issuer: what the shim does does not depend on the CA.
    apply(
        &ns,
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: self}\nspec: {selfSigned: {}}\n",
    );
    // Someone else's Certificate, of a name a listener asks for.
    let foreign = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: taken-tls}\n\
                   spec: {secretName: taken-tls, dnsNames: [mine.example.com], issuerRef: {name: self}}\n";
    apply(&ns, foreign);
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    let before = eventually(30, "taken-tls Ready", || async {
        let c = certs.get("taken-tls").await.ok()?;
        c.status.as_ref()?.revision.is_some().then_some(c)
    })
    .await;
    let ann = "cert-manager.io/issuer: self";
    let a = ("a", "a.example.com", "a-tls");
    apply(&ns, &gateway("shop", ann, &[a]));
    ready(&certs, "a-tls").await;
    // Added: b. Bad: no hostname; another namespace's Secret; the foreign name. Quiet:
    // Passthrough.
    let mut yaml = gateway(
        "shop",
        ann,
        &[
            a,
            ("b", "b.example.com", "b-tls"),
            ("nohost", "", "c-tls"),
            ("taken", "mine.example.com", "taken-tls"),
        ],
    );
    yaml.push_str(
        "  - {name: other, hostname: o.example.com, port: 8443, protocol: HTTPS, tls: {mode: Terminate, certificateRefs: [{name: o-tls, namespace: infra}]}}\n  \
         - {name: pass, hostname: p.example.com, port: 8444, protocol: TLS, tls: {mode: Passthrough}}\n",
    );
    apply(&ns, &yaml);
    ready(&certs, "b-tls").await;
    let seen = events(&ns, "not owned by this Gateway").await;
    let at = "BadConfig shop Skipped a listener block: spec.listeners";
    for line in [
        format!("{at}[3].hostname: Required value: the hostname cannot be empty"),
        format!(
            "{at}[5].tls.certificateRef[0].namespace: Invalid value: \"infra\": cross-namespace secret references are not allowed in listeners"
        ),
        "CreateCertificate shop Successfully created Certificate \"b-tls\"".to_string(),
    ] {
        assert!(seen.contains(&line), "no '{line}' in:\n{seen}");
    }
    // The Passthrough listener (the seventh) is skipped without a word.
    assert!(!seen.contains("listeners[6]"), "{seen}");
    let names: Vec<String> = certs
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["a-tls", "b-tls", "taken-tls"]);
    let after = certs.get("taken-tls").await.unwrap();
    assert_eq!(after.spec, before.spec, "the foreign Certificate was changed");
    assert!(after.metadata.owner_references.is_none());

    // Removed: a. Its Certificate goes, its Secret stays.
    apply(&ns, &gateway("shop", ann, &[("b", "b.example.com", "b-tls")]));
    eventually(30, "a-tls deleted", || async {
        certs.get_opt("a-tls").await.ok()?.is_none().then_some(())
    })
    .await;
    events(&ns, "Successfully deleted unrequired Certificate \"a-tls\"").await;
    let secrets: Api<Secret> = Api::namespaced(client, &ns);
    assert!(
        secrets.get_opt("a-tls").await.unwrap().is_some(),
        "the removed listener's Secret was deleted"
    );

    // An issuer that does not exist: the Certificate is made (as cert-manager makes it) and
    // says so.
    apply(
        &ns,
        &gateway("lost", "cert-manager.io/issuer: nowhere", &[("l", "l.example.com", "l-tls")]),
    );
    let lost = eventually(30, "l-tls made", || async { certs.get_opt("l-tls").await.ok()? }).await;
    assert_eq!(lost.spec.issuer_ref.name, "nowhere");
}

/// The seed tutorial done the Gateway way (e2e/fixtures/seed-gateway*.yaml, as `e2e/demo.sh
/// --gateway` applies them): its ClusterIssuer pointed at the bed's Pebble, its Gateway's ports
/// those of Traefik's entry points (the bed's load balancer), and app.example.com issued
/// through the Gateway.
#[tokio::test(flavor = "multi_thread")]
async fn the_seed_tutorial_the_gateway_way_turns_ready() {
    use base64::Engine as _;
    let bed = bed();
    let ca = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(&bed.pebble.ca_pem).unwrap());
    let issuer = crate::support::fixture("seed-gateway-clusterissuer.yaml").replace(
        "server: https://acme-v02.api.letsencrypt.org/directory",
        &format!("server: {}\n    caBundle: {ca}", bed.pebble.directory_url),
    );
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &issuer);
    let ns = namespace("seed-gateway");
    let (web, secure) = (bed.traefik.web_port, bed.traefik.secure_port);
    let app = crate::support::fixture("seed-gateway.yaml")
        .replace("name: http\n    port: 80\n", &format!("name: http\n    port: {web}\n"))
        .replace("    port: 443\n", &format!("    port: {secure}\n"));
    assert!(app.contains(&format!("port: {web}")), "the fixture's HTTP listener moved");
    apply(&ns, &app);
    let client = bed.kube.client().await;
    let cert = ready(&Api::namespaced(client.clone(), &ns), "app-tls-cert").await;
    assert_eq!(cert.spec.issuer_ref.name, "letsencrypt-prod");
    let secrets: Api<Secret> = Api::namespaced(client, &ns);
    assert_eq!(signed_names(&secrets, "app-tls-cert").await, ["app.example.com"]);
}
