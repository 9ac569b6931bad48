//! The controllers of `certsmith run`, one function each: the shared watches they read
//! (their caches are what reconciles see), what wakes each one, and its reconcile.

use crate::api::{Certificate, CertificateRequest, Challenge, ClusterIssuer, Issuer, Order};
use crate::certificate::controller as certificates;
use crate::certificate::facts::SecretFacts;
use crate::certificate::secret::{ANN_CERTIFICATE_NAME, LABEL_FAO};
use crate::certificate_request::controller as requests;
use crate::challenge::controller as challenges;
use crate::config::Config;
use crate::context::Context;
use crate::http01::responder::Challenges;
use crate::issuer::{IssuerView, controller as issuers, refers_to};
use crate::metrics::Metrics;
use crate::order::controller as orders;
use crate::scope::Scope;
use crate::watches::{Kind, Shared, users, woken_by_issuers};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, controller, watcher};
use kube::{Client, ResourceExt};
use std::sync::Arc;

/// Objects per list page of the operator's watches: kube's default. Pages of 100 bounded the
/// burst of a restart when the cache held whole Secrets; at 10,000 Certificates they made 300
/// list requests, and the first reconcile waits for all of them.
const LIST_PAGE: u32 = 500;

/// Drops the caches from the metrics when the controllers stop, however they stop.
struct Unwatch(Metrics);

impl Drop for Unwatch {
    fn drop(&mut self) {
        self.0.watch(None);
    }
}

/// One watch per kind, shared by the controllers that read or are woken by it.
struct Watches {
    certificates: Shared<Certificate>,
    requests: Shared<CertificateRequest>,
    orders: Shared<Order>,
    challenges: Shared<Challenge>,
    issuers: Shared<Issuer>,
    cluster_issuers: Shared<ClusterIssuer>,
    secrets: Shared<SecretFacts>,
}

impl Watches {
    /// The watches of `scope`'s namespaces; of ClusterIssuers only where they are enabled.
    fn new(client: &Client, scope: &Scope) -> Watches {
        // The seven watches list at once when the controllers start; a list page is read
        // whole, then decoded, before any object is cached (see LIST_PAGE).
        let all = || watcher::Config::default().page_size(LIST_PAGE);
        // cert-manager's label: the Secrets certsmith writes and those it adopted from
        // cert-manager; the Certificate controller reads its target Secrets from their cache,
        // which keeps facts of each, not its data (`certificate::facts`).
        let managed = format!("{}={}", LABEL_FAO.0, LABEL_FAO.1);
        let (request_trim, order_trim) = (crate::chains::trim_request, crate::chains::trim_order);
        let c = || client.clone();
        // Not watched in single-namespace mode (cert-manager's registers no informer for them):
        // an empty cache, ready at once, so that nothing waits on it and nothing is found in it.
        let cluster_issuers = match scope.cluster_issuers() {
            true => Shared::watch(Api::all(c()), all(), 3),
            false => Shared::empty(3),
        };
        Watches {
            certificates: Shared::watch(scope.api(c()), all(), 1),
            requests: Shared::watch_trimmed(scope.api(c()), all(), 2, request_trim),
            orders: Shared::watch_trimmed(scope.api(c()), all(), 2, order_trim),
            challenges: Shared::watch(scope.api(c()), all(), 2),
            issuers: Shared::watch(scope.api(c()), all(), 3),
            cluster_issuers,
            secrets: Shared::watch(scope.api(c()), all().labels(&managed), 3),
        }
    }

    /// What the cache-read gauges read (README "Metrics").
    fn metrics(&self) -> crate::metrics::Watched {
        crate::metrics::Watched {
            certificates: self.certificates.store.clone(),
            challenges: self.challenges.store.clone(),
            issuers: self.issuers.store.clone(),
            cluster_issuers: self.cluster_issuers.store.clone(),
        }
    }

