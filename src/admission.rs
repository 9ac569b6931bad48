//! Whether a CertificateRequest's requester can be trusted. External approvers (approver-policy)
//! decide on `spec.username`, `uid`, `groups` and `extra`; with cert-manager, its webhook
//! overwrites them with who created the request. Without a webhook, only the chart's
//! MutatingAdmissionPolicy `certsmith-certificaterequest-identity` does (Kubernetes 1.36+, where
//! admissionregistration.k8s.io/v1 serves it by default); elsewhere a client writes whatever
//! identity it likes, and an approval made on it means nothing.
//!
//! How certsmith knows, through the API server itself: API discovery says whether
//! MutatingAdmissionPolicies are served at all, and the policy and its binding are read by name
//! (the chart grants `get` on exactly those). A request is trusted only when both exist, the
//! binding names the policy, the request was created `SETTLE` after the later of them (so every
//! API server enforced it), and they still exist `SETTLE` after the request was created (see
//! `Identities::judge`). Their content is not checked: whoever may edit admission policies is
//! a cluster administrator. A look serves every request it can for `FRESH`, so a burst of
//! requests costs a look every few seconds, not one each.
//!
//! Only requests an external approver approved are held to this (certsmith's built-in approver
//! approves regardless of identity, as cert-manager's does): those are not signed, and say why.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, ApiResource, DynamicObject};
use std::sync::Mutex;
use std::time::Duration;

/// The chart's MutatingAdmissionPolicy and its binding (charts/certsmith/templates/
/// admission-requests.yaml), one name for both.
pub const IDENTITY_POLICY: &str = "certsmith-certificaterequest-identity";
const GROUP: &str = "admissionregistration.k8s.io";
const VERSION: &str = "v1";
/// How long what was found is taken as true.
const FRESH: SignedDuration = SignedDuration::from_secs(30);
/// How long after the policy and its binding were created every API server enforces them: each
/// learns of them through its own watch, within a second or two.
const SETTLE: SignedDuration = SignedDuration::from_secs(10);
/// Requests are judged at the next multiple of this (milliseconds) after they may be.
const BATCH_MS: i64 = 5_000;

/// What the API server says about the identity policy.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// MutatingAdmissionPolicies are not served (Kubernetes before 1.36, or turned off).
    NotServed,
    /// Served, but this object of the chart's (its kind) is missing or names another policy.
    Missing(&'static str),
    /// Both in place since then (the later creation).
    Since(Timestamp),
    /// The API server's answer did not say (an error, or no right to read them).
    Unknown(String),
}

/// Why a request created at `created` cannot be trusted, given what was `found`; `None` when
/// it can. Pure.
pub fn distrust(found: &Found, created: Option<Timestamp>) -> Option<String> {
    let nothing = "so nothing replaces the spec.username, uid, groups and extra the client wrote \
                   with who created the request";
    match found {
        Found::NotServed => Some(format!(
            "the API server serves no MutatingAdmissionPolicy ({GROUP}/{VERSION}, on by default \
             from Kubernetes 1.36), {nothing}"
        )),
        Found::Missing(kind) => Some(format!(
            "the {kind} {IDENTITY_POLICY} is not installed (chart value \
             admissionPolicies), {nothing}"
        )),
        Found::Since(since) => {
            let enforced = *since + SETTLE;
            created.is_none_or(|c| c < enforced).then(|| {
                format!(
                    "the request was created before the MutatingAdmissionPolicy \
                     {IDENTITY_POLICY} took effect ({enforced}), so its spec.username, uid, \
                     groups and extra may be the client's own words; delete it for a new one"
                )
            })
        }
        Found::Unknown(why) => Some(format!(
            "cannot tell whether the MutatingAdmissionPolicy {IDENTITY_POLICY} is in place: {why}"
        )),
    }
}

/// Looks: discovery, then the policy and its binding by name.
pub async fn look(client: &kube::Client) -> Found {
    let served = match client.list_api_group_resources(&format!("{GROUP}/{VERSION}")).await {
        Ok(list) => list.resources.iter().any(|r| r.name == "mutatingadmissionpolicies"),
        Err(kube::Error::Api(e)) if e.code == 404 => false,
        Err(e) => return Found::Unknown(crate::acme::api_message(&e)),
    };
    if !served {
        return Found::NotServed;
    }
    let mut since = None;
    let kinds = [
        ("MutatingAdmissionPolicy", "mutatingadmissionpolicies"),
        ("MutatingAdmissionPolicyBinding", "mutatingadmissionpolicybindings"),
    ];
    for (kind, plural) in kinds {
        let resource = ApiResource {
            group: GROUP.into(),
            version: VERSION.into(),
            api_version: format!("{GROUP}/{VERSION}"),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let object = match api.get_opt(IDENTITY_POLICY).await {
            Ok(Some(object)) => object,
            Ok(None) => return Found::Missing(kind),
            Err(e) => return Found::Unknown(crate::acme::api_message(&e)),
        };
        let names = object.data["spec"]["policyName"].as_str();
        if kind.ends_with("Binding") && names != Some(IDENTITY_POLICY) {
            return Found::Missing(kind);
        }
        let created = object.metadata.creation_timestamp.map(|t| t.0);
        since = since.max(created);
    }
    // An object the API server returned always has a creation time.
    since.map(Found::Since).unwrap_or_else(|| Found::Unknown("no creationTimestamp".into()))
}

/// What a request's reconcile does about its requester.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Trusted,
    /// Too young to judge: every API server must have had `SETTLE` to admit it, and the look
    /// must come after that (a policy deleted just before it was made would be missed).
    Wait(Duration),
    /// Not trusted, and why.
    Distrusted(String),
}

