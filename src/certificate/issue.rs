//! One issuance through an ACME issuer: key → order (recorded in status before anything is
//! presented) → challenges (status + solver Ingresses) → self-check → validation → CSR →
//! chain, checked before it is returned. Solver Ingresses are removed whatever the outcome.

use super::{Context, secret, write};
use crate::acme::{AcmeError, order, solver};
use crate::api::certificate::{
    AcmeOrderStatus, CertificateAcmeStatus, Http01Challenge, RotationPolicy,
};
use crate::api::{Certificate, CertificateStatus};
use crate::http01::{edit_in_place, self_check, solver_ingress};
use crate::ingress_shim::annotations::{
    OVERRIDE_CLASS, OVERRIDE_CLASS_NAME, OVERRIDE_INGRESS_NAME,
};
use crate::issuer::IssuerView;
use crate::pki::inspect::{Issued, parse_chain};
use crate::pki::key::{KeySpec, parse_pem, to_pem};
use crate::pki::{PkiError, csr};
use instant_acme::Account;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use std::time::Duration;

/// Why an issuance failed, worded for the Certificate's conditions and Events.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Acme(#[from] AcmeError),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("writing to the API: {}", api_message(.0))]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Challenge(String),
    #[error("the CA returned a certificate that {0}")]
    BadChain(String),
}

impl IssueError {
    /// Whether the order in flight stays usable for the retry. A CA that was unreachable, or a
    /// failure on certsmith's side, leaves the order valid at the CA; a refusal or an invalid
    /// order does not.
    pub fn keeps_order(&self) -> bool {
        matches!(
            self,
            IssueError::Kube(_)
                | IssueError::Challenge(_)
                | IssueError::Acme(AcmeError::Unreachable { .. })
        )
    }
}

/// The API server's own words for a refused request, without the client's debug dump.
fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} (HTTP {})", status.message, status.code),
        other => other.to_string(),
    }
}

pub struct Outcome {
    pub chain: String,
    pub key_pem: String,
    pub issued: Issued,
}

/// Runs the issuance, writing progress into `status` (and the API) as it goes.
pub async fn issue(
    ctx: &Context,
    cert: &mut Certificate,
    issuer: &IssuerView,
    account: &Account,
    target: Option<&Secret>,
    status: &mut CertificateStatus,
) -> Result<Outcome, IssueError> {
    let mut edited = Vec::new();
    let result = drive(ctx, cert, issuer, account, target, status, &mut edited).await;
    // Whatever happened, no solver Ingress outlives its attempt, and edited Ingresses get
    // their own rules back.
    let namespace = cert.namespace().unwrap_or_default();
    let mut cleanup =
        solver_ingress::delete_all(&ctx.client, &ctx.config, &cert.uid().unwrap_or_default()).await;
    for name in &edited {
        cleanup = cleanup.and(edit_in_place::remove(&ctx.client, &namespace, name).await);
    }
    let outcome = result?;
    cleanup?;
    Ok(outcome)
}

async fn drive(
    ctx: &Context,
    cert: &mut Certificate,
    issuer: &IssuerView,
    account: &Account,
    target: Option<&Secret>,
    status: &mut CertificateStatus,
    edited: &mut Vec<String>,
) -> Result<Outcome, IssueError> {
    let spec = cert.spec.clone();
    let acme = issuer.spec.acme.as_ref().expect("ACME issuers only reach issuance");
    let server = acme.server.as_str();
    let key = private_key(ctx, cert, target, status).await?;
    let encoding = spec.private_key.as_ref().and_then(|k| k.encoding);
    let key_pem = to_pem(&key, encoding)?;

    let identifiers = csr::identifiers(&spec);
    let resumable = status
        .acme
        .as_ref()
        .and_then(|a| a.order.as_ref())
        .filter(|o| o.identifiers == identifiers && o.issuer.as_deref() == Some(&issuer.display()))
        .map(|o| o.url.clone());
    let profile = acme.profile.as_deref();
    let mut order = match &resumable {
        Some(url) => match order::open(account, server, &identifiers, profile, Some(url)).await {
            Ok(o) => o,
            // The CA no longer knows that order (or this account): start over.
            Err(AcmeError::Refused(_)) => {
                order::open(account, server, &identifiers, profile, None).await?
            }
            Err(e) => return Err(e.into()),
        },
        None => order::open(account, server, &identifiers, profile, None).await?,
    };
    if resumable.as_deref() != Some(order.url()) {
        ctx.metrics.order_created();
        let record = AcmeOrderStatus {
            url: order.url().to_string(),
            identifiers: identifiers.clone(),
            issuer: Some(issuer.display()),
            state: Some(order::state(&mut order)),
            created_at: Some(Time(ctx.now())),
            challenges: None,
        };
        status.acme.get_or_insert_with(CertificateAcmeStatus::default).order = Some(record);
        write::status(&ctx.client, cert, status).await?;
    }

    let challenges = order::pending_challenges(&mut order, server).await?;
    if !challenges.is_empty() {
        present(ctx, cert, issuer, &challenges, status, edited).await?;
        order::set_ready(&mut order, server).await?;
    }
    order::wait_ready(&mut order, server).await?;
    let csr = csr::build(&spec, &key)?;
    let chain = order::finalize(&mut order, server, &csr).await?;

    let issued =
        parse_chain(&chain).map_err(|e| IssueError::BadChain(format!("cannot be read: {e}")))?;
    if !issued.matches_key(&key) {
        return Err(IssueError::BadChain("does not match the private key".into()));
    }
    if issued.identifiers() != identifiers {
        let (got, want) = (issued.identifiers().join(" "), identifiers.join(" "));
        return Err(IssueError::BadChain(format!("covers [{got}] instead of [{want}]")));
    }
    Ok(Outcome { chain, key_pem, issued })
}

