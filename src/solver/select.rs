//! Which of an issuer's solvers answers the challenge for a name: cert-manager's rule, the
//! most specific selector wins (an exact dnsNames entry, then the longest dnsZones match, then
//! the most matchLabels), ties to the first listed. Pure.

use crate::api::acme::AcmeChallengeSolver;
use std::collections::BTreeMap;

/// The solver for `name` on a Certificate labelled `labels`, if any selects it.
pub fn select<'a>(
    solvers: &'a [AcmeChallengeSolver],
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Option<&'a AcmeChallengeSolver> {
    let bare = name.strip_prefix("*.").unwrap_or(name);
    let mut best: Option<((bool, usize, usize), &AcmeChallengeSolver)> = None;
    for solver in solvers {
        let Some(score) = score(solver, name, bare, labels) else { continue };
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, solver));
        }
    }
    best.map(|(_, s)| s)
}

/// (exact name match, matched zone length, matched label count), or `None` when the selector
/// excludes the name.
fn score(
    solver: &AcmeChallengeSolver,
    name: &str,
    bare: &str,
    labels: &BTreeMap<String, String>,
) -> Option<(bool, usize, usize)> {
    let Some(sel) = &solver.selector else { return Some((false, 0, 0)) };
    let want = sel.match_labels.clone().unwrap_or_default();
    if !want.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        return None;
    }
    let names = sel.dns_names.as_deref().unwrap_or_default();
    let zones = sel.dns_zones.as_deref().unwrap_or_default();
    let exact = names.iter().any(|n| n == name);
    let zone = zones
        .iter()
        .filter(|z| bare == z.as_str() || bare.ends_with(&format!(".{z}")))
        .map(|z| z.len())
        .max();
    // A selector that lists names or zones selects only those.
    if (!names.is_empty() || !zones.is_empty()) && !exact && zone.is_none() {
        return None;
    }
    Some((exact, zone.unwrap_or(0), want.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solvers(yaml: &str) -> Vec<AcmeChallengeSolver> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn the_most_specific_selector_wins() {
        let s = solvers(
            "- {http01: {ingress: {class: default}}}\n\
             - {selector: {dnsZones: [example.com]}, http01: {ingress: {class: zone}}}\n\
             - {selector: {dnsZones: [sub.example.com]}, http01: {ingress: {class: subzone}}}\n\
             - {selector: {dnsNames: [exact.example.com]}, http01: {ingress: {class: exact}}}\n\
             - {selector: {matchLabels: {team: a}}, http01: {ingress: {class: labels}}}\n",
        );
        let class = |name: &str, labels: &[(&str, &str)]| {
            let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            select(&s, name, &labels)
                .and_then(|s| s.http01.as_ref()?.ingress.as_ref()?.class.clone())
        };
        assert_eq!(class("other.org", &[]).as_deref(), Some("default"));
        assert_eq!(class("a.example.com", &[]).as_deref(), Some("zone"));
        assert_eq!(class("a.sub.example.com", &[]).as_deref(), Some("subzone"));
        assert_eq!(class("exact.example.com", &[]).as_deref(), Some("exact"));
        assert_eq!(class("other.org", &[("team", "a")]).as_deref(), Some("labels"));
        assert_eq!(class("a.example.com", &[("team", "a")]).as_deref(), Some("zone"));
    }

    #[test]
    fn no_solver_when_every_selector_excludes_the_name() {
        let s = solvers("- {selector: {dnsZones: [example.com]}, http01: {ingress: {}}}");
        assert!(select(&s, "example.org", &BTreeMap::new()).is_none());
        assert!(select(&s, "example.com", &BTreeMap::new()).is_some());
    }
}
