//! The shim step's Gateway and ListenerSet sources, by table: listeners → Certificates, every
//! skipped listener → cert-manager's message, and what a ListenerSet inherits.

use super::annotations::DefaultIssuer;
use super::{Desired, Inputs, Source};
use crate::api::gateway::{Gateway, ListenerSet};
use kube::api::ObjectMeta;

fn defaults() -> DefaultIssuer {
    DefaultIssuer { name: None, kind: "Issuer".into(), group: "cert-manager.io".into() }
}

fn gateway(annotations: &str, listeners: &str) -> Gateway {
    serde_yaml::from_str(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: gw\n  namespace: shop\n  uid: u-1\n  \
         labels: {{team: a, applyset.kubernetes.io/part-of: set}}\n  annotations: {{{annotations}}}\n\
         spec:\n  gatewayClassName: c\n  listeners: {listeners}\n"
    ))
    .unwrap()
}

fn desired(s: &impl Source, extra: &[String], parent: Option<&ObjectMeta>) -> Option<Desired> {
    s.desired(&Inputs { defaults: &defaults(), extra_protocols: extra, parent }).unwrap()
}

/// (Certificate name, dnsNames) of each Certificate, and the problems.
fn summary(d: &Desired) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let certs = d.certificates.iter();
    let certs = certs.map(|c| (c.spec.secret_name.clone(), c.spec.dns_names.clone().unwrap()));
    (certs.collect(), d.problems.clone())
}

fn https(name: &str, host: &str, secret: &str) -> String {
    format!(
        "{{name: {name}, hostname: {host}, port: 443, protocol: HTTPS, tls: {{mode: Terminate, certificateRefs: [{{name: {secret}}}]}}}}"
    )
}

#[test]
fn one_certificate_per_secret_with_the_hosts_of_its_listeners() {
    let listeners = format!(
        "[{}, {}, {}, {}]",
        https("a", "a.example.com", "a-tls"),
        https("b", "b.example.com", "shared-tls"),
        https("c", "c.example.com", "shared-tls"),
        https("c2", "c.example.com", "shared-tls"),
    );
    let gw = gateway("cert-manager.io/cluster-issuer: le", &listeners);
    let d = desired(&gw, &[], None).unwrap();
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary(&d),
        (
            vec![
                ("a-tls".into(), s(&["a.example.com"])),
                ("shared-tls".into(), s(&["b.example.com", "c.example.com"])),
            ],
            vec![]
        )
    );
    let cert = &d.certificates[0];
    assert_eq!(cert.metadata.name.as_deref(), Some("a-tls"));
    assert_eq!(cert.spec.issuer_ref.kind.as_deref(), Some("ClusterIssuer"));
    let owner = &cert.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.api_version.as_str(), owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("gateway.networking.k8s.io/v1", "Gateway", "gw", Some(true))
    );
    // cert-manager copies the Gateway's labels (but the ApplySet's) and names the Gateway as
    // the HTTP-01 route's parent.
    let labels = cert.metadata.labels.as_ref().unwrap();
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(labels.get(super::gateway::LABEL_GATEWAY).map(String::as_str), Some("gw"));
    assert!(!labels.contains_key("applyset.kubernetes.io/part-of"));
    let a = cert.metadata.annotations.as_ref().unwrap();
    assert_eq!(a["acme.cert-manager.io/http01-parentrefkind"], "Gateway");
    assert_eq!(a["acme.cert-manager.io/http01-parentrefname"], "gw");
    assert!(!a.contains_key("acme.cert-manager.io/http01-parentrefnamespace"));
}

#[test]
fn listeners_skipped_silently_or_with_cert_managers_message() {
    let listeners = "[\
        {name: http, hostname: a.example.com, port: 80, protocol: HTTP},\
        {name: pass, hostname: p.example.com, port: 443, protocol: TLS, tls: {mode: Passthrough, certificateRefs: [{name: p}]}},\
        {name: ignored, hostname: i.example.com, port: 443, protocol: HTTPS, tls: {mode: Terminate, certificateRefs: [{name: i}]}},\
        {name: nohost, port: 443, protocol: HTTPS, tls: {mode: Terminate, certificateRefs: [{name: n}]}},\
        {name: norefs, hostname: r.example.com, port: 443, protocol: HTTPS, tls: {mode: Terminate}},\
        {name: other, hostname: o.example.com, port: 443, protocol: HTTPS, tls: {mode: Terminate, certificateRefs: [{name: o, namespace: other, group: x, kind: ConfigMap}]}},\
        {name: mqtt, hostname: m.example.com, port: 8883, protocol: MQTTS, tls: {mode: Terminate, certificateRefs: [{name: m, group: core, kind: Secret, namespace: shop}]}}]";
    let a = "cert-manager.io/issuer: ca, cert-manager.io/ignore-tls-listeners: ' ignored , x'";
    let gw = gateway(a, listeners);
    let d = desired(&gw, &[], None).unwrap();
    let at = "Skipped a listener block: spec.listeners";
    assert_eq!(
        summary(&d),
        (
            vec![],
            vec![
                format!("{at}[3].hostname: Required value: the hostname cannot be empty"),
                format!(
                    "{at}[4].tls.certificateRef: Required value: listener has no certificateRefs"
                ),
                format!(
                    "Skipped a listener block: [spec.listeners[5].tls.certificateRef[0].group: Unsupported value: \"x\": supported values: \"core\", \"\", \
                     spec.listeners[5].tls.certificateRef[0].kind: Unsupported value: \"ConfigMap\": supported values: \"Secret\", \"\", \
                     spec.listeners[5].tls.certificateRef[0].namespace: Invalid value: \"other\": cross-namespace secret references are not allowed in listeners]"
                ),
            ]
        )
    );
    // --gateway-api-extra-protocols: MQTTS counts, its reference to this namespace's Secret is fine.
    let d = desired(&gw, &["MQTTS".to_string()], None).unwrap();
    assert_eq!(summary(&d).0, vec![("m".to_string(), vec!["m.example.com".to_string()])]);
    // A listener of such a protocol without a TLS block (the schema requires one only for
    // HTTPS and TLS): cert-manager's one message.
    let bare = "[{name: mqtt, hostname: m.example.com, port: 8883, protocol: MQTTS}]";
    let d = desired(&gateway(a, bare), &["MQTTS".to_string()], None).unwrap();
    assert_eq!(
        d.problems,
        [
            "Skipped a listener block: spec.listeners[0].tls: Required value: the TLS block cannot be empty"
        ]
    );
}

