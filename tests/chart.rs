//! The Helm chart, through Helm's Go SDK (helm-python-sdk): lint, render, install into the test
//! API server, uninstall; and the operator's whole job done as the chart's ServiceAccount.

mod support;

use certsmith::api::Certificate;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use serde_json::Value;
use std::process::Command;
use support::acme::{Operator, PebbleBed, eventually};
use support::{KubeBed, fixture, repo};

fn helm(args: &[&str]) -> (bool, String) {
    let venv = support::kube_bin_dir().parent().unwrap().join("venv/bin/python");
    let out =
        Command::new(venv).arg(repo().join("e2e/helm.py")).args(args).output().expect("helm.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() || args[0] == "lint",
        "helm.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn chart() -> String {
    repo().join("charts/certsmith").display().to_string()
}

const CUSTOM: &str = r#"{"replicaCount": 3, "defaultIssuer": {"name": "letsencrypt-prod"},
  "metrics": {"serviceMonitor": {"enabled": true}}, "networkPolicy": {"enabled": true},
  "http01": {"serviceType": "NodePort"}, "nodeSelector": {"kubernetes.io/os": "linux"},
  "tolerations": [{"key": "infra", "operator": "Exists"}], "extraArgs": ["--http01-self-check=false"]}"#;

fn render(values: &str) -> Vec<Value> {
    let (_, yaml) = helm(&["render", &chart(), values]);
    serde_yaml::Deserializer::from_str(&yaml)
        .filter_map(|d| Value::deserialize(d).ok())
        .filter(|v| !v.is_null())
        .collect()
}

use serde::Deserialize;

#[test]
fn the_chart_lints_clean_and_renders_least_privilege() {
    for values in ["", CUSTOM] {
        let (ok, report) = helm(&["lint", &chart(), values]);
        assert!(ok, "helm lint with {values:?}:\n{report}");
        let docs = render(values);
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        for kind in [
            "ServiceAccount",
            "Deployment",
            "Service",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "PodDisruptionBudget",
        ] {
            assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
        }
        for role in
            docs.iter().filter(|d| matches!(d["kind"].as_str(), Some("ClusterRole" | "Role")))
        {
            for rule in role["rules"].as_array().unwrap() {
                for field in ["apiGroups", "resources", "verbs"] {
                    let items: Vec<&str> =
                        rule[field].as_array().unwrap().iter().filter_map(Value::as_str).collect();
                    assert!(!items.contains(&"*"), "wildcard in {field}: {rule}");
                }
            }
        }
        let deploy = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
        let pod = &deploy["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(container["securityContext"]["capabilities"]["drop"][0], "ALL");
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert!(
            container["resources"]["requests"].is_object()
                && container["resources"]["limits"].is_object()
        );
    }
    let custom = render(CUSTOM);
    let deploy = custom.iter().find(|d| d["kind"] == "Deployment").unwrap();
    assert_eq!(deploy["spec"]["replicas"], 3);
    let args: Vec<&str> = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        args.contains(&"--default-issuer-name=letsencrypt-prod")
            && args.contains(&"--http01-self-check=false"),
        "{args:?}"
    );
    assert!(
        custom.iter().any(|d| d["kind"] == "ServiceMonitor")
            && custom.iter().any(|d| d["kind"] == "NetworkPolicy")
    );
    let http01 = custom
        .iter()
        .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == "certsmith-http01")
        .unwrap();
    assert_eq!(http01["spec"]["type"], "NodePort");
}

/// A kubeconfig that authenticates as the ServiceAccount, the way a pod does: a bound token.
async fn service_account_kubeconfig(bed: &KubeBed) -> std::path::PathBuf {
    let client = bed.client().await;
    let sas: Api<ServiceAccount> = Api::namespaced(client, "certsmith");
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec!["https://kubernetes.default.svc".into()],
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = sas
        .create_token_request("certsmith", &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    let admin: Value =
        serde_yaml::from_str(&std::fs::read_to_string(bed.kubeconfig()).unwrap()).unwrap();
    let cluster = &admin["clusters"][0]["cluster"];
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: {}, certificate-authority-data: {}}}\n\
         users:\n- name: certsmith\n  user: {{token: {token}}}\ncontexts:\n- name: sa\n  context: {{cluster: c, user: certsmith, namespace: certsmith}}\n\
         current-context: sa\n",
        cluster["server"].as_str().unwrap(),
        cluster["certificate-authority-data"].as_str().unwrap()
    );
    let path = bed.dir.join("certsmith-sa.kubeconfig");
    std::fs::write(&path, kubeconfig).unwrap();
    path
}

