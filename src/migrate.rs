//! `certsmith migrate`: taking over from cert-manager, read before anything is switched
//! (`--check`: what will be adopted, rolled over, or left behind), and the way back
//! (`--back`: account keys rolled back to the RSA keys cert-manager signs with).

use crate::acme::adopt::{NEXT_SUFFIX, PREVIOUS_SUFFIX};
use crate::api::{Certificate, ClusterIssuer, Issuer, IssuerKind};
use crate::issuer::{IssuerView, referenced_kind};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;

/// One object's fate: `ok` false when certsmith would leave it behind (not renewed).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub object: String,
    pub ok: bool,
    pub what: String,
}

fn line(object: String, ok: bool, what: impl Into<String>) -> Line {
    Line { object, ok, what: what.into() }
}

/// What becomes of an issuer and its ACME account, given its account Secret. Pure.
pub fn issuer_line(issuer: &IssuerView, account_secret: Option<&Secret>) -> Line {
    let who = issuer.display();
    let acme = match issuer.spec.kind() {
        IssuerKind::SelfSigned(_) => {
            return line(who, true, "selfSigned issuer: signs here, as cert-manager does");
        }
        IssuerKind::Ca(ca) => {
            let where_ = format!("Secret {}/{}", issuer.secrets_namespace, ca.secret_name);
            let Some(secret) = account_secret else {
                return line(who, false, format!("ca issuer: {where_} is missing"));
            };
            return match crate::pki::sign::CaKeyPair::from_secret(secret) {
                Ok(_) => line(who, true, format!("ca issuer: signs here with the CA in {where_}")),
                Err(e) => line(who, false, format!("ca issuer: {where_}: {e}")),
            };
        }
        IssuerKind::Acme(acme) => acme,
        IssuerKind::Unsupported(types) => {
            let kind = types.join(", ");
            return line(who, false, format!("{kind} issuer: certsmith does not sign with it yet"));
        }
    };
    let r = &acme.private_key_secret_ref;
    let field = crate::acme::account::key_field(acme);
    let where_ = format!("Secret {}/{}", issuer.secrets_namespace, r.name);
    let uri = issuer.status.as_ref().and_then(|s| s.acme.as_ref()).and_then(|a| a.uri.clone());
    let account = uri.map(|u| format!("account {u}")).unwrap_or_else(|| "its account".into());
    let eab = match acme.external_account_binding {
        Some(_) => " (EAB-bound: never registered again)",
        None => "",
    };
    let Some(secret) = account_secret else {
        return match acme.disable_account_key_generation {
            Some(true) => line(
                who,
                false,
                format!("{where_} is missing and disableAccountKeyGeneration is set"),
            ),
            _ => line(who, true, format!("{where_} is missing: a new account will be registered")),
        };
    };
    let key = crate::acme::account::signing_key(secret, &field, &where_);
    match key {
        Err(why) => line(who, false, why),
        Ok(key) if key.is_p256() => {
            line(who, true, format!("{account} adopted as it is (ECDSA P-256 key){eab}"))
        }
        Ok(key) => match crate::acme::adopt::adoptable(secret, &field, &where_) {
            Err(why) => line(who, false, format!("{account} not adopted: {why}")),
            Ok(()) => line(
                who,
                true,
                format!(
                    "{account} adopted: its {} key will be rolled over to ECDSA P-256, same \
                     account URL, the old key kept for `certsmith migrate --back`{eab}",
                    key.describe()
                ),
            ),
        },
    }
}

