//! The responder Service of a namespace: solver Ingresses (and edited Ingresses) in the
//! Challenge's namespace route to it. It has no selector; certsmith keeps its Endpoints equal
//! to those of its own responder Service, so traffic reaches the responder pods directly. Not an
//! ExternalName Service: several ingress controllers refuse those, and they are a known
//! cross-namespace concern (CVE-2021-25740).

use crate::config::Config;
use k8s_openapi::api::core::v1::{Endpoints, Service, ServicePort, ServiceSpec};
use kube::api::{Api, ObjectMeta};
use std::collections::BTreeMap;

/// The Service (and Endpoints) name in each namespace with challenges in flight.
pub const NAME: &str = "certsmith-acme-http01";

fn metadata(namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(NAME.into()),
        namespace: Some(namespace.into()),
        labels: Some(BTreeMap::from([
            ("app.kubernetes.io/managed-by".into(), "certsmith".into()),
            (super::solver_ingress::LABEL_SOLVER.into(), "true".into()),
        ])),
        ..Default::default()
    }
}

/// Makes sure `namespace` has the Service and that its Endpoints are the responder's now.
/// Endpoints are re-copied on every call, so pods that moved are followed while a challenge
/// is in flight.
pub async fn ensure(
    client: &kube::Client,
    cfg: &Config,
    namespace: &str,
) -> Result<(), kube::Error> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    if services.get_opt(NAME).await?.is_none() {
        let service = Service {
            metadata: metadata(namespace),
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".into()),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: cfg.http01_service_port.into(),
                    // Server-side apply on 1.20 needs the list-map key spelled out.
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        };
        crate::ssa::apply(&services, &service, crate::FIELD_MANAGER).await?;
    }
    let source: Api<Endpoints> = Api::namespaced(client.clone(), &cfg.namespace);
    let subsets = source.get_opt(&cfg.http01_service).await?.and_then(|e| e.subsets);
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
    let current = endpoints.get_opt(NAME).await?;
    if current.as_ref().map(|e| &e.subsets) != Some(&subsets) || current.is_none() {
        let wanted = Endpoints { metadata: metadata(namespace), subsets };
        crate::ssa::apply(&endpoints, &wanted, crate::FIELD_MANAGER).await?;
    }
    Ok(())
}
