//! The chart's admission policies and narrowed RBAC, as the chart installs them on the bed: a
//! tenant (a ServiceAccount bound to `edit` in one namespace, with its own token) can neither
//! forge a CertificateRequest's requester, change its spec, nor approve it; certsmith's own
//! ServiceAccount writes only its HTTP-01 responder Service and EndpointSlices, in their one
//! shape. On a cluster that serves no MutatingAdmissionPolicy (Kubernetes 1.33–1.35) the chart
//! installs without it, and the rest holds.

use crate::chart_support::{can_i, chart, client_of, helm, render, service_account_kubeconfig};
use crate::support::KubeBed;
use crate::support::acme::eventually;
use certsmith::api::CertificateRequest;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// Asserts the API server refused `result` with a message containing `words`.
pub(crate) fn refused<T: std::fmt::Debug>(result: Result<T, kube::Error>, words: &str) {
    match result {
        Err(kube::Error::Api(e)) => {
            assert!(matches!(e.code, 403 | 422), "{e:?}");
            assert!(e.message.contains(words), "expected '{words}' in: {}", e.message);
        }
        other => panic!("not refused (expected '{words}'): {other:?}"),
    }
}

/// Whether the bed's API server serves admissionregistration.k8s.io/v1 MutatingAdmissionPolicy.
pub(crate) fn mutating_served(bed: &KubeBed) -> bool {
    let group = "--api-group=admissionregistration.k8s.io";
    let served = bed.kubectl_ok(&["api-resources", group, "-o", "name"], "");
    served.lines().any(|l| l.starts_with("mutatingadmissionpolicies."))
}

/// A CertificateRequest for `name.example.com` to the Issuer `own`, as `extra` (JSON) shapes it.
pub(crate) fn request(name: &str, extra: Value) -> CertificateRequest {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut cr = serde_json::to_value(request_for(name, &key)).unwrap();
    merge(&mut cr, extra);
    serde_json::from_value(cr).unwrap()
}

