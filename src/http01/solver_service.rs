//! The responder Service of a namespace (HTTP-01 step): solver Ingresses (and edited Ingresses)
//! in the Challenge's namespace route to it. It has no selector; certsmith keeps its
//! EndpointSlices equal to those of its own responder Service, so traffic reaches the responder
//! pods directly. EndpointSlices, not core/v1 Endpoints (deprecated since Kubernetes 1.33: every
//! request for them draws a warning). Not an ExternalName Service: several ingress controllers
//! refuse those, and they are a known cross-namespace concern (CVE-2021-25740).

use crate::config::Config;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use kube::api::{Api, ListParams, ObjectMeta};
use std::collections::BTreeMap;

/// The Service name in each namespace with challenges in flight (and its IPv4 EndpointSlice's).
pub const NAME: &str = "certsmith-acme-http01";
/// The Service's one port, and so the name of every port of its EndpointSlices.
const PORT_NAME: &str = "http";
/// Ties an EndpointSlice to its Service: the Service proxies and ingress controllers read it.
const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Who keeps a slice: Kubernetes' EndpointSlice controllers leave slices managed by others alone.
const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// A list of slices is bounded: a Service with more than this many slices has 10,000 endpoints.
const MAX_SLICES: u32 = 100;

fn labels(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("app.kubernetes.io/managed-by".to_string(), crate::FIELD_MANAGER.to_string()),
        (super::LABEL_SOLVER.into(), "true".into()),
    ]);
    labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    labels
}

fn metadata(name: &str, namespace: &str, extra: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        labels: Some(labels(extra)),
        ..Default::default()
    }
}

/// How long a namespace's Service and EndpointSlices, once made sure of, are taken as they were
/// left: 1,000 challenges in one namespace cost three reads a minute, not three each.
const FRESH: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// The namespaces whose Service and EndpointSlices were made sure of, and when. A challenge
/// whose self-check fails forgets its namespace, so a deleted Service or a responder pod that
/// moved is put right at the next try, not a minute later.
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

