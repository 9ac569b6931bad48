//! DNS-01 through RFC 2136 against Debian's BIND 9, which Pebble resolves through: a wildcard
//! Certificate issued by a ClusterIssuer that also answers HTTP-01 for an Ingress (solvers chosen
//! by `dnsZones`), with cert-manager's default TSIG algorithm (HMAC-MD5); the TXT records gone
//! afterwards; a wrong TSIG secret shown as the DNS server's refusal.

use crate::support;

use crate::support::acme::{Operator, eventually, issuing_bed_with, ready};
use crate::support::{KubeBed, issued_names, start, state_var, txt};
use certsmith::api::{Certificate, Challenge};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::process::Command;

/// A ClusterIssuer for `pebble` with HTTP-01 for everything, RFC 2136 for `example.test`
/// (TSIG `zone_key`), and RFC 2136 following the CNAME for the one name `alias.http.test` (TSIG
/// `alias_key`; the most specific selector wins).
fn mixed_issuer(
    pebble_yaml: &str,
    name: &str,
    dns_port: &str,
    zone_key: &str,
    alias_key: &str,
) -> String {
    let solver = |selector: &str, strategy: &str, rfc2136: &str| {
        format!(
            "    - selector: {selector}\n      dns01:\n{strategy}        rfc2136:\n          \
             nameserver: 127.0.0.1:{dns_port}\n{rfc2136}"
        )
    };
    format!(
        "{pebble_yaml}{}{}",
        solver("{dnsZones: [example.test]}", "", zone_key),
        // This one's updates go over TCP (cert-manager v1.20's `protocol`, which v1.14.7's CRDs
        // refuse), the other's UDP.
        solver("{dnsNames: [alias.http.test]}", "        cnameStrategy: Follow\n", &{
            let tcp =
                if support::on_old_cert_manager_crds() { "" } else { "          protocol: TCP\n" };
            format!("{tcp}{alias_key}")
        }),
    )
    .replace("name: letsencrypt-prod", &format!("name: {name}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn wildcards_through_rfc2136_beside_http01_and_a_wrong_tsig_secret_is_named() {
    let bind = start("start-bind.sh", &[]);
    let port = state_var(&bind, "DNS_PORT");
    let kube = KubeBed::start();
    let pebble = issuing_bed_with(
        &kube,
        &[("PEBBLE_DNS_SERVER", &format!("127.0.0.1:{port}")), ("PEBBLE_ALTERNATE_ROOTS", "1")],
    );
    let recursive = format!("127.0.0.1:{port}");
    let operator = Operator::start(
        &kube,
        &pebble,
        &["--dns01-recursive-nameservers", &recursive, "--dns01-recursive-nameservers-only"],
    );
    let secret = |name: &str, value: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: certsmith}}\n\
             stringData: {{secret: \"{value}\"}}\n---\n"
        )
    };
    let base = pebble.issuer_yaml("ClusterIssuer", "letsencrypt-prod", None);
    // cert-manager's default algorithm (none given): HMAC-MD5; and HMAC-SHA256.
    let md5 = "          tsigKeyName: certsmith-md5\n          \
               tsigSecretSecretRef: {name: tsig-md5, key: secret}\n";
    let sha256 = |secret: &str| {
        format!(
            "          tsigKeyName: certsmith-sha256\n          tsigAlgorithm: HMACSHA256\n          \
             tsigSecretSecretRef: {{name: {secret}, key: secret}}\n"
        )
    };
    let mixed = mixed_issuer(&base, "mixed", &port, md5, &sha256("tsig-sha256"));
    let wrong = sha256("tsig-wrong");
    let wrong = mixed_issuer(&base, "wrong-tsig", &port, &wrong, &wrong);
    let yaml = format!(
        "{}{}{}{mixed}---\n{wrong}---\n",
        secret("tsig-md5", &state_var(&bind, "TSIG_MD5_SECRET")),
        secret("tsig-sha256", &state_var(&bind, "TSIG_SHA256_SECRET")),
        secret("tsig-wrong", "d3Jvbmcgc2VjcmV0IG9mIDMyIGJ5dGVzIGxvbmcgISE="),
    );
    kube.kubectl_ok(&["apply", "-f", "-"], &yaml);
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: wild, namespace: default}
spec:
  secretName: wild-tls
  dnsNames: ["*.example.test", example.test]
  issuerRef: {name: mixed, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: alias, namespace: default}
