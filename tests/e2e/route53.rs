//! DNS-01 through AWS Route 53 (`dns01.route53`), against moto (start-route53.sh): the AWS API
//! emulator, checking SigV4 signatures and the IAM user's policy as AWS does, holding the hosted
//! zone `example.test.`. moto is the API under test; the bed mirrors the TXT changes it accepts
//! into BIND only because Pebble and certsmith's check read DNS. certsmith runs as the chart's
//! ServiceAccount with `AWS_ENDPOINT_URL_ROUTE_53` pointing at moto, and no AWS credentials of
//! its own. A wildcard and its base name (one `_acme-challenge` name, two values) issue through
//! an Issuer that names the zone by ListHostedZonesByName; a name issues through `role`, with
//! the key of a user allowed only to assume it (STS AssumeRole, then the role's session key);
//! the values are gone from moto and BIND afterwards; a wrong secret key shows moto's refusal on the Challenge, the Certificate
//! and an Event, and the key is nowhere.

use crate::chart_admission::install_chart;
use crate::chart_support::service_account_kubeconfig;
use crate::support::acme::{Operator, PebbleBed, eventually, ready};
use crate::support::{self, KubeBed, issued_names, start, state_var, txt};
use certsmith::api::{Certificate, Challenge};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::process::Command;

/// An ACME Issuer in `team` for `pebble` whose one solver is Route 53 with `route53` (YAML).
fn issuer(pebble: &PebbleBed, name: &str, route53: &str) -> String {
    let base = pebble.issuer_yaml("Issuer", name, Some("team"));
    let head = &base[..base.find("    solvers:\n").unwrap()];
    format!("{head}    solvers:\n    - dns01:\n        route53: {route53}\n---\n")
}

/// The TXT values moto holds in the zone (ListResourceRecordSets, signed with the bed's key).
fn moto_txt(r53: &std::path::Path) -> Vec<String> {
    let script = format!(
        "import boto3\nc = boto3.client('route53', endpoint_url='http://127.0.0.1:{}', \
         region_name='us-east-1', aws_access_key_id='{}', aws_secret_access_key='{}')\n\
         for s in c.list_resource_record_sets(HostedZoneId='{}')['ResourceRecordSets']:\n    \
         if s['Type'] == 'TXT':\n        print(s['Name'], [r['Value'] for r in s['ResourceRecords']])\n",
        state_var(r53, "ROUTE53_PORT"),
        state_var(r53, "ROUTE53_ACCESS_KEY_ID"),
        state_var(r53, "ROUTE53_SECRET_ACCESS_KEY"),
        state_var(r53, "ROUTE53_ZONE_ID"),
    );
    let out =
        Command::new(state_var(r53, "ROUTE53_PYTHON")).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wildcard_and_its_base_name_through_moto_and_a_wrong_key_in_awss_words() {
    let bind = start("start-bind.sh", &[]);
    let port = state_var(&bind, "DNS_PORT");
    let r53 = start("start-route53.sh", &[("BIND_STATE", bind.to_str().unwrap())]);
    let (key_id, secret) =
        (state_var(&r53, "ROUTE53_ACCESS_KEY_ID"), state_var(&r53, "ROUTE53_SECRET_ACCESS_KEY"));
    let wrong = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYWRONGKEYx";
    let kube = KubeBed::start();
    install_chart(&kube, "");
    let pebble = PebbleBed::start(&[
        ("PEBBLE_DNS_SERVER", &format!("127.0.0.1:{port}")),
        ("PEBBLE_ALTERNATE_ROOTS", "1"),
    ]);
    kube.kubectl_ok(&["create", "namespace", "team"], "");
    let secret_yaml = |name: &str, value: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: team}}\n\
             stringData: {{secret-access-key: \"{value}\"}}\n---\n"
        )
    };
    let solver = |key_id: &str, secret: &str, more: &str| {
        format!(
            "{{region: us-east-1, accessKeyID: {key_id}, {more}\
             secretAccessKeySecretRef: {{name: {secret}, key: secret-access-key}}}}"
        )
    };
    let (assumer_id, assumer_secret) =
        (state_var(&r53, "ROUTE53_ASSUMER_KEY_ID"), state_var(&r53, "ROUTE53_ASSUMER_SECRET"));
    let role = format!("role: '{}', ", state_var(&r53, "ROUTE53_ROLE_ARN"));
    // The good Issuer finds the zone (ListHostedZonesByName); the wrong one names it.
    let zone_id = format!("hostedZoneID: {}, ", state_var(&r53, "ROUTE53_ZONE_ID"));
    let yaml = format!(
        "{}{}{}{}{}{}",
        secret_yaml("aws", &secret),
        secret_yaml("aws-wrong", wrong),
        secret_yaml("aws-assumer", &assumer_secret),
        issuer(&pebble, "r53", &solver(&key_id, "aws", "")),
        issuer(&pebble, "r53-wrong", &solver(&key_id, "aws-wrong", &zone_id)),
        issuer(&pebble, "r53-role", &solver(&assumer_id, "aws-assumer", &role)),
    );
    kube.kubectl_ok(&["apply", "-f", "-"], &yaml);
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: wild, namespace: team}
spec:
  secretName: wild-tls
  dnsNames: ["*.example.test", example.test]
  issuerRef: {name: r53, kind: Issuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: wrong, namespace: team}