/// The last look (when, by certsmith's clock, and what was found).
#[derive(Default)]
pub struct Identities(Mutex<Option<(Timestamp, Found)>>);

impl Identities {
    /// What the API server says, from a look made at or after `not_before` and less than `FRESH`
    /// ago, else from a new look.
    pub async fn found(
        &self,
        client: &kube::Client,
        not_before: Timestamp,
        now: Timestamp,
    ) -> Found {
        let kept = self.0.lock().ok().and_then(|k| k.clone());
        let fresh =
            |looked: &Timestamp| *looked >= not_before && now.duration_since(*looked) < FRESH;
        if let Some((_, found)) = kept.filter(|(looked, _)| fresh(looked)) {
            return found;
        }
        let found = look(client).await;
        if let Ok(mut kept) = self.0.lock() {
            *kept = Some((now, found.clone()));
        }
        found
    }

    /// Whether a request created at `created` carries its requester's identity. Trusted only
    /// when the policy and its binding were in place `SETTLE` before it was created and still
    /// are, as seen by a look made `SETTLE` after: each is the same object throughout (a
    /// re-created one has a later creation time), so it was in place when the request was
    /// admitted, whatever certsmith's clock is off by, up to `SETTLE`.
    pub async fn judge(
        &self,
        client: &kube::Client,
        created: Option<Timestamp>,
        now: Timestamp,
    ) -> Verdict {
        let Some(created) = created else {
            return Verdict::Distrusted("the request has no creationTimestamp".into());
        };
        let judged_at = created + SETTLE;
        // Requests judged within the same few seconds share one look: a burst costs a look
        // every `BATCH`, not one each.
        let due = judged_at.as_millisecond().div_euclid(BATCH_MS).saturating_add(1) * BATCH_MS;
        let due = Timestamp::from_millisecond(due).unwrap_or(judged_at);
        if now < due {
            return Verdict::Wait(due.duration_since(now).unsigned_abs());
        }
        match distrust(&self.found(client, judged_at, now).await, Some(created)) {
            None => Verdict::Trusted,
            Some(why) => Verdict::Distrusted(why),
        }
    }
}

/// Says at start whether requests carry their requester's identity: a log line, and, when an
/// external approver decides (certsmith's approver off) and they do not, a Warning Event
/// `IdentityUnverified` on certsmith's Lease. Said once: each request held back says it again,
/// and a policy installed later is found by the next request's look.
pub async fn announce(ctx: std::sync::Arc<crate::context::Context>) {
    let now = ctx.now();
    let found = ctx.identities.found(&ctx.client, now, now).await;
    let Some(why) = distrust(&found, Some(Timestamp::MAX)) else {
        tracing::info!("{IDENTITY_POLICY} is in place: CertificateRequests carry their requester");
        return;
    };
    if ctx.config.approver_enabled() {
        tracing::info!(
            "{why}; certsmith's own approver approves regardless of it, but an external \
             approver (disableAutoApproval) could not trust it"
        );
        return;
    }
    let lease = ObjectReference {
        api_version: Some("coordination.k8s.io/v1".into()),
        kind: Some("Lease".into()),
        namespace: Some(ctx.config.namespace.clone()),
        name: Some(crate::leader::LEASE_NAME.into()),
        ..Default::default()
    };
    let note = format!(
        "{why}: certsmith's approver is off, and it signs no CertificateRequest an external \
         approver approves until the policy is in place"
    );
    ctx.event(&lease, true, REASON, note).await;
}

/// The Event reason, on the Lease at start and on each request not signed.
pub const REASON: &str = "IdentityUnverified";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_made_after_the_policy_took_effect_are_trusted() {
        let at: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let secs = |s| Some(at + SignedDuration::from_secs(s));
        let since = Found::Since(at);
        let table = [
            (&since, secs(11), None),
            (&since, secs(10), None),
            (&since, secs(9), Some("created before the MutatingAdmissionPolicy")),
            (&since, secs(-60), Some("delete it for a new one")),
            (&since, None, Some("created before")),
            (&Found::NotServed, secs(60), Some("serves no MutatingAdmissionPolicy")),
            (&Found::Missing("MutatingAdmissionPolicyBinding"), secs(60), Some("Binding")),
            (&Found::Unknown("forbidden".into()), secs(60), Some("cannot tell")),
        ];
        for (found, created, says) in table {
            let why = distrust(found, created);
            match says {
                None => assert_eq!(why, None, "{found:?} {created:?}"),
                Some(words) => {
                    let why = why.unwrap_or_else(|| panic!("{found:?} {created:?} trusted"));
                    assert!(why.contains(words), "{why}");
                }
            }
        }
    }
}
