//! certsmith's own ServiceAccount and the Services and EndpointSlices of other namespaces, as
//! the chart grants and bounds them (run by `chart_admission`'s test, on its installed chart):
//! RBAC by name for get, create and patch (a create through server-side apply is authorized
//! with the object's name; a plain POST is not), and the admission policy
//! `certsmith-http01-solver` for the shape.

use crate::chart_admission::refused;
use crate::chart_support::{can_i, client_of, service_account_kubeconfig};
use crate::support::KubeBed;
use crate::support::acme::eventually;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const SOLVER: &str = "certsmith-acme-http01";

fn service(name: &str, extra: Value) -> Value {
    let mut spec =
        json!({"type": "ClusterIP", "ports": [{"name": "http", "port": 8089, "protocol": "TCP"}]});
    spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
}

fn slice(name: &str, service: &str, endpoint: Value) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service,
                                                 "endpointslice.kubernetes.io/managed-by": "certsmith"}},
           "addressType": "IPv4", "endpoints": [endpoint],
           "ports": [{"name": "http", "port": 8089, "protocol": "TCP"}]})
}

/// `mutating`: whether the API server serves MutatingAdmissionPolicies (kubectl asks about a
/// kind only where it is served).
pub(crate) async fn certsmith_writes_only_its_solver(bed: &KubeBed, mutating: bool) {
    let certsmith = "system:serviceaccount:certsmith:certsmith";
    for (check, granted) in [
        ("get services/certsmith-acme-http01", true),
        ("patch services/certsmith-acme-http01", true),
        ("create services/certsmith-acme-http01", true),
        ("get services/other", false),
        ("patch services/other", false),
        ("create services", false),
        ("delete services/certsmith-acme-http01", false),
        ("patch endpointslices.discovery.k8s.io/certsmith-acme-http01-ipv6", true),
        ("create endpointslices.discovery.k8s.io/certsmith-acme-http01-fqdn", true),
        ("patch endpointslices.discovery.k8s.io/kubernetes", false),
        ("list endpointslices.discovery.k8s.io", true),
        (
            "get mutatingadmissionpolicies.admissionregistration.k8s.io/certsmith-certificaterequest-identity",
            true,
        ),
        (
            "get mutatingadmissionpolicybindings.admissionregistration.k8s.io/certsmith-certificaterequest-identity",
            true,
        ),
        ("get mutatingadmissionpolicies.admissionregistration.k8s.io/other", false),
    ] {
        if check.contains("mutatingadmission") && !mutating {
            continue;
        }
        assert_eq!(can_i(bed, certsmith, "--namespace=team", check), granted, "can-i {check}");
    }

    let sa = client_of(&service_account_kubeconfig(bed, "certsmith", "certsmith").await).await;
    let services: Api<Service> = Api::namespaced(sa.clone(), "team");
    let apply = PatchParams::apply("certsmith").force();
    let put = |name: &'static str, extra: Value| {
        let services = services.clone();
        let apply = apply.clone();
        async move { services.patch(name, &apply, &Patch::Apply(service(name, extra))).await }
    };
    // The Service it makes, made (an apply that creates) and kept; nothing else in its place.
    put(SOLVER, json!({})).await.unwrap();
    refused(put(SOLVER, json!({"selector": {"app": "anything"}})).await, "must have no selector");
    refused(put(SOLVER, json!({"externalIPs": ["192.0.2.1"]})).await, "must have no externalIPs");
    refused(put(SOLVER, json!({"type": "NodePort"})).await, "must be of type ClusterIP");
    let external =
        json!({"type": "ExternalName", "externalName": "evil.example.com", "ports": null});
    refused(put(SOLVER, external).await, "must be of type ClusterIP");
    // Another name is refused by RBAC first; and by the policy too, were RBAC wider.
    refused(put("other", json!({})).await, "cannot patch resource \"services\"");
    let post: Service = serde_json::from_value(service(SOLVER, json!({}))).unwrap();
    let elsewhere: Api<Service> = Api::namespaced(sa.clone(), "default");
    refused(
        elsewhere.create(&PostParams::default(), &post).await,
        "cannot create resource \"services\"",
    );
    let wider = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: test-wider-services}\n\
        rules: [{apiGroups: [''], resources: [services], verbs: [get, create, patch]}]\n";
    bed.kubectl_ok(&["apply", "-f", "-"], wider);
    let bind = [
        "create",
        "clusterrolebinding",
        "test-wider-services",
        "--clusterrole=test-wider-services",
    ];
    bed.kubectl_ok(&[&bind[..], &["--serviceaccount=certsmith:certsmith"]].concat(), "");
    let only = "certsmith may write only the Service certsmith-acme-http01, not other";
    eventually(10, "the policy refusing another name", || async {
        match put("other", json!({})).await {
            Err(kube::Error::Api(e)) if e.message.contains(only) => Some(()),
            _ => None,
        }
    })
    .await;
    bed.kubectl_ok(&["delete", "clusterrolebinding", "test-wider-services"], "");
    // The policy is for certsmith's account only: an administrator's Services are theirs.
    let admin: Api<Service> = Api::namespaced(bed.client().await, "team");
    let theirs = service("app", json!({"selector": {"app": "web"}}));
    admin.patch("app", &PatchParams::apply("admin"), &Patch::Apply(theirs)).await.unwrap();

    // Its EndpointSlices: tied to that Service, kept by certsmith, naming no pod.
    let slices: Api<EndpointSlice> = Api::namespaced(sa, "team");
    let ready = json!({"addresses": ["10.0.0.7"], "conditions": {"ready": true}});
    let put_slice = |name: &'static str, service: &'static str, endpoint: Value| {
        let (slices, apply) = (slices.clone(), apply.clone());
        async move { slices.patch(name, &apply, &Patch::Apply(slice(name, service, endpoint))).await }
    };
    put_slice(SOLVER, SOLVER, ready.clone()).await.unwrap();
    let misfiled = put_slice("certsmith-acme-http01-fqdn", "kubernetes", ready.clone()).await;
    refused(misfiled, "must be labelled kubernetes.io/service-name=certsmith-acme-http01");
    let mut pod = ready.clone();
    pod["targetRef"] = json!({"kind": "Pod", "namespace": "kube-system", "name": "etcd"});
    refused(put_slice(SOLVER, SOLVER, pod).await, "must not reference pods");
    refused(
        put_slice("kubernetes", SOLVER, ready).await,
        "cannot patch resource \"endpointslices\"",
    );
}
