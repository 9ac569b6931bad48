//! `certsmith run`: the controllers, the challenge responder and the metrics endpoint, wired.

use crate::config::Config;
use crate::http01::responder::{self, Challenges};
use crate::metrics::Metrics;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
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
    config.cert_manager_only.warn();
    if let Some(namespace) = config.scope().namespace() {
        tracing::info!(
            namespace,
            "scoped to a single namespace (--namespace): only it is watched; ClusterIssuers are \
             disabled, and the clusterissuers controller does not run"
        );
    }

    let (challenges, watch) = Challenges::watch(client.clone(), &config.scope(), metrics.clone());
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

    // Without leader election or a Lease to defer to, fixed values; their senders live as long
    // as this function, so that waiting on them waits forever rather than failing.
    let (_always_leading, always) = tokio::sync::watch::channel(true);
    let (_never_deferred, never) = tokio::sync::watch::channel(None);
    let campaign = config.leader_elect.then(|| {
        let identity = crate::leader::identity();
        crate::leader::campaign(
            client.clone(),
            &config.namespace,
            identity,
            config.leader_timings(),
        )
    });
    let leading = campaign.as_ref().map(|c| c.leading.clone()).unwrap_or(always);
    let deferred = match config.deferred_lease() {
        Some(lease) => {
            let own = ObjectReference {
                api_version: Some("coordination.k8s.io/v1".into()),
                kind: Some("Lease".into()),
                namespace: Some(config.namespace.clone()),
                name: Some(crate::leader::LEASE_NAME.into()),
                ..Default::default()
            };
            let scope = config.scope();
            crate::defer::watch(client.clone(), &scope, lease, own, &config.leader_timings())
        }
        None => never,
    };
    // The cainjector leads with the others but stands by on its own Lease (see `cainjector`).
    tokio::spawn(crate::cainjector::run(
        client.clone(),
        config.clone(),
        leading.clone(),
        metrics.clone(),
    ));
    let result =
        act_while_leading(&client, &config, leading, deferred, &challenges, &metrics).await;
    // Given back on every way out, so the next replica leads at once.
    if let Some(campaign) = campaign {
        campaign.release().await;
    }
    result
}

/// Runs the controllers while this replica leads and no other controller does; stands by
/// otherwise. Returns on SIGTERM, or when the Lease is lost.
async fn act_while_leading(
    client: &Client,
    config: &Config,
    leading: tokio::sync::watch::Receiver<bool>,
    deferred: tokio::sync::watch::Receiver<Option<String>>,
    challenges: &Challenges,
    metrics: &Metrics,
) -> Result<(), Error> {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let mut wait = (leading.clone(), deferred.clone());
        tracing::info!("waiting for the leader Lease and for no controller to defer to");
        let acting = async {
            loop {
                let (lead, other) =
                    (*wait.0.borrow_and_update(), wait.1.borrow_and_update().clone());
                metrics.set_standby(other.clone());
                if lead && other.is_none() {
                    return Ok::<(), tokio::sync::watch::error::RecvError>(());
                }
                tokio::select! {
                    r = wait.0.changed() => r?,
                    r = wait.1.changed() => r?,
                }
            }
        };
        tokio::select! {
            r = acting => if r.is_err() { return Err(Error::LostLease) },
            _ = &mut shutdown => return Ok(()),
        }
        tracing::info!("leading: starting the controllers");
        let (mut lost, mut other) = (leading.clone(), deferred.clone());
        let run = crate::controllers::run(
            client.clone(),
            config.clone(),
            challenges.clone(),
            metrics.clone(),
        );
        tokio::select! {
            () = run => return Ok(()),
            _ = lost.wait_for(|l| !*l) => return Err(Error::LostLease),
            // cert-manager came back: stop acting at once (the controllers are dropped, as if
            // killed: every step resumes from the cluster) and stand by again.
            _ = other.wait_for(|o| o.is_some()) => tracing::warn!("another controller leads; stopping the controllers"),
            _ = &mut shutdown => return Ok(()),
        }
    }
}