/// What becomes of a Certificate, given its issuer (`None`: not found) and whether its Secret
/// exists. Pure.
pub fn certificate_line(
    cert: &Certificate,
    issuer: Option<&IssuerView>,
    secret_exists: bool,
) -> Line {
    let who = format!("Certificate {}/{}", cert.namespace().unwrap_or_default(), cert.name_any());
    let r = &cert.spec.issuer_ref;
    if referenced_kind(r).is_none() {
        let group = r.group.clone().unwrap_or_default();
        return line(who, true, format!("requests left to the external issuer of group {group}"));
    }
    let Some(issuer) = issuer else {
        let kind = referenced_kind(r).unwrap_or("Issuer");
        return line(who, false, format!("its issuer {kind}/{} does not exist", r.name));
    };
    if let Some(why) = crate::certificate::support::unsupported(&cert.spec, cert.labels(), issuer) {
        return line(who, false, format!("would not be renewed: {why}"));
    }
    let status = cert.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == crate::api::meta::ConditionStatus::True);
    let renewal = status.and_then(|s| s.renewal_time.as_ref()).map(|t| t.0.to_string());
    let secret = &cert.spec.secret_name;
    match (secret_exists, ready, renewal) {
        (true, true, Some(at)) => {
            line(who, true, format!("adopted as it is: Secret {secret} kept, renewed at {at}"))
        }
        (true, _, _) => {
            line(who, true, format!("Secret {secret} checked; re-issued if it no longer matches"))
        }
        (false, _, _) => line(who, true, format!("Secret {secret} missing: will be issued")),
    }
}

/// Reads the cluster and plans the takeover. `cluster_namespace`: where ClusterIssuers'
/// Secrets are (`--cluster-resource-namespace`, `cert-manager` for cert-manager's default).
pub async fn check(
    client: &kube::Client,
    cluster_namespace: &str,
) -> Result<Vec<Line>, kube::Error> {
    let lp = ListParams::default();
    let mut issuers: BTreeMap<(String, String, String), IssuerView> = BTreeMap::new();
    for i in Api::<ClusterIssuer>::all(client.clone()).list(&lp).await? {
        let view = IssuerView::cluster_issuer(&i, cluster_namespace);
        issuers.insert(("ClusterIssuer".into(), String::new(), view.name.clone()), view);
    }
    for i in Api::<Issuer>::all(client.clone()).list(&lp).await? {
        let view = IssuerView::issuer(&i);
        let key = ("Issuer".into(), view.secrets_namespace.clone(), view.name.clone());
        issuers.insert(key, view);
    }
    let mut lines = Vec::new();
    for view in issuers.values() {
        // The Secret the issuer signs with: the ACME account key, or the CA key pair.
        let name = match view.spec.kind() {
            IssuerKind::Acme(acme) => Some(&acme.private_key_secret_ref.name),
            IssuerKind::Ca(ca) => Some(&ca.secret_name),
            IssuerKind::SelfSigned(_) | IssuerKind::Unsupported(_) => None,
        };
        let secret = match name {
            Some(name) => {
                Api::<Secret>::namespaced(client.clone(), &view.secrets_namespace)
                    .get_opt(name)
                    .await?
            }
            None => None,
        };
        lines.push(issuer_line(view, secret.as_ref()));
    }
    for cert in Api::<Certificate>::all(client.clone()).list(&lp).await? {
        let namespace = cert.namespace().unwrap_or_default();
        let r = &cert.spec.issuer_ref;
        let key = match referenced_kind(r) {
            Some("ClusterIssuer") => ("ClusterIssuer".to_string(), String::new(), r.name.clone()),
            _ => ("Issuer".to_string(), namespace.clone(), r.name.clone()),
        };
        let exists = Api::<Secret>::namespaced(client.clone(), &namespace)
            .get_metadata_opt(&cert.spec.secret_name)
            .await?
            .is_some();
        lines.push(certificate_line(&cert, issuers.get(&key), exists));
    }
    for (object, names) in crate::shim::takeover::new_certificates(client).await? {
        let what = format!(
            "annotated, without Certificates {}: certsmith's gateway-shim (on by default; \
             cert-manager's only with --enable-gateway-api) will make them \
             (--enable-gateway-api=false keeps them out)",
            names.join(", ")
        );
        lines.push(line(object, true, what));
    }
    Ok(lines)
}

