//! `certsmith run`: the controllers, the challenge responder and the metrics endpoint, wired.

use crate::api::{Certificate, CertificateRequest, Challenge, ClusterIssuer, Issuer};
use crate::certificate::controller as certificates;
use crate::certificate::secret::{ANN_CERTIFICATE_NAME, LABEL_FAO};
use crate::certificate_request::controller as requests;
use crate::challenge::controller as challenges;
use crate::config::Config;
use crate::context::Context;
use crate::http01::responder::{self, Challenges};
use crate::issuer::{IssuerView, controller as issuers, refers_to};
use crate::metrics::Metrics;
use crate::order::controller as orders;
use crate::watches::{Kind, Shared, users, woken_by_issuers};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, controller, watcher};
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
    config.cert_manager_only.warn();

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
            let period = config.leader_election_retry_period;
            crate::defer::watch(client.clone(), lease, own, period)
        }
        None => never,
    };
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
        let run = controllers(client.clone(), config.clone(), challenges.clone(), metrics.clone());
        tokio::select! {
            result = run => return result,
            _ = lost.wait_for(|l| !*l) => return Err(Error::LostLease),
            // cert-manager came back: stop acting at once (the controllers are dropped, as if
            // killed: every step resumes from the cluster) and stand by again.
            _ = other.wait_for(|o| o.is_some()) => tracing::warn!("another controller leads; stopping the controllers"),
            _ = &mut shutdown => return Ok(()),
        }
    }
}

/// Objects per list page of the operator's watches.
const LIST_PAGE: u32 = 100;

/// Drops the Certificate cache from the metrics when the controllers stop, however they stop.
struct Unwatch(Metrics);

impl Drop for Unwatch {
    fn drop(&mut self) {
        self.0.watch_certificates(None);
    }
}

