//! Reading a CSR (a CertificateRequest's `spec.request`): its names, subject, requested
//! extensions and public key, for the ACME order and to notice a spec the request no longer
//! matches.

use super::PkiError;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::extensions::{ParsedExtension, X509Extension};
use x509_parser::prelude::FromDer;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requested {
    pub subject: String,
    /// The subject's DER, to compare a literalSubject exactly.
    pub subject_der: Vec<u8>,
    /// The subject's attributes as `oid=value`, sorted: the subject fields compared whatever
    /// their order or string types (older certsmith wrote them in another order).
    pub subject_attributes: Vec<String>,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub uris: Vec<String>,
    pub emails: Vec<String>,
    pub other_names: Vec<String>,
    /// The requested nameConstraints: criticality and DER value in hex.
    pub name_constraints: Option<String>,
    /// The requested key usages, extended key usages and basic constraints, as text.
    pub extensions: Vec<String>,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
}

fn bad(e: String) -> PkiError {
    PkiError::ParseCertificate(format!("the CSR cannot be read: {e}"))
}

/// The DER of a PEM (or DER) CSR.
pub fn der(csr: &[u8]) -> Result<Vec<u8>, PkiError> {
    match pem::parse(csr) {
        Ok(p) if p.tag() == "CERTIFICATE REQUEST" || p.tag() == "NEW CERTIFICATE REQUEST" => {
            Ok(p.into_contents())
        }
        Ok(p) => Err(bad(format!("a PEM {} block, not a CERTIFICATE REQUEST", p.tag()))),
        Err(_) => Ok(csr.to_vec()),
    }
}

/// Parses a PEM (or DER) CSR. Its signature is the CA's to check.
pub fn read(csr: &[u8]) -> Result<Requested, PkiError> {
    let der = der(csr)?;
    let (_, req) = X509CertificationRequest::from_der(&der).map_err(|e| bad(e.to_string()))?;
    let info = &req.certification_request_info;
    let mut out = Requested {
        subject: info.subject.to_string(),
        subject_der: info.subject.as_raw().to_vec(),
        subject_attributes: {
            let attrs = info.subject.iter_attributes();
            let mut a: Vec<String> =
                attrs.map(|a| format!("{}={}", a.attr_type(), a.as_str().unwrap_or("?"))).collect();
            a.sort();
            a
        },
        common_name: info
            .subject
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned),
        dns_names: vec![],
        ip_addresses: vec![],
        uris: vec![],
        emails: vec![],
        other_names: vec![],
        name_constraints: None,
        extensions: vec![],
        public_key: info.subject_pki.raw.to_vec(),
    };
    for raw in requested(&req) {
        match raw.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                let sans = super::inspect::Sans::of(&san.general_names);
                out.dns_names.extend(sans.dns_names);
                out.ip_addresses.extend(sans.ip_addresses);
                out.uris.extend(sans.uris);
                out.emails.extend(sans.emails);
                out.other_names.extend(sans.other_names);
            }
            ParsedExtension::NameConstraints(_) => {
                let hex: String = raw.value.iter().map(|b| format!("{b:02x}")).collect();
                out.name_constraints = Some(format!("critical={} {hex}", raw.critical));
            }
            ParsedExtension::KeyUsage(k) => out.extensions.push(format!("keyUsage {k}")),
            ParsedExtension::ExtendedKeyUsage(e) => {
                out.extensions.push(format!("extendedKeyUsage {e:?}"))
            }
            // `CA:FALSE` asks for nothing a request without the extension does not (cert-manager
            // writes it into every CSR; certsmith does not): only a CA request differs.
            ParsedExtension::BasicConstraints(b) if b.ca => {
                out.extensions.push(format!("basicConstraints ca={}", b.ca))
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The extensions a CSR requests, each with its criticality and raw value.
pub(crate) fn requested<'a>(
    req: &'a X509CertificationRequest<'a>,
) -> impl Iterator<Item = &'a X509Extension<'a>> {
    let attributes = req.certification_request_info.iter_attributes();
    attributes
        .filter_map(|a| match a.parsed_attribute() {
            ParsedCriAttribute::ExtensionRequest(r) => Some(r.extensions.iter()),
            _ => None,
        })
        .flatten()
}

impl Requested {
    /// The names an ACME order is placed for: the DNS and IP SANs and the common name, sorted.
    pub fn identifiers(&self) -> Vec<String> {
        let mut names = self.dns_names.clone();
        names.extend(self.common_name.iter().filter(|c| !c.is_empty()).cloned());
        names.extend(self.ip_addresses.iter().cloned());
        names.sort();
        names.dedup();
        names
    }

    /// What a certificate built from this request would say, less the key: two requests
    /// with the same shape ask for the same certificate.
    pub fn shape(&self) -> (String, Vec<String>, Vec<String>) {
        let mut names = self.identifiers();
        names.extend(self.uris.iter().map(|u| format!("uri:{u}")));
        names.extend(self.emails.iter().map(|e| format!("email:{e}")));
        names.sort();
        let mut ext = self.extensions.clone();
        ext.sort();
        (self.subject.clone(), names, ext)
    }
}

/// The PEM text of a DER CSR, as `spec.request` holds it.
pub fn to_pem(der: &[u8]) -> String {
    super::pem_text(&pem::Pem::new("CERTIFICATE REQUEST", der.to_vec()))
}