/// The lines as a report, with a last line that sums up.
pub fn report(lines: &[Line]) -> String {
    let mut out = String::new();
    for l in lines {
        let mark = if l.ok { "ok  " } else { "LEFT" };
        out.push_str(&format!("{mark}  {}: {}\n", l.object, l.what));
    }
    let left = lines.iter().filter(|l| !l.ok).count();
    out.push_str(&match left {
        0 => format!("{} objects: certsmith can take over all of them\n", lines.len()),
        n => format!("{n} of {} objects would be left behind (marked LEFT)\n", lines.len()),
    });
    out
}

/// Rolls every ACME account certsmith adopted back to the key it had under cert-manager.
/// Returns one line per issuer that had one.
pub async fn back(
    client: &kube::Client,
    cluster_namespace: &str,
) -> Result<Vec<Line>, kube::Error> {
    let lp = ListParams::default();
    let mut views: Vec<IssuerView> = Api::<ClusterIssuer>::all(client.clone())
        .list(&lp)
        .await?
        .iter()
        .map(|i| IssuerView::cluster_issuer(i, cluster_namespace))
        .collect();
    views
        .extend(Api::<Issuer>::all(client.clone()).list(&lp).await?.iter().map(IssuerView::issuer));
    let mut lines = Vec::new();
    let mut done = std::collections::BTreeSet::new();
    for view in views {
        let Some(acme) = &view.spec.acme else { continue };
        let field = crate::acme::account::key_field(acme);
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &view.secrets_namespace);
        let name = &acme.private_key_secret_ref.name;
        let Some(secret) = secrets.get_opt(name).await? else { continue };
        let previous = format!("{field}{PREVIOUS_SUFFIX}");
        if !secret.data.as_ref().is_some_and(|d| d.contains_key(&previous))
            || !done.insert((view.secrets_namespace.clone(), name.clone()))
        {
            continue;
        }
        let result = async {
            let http = crate::acme::client::for_issuer(acme)?;
            let mut ca = crate::acme::legacy::LegacyClient::new(http, &acme.server).await?;
            crate::acme::adopt::roll_back(&secrets, &secret, &field, &mut ca).await
        };
        lines.push(match result.await {
            Ok(account) => line(
                view.display(),
                true,
                format!(
                    "account {account} rolled back to the key it had before; the ECDSA key is \
                     kept under {field}{NEXT_SUFFIX}"
                ),
            ),
            Err(e) => line(view.display(), false, e.to_string()),
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn issuer(extra: &str) -> IssuerView {
        let i: ClusterIssuer = serde_yaml::from_str(&format!(
            "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {{name: le}}\nspec:\n{extra}"
        ))
        .unwrap();
        IssuerView::cluster_issuer(&i, "cert-manager")
    }

    const ACME: &str = "  acme:\n    server: https://ca/dir\n    privateKeySecretRef: {name: le}\n    \
                        solvers: [{http01: {ingress: {class: nginx}}}]\n";

    fn secret(pem: &str) -> Secret {
        Secret {
            data: Some([("tls.key".to_string(), ByteString(pem.into()))].into()),
            ..Default::default()
        }
    }

    #[test]
    fn each_issuer_is_adopted_rolled_over_or_named_as_left_behind() {
        let rsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap().serialize_pem();
        let p256 = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let acme = issuer(ACME);
        let no_keygen = issuer(&format!("{ACME}    disableAccountKeyGeneration: true\n"));
        let mut tls = secret(&rsa);
        tls.type_ = Some("kubernetes.io/tls".into());
        let table: [(&IssuerView, Option<Secret>, bool, &str); 10] = [
            (&acme, Some(secret(&rsa)), true, "RSA-2048 key will be rolled over to ECDSA P-256"),
            (&acme, Some(tls), false, "not adopted: Secret cert-manager/le is not an ACME account"),
            (&acme, Some(secret(&p256)), true, "adopted as it is"),
            (
                &acme,
                Some(secret("junk")),
                false,
                "Secret cert-manager/le: the account key is not PEM",
            ),
            (&acme, None, true, "a new account will be registered"),
            (&no_keygen, None, false, "disableAccountKeyGeneration is set"),
            (&issuer("  selfSigned: {}\n"), None, true, "selfSigned issuer: signs here"),
            (&issuer("  vault: {path: pki}\n"), None, false, "vault issuer: certsmith does not"),
            (
                &issuer("  ca: {secretName: root}\n"),
                None,
                false,
                "Secret cert-manager/root is missing",
            ),
            (&issuer("  ca: {secretName: root}\n"), Some(secret(&rsa)), false, "holds no tls.crt"),
        ];
        for (view, s, ok, words) in table {
            let l = issuer_line(view, s.as_ref());
            assert_eq!(l.object, "ClusterIssuer/le");
            assert_eq!(l.ok, ok, "{l:?}");
            assert!(l.what.contains(words), "{l:?} should say {words:?}");
        }
    }

    #[test]
    fn each_certificate_is_adopted_issued_or_named_as_left_behind() {
        let cert = |extra: &str| -> Certificate {
            serde_yaml::from_str(&format!(
                "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: web, namespace: default}}\n\
                 spec:\n  secretName: web-tls\n  issuerRef: {{name: le, kind: ClusterIssuer}}\n{extra}"
            ))
            .unwrap()
        };
        let ready = "  dnsNames: [a.example.com]\nstatus:\n  renewalTime: \"2027-01-01T00:00:00Z\"\n  \
                     conditions: [{type: Ready, status: \"True\"}]\n";
        let acme = issuer(ACME);
        let dns01 = issuer(
            "  acme:\n    server: https://ca/dir\n    privateKeySecretRef: {name: le}\n    solvers: [{dns01: {}}]\n",
        );
        // The Gateway API solver (HTTP-01 through an HTTPRoute) is certsmith's too.
        let gateway = issuer(
            "  acme:\n    server: https://ca/dir\n    privateKeySecretRef: {name: le}\n    \
             solvers: [{http01: {gatewayHTTPRoute: {parentRefs: [{name: gw, namespace: infra}]}}}]\n",
        );
        let table: [(Certificate, Option<&IssuerView>, bool, bool, &str); 7] = [
            (
                cert(ready),
                Some(&acme),
                true,
                true,
                "adopted as it is: Secret web-tls kept, renewed at 2027-01-01T00:00:00Z",
            ),
            (cert(ready), Some(&acme), false, true, "Secret web-tls missing: will be issued"),
            (
                cert("  dnsNames: [a.example.com]\n"),
                Some(&acme),
                true,
                true,
                "re-issued if it no longer matches",
            ),
            (cert(ready), None, true, false, "its issuer ClusterIssuer/le does not exist"),
            (
                cert(ready),
                Some(&dns01),
                true,
                false,
                "names no DNS-01 provider (certsmith writes through rfc2136, route53",
            ),
            (
                cert(ready),
                Some(&gateway),
                true,
                true,
                "adopted as it is: Secret web-tls kept, renewed at 2027-01-01T00:00:00Z",
            ),
            (
                cert("  dnsNames: [\"*.example.com\"]\n"),
                Some(&acme),
                true,
                false,
                "a wildcard name needs DNS-01",
            ),
        ];
        for (c, view, exists, ok, words) in table {
            let l = certificate_line(&c, view, exists);
            assert_eq!(l.object, "Certificate default/web");
            assert_eq!(l.ok, ok, "{l:?}");
            assert!(l.what.contains(words), "{l:?} should say {words:?}");
        }
        let report = report(&[certificate_line(&cert(ready), None, true)]);
        assert!(report.starts_with("LEFT  Certificate default/web: its issuer"), "{report}");
        assert!(
            report.ends_with("1 of 1 objects would be left behind (marked LEFT)\n"),
            "{report}"
        );
    }
}
