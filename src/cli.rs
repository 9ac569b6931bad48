//! `certsmith renew` and `certsmith status`: the cmctl-like commands a user runs by hand.

use crate::api::meta::set_condition;
use crate::api::meta::{ConditionStatus, controlled_by};
use crate::api::{Certificate, CertificateRequest, Challenge, Order};
use crate::certificate::policy::MANUALLY_TRIGGERED;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use std::fmt::Write as _;

/// Marks the Certificate for re-issue, as `cmctl renew` does: Issuing=True, ManuallyTriggered.
pub async fn renew(client: kube::Client, namespace: &str, name: &str) -> Result<(), kube::Error> {
    let api: Api<Certificate> = Api::namespaced(client.clone(), namespace);
    // The status write is conditional on the version read; retry if the operator wrote between.
    let mut attempts = 0;
    loop {
        let mut cert = api.get(name).await?;
        let mut status = cert.status.clone().unwrap_or_default();
        let message = "Certificate re-issuance manually triggered";
        let now = jiff::Timestamp::now();
        let generation = cert.metadata.generation;
        set_condition(
            &mut status.conditions,
            "Issuing",
            ConditionStatus::True,
            MANUALLY_TRIGGERED,
            message,
            generation,
            now,
        );
        match crate::certificate::write::status(&client, &mut cert, &status).await {
            Err(kube::Error::Api(e)) if e.code == 409 && attempts < 5 => attempts += 1,
            other => return other,
        }
    }
}

/// The Certificate's state in plain words, then the chain cert-manager's runbooks walk:
/// its CertificateRequests → their Orders → their Challenges, each with its state.
pub async fn status(
    client: kube::Client,
    namespace: &str,
    name: &str,
) -> Result<String, kube::Error> {
    let certs: Api<Certificate> = Api::namespaced(client.clone(), namespace);
    let cert = certs.get(name).await?;
    let mut out = describe(&cert);
    let uid = cert.metadata.uid.clone();
    let lp = ListParams::default();
    let requests =
        Api::<CertificateRequest>::namespaced(client.clone(), namespace).list(&lp).await?;
    let orders = Api::<Order>::namespaced(client.clone(), namespace).list(&lp).await?;
    let challenges = Api::<Challenge>::namespaced(client, namespace).list(&lp).await?;
    let mut any = false;
    for cr in requests.items.iter().filter(|r| controlled_by(r.owner_references(), uid.as_deref()))
    {
        any = true;
        let cond =
            |t: &str| cr.condition(t).map(|c| format!("{t}={:?}", c.status)).unwrap_or_default();
        let ready = cr.condition("Ready");
        let states: Vec<String> = [
            cond("Approved"),
            cond("Denied"),
            ready
                .map(|c| format!("Ready={:?} ({})", c.status, c.reason.as_deref().unwrap_or("")))
                .unwrap_or_default(),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
        let _ = writeln!(
            out,
            "  CertificateRequest {} (revision {}): {}: {}",
            cr.metadata.name.as_deref().unwrap_or(""),
            cr.revision().map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
            states.join(" "),
            ready.and_then(|c| c.message.as_deref()).unwrap_or("")
        );
        let cr_uid = cr.metadata.uid.clone();
        for order in
            orders.items.iter().filter(|o| controlled_by(o.owner_references(), cr_uid.as_deref()))
        {
            let s = order.status.clone().unwrap_or_default();
            let _ = writeln!(
                out,
                "    Order {}: {} {}{}",
                order.metadata.name.as_deref().unwrap_or(""),
                s.state.map(|s| s.as_str()).unwrap_or("-"),
                s.url.as_deref().unwrap_or(""),
                s.reason.map(|r| format!(": {r}")).unwrap_or_default()
            );
            let order_uid = order.metadata.uid.clone();
            for ch in challenges
                .items
                .iter()
                .filter(|c| controlled_by(c.owner_references(), order_uid.as_deref()))
            {
                let s = ch.status.clone().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "      Challenge {} for {}: {}: {}",
                    ch.metadata.name.as_deref().unwrap_or(""),
                    ch.spec.dns_name,
                    s.state.map(|s| s.as_str()).unwrap_or("-"),
                    s.reason.as_deref().unwrap_or("")
                );
            }
        }
    }
    if !any {
        let _ = writeln!(out, "  No CertificateRequest.");
    }
    Ok(out)
}

pub fn describe(cert: &Certificate) -> String {
    let mut out = String::new();
    let spec = &cert.spec;
    let s = cert.status.clone().unwrap_or_default();
    let issuer =
        format!("{}/{}", spec.issuer_ref.kind.as_deref().unwrap_or("Issuer"), spec.issuer_ref.name);
    let _ = writeln!(
        out,
        "Certificate {}/{}",
        cert.metadata.namespace.as_deref().unwrap_or(""),
        cert.metadata.name.as_deref().unwrap_or("")
    );
    let _ = writeln!(out, "  Secret:     {}", spec.secret_name);
    let _ = writeln!(out, "  Issuer:     {issuer}");
    let _ = writeln!(out, "  Names:      {}", crate::pki::csr::identifiers(spec).join(", "));
    for c in s.conditions.iter().flatten() {
        let status = match c.status {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        };
        let since =
            c.last_transition_time.as_ref().map(|t| format!(" since {}", t.0)).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}: {status} ({}){since}: {}",
            c.type_,
            c.reason.as_deref().unwrap_or(""),
            c.message.as_deref().unwrap_or("")
        );
    }
    let time = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        t.as_ref().map(|t| t.0.to_string()).unwrap_or_else(|| "-".into())
    };
    let _ = writeln!(out, "  Valid:      {} to {}", time(&s.not_before), time(&s.not_after));
    let _ = writeln!(out, "  Renewal:    {}", time(&s.renewal_time));
    let _ = writeln!(
        out,
        "  Revision:   {}",
        s.revision.map(|r| r.to_string()).unwrap_or_else(|| "-".into())
    );
    if let Some(n) = s.failed_issuance_attempts {
        let failure = s
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Issuing")
            .and_then(|c| c.message.clone())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  Last failure: {} ({n} in a row): {failure}",
            time(&s.last_failure_time)
        );
    }
    out
}