    fn stores(&self) -> crate::context::Stores {
        crate::context::Stores {
            certificates: self.certificates.store.clone(),
            requests: self.requests.store.clone(),
            orders: self.orders.store.clone(),
            issuers: self.issuers.store.clone(),
            cluster_issuers: self.cluster_issuers.store.clone(),
            secrets: self.secrets.store.clone(),
            all_ready: std::sync::Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

type Run = BoxFuture<'static, ()>;

/// The controllers; run by the leader only (or by every process without leader election).
pub async fn run(client: Client, config: Config, challenges: Challenges, metrics: Metrics) {
    let mut w = Watches::new(&client, &config.scope());
    let ctx = Arc::new(Context::new(client, config, challenges, w.stores(), metrics));
    // The Certificate, Challenge and issuer gauges read these caches while the controllers
    // run; a replica that stops leading exports none.
    ctx.metrics.watch(Some(w.metrics()));
    let _unwatch = Unwatch(ctx.metrics.clone());
    let workers = controller::Config::default().concurrency(ctx.config.concurrent_workers);
    let since = jiff::Timestamp::now();
    let certificate = certificate(&mut w, &ctx, &workers, since);
    let request = request(&mut w, &ctx, &workers, since);
    let order = order(&mut w, &ctx, &workers);
    let challenge = challenge(&mut w, &ctx, &workers);
    let (issuer, cluster_issuer) = issuers(&mut w, &ctx, &workers);
    let shim = async {
        use crate::api::gateway::{Gateway, ListenerSet};
        use crate::shim::controller::{run, run_when_served};
        let (cfg, c) = (&ctx.config, ctx.clone());
        let gateways = cfg.enable_gateway_api;
        let sets = gateways && cfg.enable_gateway_api_listenerset;
        tokio::join!(
            run::<k8s_openapi::api::networking::v1::Ingress>(c.clone()),
            run_when_served::<Gateway>(c.clone(), gateways),
            run_when_served::<ListenerSet>(c, sets),
        );
    };
    let watches = futures::future::join_all([
        w.certificates.run,
        w.requests.run,
        w.orders.run,
        w.challenges.run,
        w.issuers.run,
        w.cluster_issuers.run,
        w.secrets.run,
    ]);
    // The controllers run at once, so that each takes its subscriptions' changes into its
    // queue while the caches fill: a watch hands each listed object to every subscriber, and
    // one that waited for the caches before reading would hold a watch, once its buffer is
    // full (1,024 objects), short of its own full list, and so every cache short of ready.
    // Their reconciles wait for the caches (run_controller); the shims, which read the
    // Certificates' cache and subscribe to nothing, start once it is ready.
    let work = async {
        let shim = async {
            ctx.cache.ready().await;
            shim.await
        };
        let ready = ctx.cache.watch_ready();
        tokio::join!(certificate, request, order, challenge, issuer, cluster_issuer, shim, ready);
    };
    tokio::select! {
        _ = watches => {}
        _ = work => {}
    }
}

/// Certificates, woken by their requests, their issuer's changes and their Secret's.
fn certificate(
    w: &mut Watches,
    ctx: &Arc<Context>,
    workers: &controller::Config,
    since: jiff::Timestamp,
) -> Run {
    let store = w.certificates.store.clone();
    let by_issuer = move |kind: &'static str, namespace: Option<String>, name: String| {
        users(&store, |c: &Certificate| {
            let (r, at) = (&c.spec.issuer_ref, c.namespace());
            refers_to(r, at.as_deref(), kind, &name, namespace.as_deref())
        })
    };
    let controller =
        w.certificates.controller(workers.clone()).owns_shared_stream(w.requests.subscribe());
    let controller =
        woken_by_issuers(controller, (&mut w.issuers, &mut w.cluster_issuers), since, by_issuer)
            // A deleted or edited TLS Secret is put right at once, not at the next renewal.
            .watches_shared_stream(w.secrets.subscribe(), |s| {
                let name = s.annotations().get(ANN_CERTIFICATE_NAME).cloned();
                let namespace = s.namespace().unwrap_or_default();
                name.map(|n| ObjectRef::<Certificate>::new(&n).within(&namespace))
            });
    run_controller(controller, "certificates", certificates::reconcile, ctx).boxed()
}

/// CertificateRequests, woken by their Orders and, while waiting on it (a CA issuer's key
/// pair), by their issuer's changes.
fn request(
    w: &mut Watches,
    ctx: &Arc<Context>,
    workers: &controller::Config,
    since: jiff::Timestamp,
) -> Run {
    let known = w.requests.store.clone();
    let waiting_on = move |kind: &'static str, namespace: Option<String>, name: String| {
        users(&known, |r: &CertificateRequest| {
            let (issuer, at) = (&r.spec.issuer_ref, r.namespace());
            !r.finished() && refers_to(issuer, at.as_deref(), kind, &name, namespace.as_deref())
        })
    };
    let controller =
        w.requests.controller(workers.clone()).owns_shared_stream(w.orders.subscribe());
    let controller =
        woken_by_issuers(controller, (&mut w.issuers, &mut w.cluster_issuers), since, waiting_on);
    let requests = run_controller(controller, "certificaterequests", requests::reconcile, ctx);
    // Says whether requests carry their requester's identity (see `admission`).
    let announce = crate::admission::announce(ctx.clone());
    async move {
        tokio::join!(announce, requests);
    }
    .boxed()
}

/// Orders, woken by their Challenges and by their account's order budget.
fn order(w: &mut Watches, ctx: &Arc<Context>, workers: &controller::Config) -> Run {
    let controller = w
        .orders
        .controller(workers.clone())
        .owns_shared_stream(w.challenges.subscribe())
        .reconcile_on(ctx.budgets.woken());
    run_controller(controller, "orders", orders::reconcile, ctx).boxed()
}

fn challenge(w: &mut Watches, ctx: &Arc<Context>, workers: &controller::Config) -> Run {
    let controller = w.challenges.controller(workers.clone());
    run_controller(controller, "challenges", challenges::reconcile, ctx).boxed()
}

/// Issuers and ClusterIssuers, woken by a CA issuer's Secret when certsmith wrote it (a CA
/// Certificate's).
fn issuers(w: &mut Watches, ctx: &Arc<Context>, workers: &controller::Config) -> (Run, Run) {
    let store = w.issuers.store.clone();
    let namespaced = w
        .issuers
        .controller(workers.clone())
        .watches_shared_stream(w.secrets.subscribe(), move |s| {
            users(&store, |i| IssuerView::issuer(i).signs_with(&*s))
        });
    let store = w.cluster_issuers.store.clone();
    let resources = ctx.config.cluster_resource_namespace().to_string();
    let cluster = w
        .cluster_issuers
        .controller(workers.clone())
        .watches_shared_stream(w.secrets.subscribe(), move |s| {
            users(&store, |i| IssuerView::cluster_issuer(i, &resources).signs_with(&*s))
        });
    let cluster = match ctx.config.scope().cluster_issuers() {
        true => run_controller(cluster, "clusterissuers", issuers::reconcile_cluster_issuer, ctx)
            .boxed(),
        // cert-manager removes its cluster-scoped controllers in single-namespace mode.
        false => futures::future::ready(()).boxed(),
    };
    (run_controller(namespaced, "issuers", issuers::reconcile_issuer, ctx).boxed(), cluster)
}

/// Runs `controller` until a signal, its triggers backed off after watch errors, each
/// reconcile counted under `name` and its errors retried by the one policy.
fn run_controller<K, F, Fut>(
    controller: Controller<K>,
    name: &'static str,
    reconcile: F,
    ctx: &Arc<Context>,
) -> impl Future<Output = ()> + use<K, F, Fut>
where
    K: Kind,
    F: Fn(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<controller::Action, crate::error::Error>> + Send + 'static,
{
    let policy = move |object: Arc<K>, error: &crate::error::Error, _: Arc<Context>| {
        crate::error::policy(name, &object, error)
    };
    // Not before every cache holds its first full list (Stores::ready).
    let gated = move |object: Arc<K>, ctx: Arc<Context>| {
        let reconciled = reconcile(object, ctx.clone());
        async move {
            ctx.cache.ready().await;
            reconciled.await
        }
    };
    controller
        .trigger_backoff(crate::relist::backoff())
        .shutdown_on_signal()
        .run(crate::metrics::counted(name, gated), policy, ctx.clone())
        .for_each(|_| futures::future::ready(()))
}
