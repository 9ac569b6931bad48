//! `certsmith migrate --check` on DNS-01 solvers, on cert-manager's own CRDs: every way
//! certsmith writes a record (a webhook solver, Route 53, acme-dns, dns-persist-01 without a
//! provider) is taken over; a provider it does not write through is named, and the check fails.

use crate::migrate::certsmith;
use crate::support::KubeBed;
use crate::support::cert_manager as cm;

#[tokio::test]
async fn every_dns01_way_certsmith_writes_is_taken_over_and_the_others_named() {
    let kube = KubeBed::start();
    if !cm::install_crds(&kube) {
        return;
    }
    // A solver certsmith does not implement: named, and the check fails.
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: dns}\nspec:\n  acme:\n    \
         server: https://acme.example/dir\n    privateKeySecretRef: {name: dns}\n    \
         solvers: [{dns01: {cloudflare: {email: admin@example.com}}}]\n---\n\
         apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: zone, namespace: default}\n\
         spec: {secretName: zone-tls, dnsNames: [zone.example.com], issuerRef: {name: dns, kind: ClusterIssuer}}\n",
    );
    let check = certsmith(&kube, &["migrate", "--check"]);
    let report = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{report}");
    assert!(
        report.contains("LEFT  Certificate default/zone: would not be renewed: the solver ClusterIssuer/dns selects for zone.example.com is the DNS-01 provider cloudflare, which certsmith does not write through (it writes through rfc2136, route53, acmeDNS and webhook); a cert-manager webhook solver for it works"),
        "{report}"
    );
    // Every DNS-01 way certsmith has is taken over: a webhook solver, Route 53, acme-dns, and
    // a provider-less solver under dns-persist-01.
    let issuer = |name: &str, annotations: &str, solver: &str| {
        format!(
            "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {{name: {name}{annotations}}}\n\
             spec:\n  acme:\n    server: https://acme.example/dir\n    privateKeySecretRef: {{name: {name}}}\n    \
             solvers: [{{dns01: {solver}}}]\n---\n\
             apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: {name}, namespace: default}}\n\
             spec: {{secretName: {name}-tls, dnsNames: [\"*.{name}.example.com\"], issuerRef: {{name: {name}, kind: ClusterIssuer}}}}\n---\n"
        )
    };
    let webhook = "{webhook: {groupName: acme.example.com, solverName: hook, config: {zone: z}}}";
    let persist = ", annotations: {acme.certsmith.io/dns-persist-01: \"true\"}";
    let route53 = "{route53: {region: us-east-1, accessKeyID: AKIA, \
                   secretAccessKeySecretRef: {name: aws, key: secret}}}";
    let acme_dns = "{acmeDNS: {host: https://auth.example.com, \
                    accountSecretRef: {name: acme-dns, key: acmedns.json}}}";
    let adoptable = [
        ("hooked", "", webhook),
        ("route", "", route53),
        ("acme-dns", "", acme_dns),
        ("persist", persist, "{}"),
    ];
    let yaml: String = adoptable.iter().map(|(n, a, s)| issuer(n, a, s)).collect();
    kube.kubectl_ok(&["apply", "-f", "-"], &yaml);
    let check = certsmith(&kube, &["migrate", "--check"]);
    let report = String::from_utf8_lossy(&check.stdout);
    for (name, _, _) in adoptable {
        let ok =
            format!("ok    Certificate default/{name}: Secret {name}-tls missing: will be issued");
        assert!(report.contains(&ok), "{name}:\n{report}");
    }
}
