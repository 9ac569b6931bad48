//! The certificate request: the names to order and the CSR that finalizes the order.

use super::PkiError;
use super::inspect::Issued;
use crate::api::CertificateSpec;
use crate::api::certificate::KeyUsage;
use crate::certificate::request::DEFAULT_USAGES;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use std::net::IpAddr;

/// The names an ACME order is placed for, sorted and without duplicates: `dnsNames`, the
/// `commonName` (which ACME CAs also put in the SANs), and `ipAddresses`.
pub fn identifiers(spec: &CertificateSpec) -> Vec<String> {
    let mut names: Vec<String> = spec.dns_names.iter().flatten().cloned().collect();
    names.extend(spec.common_name.iter().filter(|cn| !cn.is_empty()).cloned());
    names.extend(spec.ip_addresses.iter().flatten().cloned());
    names.sort();
    names.dedup();
    names
}

/// Which names a CSR carries as SANs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sans {
    /// The order's identifiers (the common name among them), as ACME CAs require.
    Acme,
    /// The spec's dnsNames, ipAddresses, uris and emailAddresses as written, the common name in
    /// the subject only: what cert-manager asks of every other issuer.
    AsWritten,
}

/// A DER CSR for `spec`, signed by `key`, with the SANs `sans` says; the subject carries the
/// common name and the `subject` fields.
pub fn build(spec: &CertificateSpec, key: &KeyPair, sans: Sans) -> Result<Vec<u8>, PkiError> {
    let mut params = CertificateParams::default();
    let dns = |name: String| name.try_into().map(SanType::DnsName).map_err(PkiError::Csr);
    match sans {
        Sans::Acme => {
            for name in identifiers(spec) {
                params.subject_alt_names.push(match name.parse::<IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => dns(name)?,
                });
            }
        }
        Sans::AsWritten => {
            for name in spec.dns_names.iter().flatten() {
                params.subject_alt_names.push(dns(name.clone())?);
            }
            for ip in spec.ip_addresses.iter().flatten() {
                let ip = ip.parse::<IpAddr>().map_err(|e| PkiError::Unsupported(e.to_string()))?;
                params.subject_alt_names.push(SanType::IpAddress(ip));
            }
            for uri in spec.uris.iter().flatten() {
                let uri = uri.clone().try_into().map_err(PkiError::Csr)?;
                params.subject_alt_names.push(SanType::URI(uri));
            }
            for email in spec.email_addresses.iter().flatten() {
                let email = email.clone().try_into().map_err(PkiError::Csr)?;
                params.subject_alt_names.push(SanType::Rfc822Name(email));
            }
        }
    }
    params.distinguished_name = subject(spec);
    let is_ca = spec.is_ca == Some(true);
    if is_ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    if spec.encode_usages_in_request != Some(false) {
        // The request says what is issued.
        (params.key_usages, params.extended_key_usages) = purposes(spec.usages.as_deref(), is_ca);
    }
    // Signed as the spec asks (signatureAlgorithm, else the key's default, as cert-manager).
    let key = match spec.signature_algorithm {
        Some(asked) => {
            let of = super::key::KeySpec::of(key)
                .ok_or_else(|| PkiError::Unsupported("a private key of an unknown type".into()))?;
            super::key::signing_with(
                key,
                of.algorithm_named(asked).map_err(PkiError::Unsupported)?,
            )?
        }
        None => super::key::signing_by_default(key)?,
    };
    let csr = params.serialize_request(&key).map_err(PkiError::Csr)?;
    Ok(csr.der().to_vec())
}

/// The key usages and extended key usages `usages` asks for (cert-manager's defaults when none
/// are listed), each once, with certificate signing added for a CA, as cert-manager adds it.
pub fn purposes(
    usages: Option<&[KeyUsage]>,
    is_ca: bool,
) -> (Vec<KeyUsagePurpose>, Vec<ExtendedKeyUsagePurpose>) {
    let listed = usages.filter(|u| !u.is_empty()).unwrap_or(&DEFAULT_USAGES);
    let (mut key, mut extended) = (Vec::new(), Vec::new());
    for usage in listed {
        match purpose(*usage) {
            Purpose::Key(k) if !key.contains(&k) => key.push(k),
            Purpose::Extended(e) if !extended.contains(&e) => extended.push(e),
            _ => {}
        }
    }
    if is_ca && !key.contains(&KeyUsagePurpose::KeyCertSign) {
        key.push(KeyUsagePurpose::KeyCertSign);
    }
    (key, extended)
}