spec:
  secretName: wrong-tls
  dnsNames: [wrong.example.test]
  issuerRef: {name: r53-wrong, kind: Issuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: role, namespace: team}
spec:
  secretName: role-tls
  dnsNames: [role.example.test]
  issuerRef: {name: r53-role, kind: Issuer}
"#,
    );

    let kubeconfig = service_account_kubeconfig(&kube, "certsmith", "certsmith").await;
    let recursive = format!("127.0.0.1:{port}");
    let endpoint = format!("http://127.0.0.1:{}", state_var(&r53, "ROUTE53_PORT"));
    let operator = Operator::start_with_env(
        None,
        &kubeconfig,
        &pebble,
        &["--dns01-recursive-nameservers", &recursive, "--dns01-recursive-nameservers-only"],
        &[("AWS_ENDPOINT_URL_ROUTE_53", &endpoint), ("AWS_ENDPOINT_URL_STS", &endpoint)],
    );
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "team");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team");

    ready(&certs, "wild", 1, &operator).await;
    let names = issued_names(&secrets, "wild-tls", &pebble.root_pem()).await;
    for name in ["*.example.test", "example.test"] {
        assert!(names.contains(&name.to_string()), "{names:?}");
    }
    // The assumer may not touch Route 53 itself: only the role's session key could write.
    ready(&certs, "role", 1, &operator).await;

    // Both values removed (each challenge its own set), from moto and so from BIND.
    eventually(60, "the TXT values removed from moto and BIND", || async {
        let left = moto_txt(&r53);
        let bind_left = txt(&port, "_acme-challenge.example.test")
            + &txt(&port, "_acme-challenge.role.example.test");
        (left.is_empty() && bind_left.is_empty()).then_some(())
    })
    .await;

    // A wrong secret key: moto's refusal on the Challenge, then the Certificate, an Event.
    let words = "Route 53 refused ChangeResourceRecordSets: SignatureDoesNotMatch: The request \
                 signature we calculated does not match";
    let challenges: Api<Challenge> = Api::namespaced(client, "team");
    let said = eventually(90, "moto's refusal on the Challenge", || async {
        let list = challenges.list(&Default::default()).await.ok()?;
        let ch = list.items.into_iter().find(|c| c.spec.dns_name == "wrong.example.test")?;
        ch.status?.reason.filter(|r| r.contains(words))
    })
    .await;
    eventually(30, "the refusal on the Certificate", || async {
        let c = certs.get("wrong").await.ok()?;
        let issuing = c.status?.conditions?.into_iter().find(|c| c.type_ == "Issuing")?;
        issuing.message.filter(|m| m.contains(words)).map(|_| ())
    })
    .await;
    let events = kube.kubectl_ok(
        &["get", "events", "-n", "team", "--field-selector", "reason=PresentError", "-o", "yaml"],
        "",
    );
    assert!(events.contains("SignatureDoesNotMatch"), "no PresentError Event for: {said}");
    // The secret keys, right or wrong, appear in no status, Event or log line.
    let everything = kube.kubectl_ok(
        &[
            "get",
            "challenges,orders,certificates,certificaterequests,events",
            "-n",
            "team",
            "-o",
            "yaml",
        ],
        "",
    ) + &operator.logs();
    for key in [secret.as_str(), wrong, assumer_secret.as_str()] {
        assert!(!everything.contains(key), "a secret access key is shown");
    }
    assert!(txt(&port, "_acme-challenge.wrong.example.test").is_empty());

    drop(operator);
    let _ = Command::new(support::testbed_script("stop-route53.sh")).arg(&r53).status();
    let _ = Command::new(support::testbed_script("stop-bind.sh")).arg(&bind).status();
}
