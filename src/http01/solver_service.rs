//! The responder Service of a namespace: solver Ingresses (and edited Ingresses) in the
//! Challenge's namespace route to it. It has no selector; certsmith keeps its Endpoints equal
//! to those of its own responder Service, so traffic reaches the responder pods directly. Not an
//! ExternalName Service: several ingress controllers refuse those, and they are a known
//! cross-namespace concern (CVE-2021-25740).

use crate::config::Config;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Endpoints, Service, ServicePort, ServiceSpec};
use kube::api::{Api, ObjectMeta};
use std::collections::BTreeMap;

/// The Service (and Endpoints) name in each namespace with challenges in flight.
pub const NAME: &str = "certsmith-acme-http01";
/// The Service's one port, and so the name of every port of its Endpoints.
const PORT_NAME: &str = "http";

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

/// How long a namespace's Service and Endpoints, once made sure of, are taken as they were
/// left: 1,000 challenges in one namespace cost three reads a minute, not three each.
const FRESH: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// The namespaces whose Service and Endpoints were made sure of, and when. A challenge whose
/// self-check fails forgets its namespace, so a deleted Service or a responder pod that moved
/// is put right at the next try, not a minute later.
#[derive(Default)]
pub struct Ensured(std::sync::Mutex<std::collections::HashMap<String, Timestamp>>);

impl Ensured {
    fn fresh(&self, namespace: &str, now: Timestamp) -> bool {
        let seen = self.0.lock().ok().and_then(|m| m.get(namespace).copied());
        seen.is_some_and(|at| now.duration_since(at) < FRESH && at <= now)
    }

    fn record(&self, namespace: &str, now: Timestamp) {
        if let Ok(mut m) = self.0.lock() {
            // Bounded by the namespaces with challenges in the last minute.
            m.retain(|_, at| now.duration_since(*at) < FRESH);
            m.insert(namespace.to_string(), now);
        }
    }

    pub fn forget(&self, namespace: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(namespace);
        }
    }
}

/// Makes sure `namespace` has the Service and that its Endpoints are the responder's now,
/// unless that was done less than a minute ago (see `Ensured`).
pub async fn ensure(
    client: &kube::Client,
    cfg: &Config,
    ensured: &Ensured,
    namespace: &str,
    now: Timestamp,
) -> Result<(), kube::Error> {
    if ensured.fresh(namespace, now) {
        return Ok(());
    }
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    if services.get_opt(NAME).await?.is_none() {
        let service = Service {
            metadata: metadata(namespace),
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".into()),
                ports: Some(vec![ServicePort {
                    name: Some(PORT_NAME.into()),
                    port: cfg.http01_service_port.into(),
                    // Server-side apply on 1.20 needs the list-map key spelled out.
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        };
        match crate::ssa::apply(&services, &service, crate::FIELD_MANAGER).await {
            // Another challenge of the namespace created it between the read and the apply.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            applied => {
                applied?;
            }
        }
    }
    let source: Api<Endpoints> = Api::namespaced(client.clone(), &cfg.namespace);
    let wanted = endpoints_for(namespace, source.get_opt(&cfg.http01_service).await?);
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
    let current = endpoints.get_opt(NAME).await?;
    if current.as_ref().map(|e| &e.subsets) != Some(&wanted.subsets) {
        crate::ssa::apply(&endpoints, &wanted, crate::FIELD_MANAGER).await?;
    }
    ensured.record(namespace, now);
    Ok(())
}

/// The namespace's Endpoints: the responder's addresses and ports, with each port named as the
/// Service's (`http`), since a Service without selector matches its Endpoints by port name.
fn endpoints_for(namespace: &str, responder: Option<Endpoints>) -> Endpoints {
    let mut subsets = responder.and_then(|e| e.subsets);
    for subset in subsets.iter_mut().flatten() {
        for port in subset.ports.iter_mut().flatten() {
            port.name = Some(PORT_NAME.into());
        }
    }
    Endpoints { metadata: metadata(namespace), subsets }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_responders_endpoints_are_copied_under_the_services_port_name() {
        let responder: Endpoints = serde_yaml::from_str(
            "metadata: {name: certsmith-http01, namespace: certsmith}\n\
             subsets: [{addresses: [{ip: 10.0.0.7}, {ip: 10.0.1.9}], ports: [{name: http01, port: 8089, protocol: TCP}]}]",
        )
        .unwrap();
        let copy = endpoints_for("team", Some(responder));
        assert_eq!(copy.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(copy.metadata.name.as_deref(), Some(NAME));
        let subset = &copy.subsets.unwrap()[0];
        let ips: Vec<_> = subset.addresses.iter().flatten().map(|a| a.ip.as_str()).collect();
        assert_eq!(ips, ["10.0.0.7", "10.0.1.9"]);
        let port = &subset.ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port), (Some(PORT_NAME), 8089));
        assert!(endpoints_for("team", None).subsets.is_none(), "no responder yet: no addresses");
    }

    #[test]
    fn a_namespace_is_fresh_for_a_minute_after_it_was_made_sure_of_until_forgotten() {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let later = |secs| at + jiff::SignedDuration::from_secs(secs);
        let ensured = Ensured::default();
        assert!(!ensured.fresh("team", at), "never made sure of");
        ensured.record("team", at);
        let table =
            [(0, "team", true), (59, "team", true), (60, "team", false), (1, "other", false)];
        for (secs, namespace, fresh) in table {
            assert_eq!(ensured.fresh(namespace, later(secs)), fresh, "{namespace} after {secs} s");
        }
        assert!(!ensured.fresh("team", later(-1)), "a clock that went back does not trust it");
        ensured.forget("team");
        assert!(!ensured.fresh("team", later(1)), "forgotten after a failed self-check");
        ensured.record("other", later(61));
        assert_eq!(ensured.0.lock().unwrap().len(), 1, "stale namespaces are dropped");
    }
}
