//! Signing a CertificateRequest here, for the SelfSigned and CA issuers: load the key (the
//! request's own, named by its `private-key-secret-name` annotation, or the CA issuer's Secret)
//! → sign (pure, `pki::sign`) → what it means for the request, in cert-manager's words.

use crate::api::issuer::{CaIssuer, SelfSignedIssuer};
use crate::api::request::ANN_PRIVATE_KEY_SECRET;
use crate::api::{CertificateRequest, IssuerKind};
use crate::certificate::secret::text;
use crate::context::Context;
use crate::issuer::IssuerView;
use crate::pki::sign::{CaKeyPair, SignError, Urls, empty_subject, self_sign, template};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What a signing attempt means for the request. `reason` is the Event's reason.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Signed: the chain for `status.certificate` and the CA for `status.ca`.
    Issued { chain: String, ca: String },
    /// Waiting on something the user or another controller will fix; tried again later.
    Pending { reason: &'static str, message: String },
    /// Never going to work for this request.
    Failed { reason: &'static str, message: String },
}

/// Besides the outcome: a warning to publish about what was signed.
pub struct Signed {
    pub outcome: Outcome,
    pub warning: Option<(&'static str, &'static str)>,
}

/// cert-manager's warning for a self-signed certificate without a subject.
const EMPTY_DN: &str = "Certificate will be issued with an empty Issuer DN, which contravenes RFC 5280 and could break some strict clients";

/// CA key pairs read lately, by `namespace/name` of their Secret, with the Secret's
/// resourceVersion: a CA Secret the Secret cache holds (a CA Certificate's) is read once per
/// change rather than at every signing (10,000 requests signed, 10,000 GETs).
#[derive(Default)]
pub struct CaKeys(Mutex<HashMap<String, (String, Arc<CaKeyPair>)>>);

/// CA key pairs kept at most (one per CA Secret in use; beyond it, all are read again).
const CA_KEYS_KEPT: usize = 256;

impl CaKeys {
    fn get(&self, at: &str, version: &str) -> Option<Arc<CaKeyPair>> {
        let keys = self.0.lock().ok()?;
        keys.get(at).filter(|(v, _)| v == version).map(|(_, pair)| pair.clone())
    }

    fn keep(&self, at: String, version: String, pair: Arc<CaKeyPair>) {
        if let Ok(mut keys) = self.0.lock() {
            if keys.len() >= CA_KEYS_KEPT && !keys.contains_key(&at) {
                keys.clear();
            }
            keys.insert(at, (version, pair));
        }
    }
}

/// Signs `cr` through the SelfSigned or CA `issuer`, at `now`.
pub async fn sign(
    ctx: &Context,
    cr: &CertificateRequest,
    issuer: &IssuerView,
    now: Timestamp,
) -> Result<Signed, kube::Error> {
    match issuer.spec.kind() {
        IssuerKind::Ca(ca) => by_ca(ctx, cr, &issuer.secrets_namespace, ca, now).await,
        IssuerKind::SelfSigned(s) => self_signed(&ctx.client, cr, s, now).await,
        IssuerKind::Acme(_) | IssuerKind::Unsupported(_) => {
            let message = format!("{} does not sign here", issuer.display());
            Ok(failed("SigningError", message))
        }
    }
}

fn pending(reason: &'static str, message: String) -> Signed {
    Signed { outcome: Outcome::Pending { reason, message }, warning: None }
}

fn failed(reason: &'static str, message: String) -> Signed {
    Signed { outcome: Outcome::Failed { reason, message }, warning: None }
}

/// Signed with the CA key pair of the issuer's Secret (in `namespace`).
async fn by_ca(
    ctx: &Context,
    cr: &CertificateRequest,
    namespace: &str,
    ca: &CaIssuer,
    now: Timestamp,
) -> Result<Signed, kube::Error> {
    let name = &ca.secret_name;
    let at = format!("{namespace}/{name}");
    // The version the Secret cache saw, when it holds this Secret: a key pair read at that
    // version is the one the Secret holds now (a change brings a new version). A rotation the
    // watch has not shown yet signs with the key pair before it, as cert-manager's lister does.
    let cached = ctx.cache.secrets.get(&ObjectRef::new(name).within(namespace));
    let version = cached.and_then(|s| s.resource_version());
    let kept = version.as_deref().and_then(|v| ctx.ca_keys.get(&at, v));
    let pair = match kept {
        Some(pair) => pair,
        None => {
            let api = Api::<Secret>::namespaced(ctx.client.clone(), namespace);
            let Some(secret) = api.get_opt(name).await? else {
                let message = format!("Referenced secret {namespace}/{name} not found");
                return Ok(pending("SecretMissing", message));
            };
            let pair = match CaKeyPair::from_secret(&secret) {
                Ok(pair) => Arc::new(pair),
                Err(e) => {
                    let message = format!(
                        "Failed to parse signing CA keypair from secret {namespace}/{name}: {e}"
                    );
                    return Ok(pending("SecretInvalidData", message));
                }
            };
            if let Some(read) = secret.resource_version() {
                ctx.ca_keys.keep(at, read, pair.clone());
            }
            pair
        }
    };
    let urls = Urls {
        crl_distribution_points: ca.crl_distribution_points.clone().unwrap_or_default(),
        ocsp_servers: ca.ocsp_servers.clone().unwrap_or_default(),
        issuing_certificate_urls: ca.issuing_certificate_urls.clone().unwrap_or_default(),
    };
    let signed = template(&cr.spec, &urls, now).and_then(|csr| pair.sign(&csr, now));
    Ok(match signed {
        Ok((chain, ca)) => Signed { outcome: Outcome::Issued { chain, ca }, warning: None },
        Err(e) => failed("SigningError", signing_message(&e)),
    })
}

/// Signed with the request's own key, read from the Secret its annotation names.
async fn self_signed(
    client: &kube::Client,
    cr: &CertificateRequest,
    issuer: &SelfSignedIssuer,
    now: Timestamp,
) -> Result<Signed, kube::Error> {
    let crl = issuer.crl_distribution_points.clone();
    let Some(name) = cr.annotations().get(ANN_PRIVATE_KEY_SECRET).filter(|n| !n.is_empty()) else {
        let message = format!(
            "Annotation {ANN_PRIVATE_KEY_SECRET:?} missing or reference empty: secret name missing"
        );
        return Ok(failed("MissingAnnotation", message));
    };
    let namespace = cr.namespace().unwrap_or_default();
    let Some(secret) = Api::<Secret>::namespaced(client.clone(), &namespace).get_opt(name).await?
    else {
        return Ok(pending(
            "MissingSecret",
            format!("Referenced secret {namespace}/{name} not found"),
        ));
    };
    let key = text(&secret, "tls.key")
        .ok_or_else(|| "the Secret holds no tls.key".to_string())
        .and_then(|k| crate::pki::key::parse_pem(&k).map_err(|e| e.to_string()));
    let key = match key {
        Ok(key) => key,
        Err(why) => {
            let message = format!(
                "Failed to get key {name:?} referenced in annotation {ANN_PRIVATE_KEY_SECRET:?}: {why}"
            );
            return Ok(pending("ErrorParsingKey", message));
        }
    };
    let urls = Urls { crl_distribution_points: crl.unwrap_or_default(), ..Default::default() };
    let csr = match template(&cr.spec, &urls, now) {
        Ok(csr) => csr,
        Err(e) => {
            return Ok(failed(
                "ErrorGenerating",
                format!("Error generating certificate template: {e}"),
            ));
        }
    };
    let warning = empty_subject(&csr).then_some(("BadConfig", EMPTY_DN));
    let outcome = match self_sign(&csr, &key) {
        Ok(pem) => Outcome::Issued { chain: pem.clone(), ca: pem },
        Err(e @ SignError::KeyMismatch) => Outcome::Failed {
            reason: "ErrorKeyMatch",
            message: format!("Error generating certificate template: {e}"),
        },
        Err(e) => Outcome::Failed { reason: "ErrorSigning", message: signing_message(&e) },
    };
    Ok(Signed { outcome, warning })
}

fn signing_message(e: &SignError) -> String {
    match e {
        SignError::Sign(_) => format!("Error signing certificate: {e}"),
        _ => format!("Error generating certificate template: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> Arc<CaKeyPair> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        Arc::new(CaKeyPair::read(Some(&ca.pem()), Some(&key.serialize_pem())).unwrap())
    }

    #[test]
    fn a_kept_ca_key_pair_is_used_only_at_the_version_it_was_read() {
        let keys = CaKeys::default();
        keys.keep("ns/ca".into(), "7".into(), pair());
        assert!(keys.get("ns/ca", "7").is_some());
        assert!(keys.get("ns/ca", "8").is_none(), "the Secret changed since");
        assert!(keys.get("other/ca", "7").is_none(), "another namespace's Secret");
        // Bounded: past the limit, everything is read again.
        for i in 0..CA_KEYS_KEPT {
            keys.keep(format!("ns/ca-{i}"), "1".into(), pair());
        }
        assert!(keys.0.lock().unwrap().len() <= CA_KEYS_KEPT);
    }
}