/// Makes sure `namespace` has the Service and that its EndpointSlices are the responder's now,
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
            metadata: metadata(NAME, namespace, &[]),
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".into()),
                ports: Some(vec![ServicePort {
                    name: Some(PORT_NAME.into()),
                    port: cfg.http01_service_port.into(),
                    // The ports list-map's key is (port, protocol): spelled out for the apply.
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
    let source: Api<EndpointSlice> = Api::namespaced(client.clone(), &cfg.namespace);
    let of = |service: &str| ListParams::default().labels(&format!("{SERVICE_NAME}={service}"));
    let responder = source.list(&of(&cfg.http01_service).limit(MAX_SLICES)).await?.items;
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    let ours = of(NAME).labels(&format!("{MANAGED_BY}={}", crate::FIELD_MANAGER));
    let current = slices.list(&ours.limit(MAX_SLICES)).await?.items;
    for wanted in slices_for(namespace, &responder) {
        let existing = current.iter().find(|s| s.metadata.name == wanted.metadata.name);
        let same =
            existing.is_some_and(|s| s.endpoints == wanted.endpoints && s.ports == wanted.ports);
        // The IPv4 slice is always there (an empty one says "no responder yet"); an IPv6 or
        // FQDN one only once the responder has such addresses.
        let needed =
            existing.is_some() || wanted.address_type == "IPv4" || !wanted.endpoints.is_empty();
        if !same && needed {
            crate::ssa::apply(&slices, &wanted, crate::FIELD_MANAGER).await?;
        }
    }
    ensured.record(namespace, now);
    Ok(())
}

/// The namespace's EndpointSlices, one per address type (`certsmith-acme-http01` for IPv4,
/// `certsmith-acme-http01-ipv6`, and `-fqdn` for a responder reached by name, such as one
/// outside the cluster: the API server refuses loopback IPs in a slice, not names): the
/// responder's endpoints' addresses and conditions (proxies skip those not ready), at
/// the responder's port named as the Service's (`http`: a Service without selector matches its
/// slices' ports by name). Pod references stay behind (they name pods of another namespace).
/// During a rollout that moves the responder's port, slices disagree on it: only endpoints at
/// the port of the first slice (by name) are copied, so none is reached at a wrong port.
fn slices_for(namespace: &str, responder: &[EndpointSlice]) -> [EndpointSlice; 3] {
    let mut sources: Vec<&EndpointSlice> = responder.iter().collect();
    sources.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let port_of = |s: &EndpointSlice| {
        let p = s.ports.as_ref()?.first()?;
        Some((p.port?, p.protocol.clone(), p.app_protocol.clone()))
    };
    let port = sources.iter().find_map(|s| port_of(s));
    let families = [
        ("IPv4", NAME.to_string()),
        ("IPv6", format!("{NAME}-ipv6")),
        ("FQDN", format!("{NAME}-fqdn")),
    ];
    families.map(|(family, name)| {
        let endpoints: Vec<Endpoint> = sources
            .iter()
            .filter(|s| s.address_type == family && port.is_some() && port_of(s) == port)
            .flat_map(|s| s.endpoints.iter())
            .map(|e| Endpoint {
                addresses: e.addresses.clone(),
                conditions: e.conditions.clone(),
                node_name: e.node_name.clone(),
                zone: e.zone.clone(),
                ..Default::default()
            })
            .collect();
        let ports = port.clone().map(|(port, protocol, app_protocol)| {
            vec![EndpointPort {
                name: Some(PORT_NAME.into()),
                port: Some(port),
                protocol,
                app_protocol,
            }]
        });
        EndpointSlice {
            metadata: metadata(
                &name,
                namespace,
                &[(SERVICE_NAME, NAME), (MANAGED_BY, crate::FIELD_MANAGER)],
            ),
            address_type: family.into(),
            endpoints,
            ports,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(yaml: &str) -> EndpointSlice {
        serde_yaml::from_str(yaml).unwrap()
    }

    /// What the EndpointSlice controller writes for the responder's Service.
    fn responder() -> Vec<EndpointSlice> {
        vec![
            slice(
                "metadata: {name: certsmith-http01-b, namespace: certsmith}\n\
                 addressType: IPv4\n\
                 endpoints: [{addresses: [10.0.1.9], conditions: {ready: false}, nodeName: n2,\n\
                 \x20 targetRef: {kind: Pod, namespace: certsmith, name: certsmith-2}}]\n\
                 ports: [{name: http01, port: 8089, protocol: TCP}]",
            ),
            slice(
                "metadata: {name: certsmith-http01-a, namespace: certsmith}\n\
                 addressType: IPv4\n\
                 endpoints: [{addresses: [10.0.0.7], conditions: {ready: true}, zone: z1,\n\
                 \x20 hints: {forZones: [{name: z1}]}}]\n\
                 ports: [{name: http01, port: 8089, protocol: TCP}]",
            ),
            slice(
                "metadata: {name: certsmith-http01-c, namespace: certsmith}\n\
                 addressType: IPv6\n\
                 endpoints: [{addresses: ['fd00::7'], conditions: {ready: true}}]\n\
                 ports: [{name: http01, port: 8089, protocol: TCP}]",
            ),
        ]
    }

    #[test]
    fn the_responders_endpoints_are_copied_per_family_under_the_services_port_name() {
        let [v4, v6, fqdn] = slices_for("team", &responder());
        assert!(fqdn.endpoints.is_empty());
        for (copy, name, family) in
            [(&v4, NAME, "IPv4"), (&v6, "certsmith-acme-http01-ipv6", "IPv6")]
        {
            assert_eq!(copy.metadata.namespace.as_deref(), Some("team"));
            assert_eq!(copy.metadata.name.as_deref(), Some(name));
            assert_eq!(copy.address_type, family);
            let labels = copy.metadata.labels.as_ref().unwrap();
            assert_eq!(labels[SERVICE_NAME], NAME, "the Service's slice");
            assert_eq!(labels[MANAGED_BY], "certsmith", "left alone by Kubernetes' controllers");
            let port = &copy.ports.as_ref().unwrap()[..];
            assert_eq!(port.len(), 1);
            assert_eq!((port[0].name.as_deref(), port[0].port), (Some(PORT_NAME), Some(8089)));
            assert_eq!(port[0].protocol.as_deref(), Some("TCP"));
        }
        let ips: Vec<_> = v4.endpoints.iter().map(|e| e.addresses.join(",")).collect();
        assert_eq!(ips, ["10.0.0.7", "10.0.1.9"], "both IPv4 slices, in the slices' name order");
        let ready: Vec<_> = v4.endpoints.iter().map(|e| e.conditions.as_ref()?.ready).collect();
        assert_eq!(ready, [Some(true), Some(false)], "conditions kept: proxies skip the not ready");
        assert_eq!(v4.endpoints[0].zone.as_deref(), Some("z1"));
        assert_eq!(v4.endpoints[1].node_name.as_deref(), Some("n2"));
        assert!(v4.endpoints.iter().all(|e| e.target_ref.is_none() && e.hints.is_none()));
        assert_eq!(v6.endpoints[0].addresses, ["fd00::7"]);
    }

    #[test]
    fn a_responder_reached_by_name_gets_an_fqdn_slice() {
        let by_name = slice(
            "metadata: {name: certsmith-http01-x, namespace: certsmith}\n\
             addressType: FQDN\n\
             endpoints: [{addresses: [responder.example], conditions: {ready: true}}]\n\
             ports: [{name: http01, port: 8089, protocol: TCP}]",
        );
        let [v4, _, fqdn] = slices_for("team", &[by_name]);
        assert!(v4.endpoints.is_empty());
        assert_eq!(fqdn.metadata.name.as_deref(), Some("certsmith-acme-http01-fqdn"));
        assert_eq!(
            (fqdn.address_type.as_str(), &fqdn.endpoints[0].addresses[..]),
            ("FQDN", &["responder.example".to_string()][..])
        );
    }

    #[test]
    fn endpoints_at_another_port_than_the_first_slices_are_left_out() {
        let mut moved = responder();
        // A rollout moved the responder: the newer pods listen on 9000.
        moved[0].ports.as_mut().unwrap()[0].port = Some(9000);
        let [v4, _, _] = slices_for("team", &moved);
        let ips: Vec<_> = v4.endpoints.iter().map(|e| e.addresses.join(",")).collect();
        assert_eq!(ips, ["10.0.0.7"]);
        assert_eq!(v4.ports.unwrap()[0].port, Some(8089));
    }

    #[test]
    fn no_responder_yet_gives_empty_slices_without_ports() {
        let [v4, v6, _] = slices_for("team", &[]);
        assert!(v4.endpoints.is_empty() && v6.endpoints.is_empty());
        assert!(v4.ports.is_none());
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
