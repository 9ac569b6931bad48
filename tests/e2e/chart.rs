//! The Helm chart, through Helm's Go SDK (helm-python-sdk): lint, render, install into the test
//! API server, uninstall; and the operator's whole job done as the chart's ServiceAccount.

use crate::support;

// Re-exported: other modules reach these through `chart` too.
pub(crate) use crate::chart_support::{
    can_i, chart, client_of, helm, render, service_account_kubeconfig,
};
use crate::support::acme::{Operator, PebbleBed, eventually};
use crate::support::{KubeBed, fixture, repo};
use certsmith::api::Certificate;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::Value;

const CUSTOM: &str = r#"{"replicaCount": 3, "defaultIssuer": {"name": "letsencrypt-prod"},
  "metrics": {"serviceMonitor": {"enabled": true}}, "networkPolicy": {"enabled": true},
  "http01": {"serviceType": "NodePort"}, "nodeSelector": {"kubernetes.io/os": "linux"},
  "tolerations": [{"key": "infra", "operator": "Exists"}], "extraArgs": ["--http01-self-check=false"]}"#;

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

/// A cert-manager user's values file, as it is.
const CERT_MANAGER_STYLE: &str = r#"{"replicaCount": 1,
  "global": {"priorityClassName": "system-cluster-critical", "logLevel": 4, "imagePullSecrets": [{"name": "registry"}]},
  "image": {"registry": "registry.example.com", "repository": "platform/certsmith", "digest": "sha256:0123"},
  "ingressShim": {"defaultIssuerName": "letsencrypt-prod", "defaultIssuerKind": "ClusterIssuer"},
  "prometheus": {"enabled": true, "servicemonitor": {"enabled": true, "interval": "30s", "labels": {"release": "kube-prometheus"}}},
  "serviceAccount": {"create": false, "name": "platform-certs"},
  "podLabels": {"team": "platform"}, "extraEnv": [{"name": "TZ", "value": "UTC"}],
  "https_proxy": "http://proxy.example.com:3128", "no_proxy": "10.0.0.0/8,.svc",
  "crds": {"enabled": true, "keep": true}, "installCRDs": true,
  "dns01RecursiveNameservers": "10.0.0.53:53,1.1.1.1:53", "dns01RecursiveNameserversOnly": true,
  "extraArgs": ["--max-concurrent-challenges=60"]}"#;