/// Whether `issued` names exactly what `spec` asks: the DNS, IP, URI and e-mail SANs, where the
/// common name may or may not be among them (ACME CAs add it; other issuers need not).
/// `Err((issued, wanted))` lists both, for the message.
pub fn names_match(spec: &CertificateSpec, issued: &Issued) -> Result<(), (String, String)> {
    let cn = spec.common_name.iter().filter(|c| !c.is_empty()).cloned();
    let mut want: Vec<String> = spec.dns_names.iter().flatten().cloned().collect();
    want.extend(spec.ip_addresses.iter().flatten().cloned());
    want.extend(spec.uris.iter().flatten().map(|u| format!("uri:{u}")));
    want.extend(spec.email_addresses.iter().flatten().map(|e| format!("email:{e}")));
    let mut have = issued.dns_names.clone();
    have.extend(issued.ip_addresses.iter().cloned());
    have.extend(issued.uris.iter().map(|u| format!("uri:{u}")));
    have.extend(issued.emails.iter().map(|e| format!("email:{e}")));
    for list in [&mut want, &mut have] {
        list.extend(cn.clone());
        list.sort();
        list.dedup();
    }
    if want == have { Ok(()) } else { Err((have.join(" "), want.join(" "))) }
}

fn subject(spec: &CertificateSpec) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(cn) = spec.common_name.as_ref().filter(|cn| !cn.is_empty()) {
        dn.push(DnType::CommonName, cn.as_str());
    }
    let Some(s) = &spec.subject else { return dn };
    let fields = [
        (DnType::CountryName, &s.countries),
        (DnType::StateOrProvinceName, &s.provinces),
        (DnType::LocalityName, &s.localities),
        (DnType::OrganizationName, &s.organizations),
        (DnType::OrganizationalUnitName, &s.organizational_units),
        // streetAddress (2.5.4.9) and postalCode (2.5.4.17) have no named rcgen type.
        (DnType::CustomDnType(vec![2, 5, 4, 9]), &s.street_addresses),
        (DnType::CustomDnType(vec![2, 5, 4, 17]), &s.postal_codes),
    ];
    for (ty, values) in fields {
        for v in values.iter().flatten() {
            dn.push(ty.clone(), v.as_str());
        }
    }
    if let Some(serial) = &s.serial_number {
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), serial.as_str());
    }
    dn
}

enum Purpose {
    Key(KeyUsagePurpose),
    Extended(ExtendedKeyUsagePurpose),
    None,
}

fn purpose(u: KeyUsage) -> Purpose {
    use KeyUsage::*;
    use Purpose::{Extended as E, Key as K};
    match u {
        Signing | DigitalSignature => K(KeyUsagePurpose::DigitalSignature),
        ContentCommitment => K(KeyUsagePurpose::ContentCommitment),
        KeyEncipherment => K(KeyUsagePurpose::KeyEncipherment),
        KeyAgreement => K(KeyUsagePurpose::KeyAgreement),
        DataEncipherment => K(KeyUsagePurpose::DataEncipherment),
        CertSign => K(KeyUsagePurpose::KeyCertSign),
        CrlSign => K(KeyUsagePurpose::CrlSign),
        EncipherOnly => K(KeyUsagePurpose::EncipherOnly),
        DecipherOnly => K(KeyUsagePurpose::DecipherOnly),
        Any => E(ExtendedKeyUsagePurpose::Any),
        ServerAuth => E(ExtendedKeyUsagePurpose::ServerAuth),
        ClientAuth => E(ExtendedKeyUsagePurpose::ClientAuth),
        CodeSigning => E(ExtendedKeyUsagePurpose::CodeSigning),
        EmailProtection | SMime => E(ExtendedKeyUsagePurpose::EmailProtection),
        Timestamping => E(ExtendedKeyUsagePurpose::TimeStamping),
        OcspSigning => E(ExtendedKeyUsagePurpose::OcspSigning),
        // IPsec and the SGC purposes are obsolete; no CA honours them in a request.
        IpsecEndSystem | IpsecTunnel | IpsecUser | MicrosoftSgc | NetscapeSgc => Purpose::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    #[test]
    fn csr_names_are_the_order_identifiers() {
        let spec: CertificateSpec = serde_yaml::from_str(
            "secretName: s\nissuerRef: {name: i}\ncommonName: b.example.com\n\
             dnsNames: [a.example.com, b.example.com]\nipAddresses: [192.0.2.1]\n\
             subject: {organizations: [Example]}\nusages: [server auth, digital signature]",
        )
        .unwrap();
        assert_eq!(identifiers(&spec), ["192.0.2.1", "a.example.com", "b.example.com"]);
        let key = KeyPair::generate().unwrap();
        let der = build(&spec, &key, Sans::Acme).unwrap();
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        let subject = csr.certification_request_info.subject.to_string();
        assert!(subject.contains("CN=b.example.com") && subject.contains("O=Example"), "{subject}");
        let sans: Vec<String> = csr
            .requested_extensions()
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                x509_parser::extensions::ParsedExtension::SubjectAlternativeName(s) => Some(s),
                _ => None,
            })
            .flat_map(|s| s.general_names.iter().map(|n| n.to_string()))
            .collect();
        assert_eq!(
            sans,
            ["IPAddress(c0:00:02:01)", "DNSName(a.example.com)", "DNSName(b.example.com)"]
        );
    }
}