/// The controllers; run by the leader only (or by every process without leader election).
async fn controllers(
    client: Client,
    config: Config,
    challenges: Challenges,
    metrics: Metrics,
) -> Result<(), Error> {
    // The seven watches list at once when the controllers start, and a list page is read
    // whole, then decoded, before any object is cached: 100 objects a page rather than kube's
    // 500 bound that burst (with 1,000 Certificates: a few more list requests at a restart).
    let all = || watcher::Config::default().page_size(LIST_PAGE);
    // cert-manager's label: the Secrets certsmith writes and those it adopted from cert-manager;
    // the Certificate controller reads its target Secrets from their cache.
    let managed = format!("{}={}", LABEL_FAO.0, LABEL_FAO.1);
    let mut certificates = Shared::<Certificate>::watch(Api::all(client.clone()), all(), 1);
    let (request_trim, order_trim) = (crate::chains::trim_request, crate::chains::trim_order);
    let mut requests = Shared::watch_trimmed(Api::all(client.clone()), all(), 2, request_trim);
    let mut orders = Shared::watch_trimmed(Api::all(client.clone()), all(), 2, order_trim);
    let mut challenge_objects = Shared::<Challenge>::watch(Api::all(client.clone()), all(), 2);
    let mut issuers = Shared::<Issuer>::watch(Api::all(client.clone()), all(), 3);
    let mut cluster_issuers = Shared::<ClusterIssuer>::watch(Api::all(client.clone()), all(), 3);
    let mut secrets = Shared::<Secret>::watch(Api::all(client.clone()), all().labels(&managed), 3);
    let ctx = Arc::new(Context::new(
        client.clone(),
        config,
        challenges,
        crate::context::Stores {
            certificates: certificates.store.clone(),
            requests: requests.store.clone(),
            orders: orders.store.clone(),
            issuers: issuers.store.clone(),
            cluster_issuers: cluster_issuers.store.clone(),
            secrets: secrets.store.clone(),
        },
        metrics,
    ));
    // The Certificate gauges read this cache while the controllers run; a replica that stops
    // leading exports none.
    ctx.metrics.watch_certificates(Some(certificates.store.clone()));
    let _unwatch = Unwatch(ctx.metrics.clone());
    let workers = controller::Config::default().concurrency(ctx.config.concurrent_workers);
    let since = jiff::Timestamp::now();

    let store = certificates.store.clone();
    let by_issuer = move |kind: &'static str, namespace: Option<String>, name: String| {
        users(&store, |c: &Certificate| {
            let (r, at) = (&c.spec.issuer_ref, c.namespace());
            refers_to(r, at.as_deref(), kind, &name, namespace.as_deref())
        })
    };
    let certificate_controller =
        certificates.controller(workers.clone()).owns_shared_stream(requests.subscribe());
    let certificate_controller = woken_by_issuers(
        certificate_controller,
        (&mut issuers, &mut cluster_issuers),
        since,
        by_issuer,
    )
    // A deleted or edited TLS Secret is put right at once, not at the next renewal.
    .watches_shared_stream(secrets.subscribe(), |s| {
        let name = s.annotations().get(ANN_CERTIFICATE_NAME).cloned();
        name.map(|n| ObjectRef::<Certificate>::new(&n).within(&s.namespace().unwrap_or_default()))
    });
    let certificate_controller =
        run_controller(certificate_controller, "certificates", certificates::reconcile, &ctx);
    // A request waiting on its issuer (a CA issuer's key pair) is looked at when it changes.
    let known = requests.store.clone();
    let waiting_on = move |kind: &'static str, namespace: Option<String>, name: String| {
        users(&known, |r: &CertificateRequest| {
            let (issuer, at) = (&r.spec.issuer_ref, r.namespace());
            !r.finished() && refers_to(issuer, at.as_deref(), kind, &name, namespace.as_deref())
        })
    };
    let request_controller =
        requests.controller(workers.clone()).owns_shared_stream(orders.subscribe());
    let request_controller = woken_by_issuers(
        request_controller,
        (&mut issuers, &mut cluster_issuers),
        since,
        waiting_on,
    );
    let request_controller =
        run_controller(request_controller, "certificaterequests", requests::reconcile, &ctx);
    let order_controller = orders
        .controller(workers.clone())
        .owns_shared_stream(challenge_objects.subscribe())
        .reconcile_on(ctx.budgets.woken());
    let order_controller = run_controller(order_controller, "orders", orders::reconcile, &ctx);
    let challenge_controller = run_controller(
        challenge_objects.controller(workers.clone()),
        "challenges",
        challenges::reconcile,
        &ctx,
    );
    // A CA issuer's Secret, when certsmith wrote it (a CA Certificate's), changes the issuer.
    let store = issuers.store.clone();
    let issuer_controller =
        issuers.controller(workers.clone()).watches_shared_stream(secrets.subscribe(), move |s| {
            users(&store, |i| IssuerView::issuer(i).signs_with(&*s))
        });
    let issuer_controller =
        run_controller(issuer_controller, "issuers", issuers::reconcile_issuer, &ctx);
    let store = cluster_issuers.store.clone();
    let resources = ctx.config.cluster_resource_namespace().to_string();
    let cluster_issuer_controller =
        cluster_issuers.controller(workers).watches_shared_stream(secrets.subscribe(), move |s| {
            users(&store, |i| IssuerView::cluster_issuer(i, &resources).signs_with(&*s))
        });
    let cluster_issuer_controller = run_controller(
        cluster_issuer_controller,
        "clusterissuers",
        issuers::reconcile_cluster_issuer,
        &ctx,
    );
    let shim = crate::shim::controller::run::<k8s_openapi::api::networking::v1::Ingress>(
        ctx.clone(),
        ctx.config.default_issuer(),
    );
    let watches = futures::future::join_all([
        certificates.run,
        requests.run,
        orders.run,
        challenge_objects.run,
        issuers.run,
        cluster_issuers.run,
        secrets.run,
    ]);
    // Reconciles read issuers from the caches: not before they hold every issuer, or a
    // Certificate would be told its issuer does not exist; nor before the managed Secrets are
    // there, or each Certificate would read its own.
    let work = async {
        ctx.cache.issuers.wait_until_ready().await.ok();
        ctx.cache.cluster_issuers.wait_until_ready().await.ok();
        ctx.cache.secrets.wait_until_ready().await.ok();
        tokio::join!(
            certificate_controller,
            request_controller,
            order_controller,
            challenge_controller,
            issuer_controller,
            cluster_issuer_controller,
            shim
        );
    };
    tokio::select! {
        _ = watches => {}
        _ = work => {}
    }
    Ok(())
}

/// Runs `controller` until a signal, its triggers backed off after watch errors, each
/// reconcile counted under `name` and its errors retried by the one policy.
fn run_controller<K, F, Fut>(
    controller: Controller<K>,
    name: &'static str,
    reconcile: F,
    ctx: &Arc<Context>,
) -> impl Future<Output = ()>
where
    K: Kind,
    F: Fn(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<controller::Action, crate::error::Error>> + Send + 'static,
{
    let policy = move |object: Arc<K>, error: &crate::error::Error, _: Arc<Context>| {
        crate::error::policy(name, &object, error)
    };
    controller
        .trigger_backoff(crate::relist::backoff())
        .shutdown_on_signal()
        .run(counted(name, reconcile), policy, ctx.clone())
        .for_each(|_| futures::future::ready(()))
}

/// `reconcile`, counted in `certsmith_controller_reconciles_in_flight` while it runs.
pub fn counted<K, C, E, F, Fut>(
    controller: &'static str,
    reconcile: F,
) -> impl FnMut(Arc<K>, Arc<C>) -> BoxFuture<'static, Result<controller::Action, E>>
where
    C: AsRef<Metrics> + Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<C>) -> Fut,
    Fut: Future<Output = Result<controller::Action, E>> + Send + 'static,
{
    move |object, ctx| {
        let running = (*ctx).as_ref().in_flight(controller);
        let reconciled = reconcile(object, ctx);
        async move {
            let result = reconciled.await;
            drop(running);
            result
        }
        .boxed()
    }
}
