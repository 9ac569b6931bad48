//! What certsmith cannot do yet for a Certificate, said plainly instead of ignored. Pure.

use crate::api::order::ChallengeType;
use crate::api::{CertificateSpec, IssuerKind};
use crate::issuer::IssuerView;
use std::collections::BTreeMap;

/// Why certsmith cannot issue `spec` through `issuer`, or `None` when it can.
pub fn unsupported(
    spec: &CertificateSpec,
    labels: &BTreeMap<String, String>,
    issuer: &IssuerView,
) -> Option<String> {
    let who = issuer.display();
    let kind = issuer.spec.kind();
    if let IssuerKind::Unsupported(types) = &kind {
        let kind = types.join(", ");
        return Some(format!(
            "{who} is a {kind} issuer; certsmith issues through ACME, SelfSigned and CA issuers only"
        ));
    }
    // What no issuer of certsmith's does yet.
    let everywhere = [(
        spec.keystores.as_ref().and_then(|k| k.pkcs12.as_ref()).is_some_and(|p| {
            p.create
                && p.profile.as_deref().is_some_and(|p| {
                    !p.is_empty() && !super::keystores::PKCS12_PROFILES.contains(&p)
                })
        }),
        "spec.keystores.pkcs12.profile: certsmith writes the profiles LegacyRC2, LegacyDES, \
         Modern2023 and Modern2026",
    )];
    if let Some((_, why)) = everywhere.iter().find(|(hit, _)| *hit) {
        return Some(why.to_string());
    }
    if let Some(why) = signature_algorithm(spec) {
        return Some(why);
    }
    let IssuerKind::Acme(acme) = kind else {
        // A SelfSigned or CA issuer signs whatever names and usages the spec asks.
        return None;
    };
    let nonempty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    let checks = [
        (nonempty(&spec.uris), "spec.uris: ACME CAs issue only DNS names and IP addresses"),
        (
            nonempty(&spec.email_addresses),
            "spec.emailAddresses: ACME CAs issue only DNS names and IP addresses",
        ),
        // cert-manager puts them in the CSR, and the CA refuses it or leaves them out; either
        // way the certificate never names them.
        (
            spec.other_names.as_ref().is_some_and(|v| !v.is_empty()),
            "spec.otherNames: ACME CAs issue only DNS names and IP addresses",
        ),
        (spec.is_ca == Some(true), "spec.isCA: ACME CAs do not issue CA certificates"),
    ];
    if let Some((_, why)) = checks.iter().find(|(hit, _)| *hit) {
        return Some(why.to_string());
    }
    let solvers = acme.solvers.clone().unwrap_or_default();
    for name in crate::pki::csr::identifiers(spec) {
        let Some(solver) = crate::solver::select::select(&solvers, &name, labels) else {
            return Some(format!("no solver of {who} selects {name}"));
        };
        // Under dns-persist-01, a DNS-01 solver names no provider to write with; whether the
        // CA offers it is known only from the order.
        if issuer.dns_persist && solver.dns01.is_some() {
            continue;
        }
        match crate::solver::for_config(solver) {
            Err(why) => return Some(format!("the solver {who} selects for {name} {why}")),
            Ok(s) if s.challenge_type() == ChallengeType::Http01 && name.starts_with("*.") => {
                return Some(format!(
                    "{name}: a wildcard name needs DNS-01 (HTTP-01 cannot validate it), and the solver {who} selects for it is http01"
                ));
            }
            Ok(_) => {}
        }
        let route53 = solver.dns01.as_ref().and_then(|d| d.route53.as_ref());
        if let Some(why) = route53.and_then(crate::solver::route53::unsupported) {
            return Some(format!("the solver {who} selects for {name}: {why}"));
        }
    }
    None
}

/// A `signatureAlgorithm` certsmith cannot sign the request with for the spec's key (a P-256
/// key with SHA-384, say, or an algorithm of another key type), which would be silently not
/// honoured.
fn signature_algorithm(spec: &CertificateSpec) -> Option<String> {
    spec.signature_algorithm?;
    let key = crate::pki::key::KeySpec::from_spec(spec).ok()?;
    key.algorithm_named(spec.signature_algorithm?).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(yaml: &str) -> IssuerView {
        IssuerView {
            kind: "Issuer",
            name: "i".into(),
            secrets_namespace: "ns".into(),
            spec: serde_yaml::from_str(yaml).unwrap(),
            status: None,
            dns_persist: false,
        }
    }

    #[test]
    fn other_names_are_reported_for_acme_issuers_only() {
        let acme = view(
            "acme: {server: 'https://ca/dir', privateKeySecretRef: {name: k}, solvers: [{http01: {ingress: {}}}]}",
        );
        let ca = view("ca: {secretName: s}");
        let spec = |extra: &str| -> CertificateSpec {
            let yaml = format!(
                "secretName: s\nissuerRef: {{name: i}}\ndnsNames: [a.example.com]\n{extra}"
            );
            serde_yaml::from_str(&yaml).unwrap()
        };
        let labels = BTreeMap::new();
        let other_names = spec("otherNames: [{oid: 1.2.3.4, utf8Value: x}]");
        let why = unsupported(&other_names, &labels, &acme).unwrap();
        assert_eq!(why, "spec.otherNames: ACME CAs issue only DNS names and IP addresses");
        assert_eq!(unsupported(&other_names, &labels, &ca), None);
        // The subject is the CA's to decide; the literalSubject's CN is one more name to order.
        let literal = spec("literalSubject: CN=a.example.com,O=Org1+OU=Unit");
        assert_eq!(unsupported(&literal, &labels, &acme), None);
        let constrained =
            spec("isCA: true\nnameConstraints: {permitted: {dnsDomains: [example.com]}}");
        assert_eq!(unsupported(&constrained, &labels, &ca), None);
    }
}
