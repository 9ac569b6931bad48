//! The Issuer and ClusterIssuer controller: validate, then report Ready: an ACME account
//! registered, a SelfSigned issuer at once, a CA issuer's key pair verified.

use super::{IssuerView, ignored};
use crate::api::issuer::IssuerStatus;
use crate::api::meta::{ConditionStatus, set_condition};
use crate::api::{ClusterIssuer, Issuer, IssuerKind};
use crate::context::Context;
use crate::pki::sign::{CaError, CaKeyPair};
use crate::solver::dns_persist;
use crate::validation::{Invalid, validate_issuer};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

pub async fn reconcile_issuer(issuer: Arc<Issuer>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api: Api<Issuer> =
        Api::namespaced(ctx.client.clone(), &issuer.namespace().unwrap_or_default());
    let view = IssuerView::issuer(&issuer);
    reconcile(&*issuer, &api, view, &ctx).await
}

pub async fn reconcile_cluster_issuer(
    issuer: Arc<ClusterIssuer>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let api: Api<ClusterIssuer> = Api::all(ctx.client.clone());
    let view = IssuerView::cluster_issuer(&issuer, ctx.config.cluster_resource_namespace());
    reconcile(&*issuer, &api, view, &ctx).await
}

async fn reconcile<K>(
    obj: &K,
    api: &Api<K>,
    view: IssuerView,
    ctx: &Context,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    // cert-manager's controller names: `issuers`, `clusterissuers`.
    ctx.metrics.reconciled(&format!("{}s", K::kind(&()).to_lowercase()));
    let old = view.status.clone().unwrap_or_default();
    let Readiness { ready, reason, message, acme, action } = readiness(ctx, &view, &old).await?;
    let find = |type_: &str| old.conditions.iter().flatten().find(|c| c.type_ == type_).cloned();
    let value = if ready { ConditionStatus::True } else { ConditionStatus::False };
    let unchanged = find("Ready").is_some_and(|c| {
        c.status == value
            && c.reason.as_deref() == Some(reason)
            && c.message.as_deref().unwrap_or_default() == message
    });
    let ignored = ignored::ignored(&view.spec).join("; ");
    let said = find(ignored::CONDITION).and_then(|c| c.message).unwrap_or_default();
    let record = persist_record(&view, acme.as_ref(), ctx.now()).await;
    let shown = find(dns_persist::CONDITION).map(|c| (c.status, c.message.unwrap_or_default()));
    let record_unchanged = shown == record.as_ref().map(|(s, _, m)| (*s, m.clone()));
    if unchanged && old.acme == acme && said == ignored && record_unchanged {
        return Ok(action);
    }
    let mut status = IssuerStatus { conditions: old.conditions.clone(), acme };
    let generation = obj.meta().generation;
    set_condition(&mut status.conditions, "Ready", value, reason, &message, generation, ctx.now());
    if ignored.is_empty() {
        status.conditions.iter_mut().for_each(|cs| cs.retain(|c| c.type_ != ignored::CONDITION));
    } else {
        let (type_, yes, now) = (ignored::CONDITION, ConditionStatus::True, ctx.now());
        let reason = "IgnoredFields";
        set_condition(&mut status.conditions, type_, yes, reason, &ignored, generation, now);
    }
    match &record {
        None => status
            .conditions
            .iter_mut()
            .for_each(|cs| cs.retain(|c| c.type_ != dns_persist::CONDITION)),
        Some((yes, reason, message)) => {
            let (type_, now) = (dns_persist::CONDITION, ctx.now());
            set_condition(&mut status.conditions, type_, *yes, reason, message, generation, now);
        }
    }
    let body = serde_json::json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &obj.meta().name.clone().unwrap_or_default(),
        &PatchParams::apply(crate::FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await?;
    if !unchanged && !message.is_empty() {
        ctx.event(&obj.object_ref(&()), !ready, reason, message).await;
    }
    if said != ignored && !ignored.is_empty() {
        ctx.event(&obj.object_ref(&()), true, "IgnoredFields", ignored).await;
    }
    Ok(action)
}

/// The dns-persist-01 record an opted-in ACME issuer's account needs, for its condition: what
/// a DNS team creates once per name (or why it cannot be said yet).
async fn persist_record(
    view: &IssuerView,
    acme: Option<&crate::api::issuer::AcmeIssuerStatus>,
    now: jiff::Timestamp,
) -> Option<(ConditionStatus, &'static str, String)> {
    if !view.dns_persist || view.spec.acme.is_none() {
        return None;
    }
    let Some(uri) = acme.and_then(|a| a.uri.as_deref()).filter(|u| !u.is_empty()) else {
        let why = "the record names the ACME account, which is not registered yet";
        return Some((ConditionStatus::False, "AccountNotRegistered", why.into()));
    };
    Some(match dns_persist::persist(view, uri, now).await {
        Ok(Some(p)) => {
            let value = dns_persist::record_value(&p.issuer_domain_name, &p.account_uri, false);
            let message = format!(
                "For each DNS name this issuer's DNS-01 solvers select, create once: \
                 _validation-persist.<name> TXT \"{value}\" (add \"; policy=wildcard\" to also \
                 authorize *.<name> and every name under it)"
            );
            (ConditionStatus::True, "RecordNamed", message)
        }
        Ok(None) => return None,
        Err(why) => (ConditionStatus::False, "NoIssuerDomainName", why),
    })
}

/// What the issuer's Ready condition says, the account it records, and when to look again.
struct Readiness {
    ready: bool,
    reason: &'static str,
    message: String,
    acme: Option<crate::api::issuer::AcmeIssuerStatus>,
    action: Action,
}

/// Ready by kind, in cert-manager's reasons: a SelfSigned issuer at once, a CA issuer when its
/// key pair is verified, an ACME issuer when its account is registered.
async fn readiness(
    ctx: &Context,
    view: &IssuerView,
    old: &IssuerStatus,
) -> Result<Readiness, Error> {
    if let Err(e) = Invalid::check(validate_issuer(&view.spec)) {
        let (reason, message) = ("InvalidSpec", e.to_string());
        let (acme, action) = (old.acme.clone(), Action::await_change());
        return Ok(Readiness { ready: false, reason, message, acme, action });
    }
    Ok(match view.spec.kind() {
        // cert-manager's words: Ready at once, with nothing to say.
        IssuerKind::SelfSigned(_) => Readiness {
            ready: true,
            reason: "IsReady",
            message: String::new(),
            acme: None,
            action: Action::await_change(),
        },
        IssuerKind::Ca(ca) => {
            let (ready, reason, message) =
                ca_key_pair(ctx, &view.secrets_namespace, &ca.secret_name).await?;
            // The Secret is watched when certsmith wrote it; one written by hand is looked at
            // again.
            let again = if ready { 3600 } else { 60 };
            let action = Action::requeue(Duration::from_secs(again));
            Readiness { ready, reason, message, acme: None, action }
        }
        IssuerKind::Acme(_) => match ctx.accounts.read(&ctx.client, &ctx.events, view).await {
            Ok((_, acme)) => Readiness {
                ready: true,
                reason: "ACMEAccountRegistered",
                message: "The ACME account was registered with the ACME server".into(),
                acme: Some(acme),
                action: Action::requeue(Duration::from_secs(3600)),
            },
            Err(e) => Readiness {
                ready: false,
                reason: "ErrRegisterACMEAccount",
                message: format!("Failed to register ACME account: {e}"),
                acme: old.acme.clone(),
                action: Action::requeue(Duration::from_secs(30)),
            },
        },
        IssuerKind::Unsupported(types) => Readiness {
            ready: false,
            reason: "Unsupported",
            message: format!(
                "certsmith issues through ACME, SelfSigned and CA issuers only; this is a {} issuer",
                types.join(", ")
            ),
            acme: None,
            action: Action::await_change(),
        },
    })
}

/// A CA issuer's readiness, in cert-manager's reasons and words: its Secret must hold a CA
/// certificate and the private key that belongs to it.
async fn ca_key_pair(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<(bool, &'static str, String), Error> {
    const WORDS: &str = "Error getting keypair for CA issuer: ";
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(ctx.client.clone(), namespace);
    let Some(secret) = secrets.get_opt(name).await? else {
        return Ok((false, "ErrGetKeyPair", format!("{WORDS}secret {namespace}/{name} not found")));
    };
    Ok(match CaKeyPair::from_secret(&secret) {
        Ok(pair) => match pair.expired(ctx.now()) {
            None => (true, "KeyPairVerified", "Signing CA verified".into()),
            Some(at) => {
                let message = format!("{WORDS}the CA certificate expired at {at}: renew it");
                (false, "ErrInvalidKeyPair", message)
            }
        },
        Err(e @ CaError::NotCa) => (false, "ErrInvalidKeyPair", format!("{WORDS}{e}")),
        Err(e) => (false, "ErrGetKeyPair", format!("{WORDS}secret {namespace}/{name}: {e}")),
    })
}