#[tokio::test]
async fn helm_install_then_the_operator_works_as_the_chart_service_account_and_uninstall_keeps_data()
 {
    let bed = KubeBed::start();
    helm(&["install", &chart(), bed.kubeconfig().to_str().unwrap(), "certsmith", ""]);
    for crd in [
        "certificates.cert-manager.io",
        "issuers.cert-manager.io",
        "clusterissuers.cert-manager.io",
    ] {
        bed.kubectl_ok(
            &["wait", "--for=condition=established", "--timeout=60s", &format!("crd/{crd}")],
            "",
        );
    }
    let objects = bed.kubectl_ok(
        &[
            "get",
            "serviceaccount,deployment,service,role,rolebinding,poddisruptionbudget",
            "-n",
            "certsmith",
            "-o",
            "name",
        ],
        "",
    );
    for want in [
        "serviceaccount/certsmith",
        "deployment.apps/certsmith",
        "service/certsmith-http01",
        "service/certsmith-metrics",
        "role.rbac.authorization.k8s.io/certsmith",
        "poddisruptionbudget.policy/certsmith",
    ] {
        assert!(objects.contains(want), "{want} missing:\n{objects}");
    }
    bed.kubectl_ok(&["get", "clusterrole/certsmith", "clusterrolebinding/certsmith"], "");

    // The operator, authenticated as the chart's ServiceAccount, does the whole job.
    let kubeconfig = service_account_kubeconfig(&bed).await;
    let pebble = PebbleBed::start(&[]);
    bed.kubectl_ok(
        &["apply", "-f", "-"],
        &pebble.issuer_yaml("ClusterIssuer", "letsencrypt-prod", None),
    );
    let operator = Operator::start_with_kubeconfig(&kubeconfig, &pebble, &[]);
    bed.kubectl_ok(&["apply", "-n", "default", "-f", "-"], &fixture("seed-auto-tls-ingress.yaml"));
    let client = bed.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    eventually(60, "the seed Ingress's Certificate Ready", || async {
        let c = certs.get("app-tls-cert").await.ok()?;
        c.status?
            .conditions?
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason.as_deref() == Some("Ready"))
            .then_some(())
    })
    .await;
    assert!(
        !operator.logs().to_lowercase().contains("forbidden"),
        "a request was refused:\n{}",
        operator.logs()
    );

    // The same identity may not do what certsmith does not need.
    let sa = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let pod: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "nope"}, "spec": {"containers": [{"name": "x", "image": "x"}]}})).unwrap();
    match Api::<Pod>::namespaced(sa, "default").create(&PostParams::default(), &pod).await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 403, "{e:?}"),
        other => panic!("creating a Pod as certsmith was not refused: {other:?}"),
    }
    drop(operator);

    // Uninstall keeps the CRDs, the Certificates and the Secrets.
    helm(&["uninstall", bed.kubeconfig().to_str().unwrap(), "certsmith"]);
    let left = bed.kubectl_ok(&["get", "crd", "-o", "name"], "");
    assert_eq!(left.lines().filter(|l| l.contains("cert-manager.io")).count(), 6, "{left}");
    bed.kubectl_ok(&["get", "certificate", "app-tls-cert", "-n", "default"], "");
    bed.kubectl_ok(&["get", "secret", "app-tls-cert", "-n", "default"], "");
    let gone = bed.kubectl(&["get", "deployment", "certsmith", "-n", "certsmith"], "");
    assert!(!gone.status.success(), "the Deployment survived the uninstall");
}