#[test]
fn a_hostname_that_is_an_ip_address_is_one_of_the_ip_addresses() {
    let listeners =
        format!("[{}, {}]", https("a", "192.0.2.7", "a-tls"), https("b", "b.example.com", "a-tls"));
    let d = desired(&gateway("cert-manager.io/issuer: ca", &listeners), &[], None).unwrap();
    let spec = &d.certificates[0].spec;
    assert_eq!(spec.ip_addresses.as_deref(), Some(&["192.0.2.7".to_string()][..]));
    assert_eq!(spec.dns_names.as_deref(), Some(&["b.example.com".to_string()][..]));
    let only_ip = format!("[{}]", https("a", "192.0.2.7", "a-tls"));
    let d = desired(&gateway("cert-manager.io/issuer: ca", &only_ip), &[], None).unwrap();
    assert_eq!(d.certificates[0].spec.dns_names, None);
}

#[test]
fn no_issuer_annotation_asks_for_nothing_and_tls_acme_is_the_ingress_shims() {
    let listeners = format!("[{}]", https("a", "a.example.com", "a-tls"));
    assert!(desired(&gateway("", &listeners), &[], None).is_none());
    let mut gw = gateway("kubernetes.io/tls-acme: 'true'", &listeners);
    gw.trim();
    assert!(desired(&gw, &[], None).is_none());
    let bad = gateway("cert-manager.io/issuer: a, cert-manager.io/cluster-issuer: b", &listeners);
    let none = Inputs { defaults: &defaults(), extra_protocols: &[], parent: None };
    assert!(bad.desired(&none).is_err());
}

fn listener_set(annotations: &str) -> ListenerSet {
    serde_yaml::from_str(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata:\n  name: team-a\n  namespace: apps\n  uid: u-2\n  \
         annotations: {{{annotations}}}\nspec:\n  parentRef: {{name: gw, namespace: infra}}\n  listeners: [{}]\n",
        https("a", "a.example.com", "a-tls")
    ))
    .unwrap()
}

fn parent(annotations: &str) -> ObjectMeta {
    serde_yaml::from_str(&format!("{{name: gw, namespace: infra, annotations: {{{annotations}}}}}"))
        .unwrap()
}

#[test]
fn a_listener_set_inherits_its_gateways_issuer_and_names_itself_as_the_parent() {
    let ls = listener_set("");
    assert_eq!(ls.parent(), Some(("infra".into(), "gw".into())));
    let p = parent("cert-manager.io/cluster-issuer: le, cert-manager.io/issuer-group: x.io");
    let d = desired(&ls, &[], Some(&p)).unwrap();
    let [cert] = d.certificates.as_slice() else { panic!("{:?}", d.certificates) };
    assert_eq!(cert.metadata.namespace.as_deref(), Some("apps"));
    assert_eq!(cert.spec.issuer_ref.name, "le");
    assert_eq!(cert.spec.issuer_ref.kind.as_deref(), Some("ClusterIssuer"));
    assert_eq!(cert.metadata.owner_references.as_ref().unwrap()[0].kind, "ListenerSet");
    let a = cert.metadata.annotations.as_ref().unwrap();
    assert_eq!(a["acme.cert-manager.io/http01-parentrefkind"], "ListenerSet");
    assert_eq!(a["acme.cert-manager.io/http01-parentrefname"], "team-a");
    // Its own issuer wins; the Gateway's kind and group win over its own.
    let ls = listener_set("cert-manager.io/issuer: own, cert-manager.io/issuer-kind: Mine");
    let p = parent("cert-manager.io/issuer: gws, cert-manager.io/issuer-kind: External");
    let d = desired(&ls, &[], Some(&p)).unwrap();
    let r = &d.certificates[0].spec.issuer_ref;
    assert_eq!((r.name.as_str(), r.kind.as_deref()), ("own", Some("External")));
    // Neither names an issuer: nothing.
    assert!(desired(&listener_set(""), &[], Some(&parent(""))).is_none());
}

#[test]
fn the_fallback_annotation_names_the_parent_gateway() {
    let ls = listener_set("acme.cert-manager.io/http01-parentreffallback: 'true'");
    let d = desired(&ls, &[], Some(&parent("cert-manager.io/issuer: ca"))).unwrap();
    let a = d.certificates[0].metadata.annotations.clone().unwrap();
    assert_eq!(a["acme.cert-manager.io/http01-parentrefkind"], "Gateway");
    assert_eq!(a["acme.cert-manager.io/http01-parentrefname"], "gw");
    assert_eq!(a["acme.cert-manager.io/http01-parentrefnamespace"], "infra");
}