spec:
  secretName: alias-tls
  dnsNames: [alias.http.test]
  issuerRef: {name: mixed, kind: ClusterIssuer}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app
  namespace: default
  annotations: {cert-manager.io/cluster-issuer: mixed}
spec:
  ingressClassName: nginx
  tls: [{secretName: app-tls, hosts: [app.http.test]}, {secretName: star-tls, hosts: ["*.example.test"]}]
  rules:
  - host: app.http.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: refused, namespace: default}
spec:
  secretName: refused-tls
  dnsNames: [refused.example.test]
  issuerRef: {name: wrong-tsig, kind: ClusterIssuer}
"#,
    );
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");

    ready(&certs, "wild", 1, &operator).await;
    ready(&certs, "app-tls", 1, &operator).await;
    ready(&certs, "alias", 1, &operator).await;
    // A wildcard tls host of the Ingress: its Certificate goes through DNS-01 too.
    ready(&certs, "star-tls", 1, &operator).await;
    let names = issued_names(&secrets, "wild-tls", &pebble.root_pem()).await;
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"*.example.test".to_string()), "{names:?}");

    // Which solver answered what: the Challenges say it until they are cleaned up; the Events
    // on them stay.
    let events = kube.kubectl_ok(
        &[
            "get",
            "events",
            "-n",
            "default",
            "-o",
            "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
        ],
        "",
    );
    assert!(events.contains("Presented challenge using DNS-01 challenge mechanism"), "{events}");
    assert!(events.contains("Presented challenge using HTTP-01 challenge mechanism"), "{events}");
    let created = kube.kubectl_ok(
        &["get", "events", "-n", "default", "--field-selector", "reason=Created", "-o", "name"],
        "",
    );
    assert!(created.lines().count() >= 4, "{created}");

    // The records are removed once the challenges are decided.
    eventually(30, "the TXT records removed", || async {
        let left = txt(&port, "_acme-challenge.example.test")
            + &txt(&port, "_acme-challenge.alias.example.test");
        left.is_empty().then_some(())
    })
    .await;

    // A wrong TSIG secret: the Challenge waits, saying what BIND answered; nothing is written.
    let challenges: Api<Challenge> = Api::namespaced(client, "default");
    let said = eventually(60, "the refusal on the Challenge", || async {
        let list = challenges.list(&Default::default()).await.ok()?;
        let ch = list.items.into_iter().find(|c| c.spec.dns_name == "refused.example.test")?;
        ch.status?.reason.filter(|r| r.contains("refused"))
    })
    .await;
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
    assert!(said.contains("NOTAUTH"), "{said}");
    // The same words reach the Certificate's condition, through its Order and request.
    eventually(30, "the refusal on the Certificate", || async {
        let c = certs.get("refused").await.ok()?;
        let issuing = c.status?.conditions?.into_iter().find(|c| c.type_ == "Issuing")?;
        issuing.message.filter(|m| m.contains(&said)).map(|_| ())
    })
    .await;
    assert!(txt(&port, "_acme-challenge.refused.example.test").is_empty());
    assert!(secrets.get_opt("refused-tls").await.unwrap().is_none());

    // Deleting it is not held up by the record the DNS server never took.
    kube.kubectl_ok(&["delete", "certificate", "refused", "-n", "default"], "");
    eventually(60, "the refused Challenge gone", || async {
        let list = challenges.list(&Default::default()).await.ok()?;
        (!list.items.iter().any(|c| c.spec.dns_name == "refused.example.test")).then_some(())
    })
    .await;
    drop(operator);
    let _ = Command::new(support::testbed_script("stop-bind.sh")).arg(&bind).status();
}
