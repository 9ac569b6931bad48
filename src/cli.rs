//! `certsmith renew` and `certsmith status`: the cmctl-like commands a user runs by hand.

use crate::api::Certificate;
use crate::api::meta::ConditionStatus;
use crate::api::meta::set_condition;
use crate::certificate::policy::MANUALLY_TRIGGERED;
use kube::api::Api;
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

/// The Certificate's state in plain words: conditions, dates, the order in flight, the last failure.
pub async fn status(
    client: kube::Client,
    namespace: &str,
    name: &str,
) -> Result<String, kube::Error> {
    let api: Api<Certificate> = Api::namespaced(client, namespace);
    Ok(describe(&api.get(name).await?))
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
    match s.acme.as_ref().and_then(|a| a.order.as_ref()) {
        Some(order) => {
            let _ = writeln!(
                out,
                "  Order:      {} ({}) for {}",
                order.url,
                order.state.as_deref().unwrap_or("?"),
                order.identifiers.join(", ")
            );
            for c in order.challenges.iter().flatten() {
                let _ = writeln!(
                    out,
                    "    challenge http://{}/.well-known/acme-challenge/{}",
                    c.host, c.token
                );
            }
        }
        None => {
            let _ = writeln!(out, "  Order:      none in flight");
        }
    }
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
