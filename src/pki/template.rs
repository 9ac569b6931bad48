//! Reading a CertificateRequest's CSR into the certificate to sign, as cert-manager's template
//! does: the CSR's exact subject and SAN extension (otherNames included) and its
//! nameConstraints; duration, isCA and usages from the request, checked against the CSR.

use super::csr::purposes;
use super::ext::{OID_NAME_CONSTRAINTS, OID_SAN};
use super::sign::{SignError, Urls};
use crate::api::CertificateRequestSpec;
use crate::certificate::request::DEFAULT_DURATION;
use jiff::Timestamp;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SerialNumber,
};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{ExtendedKeyUsage, KeyUsage, ParsedExtension, X509Extension};
use x509_parser::prelude::FromDer;

/// The certificate to sign: rcgen's parameters, the CSR's public key, and the CSR's subject
/// as its DER bytes (rcgen's subject type cannot hold every Name; they are put in after).
#[derive(Clone, Debug)]
pub struct Template {
    pub(super) params: CertificateParams,
    pub(super) public_key: rcgen::SubjectPublicKeyInfo,
    pub(super) subject: Vec<u8>,
}

/// The certificate to sign for a request: the CSR's subject, SANs, nameConstraints and public
/// key, valid from `now` for `spec.duration`, with the request's isCA and usages (a CSR that
/// encodes different ones is refused, as cert-manager refuses it), a random serial and the
/// issuer's `urls`. The CSR's signature must verify; extensions it has beyond these are left
/// out, as cert-manager leaves them.
pub fn template(
    spec: &CertificateRequestSpec,
    urls: &Urls,
    now: Timestamp,
) -> Result<Template, SignError> {
    let der = super::request::der(&spec.request.0).map_err(|e| SignError::Csr(e.to_string()))?;
    let (_, csr) =
        X509CertificationRequest::from_der(&der).map_err(|e| SignError::Csr(e.to_string()))?;
    csr.verify_signature().map_err(|e| SignError::Csr(format!("its signature: {e}")))?;
    let info = &csr.certification_request_info;
    let public_key = rcgen::SubjectPublicKeyInfo::from_der(info.subject_pki.raw)
        .map_err(|e| SignError::Csr(e.to_string()))?;
    let subject = info.subject.as_raw().to_vec();

    let mut params = CertificateParams::default();
    let (mut asked_ca, mut asked_ku, mut asked_eku) = (None, Vec::new(), Vec::new());
    // RFC 5280 §4.2: an extension appears once. A CSR that repeats one would make a
    // certificate Go's and OpenSSL's parsers refuse.
    let mut seen = std::collections::HashSet::new();
    for ext in super::request::requested(&csr) {
        if !seen.insert(ext.oid.to_id_string()) {
            return Err(SignError::Csr(format!("its extension {} appears twice", ext.oid)));
        }
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => asked_ca = Some(bc.ca),
            ParsedExtension::KeyUsage(ku) => asked_ku = key_usages(ku),
            ParsedExtension::ExtendedKeyUsage(eku) => asked_eku = extended(eku),
            ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::ParseError { .. }
                if is(ext, OID_SAN) || is(ext, OID_NAME_CONSTRAINTS) =>
            {
                return Err(SignError::Csr(format!("its extension {} is malformed", ext.oid)));
            }
            _ if is(ext, OID_SAN) => {
                // As is, so every kind of name travels; critical when the subject is empty
                // (RFC 5280 §4.2.1.6), whatever the CSR said.
                let mut san = CustomExtension::from_oid_content(OID_SAN, ext.value.to_vec());
                san.set_criticality(subject == super::dn::EMPTY);
                params.custom_extensions.push(san);
            }
            _ if is(ext, OID_NAME_CONSTRAINTS) => {
                let oid = OID_NAME_CONSTRAINTS;
                let mut nc = CustomExtension::from_oid_content(oid, ext.value.to_vec());
                nc.set_criticality(ext.critical);
                params.custom_extensions.push(nc);
            }
            _ => {}
        }
    }

    let is_ca = spec.is_ca.unwrap_or(false);
    if asked_ca.is_some_and(|a| a != is_ca) {
        return Err(SignError::Contradicts(format!(
            "IsCA {} does not match expected value {is_ca}",
            !is_ca
        )));
    }
    // cert-manager always writes basicConstraints; a CA may sign further CAs.
    params.is_ca =
        if is_ca { IsCa::Ca(BasicConstraints::Unconstrained) } else { IsCa::ExplicitNoCa };

    let (key_usages, extended) = purposes(spec.usages.as_deref(), is_ca);
    let asked = !asked_ku.is_empty() || !asked_eku.is_empty();
    if asked && !(same(&asked_ku, &key_usages) && same(&asked_eku, &extended)) {
        return Err(SignError::Contradicts(format!(
            "the usages the CSR encodes ({asked_ku:?}, {asked_eku:?}) do not match spec.usages ({key_usages:?}, {extended:?})"
        )));
    }
    params.key_usages = key_usages;
    params.extended_key_usages = extended;

    let written = spec.duration.clone().unwrap_or_else(|| DEFAULT_DURATION.into());
    let duration = crate::validation::names::parse_duration(&written)
        .map_err(|e| SignError::Duration(written.clone(), e))?;
    let not_after = jiff::SignedDuration::try_from(duration)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .ok_or_else(|| SignError::Duration(written, "is too long".into()))?;
    params.not_before = to_time(now);
    params.not_after = to_time(not_after);
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = true;
    super::sign::with_urls(&mut params, urls);
    Ok(Template { params, public_key, subject })
}

