//! `certsmith run`: the controllers, the challenge responder and the metrics endpoint, wired.

use crate::api::{Certificate, CertificateRequest, Challenge, ClusterIssuer, Issuer, Order};
use crate::certificate::controller as certificates;
use crate::certificate::secret::{ANN_CERTIFICATE_NAME, LABEL_MANAGED_BY};
use crate::certificate_request::controller as requests;
use crate::challenge::controller as challenges;
use crate::config::Config;
use crate::context::Context;
use crate::http01::responder::{self, Challenges};
use crate::issuer::{controller as issuers, referenced_kind};
use crate::metrics::Metrics;
use crate::order::controller as orders;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("listening on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("lost the leader Lease; exiting so that a fresh process follows")]
    LostLease,
}

/// Binds `addr`. The responder binds with SO_REUSEPORT (`shared`), so that several processes on
/// one host (a test bed's replicas) can share the port the CA validates on; in a pod it changes
/// nothing. The metrics port is never shared: a second process there is a mistake to report.
fn bind(addr: std::net::SocketAddr, shared: bool) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(shared)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Runs until the process is told to stop (SIGTERM/SIGINT).
pub async fn run(client: Client, config: Config) -> Result<(), Error> {
    let metrics = Metrics::default();
    let listen = |addr, shared| bind(addr, shared).map_err(|source| Error::Listen { addr, source });
    let http01 = listen(config.http01_listen, true)?;
    let metrics_listener = listen(config.metrics_listen, false)?;
    tracing::info!(http01 = %config.http01_listen, metrics = %config.metrics_listen, namespace = %config.namespace, "certsmith starting");

    let (challenges, watch) = Challenges::watch(client.clone(), metrics.clone());
    tokio::spawn(watch);
    tokio::spawn(responder::serve(http01, responder::router(challenges.clone())));
    tokio::spawn(responder::serve(metrics_listener, metrics.router()));
    {
        let (challenges, metrics) = (challenges.clone(), metrics.clone());
        tokio::spawn(async move {
            challenges.ready().await;
            metrics.set_ready();
        });
    }

    if config.leader_elect {
        let identity = std::env::var("POD_NAME")
            .unwrap_or_else(|_| format!("certsmith-{}", std::process::id()));
        let mut leading = crate::leader::campaign(
            client.clone(),
            &config.namespace,
            identity,
            config.leader_timings(),
        );
        tracing::info!("waiting for the leader Lease");
        tokio::select! {
            ready = leading.wait_for(|l| *l) => { if ready.is_err() { return Err(Error::LostLease); } }
            _ = shutdown_signal() => return Ok(()),
        }
        tracing::info!("leading: starting the controllers");
        let lost = async move {
            let _ = leading.wait_for(|l| !*l).await;
        };
        return tokio::select! {
            result = controllers(client, config, challenges, metrics) => result,
            _ = lost => Err(Error::LostLease),
        };
    }
    controllers(client, config, challenges, metrics).await
}

/// The controllers; run by the leader only (or by every process without leader election).
async fn controllers(
    client: Client,
    config: Config,
    challenges: Challenges,
    metrics: Metrics,
) -> Result<(), Error> {
    // One watch of CertificateRequests feeds both the Certificate controller's trigger and the
    // store it reads its requests from.
    let (requests, writer) = reflector::store();
    let request_events =
        watcher(Api::<CertificateRequest>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .modify(|r| r.metadata.managed_fields = None)
            .reflect(writer)
            .applied_objects();
    let ctx = Arc::new(Context::new(client.clone(), config, challenges, requests, metrics));
    let certs =
        Controller::new(Api::<Certificate>::all(client.clone()), watcher::Config::default());
    let store = certs.store();
    let by_issuer = move |kind: &'static str, namespace: Option<String>, name: String| {
        store
            .state()
            .into_iter()
            .filter(|c| {
                referenced_kind(&c.spec.issuer_ref) == Some(kind)
                    && c.spec.issuer_ref.name == name
                    && (namespace.is_none() || c.namespace() == namespace)
            })
            .map(|c| ObjectRef::from_obj(&*c))
            .collect::<Vec<_>>()
    };
    let by_cluster_issuer = by_issuer.clone();
    let managed = format!("{}={}", LABEL_MANAGED_BY.0, LABEL_MANAGED_BY.1);
    let certificates = certs
        .owns_stream(request_events)
        .watches(Api::<ClusterIssuer>::all(client.clone()), watcher::Config::default(), move |i| {
            by_cluster_issuer("ClusterIssuer", None, i.name_any())
        })
        .watches(Api::<Issuer>::all(client.clone()), watcher::Config::default(), move |i| {
            by_issuer("Issuer", i.namespace(), i.name_any())
        })
        // A deleted or edited TLS Secret is put right at once, not at the next renewal.
        .watches(
            Api::<Secret>::all(client.clone()),
            watcher::Config::default().labels(&managed),
            |s| {
                let name = s.annotations().get(ANN_CERTIFICATE_NAME).cloned();
                name.map(|n| {
                    ObjectRef::<Certificate>::new(&n).within(&s.namespace().unwrap_or_default())
                })
            },
        )
        .shutdown_on_signal()
        .run(certificates::reconcile, certificates::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let requests =
        Controller::new(Api::<CertificateRequest>::all(client.clone()), watcher::Config::default())
            .owns(Api::<Order>::all(client.clone()), watcher::Config::default())
            .shutdown_on_signal()
            .run(requests::reconcile, requests::error_policy, ctx.clone())
            .for_each(|_| futures::future::ready(()));
    let orders = Controller::new(Api::<Order>::all(client.clone()), watcher::Config::default())
        .owns(Api::<Challenge>::all(client.clone()), watcher::Config::default())
        .shutdown_on_signal()
        .run(orders::reconcile, orders::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let challenges =
        Controller::new(Api::<Challenge>::all(client.clone()), watcher::Config::default())
            .shutdown_on_signal()
            .run(challenges::reconcile, challenges::error_policy, ctx.clone())
            .for_each(|_| futures::future::ready(()));
    let issuers = Controller::new(Api::<Issuer>::all(client.clone()), watcher::Config::default())
        .shutdown_on_signal()
        .run(issuers::reconcile_issuer, issuers::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let cluster_issuers =
        Controller::new(Api::<ClusterIssuer>::all(client), watcher::Config::default())
            .shutdown_on_signal()
            .run(issuers::reconcile_cluster_issuer, issuers::error_policy, ctx.clone())
            .for_each(|_| futures::future::ready(()));
    let shim = crate::ingress_shim::controller::run(ctx.clone(), ctx.config.default_issuer());
    tokio::join!(certificates, requests, orders, challenges, issuers, cluster_issuers, shim);
    Ok(())
}
