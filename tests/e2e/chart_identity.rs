//! certsmith under an external approver (its own approver off: cert-manager's
//! `disableAutoApproval`), installed by the chart and running as its ServiceAccount: a request
//! is signed only when the API server set its requester (the chart's MutatingAdmissionPolicy,
//! Kubernetes 1.36+); otherwise it stays Pending and says why, and certsmith says so at start.

use crate::chart_admission::{condition, mutating_served, request};
use crate::chart_support::{render, service_account_kubeconfig};
use crate::support::KubeBed;
use crate::support::acme::{Operator, PebbleBed, eventually};
use certsmith::api::CertificateRequest;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;

/// Waits until the API server enforces the chart's CertificateRequest policies: a probe's
/// forged requester is replaced (where the mutating policy is served) and its spec cannot
/// change. Returns whether the mutating policy is served.
pub(crate) async fn policies_in_effect(bed: &KubeBed) -> bool {
    let mutating = mutating_served(bed);
    let api: Api<CertificateRequest> = Api::namespaced(bed.client().await, "default");
    let probe = request("probe", json!({"spec": {"username": "forged"}}));
    eventually(30, "the chart's CertificateRequest policies enforced", || async {
        let _ = api.delete("probe", &Default::default()).await;
        let made = api.create(&PostParams::default(), &probe).await.ok()?;
        let replaced = made.spec.username.as_deref() == Some("admin");
        let change = Patch::Merge(json!({"spec": {"issuerRef": {"name": "other"}}}));
        let frozen = api.patch("probe", &PatchParams::default(), &change).await.is_err();
        (frozen && replaced == mutating).then_some(())
    })
    .await;
    api.delete("probe", &Default::default()).await.unwrap();
    mutating
}

/// The chart's CertificateRequest policies alone, for a bed running the operator without the
/// chart; returns whether the API server serves the mutating one. Returns once requests made
/// from then on are trusted by certsmith (10 s after the policy took effect).
pub(crate) async fn install_request_policies(bed: &KubeBed) -> bool {
    let docs = render(r#"{"admissionPolicies": {"mutating": true}}"#);
    let mutating = mutating_served(bed);
    let wanted = docs.iter().filter(|d| {
        let name = d["metadata"]["name"].as_str().unwrap_or_default();
        let kind = d["kind"].as_str().unwrap_or_default();
        name.starts_with("certsmith-certificaterequest")
            && (mutating || !kind.starts_with("Mutating"))
    });
    let yaml: Vec<String> = wanted.map(|d| serde_yaml::to_string(d).unwrap()).collect();
    bed.kubectl_ok(&["apply", "-f", "-"], &yaml.join("---\n"));
    assert_eq!(policies_in_effect(bed).await, mutating);
    if mutating {
        tokio::time::sleep(Duration::from_secs(11)).await;
    }
    mutating
}

/// Creates `name` in `team` as the admin, with its key Secret (a SelfSigned issuer signs with
/// it), and approves it as the external approver would.
async fn approved(bed: &KubeBed, name: &str) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}-key, namespace: team}}\nstringData:\n  tls.key: |\n{}",
        key.serialize_pem().lines().map(|l| format!("    {l}\n")).collect::<String>()
    );
    bed.kubectl_ok(&["apply", "-f", "-"], &secret);
    let api: Api<CertificateRequest> = Api::namespaced(bed.client().await, "team");
    api.create(&PostParams::default(), &crate::chart_admission::request_for(name, &key))
        .await
        .unwrap();
    let approve =
        Patch::Merge(json!({"status": {"conditions": [condition("Approved", "by the test")]}}));
    api.patch_status(name, &PatchParams::default(), &approve).await.unwrap();
}

async fn ready(bed: &KubeBed, name: &str, reason: &str) -> CertificateRequest {
    let api: Api<CertificateRequest> = Api::namespaced(bed.client().await, "team");
    eventually(60, &format!("{name}: Ready {reason}"), || async {
        let cr = api.get(name).await.ok()?;
        (cr.condition("Ready")?.reason.as_deref() == Some(reason)).then_some(cr)
    })
    .await
}

/// The Events with `reason` about `name` in `namespace`: their notes.
fn events(bed: &KubeBed, namespace: &str, name: &str, reason: &str) -> Vec<String> {
    let list = bed.kubectl_ok(&["get", "events.events.k8s.io", "-n", namespace, "-o", "json"], "");
    let list: Value = serde_json::from_str(&list).unwrap();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter(|e| e["reason"] == reason && e["regarding"]["name"] == name)
        .filter_map(|e| e["note"].as_str().map(String::from))
        .collect()
}

#[tokio::test]
async fn under_an_external_approver_only_requests_whose_requester_the_api_server_set_are_signed() {
    let bed = KubeBed::start();
    crate::chart_admission::install_chart(&bed, r#"{"disableAutoApproval": true}"#);
    let grant = bed.kubectl(&["get", "clusterrole", "certsmith-approve:cert-manager-io"], "");
    assert!(!grant.status.success(), "disableAutoApproval left the approver's grant");
    let mutating = policies_in_effect(&bed).await;
    if mutating {
        // Requests made from now on were admitted under the policy on every API server.
        tokio::time::sleep(Duration::from_secs(11)).await;
    }
    bed.kubectl_ok(&["create", "namespace", "team"], "");
    let issuer = "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: own, namespace: team}\nspec: {selfSigned: {}}\n";
    bed.kubectl_ok(&["apply", "-f", "-"], issuer);
    let kubeconfig = service_account_kubeconfig(&bed, "certsmith", "certsmith").await;
    let pebble = PebbleBed::start(&[]);
    let flags = ["--controllers=*,-certificaterequests-approver"];
    let operator = Operator::start_with_kubeconfig(&kubeconfig, &pebble, &flags);

    approved(&bed, "first").await;
    let absent = if mutating {
        let signed = ready(&bed, "first", "Issued").await;
        assert!(signed.status.and_then(|s| s.certificate).is_some());
        // An administrator removes the policy's binding: what is made from then on is not
        // signed, though approved.
        let unbind =
            ["delete", "mutatingadmissionpolicybinding", "certsmith-certificaterequest-identity"];
        bed.kubectl_ok(&unbind, "");
        approved(&bed, "second").await;
        "second"
    } else {
        "first"
    };
    let held = ready(&bed, absent, "Pending").await;
    let message = held.condition("Ready").unwrap().message.clone().unwrap();
    let why = match mutating {
        true => {
            "the MutatingAdmissionPolicyBinding certsmith-certificaterequest-identity is not installed"
        }
        false => "the API server serves no MutatingAdmissionPolicy",
    };
    assert!(
        message.starts_with("Not signing: approved by an external approver, but ")
            && message.contains(why),
        "{message}"
    );
    assert_eq!(events(&bed, "team", absent, "IdentityUnverified"), [message]);
    // Looked at again: still not signed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let api: Api<CertificateRequest> = Api::namespaced(bed.client().await, "team");
    assert!(api.get(absent).await.unwrap().status.unwrap().certificate.is_none());
    if !mutating {
        // Said at start too, on certsmith's Lease.
        let said = events(&bed, "certsmith", "certsmith", "IdentityUnverified");
        assert!(said.iter().any(|n| n.contains(why)), "{said:?}");
    }
    let logs = operator.logs();
    assert!(logs.contains(why), "{logs}");
    assert!(!logs.to_lowercase().contains("forbidden"), "a request was refused:\n{logs}");
}
