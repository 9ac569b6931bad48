//! Operating certsmith as cert-manager is operated: its log read by a collector, its CLI.

mod support;

use support::KubeBed;
use support::acme::{Operator, issuing_bed};

const CERT: &str = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: logged, namespace: default}\n\
    spec: {secretName: logged-tls, dnsNames: [logged.example.com], issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer}}\n";

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_text_logs_have_no_colour_off_a_terminal() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let operator = Operator::start(&kube, &pebble, &["--logging-format=json"]);
    kube.kubectl_ok(&["apply", "-f", "-"], CERT);
    let certs = kube::Api::namespaced(kube.client().await, "default");
    support::acme::ready(&certs, "logged", 1, &operator).await;
    let log = operator.logs();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // Every step of the issuance is a line naming its object, as its Event does.
    let step = |kind: &str, reason: &str| {
        lines.iter().any(|l| {
            l["level"] == "INFO"
                && l["kind"] == kind
                && l["reason"] == reason
                && l["namespace"] == "default"
                && l["name"].as_str().is_some_and(|n| n.starts_with("logged"))
        })
    };
    for (kind, reason) in [
        ("Certificate", "Issuing"),
        ("Certificate", "Generated"),
        ("Certificate", "Requested"),
        ("CertificateRequest", "OrderCreated"),
        ("Order", "Complete"),
        ("CertificateRequest", "CertificateIssued"),
    ] {
        assert!(step(kind, reason), "no {kind} {reason} line in:\n{log}");
    }
    let issued = lines.iter().find(|l| l["reason"] == "Issuing" && l["kind"] == "Certificate");
    assert!(
        lines.iter().any(|l| l["message"] == "The certificate has been successfully issued"),
        "{issued:?}"
    );
    assert!(!log.contains("PRIVATE KEY"), "key material in the log");
    drop(operator);

    // Text, written to a file: nothing a log collector would store as escape codes.
    let operator = Operator::start(&kube, &pebble, &[]);
    let log = operator.logs();
    assert!(log.contains("certsmith starting"), "no text log:\n{log}");
    assert!(!log.as_bytes().contains(&0x1b), "ANSI escape codes in a log that is a file:\n{log}");
}
