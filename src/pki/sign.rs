//! Signing a CertificateRequest's CSR here, for the SelfSigned and CA issuers: the certificate
//! cert-manager's template makes (`template`), signed by the request's own key or by a CA key
//! pair, its issuer the CA certificate's subject byte for byte. Pure: the clock is passed in.

pub use super::template::{Template, empty_subject, template};
use jiff::Timestamp;
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, IsCa, Issuer,
    KeyPair, PublicKeyData,
};
use x509_parser::prelude::{FromDer, X509Certificate};

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the CSR cannot be read, or its signature does not verify: {0}")]
    Csr(String),
    /// What the CSR asks contradicts the request's fields (cert-manager's "encoded CSR error").
    #[error("encoded CSR error: {0}")]
    Contradicts(String),
    #[error("spec.duration {0:?}: {1}")]
    Duration(String, String),
    #[error("the CSR was not signed by the private key in the referenced Secret")]
    KeyMismatch,
    #[error("signing the certificate: {0}")]
    Sign(rcgen::Error),
    /// Putting the exact subject and issuer in place (`resign`).
    #[error("signing the certificate: {0}")]
    Names(String),
    /// The CA may not sign this: expired, or a CA under a path length of 0.
    #[error("{0}")]
    Ca(String),
}

/// Where the issued certificate points its relying parties: the issuer's URLs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Urls {
    pub crl_distribution_points: Vec<String>,
    pub ocsp_servers: Vec<String>,
    pub issuing_certificate_urls: Vec<String>,
}

pub(super) fn with_urls(params: &mut CertificateParams, urls: &Urls) {
    if !urls.crl_distribution_points.is_empty() {
        params.crl_distribution_points =
            vec![CrlDistributionPoint { uris: urls.crl_distribution_points.clone() }];
    }
    // Authority Information Access (RFC 5280 §4.2.2.1): OCSP and caIssuers locations.
    let access: Vec<(&[u64], &String)> = (urls.ocsp_servers.iter().map(|u| (OID_OCSP, u)))
        .chain(urls.issuing_certificate_urls.iter().map(|u| (OID_CA_ISSUERS, u)))
        .collect();
    if access.is_empty() {
        return;
    }
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for (method, url) in &access {
                w.next().write_sequence(|w| {
                    w.next().write_oid(&yasna::models::ObjectIdentifier::from_slice(method));
                    // GeneralName uniformResourceIdentifier [6] IA5String
                    w.next()
                        .write_tagged_implicit(yasna::Tag::context(6), |w| w.write_ia5_string(url));
                });
            }
        })
    });
    params.custom_extensions.push(CustomExtension::from_oid_content(OID_AIA, der));
}

const OID_AIA: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const OID_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const OID_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];

/// The certificate `csr` asks for, signed by its own `key` (which must be the CSR's key): the
/// PEM of the certificate, which is also its own CA.
pub fn self_sign(csr: &Template, key: &KeyPair) -> Result<String, SignError> {
    if key.der_bytes() != csr.public_key.der_bytes() {
        return Err(SignError::KeyMismatch);
    }
    // As cert-manager's signer: the key's own default algorithm, whatever the request's was.
    let key = super::key::signing_by_default(key).map_err(|e| SignError::Ca(e.to_string()))?;
    let der = csr.params.self_signed(&key).map_err(SignError::Sign)?.der().to_vec();
    let der = super::resign::certificate(&der, &csr.subject, &csr.subject, &key)
        .map_err(SignError::Names)?;
    Ok(certificate_pem(der))
}

fn certificate_pem(der: Vec<u8>) -> String {
    super::pem_text(&pem::Pem::new("CERTIFICATE", der))
}

/// A CA key pair as a CA issuer's Secret holds it: `tls.crt` (the CA certificate first, then
/// the chain above it) and `tls.key`.
pub struct CaKeyPair {
    chain: Vec<pem::Pem>,
    key: KeyPair,
    /// The CA certificate's notAfter (Unix seconds) and path length constraint.
    not_after: i64,
    path_len: Option<u32>,
}

/// What is wrong with a CA issuer's key pair, in the words of its Ready condition.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CaError {
    #[error("the Secret holds no {0}")]
    Missing(&'static str),
    #[error("tls.crt is not a PEM certificate: {0}")]
    Certificate(String),
    #[error("tls.key is not a PEM private key certsmith can read: {0}")]
    Key(String),
    #[error("the private key in tls.key does not belong to the certificate in tls.crt")]
    Mismatch,
    #[error("certificate is not a CA")]
    NotCa,
}

