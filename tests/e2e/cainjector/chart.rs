//! The chart and the cainjector: its grants follow `cainjector.enabled`.

/// The chart grants the cainjector its four kinds and cert-manager's cainjector Lease only with
/// `cainjector.enabled` (the default), and turns it off in `--controllers` without; a
/// cert-manager value for its Deployment is refused, naming what applies.
#[test]
fn the_chart_grants_the_cainjector_only_when_it_is_enabled() {
    use crate::chart::{chart, helm, render};
    use serde_json::Value;
    let grants = |values: &str| {
        let docs = render(values);
        let role = docs
            .iter()
            .find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == "certsmith");
        let kinds: Vec<String> = role.unwrap()["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["verbs"].as_array().unwrap().contains(&Value::from("patch")))
            .flat_map(|r| r["resources"].as_array().unwrap().clone())
            .filter_map(|r| r.as_str().map(str::to_string))
            .filter(|r| {
                r.ends_with("configurations")
                    || r == "apiservices"
                    || r == "customresourcedefinitions"
            })
            .collect();
        let lease = docs
            .iter()
            .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == "certsmith-defer-to-lease")
            .map(|r| r["rules"][0]["resourceNames"].clone());
        let deploy = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
        let args: Vec<String> = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        (kinds, lease, args)
    };
    let (kinds, lease, args) = grants("");
    assert_eq!(
        kinds,
        [
            "validatingwebhookconfigurations",
            "mutatingwebhookconfigurations",
            "apiservices",
            "customresourcedefinitions"
        ]
    );
    let names =
        serde_json::json!(["cert-manager-controller", "cert-manager-cainjector-leader-election"]);
    assert_eq!(lease, Some(names));
    assert!(
        args.contains(
            &"--cainjector-defer-to-lease=kube-system/cert-manager-cainjector-leader-election"
                .into()
        ),
        "{args:?}"
    );
    assert!(!args.iter().any(|a| a.starts_with("--controllers")), "{args:?}");

    let (ok, report) = helm(&["lint", &chart(), r#"{"cainjector": {"enabled": false}}"#]);
    assert!(ok, "{report}");
    let (kinds, lease, args) = grants(r#"{"cainjector": {"enabled": false}}"#);
    assert!(kinds.is_empty(), "{kinds:?}");
    assert_eq!(lease, Some(serde_json::json!(["cert-manager-controller"])));
    assert!(args.contains(&"--controllers=*,-cainjector".into()), "{args:?}");
    let (_, _, args) = grants(r#"{"cainjector": {"enabled": false}, "disableAutoApproval": true}"#);
    assert!(
        args.contains(&"--controllers=*,-certificaterequests-approver,-cainjector".into()),
        "{args:?}"
    );
    // Turned off by hand: no grant either.
    let (kinds, _, _) = grants(r#"{"extraArgs": ["--controllers=*,-cainjector"]}"#);
    assert!(kinds.is_empty(), "{kinds:?}");

    let (ok, report) = helm(&["lint", &chart(), r#"{"cainjector": {"replicaCount": 2}}"#]);
    assert!(!ok && report.contains("only cainjector.enabled applies"), "{report}");
}