fn is(ext: &X509Extension, oid: &[u64]) -> bool {
    ext.oid.iter().is_some_and(|arcs| arcs.eq(oid.iter().copied()))
}

fn key_usages(ku: &KeyUsage) -> Vec<KeyUsagePurpose> {
    use KeyUsagePurpose::*;
    let bits = [
        (ku.digital_signature(), DigitalSignature),
        (ku.non_repudiation(), ContentCommitment),
        (ku.key_encipherment(), KeyEncipherment),
        (ku.data_encipherment(), DataEncipherment),
        (ku.key_agreement(), KeyAgreement),
        (ku.key_cert_sign(), KeyCertSign),
        (ku.crl_sign(), CrlSign),
        (ku.encipher_only(), EncipherOnly),
        (ku.decipher_only(), DecipherOnly),
    ];
    bits.into_iter().filter(|(set, _)| *set).map(|(_, p)| p).collect()
}

fn extended(eku: &ExtendedKeyUsage) -> Vec<ExtendedKeyUsagePurpose> {
    use ExtendedKeyUsagePurpose::*;
    let known = [
        (eku.any, Any),
        (eku.server_auth, ServerAuth),
        (eku.client_auth, ClientAuth),
        (eku.code_signing, CodeSigning),
        (eku.email_protection, EmailProtection),
        (eku.time_stamping, TimeStamping),
        (eku.ocsp_signing, OcspSigning),
    ];
    let mut out: Vec<_> = known.into_iter().filter(|(set, _)| *set).map(|(_, p)| p).collect();
    // Purposes certsmith has no name for: kept, so that they contradict spec.usages.
    out.extend(eku.other.iter().filter_map(|o| o.iter()).map(|arcs| Other(arcs.collect())));
    out
}

fn same<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

pub(super) fn to_time(t: Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.as_second())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// 128 random bits, positive (RFC 5280 §4.1.2.2): two issuances never share a serial, even
/// with the same key.
fn random_serial() -> SerialNumber {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&bytes)
}

/// Whether the certificate says nothing in its subject (RFC 5280 wants a self-signed
/// certificate's issuer DN non-empty; cert-manager warns of it).
pub fn empty_subject(template: &Template) -> bool {
    template.subject == super::dn::EMPTY
}