impl CaKeyPair {
    pub fn read(tls_crt: Option<&str>, tls_key: Option<&str>) -> Result<CaKeyPair, CaError> {
        let crt = tls_crt.ok_or(CaError::Missing("tls.crt"))?;
        let key_pem = tls_key.ok_or(CaError::Missing("tls.key"))?;
        let chain: Vec<pem::Pem> = pem::parse_many(crt)
            .map_err(|e| CaError::Certificate(e.to_string()))?
            .into_iter()
            .filter(|p| p.tag() == "CERTIFICATE")
            .collect();
        let first = chain.first().ok_or(CaError::Certificate("no CERTIFICATE block".into()))?;
        let (_, ca) = X509Certificate::from_der(first.contents())
            .map_err(|e| CaError::Certificate(e.to_string()))?;
        let key = super::key::parse_pem(key_pem)
            .and_then(|k| super::key::signing_by_default(&k))
            .map_err(|e| CaError::Key(e.to_string()))?;
        if key.subject_public_key_info() != ca.public_key().raw {
            return Err(CaError::Mismatch);
        }
        let constraints = ca.basic_constraints().ok().flatten().map(|b| b.value.clone());
        let Some(constraints) = constraints.filter(|b| b.ca) else {
            return Err(CaError::NotCa);
        };
        let not_after = ca.validity().not_after.timestamp();
        let path_len = constraints.path_len_constraint;
        Ok(CaKeyPair { chain, key, not_after, path_len })
    }

    /// When the CA certificate expires, when it has by `now`.
    pub fn expired(&self, now: Timestamp) -> Option<Timestamp> {
        let at = Timestamp::from_second(self.not_after).unwrap_or(Timestamp::MIN);
        (now >= at).then_some(at)
    }

    /// The key pair a CA issuer's Secret holds (`tls.crt`, `tls.key`).
    pub fn from_secret(secret: &k8s_openapi::api::core::v1::Secret) -> Result<CaKeyPair, CaError> {
        let field = |k: &str| crate::certificate::secret::text(secret, k);
        CaKeyPair::read(field("tls.crt").as_deref(), field("tls.key").as_deref())
    }

    /// Signs `csr` at `now`: the chain for `tls.crt` (the leaf, then the CA's chain without a
    /// self-signed root, as cert-manager writes it) and the CA for `ca.crt` (the root, or the
    /// highest certificate the Secret holds). A certificate outlives no CA: its notAfter is
    /// clamped to the CA's, an expired CA signs nothing, and a CA it signs gets a path length
    /// one below its own (none under a CA of path length 0).
    pub fn sign(&self, csr: &Template, now: Timestamp) -> Result<(String, String), SignError> {
        if let Some(at) = self.expired(now) {
            return Err(SignError::Ca(format!("the CA certificate expired at {at}: renew it")));
        }
        let mut csr = csr.clone();
        let ca_end = time::OffsetDateTime::from_unix_timestamp(self.not_after)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        if csr.params.not_after > ca_end {
            csr.params.not_after = ca_end;
        }
        if let IsCa::Ca(_) = csr.params.is_ca {
            csr.params.is_ca = match self.path_len {
                None => IsCa::Ca(BasicConstraints::Unconstrained),
                Some(0) => {
                    return Err(SignError::Ca(
                        "the CA's path length is 0: it may not sign CA certificates".into(),
                    ));
                }
                Some(n) => IsCa::Ca(BasicConstraints::Constrained((n - 1).min(255) as u8)),
            };
        }
        let ca_der = self.chain[0].contents();
        let issuer =
            Issuer::from_ca_cert_der(&ca_der.into(), &self.key).map_err(SignError::Sign)?;
        let leaf = csr.params.signed_by(&csr.public_key, &issuer).map_err(SignError::Sign)?;
        // The issuer as the CA certificate says it, not as rcgen re-reads it: chains are
        // built by comparing these bytes.
        let (_, ca) =
            X509Certificate::from_der(ca_der).map_err(|e| SignError::Ca(e.to_string()))?;
        let der =
            super::resign::certificate(leaf.der(), ca.subject().as_raw(), &csr.subject, &self.key)
                .map_err(SignError::Names)?;
        let mut chain = certificate_pem(der);
        for cert in &self.chain {
            if !self_signed(cert) {
                chain.push_str(&super::pem_text(cert));
            }
        }
        let ca = super::pem_text(self.chain.last().unwrap_or(&self.chain[0]));
        Ok((chain, ca))
    }
}

fn self_signed(cert: &pem::Pem) -> bool {
    X509Certificate::from_der(cert.contents())
        .is_ok_and(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
