//! Where the bench's resources go: CPU by process of the bed (the operator shares two cores
//! with the API server, etcd and Pebble, so their sum bounds the rate), and what the
//! operator's caches hold.

use crate::measure::Proc;
use crate::support::KubeBed;
use crate::support::acme::PebbleBed;
use certsmith::api::{Certificate, Challenge};
use certsmith::chains;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::{Resource, ResourceExt};

/// CPU seconds so far of each process that works for an issuance.
pub struct Cpu(Vec<(&'static str, f64)>);

impl Cpu {
    pub fn read(kube: &KubeBed, pebble: &PebbleBed, operator: u32) -> Cpu {
        let pid = |file: std::path::PathBuf| {
            std::fs::read_to_string(file).ok().and_then(|p| p.trim().parse::<u32>().ok())
        };
        let processes = [
            ("operator", Some(operator)),
            ("kube-apiserver", pid(kube.dir.join("kube-apiserver.pid"))),
            ("etcd", pid(kube.dir.join("etcd.pid"))),
            ("kube-controller-manager", pid(kube.dir.join("kube-controller-manager.pid"))),
            ("pebble", pid(pebble.dir.join("pebble.pid"))),
            ("pebble-challtestsrv", pid(pebble.dir.join("challtestsrv.pid"))),
        ];
        Cpu(processes
            .iter()
            .map(|(name, p)| (*name, p.map_or(0.0, |p| Proc(p).cpu_secs())))
            .collect())
    }

    /// The CPU used between `before` and this reading.
    pub fn since(self, before: &Cpu) -> Cpu {
        Cpu(self
            .0
            .iter()
            .zip(&before.0)
            .map(|((name, now), (_, then))| (*name, now - then))
            .collect())
    }

    /// Milliseconds per item of each process, their sum, and the rate two cores would allow.
    pub fn print(&self, items: f64) {
        let total: f64 = self.0.iter().map(|(_, s)| s).sum();
        for (name, secs) in &self.0 {
            println!("    {:>8.1} ms  {name}", secs * 1000.0 / items);
        }
        let per = total * 1000.0 / items;
        println!("    {per:>8.1} ms  in all: two busy cores allow at most {:.1}/s", 2000.0 / per);
    }
}

/// For each kind the operator caches: how many objects and their JSON bytes as cached
/// (managed fields dropped; only the labelled Secrets).
pub async fn cached_bytes(client: &kube::Client) -> Vec<(&'static str, usize, usize)> {
    let fao = ListParams::default().labels("controller.cert-manager.io/fao=true");
    vec![
        sized::<Certificate>(client, "Certificate", ListParams::default(), |_| {}).await,
        sized(client, "CertificateRequest", ListParams::default(), chains::trim_request).await,
        sized(client, "Order", ListParams::default(), chains::trim_order).await,
        sized::<Challenge>(client, "Challenge", ListParams::default(), |_| {}).await,
        sized::<Secret>(client, "Secret (labelled)", fao, |_| {}).await,
    ]
}

async fn sized<K>(
    client: &kube::Client,
    kind: &'static str,
    lp: ListParams,
    trim: fn(&mut K),
) -> (&'static str, usize, usize)
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let Ok(list) = Api::<K>::all(client.clone()).list(&lp).await else { return (kind, 0, 0) };
    let bytes = list
        .items
        .into_iter()
        .map(|mut o| {
            o.managed_fields_mut().clear();
            trim(&mut o);
            serde_json::to_vec(&o).map(|v| v.len()).unwrap_or(0)
        })
        .collect::<Vec<_>>();
    (kind, bytes.len(), bytes.iter().sum())
}
