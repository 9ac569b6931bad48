//! Reading an issued certificate chain: validity, names, and whether a key belongs to it.

use super::PkiError;
use jiff::Timestamp;
use rcgen::{KeyPair, PublicKeyData};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What certsmith needs to know of a leaf certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// Hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub uris: Vec<String>,
    pub emails: Vec<String>,
    /// The otherName SANs, `oid=value` (UTF8String values; others say `oid=?`).
    pub other_names: Vec<String>,
    /// DER SubjectPublicKeyInfo, to match against a private key.
    pub public_key: Vec<u8>,
    /// Whether the last certificate of the chain signs itself (a root, usable as `ca.crt`).
    pub chain_ends_in_root: bool,
    /// The PEM of the last certificate of the chain.
    pub last_in_chain: String,
}

impl Issued {
    /// The names the certificate covers (its DNS and IP SANs), sorted, to compare with
    /// `csr::identifiers` of a spec.
    pub fn identifiers(&self) -> Vec<String> {
        let mut names = self.dns_names.clone();
        names.extend(self.ip_addresses.iter().cloned());
        names.sort();
        names.dedup();
        names
    }

    pub fn matches_key(&self, key: &KeyPair) -> bool {
        key.subject_public_key_info() == self.public_key
    }
}

/// Parses a PEM chain (leaf first, as ACME returns it and `tls.crt` holds it).
pub fn parse_chain(pem_chain: &str) -> Result<Issued, PkiError> {
    let bad = |e: String| PkiError::ParseCertificate(e);
    let pems = pem::parse_many(pem_chain).map_err(|e| bad(e.to_string()))?;
    let pems: Vec<_> = pems.into_iter().filter(|p| p.tag() == "CERTIFICATE").collect();
    let (first, last) = match (pems.first(), pems.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err(bad("no CERTIFICATE block".into())),
    };
    let (_, leaf) = X509Certificate::from_der(first.contents()).map_err(|e| bad(e.to_string()))?;
    let (_, root) = X509Certificate::from_der(last.contents()).map_err(|e| bad(e.to_string()))?;
    let time = |t: x509_parser::time::ASN1Time| {
        Timestamp::from_second(t.timestamp()).map_err(|e| bad(e.to_string()))
    };
    let mut issued = Issued {
        not_before: time(leaf.validity().not_before)?,
        not_after: time(leaf.validity().not_after)?,
        serial: leaf.raw_serial_as_string().replace(':', ""),
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        common_name: leaf
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned),
        dns_names: vec![],
        ip_addresses: vec![],
        uris: vec![],
        emails: vec![],
        other_names: vec![],
        public_key: leaf.public_key().raw.to_vec(),
        chain_ends_in_root: root.subject() == root.issuer() && pems.len() > 1,
        last_in_chain: super::pem_text(last),
    };
    if let Ok(Some(san)) = leaf.subject_alternative_name() {
        let sans = Sans::of(&san.value.general_names);
        (issued.dns_names, issued.ip_addresses, issued.uris, issued.emails, issued.other_names) =
            (sans.dns_names, sans.ip_addresses, sans.uris, sans.emails, sans.other_names);
    }
    Ok(issued)
}

/// The names of a subjectAltName extension, by kind (of a certificate or a CSR).
#[derive(Default)]
pub(crate) struct Sans {
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub uris: Vec<String>,
    pub emails: Vec<String>,
    pub other_names: Vec<String>,
}

impl Sans {
    pub fn of(names: &[GeneralName]) -> Sans {
        let mut sans = Sans::default();
        for name in names {
            match name {
                GeneralName::DNSName(n) => sans.dns_names.push(n.to_string()),
                GeneralName::URI(u) => sans.uris.push(u.to_string()),
                GeneralName::RFC822Name(e) => sans.emails.push(e.to_string()),
                GeneralName::IPAddress(b) => {
                    sans.ip_addresses.extend(ip_from_bytes(b).map(|ip| ip.to_string()))
                }
                GeneralName::OtherName(oid, value) => {
                    let text = utf8_other_name(value).unwrap_or_else(|| "?".into());
                    sans.other_names.push(format!("{oid}={text}"));
                }
                _ => {}
            }
        }
        sans
    }
}

/// An otherName's value, `[0] EXPLICIT UTF8String`, as cert-manager writes it.
fn utf8_other_name(explicit: &[u8]) -> Option<String> {
    use x509_cert::der::{Decode, Tag, TagNumber, Tagged, asn1::Any, asn1::Utf8StringRef};
    let outer = Any::from_der(explicit).ok()?;
    (outer.tag() == Tag::ContextSpecific { constructed: true, number: TagNumber(0) })
        .then_some(())?;
    Utf8StringRef::from_der(outer.value()).ok().map(|s| s.as_str().to_owned())
}

fn ip_from_bytes(b: &[u8]) -> Option<std::net::IpAddr> {
    match b.len() {
        4 => Some(<[u8; 4]>::try_from(b).ok()?.into()),
        16 => Some(<[u8; 16]>::try_from(b).ok()?.into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, SanType};

    #[test]
    fn reads_names_dates_and_key() {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
        params.subject_alt_names.push(SanType::IpAddress("192.0.2.7".parse().unwrap()));
        params.not_before = rcgen::date_time_ymd(2026, 1, 1);
        params.not_after = rcgen::date_time_ymd(2026, 4, 1);
        let cert = params.self_signed(&key).unwrap();
        let issued = parse_chain(&cert.pem()).unwrap();
        assert_eq!(issued.dns_names, ["a.example.com"]);
        assert_eq!(issued.ip_addresses, ["192.0.2.7"]);
        assert_eq!(issued.identifiers(), ["192.0.2.7", "a.example.com"]);
        assert_eq!(issued.not_before, "2026-01-01T00:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(issued.not_after, "2026-04-01T00:00:00Z".parse::<Timestamp>().unwrap());
        assert!(issued.matches_key(&key));
        assert!(!issued.matches_key(&KeyPair::generate().unwrap()));
        assert!(!issued.chain_ends_in_root, "a lone leaf is not a chain");
        assert!(parse_chain("garbage").is_err());
    }
}