/// The key to finalize with: the in-flight one (so a resumed order keeps its key), the stored
/// one under `rotationPolicy: Never`, else a new one, saved before the order is opened.
async fn private_key(
    ctx: &Context,
    cert: &mut Certificate,
    target: Option<&Secret>,
    status: &mut CertificateStatus,
) -> Result<rcgen::KeyPair, IssueError> {
    let namespace = cert.namespace().unwrap_or_default();
    let want = KeySpec::from_spec(&cert.spec)?;
    let fits = |pem: &str| parse_pem(pem).ok().filter(|k| KeySpec::of(k) == Some(want));
    if let Some(name) = &status.next_private_key_secret_name {
        let api: kube::Api<Secret> = kube::Api::namespaced(ctx.client.clone(), &namespace);
        if let Some(key) =
            api.get_opt(name).await?.as_ref().and_then(secret::tls_key).and_then(|p| fits(&p))
        {
            return Ok(key);
        }
    }
    let never = cert.spec.private_key.as_ref().and_then(|k| k.rotation_policy)
        == Some(RotationPolicy::Never);
    if never && let Some(key) = target.and_then(secret::tls_key).and_then(|p| fits(&p)) {
        return Ok(key);
    }
    let key = want.generate()?;
    let next = secret::next_key_secret(cert, &to_pem(&key, None)?);
    write::secret(&ctx.client, &next).await?;
    status.next_private_key_secret_name = next.metadata.name.clone();
    write::status(&ctx.client, cert, status).await?;
    Ok(key)
}

/// Publishes the challenges (status, which every responder watches, and solver Ingresses),
/// then proves each is answered before the CA is told to look.
async fn present(
    ctx: &Context,
    cert: &mut Certificate,
    issuer: &IssuerView,
    challenges: &[Http01Challenge],
    status: &mut CertificateStatus,
    edited: &mut Vec<String>,
) -> Result<(), IssueError> {
    if let Some(order) = status.acme.as_mut().and_then(|a| a.order.as_mut()) {
        order.challenges = Some(challenges.to_vec());
        order.state = Some("pending".into());
    }
    write::status(&ctx.client, cert, status).await?;
    let solvers = issuer.spec.acme.as_ref().and_then(|a| a.solvers.clone()).unwrap_or_default();
    let labels = cert.labels().clone();
    let uid = cert.uid().unwrap_or_default();
    let namespace = cert.namespace().unwrap_or_default();
    // The ingress-shim's overrides (cert-manager's names), set on the Certificate.
    let overrides = cert.annotations().clone();
    for challenge in challenges {
        let mut solver = solver::select(&solvers, &challenge.host, &labels)
            .and_then(|s| s.http01.as_ref()?.ingress.clone())
            .ok_or_else(|| {
                IssueError::Challenge(format!(
                    "{} has no HTTP-01 ingress solver for {}",
                    issuer.display(),
                    challenge.host
                ))
            })?;
        if let Some(class) = overrides.get(OVERRIDE_CLASS) {
            (solver.class, solver.ingress_class_name) = (Some(class.clone()), None);
        }
        if let Some(class) = overrides.get(OVERRIDE_CLASS_NAME) {
            (solver.class, solver.ingress_class_name) = (None, Some(class.clone()));
        }
        match overrides.get(OVERRIDE_INGRESS_NAME).or(solver.name.as_ref()) {
            Some(name) => {
                if !edited.contains(name) {
                    edited.push(name.clone());
                }
                edit_in_place::add(&ctx.client, &ctx.config, &namespace, name, challenge).await?;
            }
            None => {
                let ingress = solver_ingress::build(&ctx.config, &uid, challenge, &solver);
                solver_ingress::apply(&ctx.client, &ingress).await?;
            }
        }
    }
    for challenge in challenges {
        await_answered(ctx, challenge).await?;
    }
    Ok(())
}

/// Waits until the challenge is answered: through the real path when the self-check is on,
/// else until this replica's responder knows it.
async fn await_answered(ctx: &Context, c: &Http01Challenge) -> Result<(), IssueError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let problem = if ctx.config.http01_self_check {
            let address = ctx.config.http01_self_check_address.as_deref();
            self_check::check(&c.host, &c.token, &c.key_authorization, address).await.err()
        } else if ctx.challenges.lookup(&c.host, &c.token).is_none() {
            Some(format!("the responder has not seen the challenge for {} yet", c.host))
        } else {
            None
        };
        match problem {
            None => return Ok(()),
            Some(p) if tokio::time::Instant::now() >= deadline => {
                return Err(IssueError::Challenge(p));
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
