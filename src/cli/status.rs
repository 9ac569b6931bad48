//! `certsmith status`: a Certificate, its conditions, the CertificateRequest → Order → Challenge
//! chain under it, and the Events on all of them.

use crate::api::gateway::{GROUP, HTTPRoute, ParentReference};
use crate::api::meta::{ConditionStatus, controlled_by};
use crate::api::{Certificate, CertificateRequest, Challenge, Order};
use k8s_openapi::api::core::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use std::fmt::Write as _;

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
    let challenges = Api::<Challenge>::namespaced(client.clone(), namespace).list(&lp).await?;
    let mut any = false;
    // Everything shown, for the Events section.
    let mut shown: Vec<String> = uid.iter().cloned().collect();
    for cr in requests.items.iter().filter(|r| controlled_by(r.owner_references(), uid.as_deref()))
    {
        any = true;
        shown.extend(cr.metadata.uid.clone());
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
            shown.extend(order.metadata.uid.clone());
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
                shown.extend(ch.metadata.uid.clone());
                let s = ch.status.clone().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "      Challenge {} for {}: {}: {}",
                    ch.metadata.name.as_deref().unwrap_or(""),
                    ch.spec.dns_name,
                    s.state.map(|s| s.as_str()).unwrap_or("-"),
                    s.reason.as_deref().unwrap_or("")
                );
                if crate::solver::dns_persist::answers(ch) {
                    let name = crate::solver::dns_persist::record_name(&ch.spec.dns_name)
                        .map(|n| n.to_string())
                        .unwrap_or_default();
                    let key = &ch.spec.key;
                    let _ = writeln!(
                        out,
                        "        dns-persist-01, written once by you: {name} TXT {key:?}"
                    );
                }
                if ch.spec.solver.http01.as_ref().is_some_and(|h| h.gateway_http_route.is_some()) {
                    let name = crate::http01::solver_name(ch);
                    let routes = Api::<HTTPRoute>::namespaced(client.clone(), namespace);
                    let route = match routes.get(&name).await {
                        Ok(route) => Ok(Some(route)),
                        // Not found, or no HTTPRoute kind on a cluster without Gateway API.
                        Err(kube::Error::Api(e)) if e.code == 404 => Ok(None),
                        // Gateway API's kinds are not in the built-in roles a reader may hold.
                        Err(kube::Error::Api(e)) => Err(e.message),
                        Err(e) => return Err(e),
                    };
                    let _ = writeln!(out, "        {}", route_line(&name, namespace, route));
                }
            }
        }
    }
    if !any {
        let _ = writeln!(out, "  No CertificateRequest.");
    }
    let events = Api::<Event>::namespaced(client, namespace).list(&lp).await?;
    out.push_str(&events_section(&events.items, &shown));
    Ok(out)
}

/// A Challenge's solver HTTPRoute (`http01.gatewayHTTPRoute`): its parents, each with the
/// `Accepted` condition the Gateway implementation wrote for it (`-`: none yet). `route`: the
/// route if it exists, or why it could not be read. Pure.
fn route_line(name: &str, namespace: &str, route: Result<Option<HTTPRoute>, String>) -> String {
    let route = match route {
        Ok(Some(route)) => route,
        Ok(None) => return format!("HTTPRoute {name}: not found"),
        Err(why) => return format!("HTTPRoute {name}: cannot be read: {why}"),
    };
    if route.spec.parent_refs.is_empty() {
        return format!("HTTPRoute {name}: no parentRefs");
    }
    // The parent as the API server defaults it: a status echoes the reference either way.
    let full = |p: &ParentReference| {
        let mut p = p.clone();
        p.group.get_or_insert_with(|| GROUP.into());
        p.kind.get_or_insert_with(|| "Gateway".into());
        p.namespace.get_or_insert_with(|| namespace.into());
        p
    };
    let statuses = route.status.map(|s| s.parents).unwrap_or_default();
    let parents: Vec<String> = route
        .spec
        .parent_refs
        .iter()
        .map(|p| {
            let mut label = match p.kind.as_deref() {
                None | Some("Gateway") => String::new(),
                Some(kind) => format!("{kind} "),
            };
            if let Some(ns) = p.namespace.as_deref().filter(|ns| *ns != namespace) {
                label.push_str(&format!("{ns}/"));
            }
            label.push_str(&p.name);
            if let Some(section) = &p.section_name {
                label.push_str(&format!(" listener {section}"));
            }
            if let Some(port) = p.port {
                label.push_str(&format!(" port {port}"));
            }
            let accepted: Vec<String> = statuses
                .iter()
                .filter(|s| full(&s.parent_ref) == full(p))
                .filter_map(|s| s.conditions.iter().find(|c| c.type_ == "Accepted"))
                .map(|c| match c.status.as_str() {
                    "True" => c.status.clone(),
                    _ => format!("{} ({}): {}", c.status, c.reason, c.message),
                })
                .collect();
            let accepted = if accepted.is_empty() { "-".into() } else { accepted.join("; ") };
            format!("{label} (Accepted: {accepted})")
        })
        .collect();
    format!("HTTPRoute {name}: {}", parents.join(", "))
}

