//! cert-manager's cainjector, inside certsmith: the CA of a Secret, of a Certificate's Secret or
//! of the API server, injected into the caBundle fields of the webhook configurations,
//! APIServices and CRDs annotated for it (cert-manager v1.21's annotations and merging), so a
//! cluster moving off cert-manager can stop its cainjector too.
//!
//! Run by certsmith's leader only, and only while cert-manager's own cainjector does not lead
//! (its Lease, judged as `defer` judges cert-manager's controller's): never two injectors
//! writing the same fields. Independent of the other controllers' standing by, since a cluster
//! may stop cert-manager's controller and its cainjector at different times.

pub mod controller;
#[cfg(test)]
mod controller_tests;
pub mod merge;
pub mod sources;
pub mod targets;

use crate::config::Config;
use crate::leader::{Seen, Timings};
use crate::metrics::Metrics;
use controller::{Injector, SecretChange};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::Api;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio::sync::{broadcast, watch};

/// Its name in `--controllers`.
pub const NAME: &str = "cainjector";

/// The CA certsmith's client trusts for the API server (PEM), set once when it connects: what
/// `inject-apiserver-ca` injects (in a pod, the ServiceAccount's `ca.crt`).
static API_SERVER_CA: OnceLock<Option<Vec<u8>>> = OnceLock::new();

/// Keeps the API server's CA from the client's configuration (the first one made).
pub fn remember_api_server_ca(config: &kube::Config) {
    let pem = config.root_cert.as_ref().map(|ders| {
        let blocks = ders.iter().map(|der| pem::Pem::new("CERTIFICATE", der.clone()));
        blocks.map(|b| crate::pki::pem_text(&b)).collect::<String>().into_bytes()
    });
    let _ = API_SERVER_CA.set(pem.filter(|p| !p.is_empty()));
}

/// Injects while this process leads (`leading`) and cert-manager's cainjector does not; stands
/// by otherwise. Returns at once when `--controllers` leaves it out.
pub async fn run(
    client: kube::Client,
    config: Config,
    leading: watch::Receiver<bool>,
    metrics: Metrics,
) {
    if !config.controller_enabled(NAME) {
        tracing::info!("cainjector: off (--controllers)");
        return;
    }
    // Without a Lease to defer to, a fixed "no"; its sender lives as long as this function.
    let (_never_deferred, never) = watch::channel(None);
    let deferred = match config.cainjector_deferred_lease() {
        Some(lease) => standby(client.clone(), lease, config.leader_timings()),
        None => never,
    };
    let ctx = Arc::new(Injector {
        events: crate::events::Events::new(client.clone()),
        client,
        metrics,
        apiserver_ca: API_SERVER_CA.get().cloned().flatten(),
        scope: config.scope(),
        clock: jiff::Timestamp::now,
    });
    loop {
        let (mut lead, mut other) = (leading.clone(), deferred.clone());
        let ready = async {
            loop {
                if *lead.borrow_and_update() && other.borrow_and_update().is_none() {
                    return Ok::<(), watch::error::RecvError>(());
                }
                tokio::select! {
                    r = lead.changed() => r?,
                    r = other.changed() => r?,
                }
            }
        };
        if ready.await.is_err() {
            return;
        }
        tracing::info!("cainjector: injecting");
        let (mut lost, mut back) = (leading.clone(), deferred.clone());
        tokio::select! {
            () = inject(ctx.clone()) => return,
            // The operator exits on a lost Lease; until it does, nothing is written.
            _ = lost.wait_for(|l| !*l) => {}
            // cert-manager's cainjector came back: the controllers are dropped mid-way (each
            // write is whole), and resume from the cluster when it lapses.
            _ = back.wait_for(|o| o.is_some()) => tracing::warn!("cainjector: cert-manager's cainjector leads; standing by"),
        }
    }
}

/// The target controllers certsmith may run, and the Secret watch that wakes them; nothing at
/// all when it may list none of the four kinds.
async fn inject(ctx: Arc<Injector>) {
    use controller::{permitted, run};
    let client = &ctx.client;
    let allowed = tokio::join!(
        permitted::<ValidatingWebhookConfiguration>(client),
        permitted::<MutatingWebhookConfiguration>(client),
        permitted::<APIService>(client),
        permitted::<CustomResourceDefinition>(client),
    );
    if allowed == (false, false, false, false) {
        return;
    }
    let (changes, _) = broadcast::channel::<SecretChange>(1024);
    let when = |allowed: bool, run: futures::future::BoxFuture<'static, ()>| async move {
        if allowed {
            run.await
        }
    };
    let (c, rx) = (|| ctx.clone(), || changes.subscribe());
    tokio::join!(
        controller::secret_changes(ctx.client.clone(), ctx.scope.clone(), changes.clone()),
        when(allowed.0, Box::pin(run::<ValidatingWebhookConfiguration>(c(), rx()))),
        when(allowed.1, Box::pin(run::<MutatingWebhookConfiguration>(c(), rx()))),
        when(allowed.2, Box::pin(run::<APIService>(c(), rx()))),
        when(allowed.3, Box::pin(run::<CustomResourceDefinition>(c(), rx()))),
    );
}

/// Publishes why the cainjector stands by (`None`: it need not): the Lease `namespace/name`
/// held and renewed, read every retry period (sooner when it would lapse sooner). It starts
/// standing by until the Lease is read; a Lease it may not read keeps it standing by (never two
/// injectors) and says how to fix that, once; other errors keep the last verdict.
fn standby(
    client: kube::Client,
    (namespace, name): (String, String),
    timings: Timings,
) -> watch::Receiver<Option<String>> {
    let (tx, rx) = watch::channel(Some(format!("Lease {namespace}/{name} not read yet")));
    let api: Api<Lease> = Api::namespaced(client, &namespace);
    tokio::spawn(async move {
        let mut seen: Option<Seen> = None;
        loop {
            let verdict = match api.get_opt(&name).await {
                Ok(lease) => Some(
                    crate::defer::holder(&mut seen, lease.as_ref(), Instant::now())
                        .map(|h| format!("Lease {namespace}/{name} is held by {h:?}")),
                ),
                Err(kube::Error::Api(e)) if e.code == 403 => Some(Some(format!(
                    "certsmith may not read Lease {namespace}/{name} to know whether \
                     cert-manager's cainjector runs ({}); grant it get on that Lease, or turn \
                     deferring off with --cainjector-defer-to-lease=",
                    e.message
                ))),
                Err(e) => {
                    tracing::debug!(error = %e, "cainjector: reading the Lease to defer to");
                    None
                }
            };
            if let Some(verdict) = verdict {
                let note = verdict.clone();
                if tx.send_if_modified(|v| replace(v, verdict)) {
                    match note {
                        Some(why) => tracing::info!(standing_by = true, "cainjector: {why}"),
                        None => tracing::info!(
                            standing_by = false,
                            "cainjector: Lease {namespace}/{name} is not held: certsmith injects"
                        ),
                    }
                }
            }
            let wait = crate::defer::next_look(seen.as_ref(), Instant::now(), timings.retry_period);
            tokio::time::sleep(wait).await;
        }
    });
    rx
}

fn replace(value: &mut Option<String>, new: Option<String>) -> bool {
    let changed = *value != new;
    *value = new;
    changed
}
