//! What the chart's tests share: Helm through its Go SDK (`e2e/helm.py`), the chart rendered
//! offline, and acting as a user (a ServiceAccount's own token; RBAC's answer for one).

use crate::support::{self, KubeBed, repo};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use serde::Deserialize;
use serde_json::Value;
use std::process::Command;

pub(crate) fn helm(args: &[&str]) -> (bool, String) {
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

pub(crate) fn chart() -> String {
    repo().join("charts/certsmith").display().to_string()
}

pub(crate) fn render(values: &str) -> Vec<Value> {
    let (_, yaml) = helm(&["render", &chart(), values]);
    serde_yaml::Deserializer::from_str(&yaml)
        // A document that does not parse fails here (serde_yaml would repeat its error forever).
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("rendered YAML: {e}\n{yaml}")))
        .filter(|v| !v.is_null())
        .collect()
}

/// Whether `who` may do `check` (`kubectl auth can-i` words: a verb, a resource, flags) in
/// `namespace` (a flag: `--namespace=x`, `--all-namespaces`), as RBAC answers; the kinds need
/// not be served.
pub(crate) fn can_i(bed: &KubeBed, who: &str, namespace: &str, check: &str) -> bool {
    let mut args = vec!["auth", "can-i", namespace];
    let as_ = format!("--as={who}");
    args.push(&as_);
    args.extend(check.split(' '));
    let out = bed.kubectl(&args, "");
    let answer = String::from_utf8_lossy(&out.stdout);
    match answer.split_whitespace().next() {
        Some("yes") => true,
        Some("no") => false,
        _ => panic!("kubectl {args:?}: {answer}{}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// A client as the kubeconfig at `path` says.
pub(crate) async fn client_of(path: &std::path::Path) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

/// A kubeconfig that authenticates as the ServiceAccount, the way a pod does: a bound token.
pub(crate) async fn service_account_kubeconfig(
    bed: &KubeBed,
    namespace: &str,
    name: &str,
) -> std::path::PathBuf {
    let client = bed.client().await;
    let sas: Api<ServiceAccount> = Api::namespaced(client, namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec!["https://kubernetes.default.svc".into()],
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = sas
        .create_token_request(name, &PostParams::default(), &request)
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
         users:\n- name: {name}\n  user: {{token: {token}}}\ncontexts:\n- name: sa\n  context: {{cluster: c, user: {name}, namespace: {namespace}}}\n\
         current-context: sa\n",
        cluster["server"].as_str().unwrap(),
        cluster["certificate-authority-data"].as_str().unwrap()
    );
    let path = bed.dir.join(format!("{namespace}-{name}-sa.kubeconfig"));
    std::fs::write(&path, kubeconfig).unwrap();
    path
}