/// The Events on the objects shown, oldest first, as `kubectl describe` lists them.
fn events_section(events: &[Event], uids: &[String]) -> String {
    let when = |e: &Event| {
        let series = e.series.as_ref().and_then(|s| s.last_observed_time.as_ref()).map(|t| t.0);
        let last = e.last_timestamp.as_ref().map(|t| t.0);
        series.or(e.event_time.as_ref().map(|t| t.0)).or(last)
    };
    let mut ours: Vec<&Event> = events
        .iter()
        .filter(|e| e.involved_object.uid.as_ref().is_some_and(|u| uids.contains(u)))
        .collect();
    ours.sort_by_key(|e| when(e));
    let mut out = String::from("Events:\n");
    if ours.is_empty() {
        out.push_str("  none\n");
    }
    for e in ours {
        let object = &e.involved_object;
        let times = e.series.as_ref().and_then(|s| s.count).or(e.count).filter(|n| *n > 1);
        let _ = writeln!(
            out,
            "  {} {} {} {}/{}{}: {}",
            when(e).map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            e.type_.as_deref().unwrap_or(""),
            e.reason.as_deref().unwrap_or(""),
            object.kind.as_deref().unwrap_or(""),
            object.name.as_deref().unwrap_or(""),
            times.map(|n| format!(" (x{n})")).unwrap_or_default(),
            e.message.as_deref().unwrap_or("")
        );
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn route(yaml: &str) -> HTTPRoute {
        serde_yaml::from_str(&format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
             metadata: {{name: r, namespace: shop}}\n{yaml}"
        ))
        .unwrap()
    }

    #[test]
    fn a_solver_route_shows_each_parent_with_what_its_gateway_said() {
        let accepted = |parent: &str, status: &str, reason: &str| {
            format!(
                "{{parentRef: {parent}, controllerName: example.com/gw, conditions: [{{type: Accepted, \
                 status: '{status}', reason: {reason}, message: 'said {reason}', \
                 lastTransitionTime: '2026-01-01T00:00:00Z'}}]}}"
            )
        };
        let spec = "spec: {parentRefs: [{name: gw}, {name: edge, namespace: infra, sectionName: http}, \
                    {name: team-a, kind: ListenerSet}]}\n";
        // The implementation echoes the references defaulted; the ListenerSet has no word yet.
        let both = route(&format!(
            "{spec}status: {{parents: [{}, {}]}}\n",
            accepted(
                "{group: gateway.networking.k8s.io, kind: Gateway, name: gw, namespace: shop}",
                "True",
                "Accepted"
            ),
            accepted(
                "{name: edge, namespace: infra, sectionName: http}",
                "False",
                "NotAllowedByListeners"
            ),
        ));
        let cases = [
            (
                Ok(Some(both)),
                "HTTPRoute certsmith-http01-x: gw (Accepted: True), infra/edge listener http \
                 (Accepted: False (NotAllowedByListeners): said NotAllowedByListeners), \
                 ListenerSet team-a (Accepted: -)",
            ),
            (
                Ok(Some(route(spec))),
                "HTTPRoute certsmith-http01-x: gw (Accepted: -), infra/edge listener http \
                 (Accepted: -), ListenerSet team-a (Accepted: -)",
            ),
            (Ok(Some(route("spec: {}\n"))), "HTTPRoute certsmith-http01-x: no parentRefs"),
            (Ok(None), "HTTPRoute certsmith-http01-x: not found"),
            (
                Err("httproutes is forbidden".into()),
                "HTTPRoute certsmith-http01-x: cannot be read: httproutes is forbidden",
            ),
        ];
        for (route, want) in cases {
            assert_eq!(route_line("certsmith-http01-x", "shop", route), want);
        }
    }
}