#[test]
fn cert_manager_values_map_and_unknown_values_fail_naming_the_key_to_use() {
    let (ok, report) = helm(&["lint", &chart(), CERT_MANAGER_STYLE]);
    assert!(ok, "helm lint with cert-manager's values:\n{report}");
    let docs = render(CERT_MANAGER_STYLE);
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert!(!kinds.contains(&"PodDisruptionBudget"), "a PDB with one replica blocks drains");
    assert!(!kinds.contains(&"ServiceAccount"), "serviceAccount.create=false made one");
    let deploy = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &deploy["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(pod["metadata"]["labels"]["team"], "platform");
    assert_eq!(pod["spec"]["priorityClassName"], "system-cluster-critical");
    assert_eq!(pod["spec"]["serviceAccountName"], "platform-certs");
    assert_eq!(pod["spec"]["imagePullSecrets"][0]["name"], "registry");
    assert_eq!(container["image"], "registry.example.com/platform/certsmith@sha256:0123");
    let args: Vec<&str> =
        container["args"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for arg in [
        "--v=4",
        "--default-issuer-name=letsencrypt-prod",
        "--max-concurrent-challenges=60",
        "--dns01-recursive-nameservers=10.0.0.53:53,1.1.1.1:53",
        "--dns01-recursive-nameservers-only",
    ] {
        assert!(args.contains(&arg), "{arg} missing: {args:?}");
    }
    let env: Vec<(&str, &str)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
        .collect();
    for pair in [
        ("HTTPS_PROXY", "http://proxy.example.com:3128"),
        ("NO_PROXY", "10.0.0.0/8,.svc"),
        ("TZ", "UTC"),
    ] {
        assert!(env.contains(&pair), "{pair:?} missing: {env:?}");
    }
    let bindings = docs
        .iter()
        .filter(|d| matches!(d["kind"].as_str(), Some("ClusterRoleBinding" | "RoleBinding")));
    for binding in bindings {
        assert_eq!(binding["subjects"][0]["name"], "platform-certs", "{binding}");
    }
    let monitor = docs.iter().find(|d| d["kind"] == "ServiceMonitor").expect("a ServiceMonitor");
    assert_eq!(monitor["spec"]["endpoints"][0]["interval"], "30s");
    assert_eq!(monitor["metadata"]["labels"]["release"], "kube-prometheus");
    let (_, notes) = helm(&["notes", &chart(), CERT_MANAGER_STYLE]);
    for part in [
        "rollout status deployment/certsmith",
        "use letsencrypt-prod",
        "One replica: no PodDisruptionBudget",
    ] {
        assert!(notes.contains(part), "NOTES.txt lacks '{part}':\n{notes}");
    }
    // The default (two replicas) keeps its PDB, and the built-in roles get the kinds.
    let defaults = render("");
    assert!(defaults.iter().any(|d| d["kind"] == "PodDisruptionBudget"));
    for (role, label) in [
        ("certsmith-view", "rbac.authorization.k8s.io/aggregate-to-view"),
        ("certsmith-edit", "rbac.authorization.k8s.io/aggregate-to-edit"),
        ("certsmith-cluster-view", "rbac.authorization.k8s.io/aggregate-to-cluster-reader"),
    ] {
        let found =
            defaults.iter().find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == role);
        assert_eq!(
            found.map(|r| &r["metadata"]["labels"][label]),
            Some(&Value::from("true")),
            "{role}"
        );
    }

    for (values, says) in [
        (
            r#"{"webhook": {"timeoutSeconds": 30}}"#,
            "at '/webhook': value must be 'certsmith has no webhook",
        ),
        (r#"{"maxConcurrentChallenges": 60}"#, "use acmeOrders.maxConcurrent"),
        (r#"{"acmesolver": {"image": {"tag": "v1"}}}"#, "use http01.*"),
        (r#"{"replicas": 3}"#, "additional properties 'replicas' not allowed"),
        (
            r#"{"defaultIssuer": {"nmae": "x"}}"#,
            "at '/defaultIssuer': additional properties 'nmae' not allowed",
        ),
        (r#"{"loggingFormat": "xml"}"#, "at '/loggingFormat'"),
    ] {
        let (ok, report) = helm(&["lint", &chart(), values]);
        assert!(!ok && report.contains(says), "{values}: expected '{says}' in:\n{report}");
    }
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

    // Gateway API's CRDs, so the gateway-shim and the ListenerSet shim run (and watch) too.
    let gateway_api = repo().join("../shared/testdata/gateway-api-v1.6.1-standard");
    let gateway_api = gateway_api.to_str().unwrap();
    bed.kubectl_ok(&["apply", "-f", gateway_api], "");
    for kind in ["gateways", "listenersets", "httproutes"] {
        let crd = format!("crd/{kind}.gateway.networking.k8s.io");
        bed.kubectl_ok(&["wait", "--for=condition=established", "--timeout=60s", &crd], "");
    }

    // The operator, authenticated as the chart's ServiceAccount, does the whole job.
    let kubeconfig = service_account_kubeconfig(&bed, "certsmith", "certsmith").await;
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
    let sa = client_of(&kubeconfig).await;
    let pod: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "nope"}, "spec": {"containers": [{"name": "x", "image": "x"}]}})).unwrap();
    match Api::<Pod>::namespaced(sa, "default").create(&PostParams::default(), &pod).await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 403, "{e:?}"),
        other => panic!("creating a Pod as certsmith was not refused: {other:?}"),
    }
    drop(operator);
    // On Gateway API's kinds, exactly what the shims and the HTTPRoute solver need.
    let can = |who: &str, namespace: &str, check: &str| can_i(&bed, who, namespace, check);
    let certsmith = "system:serviceaccount:certsmith:certsmith";
    for (check, granted) in [
        // The shims watch Gateways and ListenerSets everywhere and own Certificates made for them.
        ("list gateways.gateway.networking.k8s.io", true),
        ("watch listenersets.gateway.networking.k8s.io", true),
        ("update gateways.gateway.networking.k8s.io --subresource=finalizers", true),
        ("update listenersets.gateway.networking.k8s.io --subresource=finalizers", true),
        ("get gateways.gateway.networking.k8s.io", false),
        ("create gateways.gateway.networking.k8s.io", false),
        ("update gateways.gateway.networking.k8s.io", false),
        ("patch listenersets.gateway.networking.k8s.io", false),
        ("patch gateways.gateway.networking.k8s.io --subresource=status", false),
        // The HTTPRoute solver applies (a patch that may create) and deletes its routes.
        ("create httproutes.gateway.networking.k8s.io", true),
        ("patch httproutes.gateway.networking.k8s.io", true),
        ("delete httproutes.gateway.networking.k8s.io", true),
        ("get httproutes.gateway.networking.k8s.io", false),
        ("update httproutes.gateway.networking.k8s.io", false),
        ("list httproutes.gateway.networking.k8s.io", false),
        ("update httproutes.gateway.networking.k8s.io --subresource=finalizers", false),
    ] {
        let namespace = if check.starts_with("list") || check.starts_with("watch") {
            "--all-namespaces"
        } else {
            "--namespace=default"
        };
        assert_eq!(can(certsmith, namespace, check), granted, "can-i {check} as {certsmith}");
    }
    // Its own Lease by name; another Lease of its namespace, not.
    for (check, granted) in [
        ("update leases.coordination.k8s.io/certsmith", true),
        ("get leases.coordination.k8s.io/certsmith", true),
        ("create leases.coordination.k8s.io", true),
        ("update leases.coordination.k8s.io/other", false),
        ("get leases.coordination.k8s.io/other", false),
    ] {
        assert_eq!(can(certsmith, "--namespace=certsmith", check), granted, "can-i {check}");
    }

    // A user bound to Kubernetes' own `edit` role manages Certificates (the chart's aggregated
    // roles), with that user's own token; ClusterIssuers stay out of its reach.
    bed.kubectl_ok(&["create", "namespace", "team"], "");
    bed.kubectl_ok(&["create", "serviceaccount", "dev", "-n", "team"], "");
    bed.kubectl_ok(
        &[
            "create",
            "rolebinding",
            "dev-edit",
            "--clusterrole=edit",
            "--serviceaccount=team:dev",
            "-n",
            "team",
        ],
        "",
    );
    let dev_config = service_account_kubeconfig(&bed, "team", "dev").await;
    let dev = client_of(&dev_config).await;
    let wanted = support::objects::certificate("dev-cert").unnamespaced().secret("dev-tls");
    let wanted = wanted.dns_names(&["dev.example.com"]).yaml();
    let wanted: Certificate = serde_yaml::from_str(wanted.trim_end_matches("---\n")).unwrap();
    let dev_certs: Api<Certificate> = Api::namespaced(dev.clone(), "team");
    // The aggregation controller fills `edit` within moments of the install.
    eventually(30, "a Certificate created with the edit role", || async {
        dev_certs.create(&PostParams::default(), &wanted).await.ok().map(|_| ())
    })
    .await;
    let cluster_issuer: certsmith::api::ClusterIssuer = serde_yaml::from_str(
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: dev-issuer}\nspec: {selfSigned: {}}\n",
    )
    .unwrap();
    let issuers: Api<certsmith::api::ClusterIssuer> = Api::all(dev);
    match issuers.create(&PostParams::default(), &cluster_issuer).await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 403, "{e:?}"),
        other => panic!("edit created a ClusterIssuer: {other:?}"),
    }
    // The chart's aggregated roles add only cert-manager's kinds; on Orders and Challenges,
    // cert-manager v1.21's edit role verb for verb (GHSA-8rvj-mm4h-c258): no hand-made ones.
    let dev = "system:serviceaccount:team:dev";
    for (check, granted) in [
        ("create httproutes.gateway.networking.k8s.io", false),
        ("list gateways.gateway.networking.k8s.io", false),
        ("create challenges.acme.cert-manager.io", false),
        ("create orders.acme.cert-manager.io", false),
        ("patch orders.acme.cert-manager.io", false),
        ("update orders.acme.cert-manager.io", false),
        ("delete orders.acme.cert-manager.io", true),
        ("deletecollection orders.acme.cert-manager.io", true),
        ("delete challenges.acme.cert-manager.io", true),
        ("patch challenges.acme.cert-manager.io", true),
        ("update challenges.acme.cert-manager.io", true),
        ("list challenges.acme.cert-manager.io", true),
    ] {
        assert_eq!(can(dev, "--namespace=team", check), granted, "edit: can-i {check}");
    }

    // Uninstall keeps the CRDs, the Certificates and the Secrets.
    helm(&["uninstall", bed.kubeconfig().to_str().unwrap(), "certsmith"]);
    let left = bed.kubectl_ok(&["get", "crd", "-o", "name"], "");
    assert_eq!(left.lines().filter(|l| l.contains("cert-manager.io")).count(), 6, "{left}");
    bed.kubectl_ok(&["get", "certificate", "app-tls-cert", "-n", "default"], "");
    bed.kubectl_ok(&["get", "secret", "app-tls-cert", "-n", "default"], "");
    let gone = bed.kubectl(&["get", "deployment", "certsmith", "-n", "certsmith"], "");
    assert!(!gone.status.success(), "the Deployment survived the uninstall");
}
