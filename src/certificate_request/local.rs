//! Signing a CertificateRequest here, for the SelfSigned and CA issuers: load the key (the
//! request's own, named by its `private-key-secret-name` annotation, or the CA issuer's Secret)
//! → sign (pure, `pki::sign`) → what it means for the request, in cert-manager's words.

use crate::api::issuer::{CaIssuer, SelfSignedIssuer};
use crate::api::request::ANN_PRIVATE_KEY_SECRET;
use crate::api::{CertificateRequest, IssuerKind};
use crate::certificate::secret::text;
use crate::issuer::IssuerView;
use crate::pki::sign::{CaKeyPair, SignError, Urls, empty_subject, self_sign, template};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

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

/// Signs `cr` through the SelfSigned or CA `issuer`, at `now`.
pub async fn sign(
    client: &kube::Client,
    cr: &CertificateRequest,
    issuer: &IssuerView,
    now: Timestamp,
) -> Result<Signed, kube::Error> {
    match issuer.spec.kind() {
        IssuerKind::Ca(ca) => by_ca(client, cr, &issuer.secrets_namespace, ca, now).await,
        IssuerKind::SelfSigned(s) => self_signed(client, cr, s, now).await,
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
    client: &kube::Client,
    cr: &CertificateRequest,
    namespace: &str,
    ca: &CaIssuer,
    now: Timestamp,
) -> Result<Signed, kube::Error> {
    let name = &ca.secret_name;
    let Some(secret) = Api::<Secret>::namespaced(client.clone(), namespace).get_opt(name).await?
    else {
        let message = format!("Referenced secret {namespace}/{name} not found");
        return Ok(pending("SecretMissing", message));
    };
    let pair = match CaKeyPair::from_secret(&secret) {
        Ok(pair) => pair,
        Err(e) => {
            let message =
                format!("Failed to parse signing CA keypair from secret {namespace}/{name}: {e}");
            return Ok(pending("SecretInvalidData", message));
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