/// A CertificateRequest for `name.example.com` signed by `key`, to the Issuer `own`, naming
/// the Secret `<name>-key` as its key's (what a SelfSigned issuer signs with).
pub(crate) fn request_for(name: &str, key: &rcgen::KeyPair) -> CertificateRequest {
    let mut params = rcgen::CertificateParams::new(vec![format!("{name}.example.com")]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("{name}.example.com"));
    let csr = params.serialize_request(key).unwrap().pem().unwrap();
    serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
        "metadata": {"name": name, "annotations": {"cert-manager.io/private-key-secret-name": format!("{name}-key")}},
        "spec": {"request": base64(csr.as_bytes()), "issuerRef": {"name": "own"}}
    }))
    .unwrap()
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A condition as a status patch sets it.
pub(crate) fn condition(type_: &str, message: &str) -> Value {
    json!({"type": type_, "status": "True", "reason": "Test", "message": message,
           "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

/// Installs the chart on the bed, after the suite's CRDs: cert-manager's stay as they are, as
/// `helm install --skip-crds` leaves them (Helm's Go SDK applies a chart's CRDs over those a
/// user created, field by field, and conflicts), so the chart is installed without its own.
pub(crate) fn install_chart(bed: &KubeBed, values: &str) {
    bed.install_crds();
    let kubeconfig = bed.kubeconfig();
    if !crate::support::on_cert_manager_crds() {
        helm(&["install", &chart(), kubeconfig.to_str().unwrap(), "certsmith", values]);
        return;
    }
    let copy = bed.dir.join("chart-without-crds");
    let status = std::process::Command::new("cp").args(["-r", &chart()]).arg(&copy).status();
    assert!(status.unwrap().success());
    std::fs::remove_file(copy.join("crds"))
        .or_else(|_| std::fs::remove_dir_all(copy.join("crds")))
        .unwrap();
    helm(&["install", copy.to_str().unwrap(), kubeconfig.to_str().unwrap(), "certsmith", values]);
}

#[test]
fn the_policies_render_by_default_and_the_mutating_one_where_it_is_served() {
    let kinds = |values: &str| -> Vec<(String, String)> {
        let docs = render(values);
        let admission = docs.iter().filter(|d| {
            d["apiVersion"].as_str().is_some_and(|v| v.starts_with("admissionregistration"))
        });
        admission
            .map(|d| {
                (d["kind"].as_str().unwrap().into(), d["metadata"]["name"].as_str().unwrap().into())
            })
            .collect()
    };
    let validating = [
        ("ValidatingAdmissionPolicy", "certsmith-certificaterequest"),
        ("ValidatingAdmissionPolicyBinding", "certsmith-certificaterequest"),
        ("ValidatingAdmissionPolicy", "certsmith-http01-solver"),
        ("ValidatingAdmissionPolicyBinding", "certsmith-http01-solver"),
    ];
    let mutating = [
        ("MutatingAdmissionPolicy", "certsmith-certificaterequest-identity"),
        ("MutatingAdmissionPolicyBinding", "certsmith-certificaterequest-identity"),
    ];
    let owned = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(k, n)| (k.to_string(), n.to_string())).collect()
    };
    // Rendered offline, Helm knows no cluster: `auto` leaves the mutating policy out, as on a
    // cluster that does not serve it; `true` renders it for such renders (GitOps).
    assert_eq!(kinds(""), owned(&validating));
    let mut all = owned(&validating);
    all.extend(owned(&mutating));
    all.sort();
    let mut forced = kinds(r#"{"admissionPolicies": {"mutating": true}}"#);
    forced.sort();
    assert_eq!(forced, all);
    assert!(kinds(r#"{"admissionPolicies": {"enabled": false, "mutating": true}}"#).is_empty());
    let (ok, report) = helm(&["lint", &chart(), r#"{"admissionPolicies": {"mutating": "yes"}}"#]);
    assert!(!ok && report.contains("/admissionPolicies/mutating"), "{report}");

    // The built-in approver's grant follows it: cert-manager's disableAutoApproval, or the
    // approver turned off by hand in extraArgs.
    let approver = |values: &str| {
        let docs = render(values);
        let role =
            docs.iter().find(|d| d["metadata"]["name"] == "certsmith-approve:cert-manager-io");
        let deploy = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
        let args = deploy["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
        (role.map(|r| r["rules"][0].clone()), args.contains("-certificaterequests-approver"))
    };
    let (role, off) = approver("");
    let names = json!(["issuers.cert-manager.io/*", "clusterissuers.cert-manager.io/*"]);
    assert_eq!(role.as_ref().map(|r| &r["resourceNames"]), Some(&names));
    assert_eq!(role.as_ref().map(|r| &r["verbs"]), Some(&json!(["approve"])));
    assert!(!off);
    assert_eq!(approver(r#"{"disableAutoApproval": true}"#), (None, true));
    let by_hand = r#"{"extraArgs": ["--controllers=*,-certificaterequests-approver"]}"#;
    assert_eq!(approver(by_hand), (None, true));
    // cert-manager's approveSignerNames: the grant and what the approver approves; none
    // named means every signer.
    let step = r#"{"approveSignerNames": ["stepissuers.certmanager.step.sm/*"]}"#;
    let (role, _) = approver(step);
    let names = json!(["stepissuers.certmanager.step.sm/*"]);
    assert_eq!(role.as_ref().map(|r| &r["resourceNames"]), Some(&names));
    let args = render(step).into_iter().find(|d| d["kind"] == "Deployment").unwrap();
    let args = args["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("--approve-signer-names=stepissuers.certmanager.step.sm/*"), "{args}");
    let (role, _) = approver(r#"{"approveSignerNames": []}"#);
    assert_eq!(role.as_ref().map(|r| &r["resourceNames"]), Some(&serde_json::Value::Null));
    let (ok, report) = helm(&["lint", &chart(), r#"{"approveSignerNames": ["not a signer"]}"#]);
    assert!(!ok && report.contains("approveSignerNames"), "{report}");
}

#[tokio::test]
async fn a_tenant_can_neither_forge_change_nor_approve_a_request_and_certsmith_writes_only_its_solver()
 {
    let bed = KubeBed::start();
    // certsmith's CRDs, or cert-manager's (CERTSMITH_TEST_CRDS).
    install_chart(&bed, "");
    let mutating = crate::chart_identity::policies_in_effect(&bed).await;
    let installed = bed.kubectl(&["get", "mutatingadmissionpolicy", "-o", "name"], "");
    let installed = String::from_utf8_lossy(&installed.stdout).into_owned();
    assert_eq!(
        installed.contains("certsmith-certificaterequest-identity"),
        mutating,
        "{installed}"
    );

    bed.kubectl_ok(&["create", "namespace", "team"], "");
    bed.kubectl_ok(&["create", "serviceaccount", "dev", "-n", "team"], "");
    let edit =
        ["create", "rolebinding", "dev-edit", "--clusterrole=edit", "--serviceaccount=team:dev"];
    bed.kubectl_ok(&[&edit[..], &["-n", "team"]].concat(), "");
    let dev = client_of(&service_account_kubeconfig(&bed, "team", "dev").await).await;
    let requests: Api<CertificateRequest> = Api::namespaced(dev.clone(), "team");

    // A forged requester is replaced by the tenant's own (where the API server serves the
    // mutating policy; the aggregation controller fills `edit` within moments of the install).
    let forged = request(
        "forged",
        json!({"spec": {"username": "system:serviceaccount:certsmith:certsmith", "uid": "0",
                        "groups": ["system:masters"], "extra": {"forged": ["yes"]}}}),
    );
    let made = eventually(30, "a CertificateRequest made with the edit role", || async {
        requests.create(&PostParams::default(), &forged).await.ok()
    })
    .await;
    let spec = &made.spec;
    if mutating {
        let sa: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(bed.client().await, "team");
        let uid = sa.get("dev").await.unwrap().metadata.uid;
        assert_eq!(spec.username.as_deref(), Some("system:serviceaccount:team:dev"));
        assert_eq!(spec.uid, uid);
        let groups = spec.groups.clone().unwrap_or_default();
        assert!(groups.contains(&"system:serviceaccounts:team".into()), "{groups:?}");
        assert!(!groups.contains(&"system:masters".into()), "{groups:?}");
        let extra = spec.extra.clone().unwrap_or_default();
        assert!(
            !extra.contains_key("forged")
                && extra.contains_key("authentication.kubernetes.io/credential-id"),
            "{extra:?}"
        );
    } else {
        // Nothing sets it: what certsmith then refuses to sign (chart_identity).
        assert_eq!(spec.username.as_deref(), Some("system:serviceaccount:certsmith:certsmith"));
    }

    // The spec and cert-manager's annotations never change after creation.
    let merge = |p: Value| Patch::Merge(p);
    let at = PatchParams::default();
    let other_issuer = merge(json!({"spec": {"issuerRef": {"name": "other"}}}));
    refused(
        requests.patch("forged", &at, &other_issuer).await,
        "spec: Forbidden: cannot change spec after creation",
    );
    let identity = merge(json!({"spec": {"username": "someone"}}));
    refused(requests.patch("forged", &at, &identity).await, "cannot change spec after creation");
    let key = merge(
        json!({"metadata": {"annotations": {"cert-manager.io/private-key-secret-name": "app-tls"}}}),
    );
    refused(
        requests.patch("forged", &at, &key).await,
        "cannot change cert-manager annotation after creation",
    );
    requests
        .patch("forged", &at, &merge(json!({"metadata": {"labels": {"team": "a"}}})))
        .await
        .unwrap();

    // Approval: `edit` writes no request status at all (as cert-manager's edit role); given
    // status rights, approving still takes `approve` on the request's signer.
    let who = "system:serviceaccount:team:dev";
    assert!(!can_i(
        &bed,
        who,
        "--namespace=team",
        "patch certificaterequests.cert-manager.io --subresource=status"
    ));
    let approve = |type_: &str, message: &str| {
        merge(json!({"status": {"conditions": [condition(type_, message)]}}))
    };
    refused(
        requests.patch_status("forged", &at, &approve("Approved", "me")).await,
        "cannot patch resource",
    );
    let status_rights = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: cr-status, namespace: team}\n\
        rules: [{apiGroups: [cert-manager.io], resources: [certificaterequests/status], verbs: [get, patch, update]}]\n---\n\
        apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: dev-cr-status, namespace: team}\n\
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cr-status}\n\
        subjects: [{kind: ServiceAccount, name: dev, namespace: team}]\n";
    bed.kubectl_ok(&["apply", "-f", "-"], status_rights);
    let no_signer = "status.conditions: Forbidden: user \"system:serviceaccount:team:dev\" does not have permissions to set approved/denied conditions for issuer {own  }";
    eventually(10, "the tenant's status rights", || async {
        match requests.patch_status("forged", &at, &approve("Approved", "me")).await {
            Err(kube::Error::Api(e)) if e.message.contains(no_signer) => Some(()),
            _ => None,
        }
    })
    .await;
    refused(requests.patch_status("forged", &at, &approve("Denied", "me")).await, no_signer);
    let progress = merge(
        json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Pending", "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}),
    );
    requests.patch_status("forged", &at, &progress).await.unwrap();

    // With `approve` on this one signer (cert-manager's name for a namespaced Issuer), it may.
    let signer = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: approve-team-own}\n\
        rules: [{apiGroups: [cert-manager.io], resources: [signers], resourceNames: [issuers.cert-manager.io/team.own], verbs: [approve]}]\n";
    bed.kubectl_ok(&["apply", "-f", "-"], signer);
    let bind = [
        "create",
        "clusterrolebinding",
        "dev-approve",
        "--clusterrole=approve-team-own",
        "--serviceaccount=team:dev",
    ];
    bed.kubectl_ok(&bind, "");
    let approved = json!({"op": "add", "path": "/status/conditions/-", "value": condition("Approved", "by the tenant")});
    let json_patch = |ops: Value| Patch::Json::<()>(serde_json::from_value(ops).unwrap());
    eventually(10, "the approval with approve on the signer", || async {
        requests.patch_status("forged", &at, &json_patch(json!([approved.clone()]))).await.ok()
    })
    .await;
    // Once set, Approved stays as it is, and Denied cannot join it.
    let cr = requests.get("forged").await.unwrap();
    let index =
        cr.status.unwrap().conditions.unwrap().iter().position(|c| c.type_ == "Approved").unwrap();
    let reworded = json!([{"op": "replace", "path": format!("/status/conditions/{index}/message"), "value": "changed"}]);
    let once = "status.conditions: Forbidden: 'Approved' condition may not be modified once set";
    refused(requests.patch_status("forged", &at, &json_patch(reworded)).await, once);
    let removed = json!([{"op": "remove", "path": format!("/status/conditions/{index}")}]);
    refused(requests.patch_status("forged", &at, &json_patch(removed)).await, once);
    let denied =
        json!([{"op": "add", "path": "/status/conditions/-", "value": condition("Denied", "no")}]);
    refused(
        requests.patch_status("forged", &at, &json_patch(denied)).await,
        "both 'Denied' and 'Approved' conditions cannot coexist",
    );
    // That signer is this namespace's Issuer `own` only: not a ClusterIssuer of the same name.
    let mut cluster = request("cluster", json!({"spec": {"issuerRef": {"kind": "ClusterIssuer"}}}));
    cluster.metadata.annotations = None;
    requests.create(&PostParams::default(), &cluster).await.unwrap();
    refused(
        requests.patch_status("cluster", &at, &approve("Approved", "me")).await,
        "for issuer {own ClusterIssuer }",
    );

    crate::chart_solver::certsmith_writes_only_its_solver(&bed, mutating).await;
}
