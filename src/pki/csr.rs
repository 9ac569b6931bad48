//! The certificate request: the names to order and the CSR that finalizes the order.

use super::PkiError;
use super::inspect::Issued;
use super::{dn, ext};
use crate::api::CertificateSpec;
use crate::api::certificate::KeyUsage;
use crate::certificate::request::DEFAULT_USAGES;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::net::IpAddr;

/// The names an ACME order is placed for, sorted and without duplicates: `dnsNames`, the
/// `commonName` (which ACME CAs also put in the SANs), and `ipAddresses`.
pub fn identifiers(spec: &CertificateSpec) -> Vec<String> {
    let mut names: Vec<String> = spec.dns_names.iter().flatten().cloned().collect();
    names.extend(common_name(spec));
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

/// A DER CSR for `spec`, signed by `key`, with the SANs `sans` says (otherNames among them
/// when as written) and the nameConstraints; the subject is `dn::of_spec`'s, byte for byte.
pub fn build(spec: &CertificateSpec, key: &KeyPair, sans: Sans) -> Result<Vec<u8>, PkiError> {
    let mut params = CertificateParams::default();
    let unsupported = PkiError::Unsupported;
    let subject = dn::of_spec(spec)
        .map_err(|e| unsupported(format!("spec.literalSubject: {e}")))
        .and_then(|rdns| dn::to_der(&rdns).map_err(unsupported))?;
    let parse_ip = |ip: &String| ip.parse::<IpAddr>().map_err(|e| unsupported(e.to_string()));
    let san = match sans {
        Sans::Acme => {
            let (ips, dns): (Vec<String>, Vec<String>) =
                identifiers(spec).into_iter().partition(|n| n.parse::<IpAddr>().is_ok());
            let ips = ips.iter().map(parse_ip).collect::<Result<Vec<_>, _>>()?;
            ext::sans(&dns, &[], &ips, &[], &[])
        }
        Sans::AsWritten => {
            let ips = spec.ip_addresses.iter().flatten().map(parse_ip);
            let ips = ips.collect::<Result<Vec<_>, _>>()?;
            let other_names = ext::other_names(spec).map_err(unsupported)?;
            let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
            let (dns, emails, uris) =
                (list(&spec.dns_names), list(&spec.email_addresses), list(&spec.uris));
            ext::sans(&dns, &emails, &ips, &uris, &other_names)
        }
    };
    if let Some(der) = san.map_err(unsupported)? {
        // Critical when the subject is empty (RFC 5280 §4.2.1.6), as cert-manager marks it.
        let mut ext = CustomExtension::from_oid_content(ext::OID_SAN, der);
        ext.set_criticality(subject == dn::EMPTY);
        params.custom_extensions.push(ext);
    }
    let constraints = spec.name_constraints.as_ref().map(ext::name_constraints).transpose();
    let constraints = constraints.map_err(|e| unsupported(format!("spec.nameConstraints: {e}")))?;
    if let Some((der, critical)) = constraints.flatten() {
        let mut ext = CustomExtension::from_oid_content(ext::OID_NAME_CONSTRAINTS, der);
        ext.set_criticality(critical);
        params.custom_extensions.push(ext);
    }
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
    // rcgen writes the rest; the subject goes in after (rcgen's Name holds one value per type).
    let csr = params.serialize_request(&key).map_err(PkiError::Csr)?;
    super::resign::csr(csr.der(), &subject, &key).map_err(PkiError::Unsupported)
}

/// The common name `spec` asks for: `commonName`, or the first CN of its `literalSubject`
/// (cert-manager takes it from there for the ACME order and the checks).
pub fn common_name(spec: &CertificateSpec) -> Option<String> {
    if let Some(cn) = spec.common_name.as_ref().filter(|cn| !cn.is_empty()) {
        return Some(cn.clone());
    }
    let literal = spec.literal_subject.as_deref().filter(|l| !l.is_empty())?;
    let rdns = dn::parse(literal).ok()?;
    dn::common_name(&rdns).filter(|cn| !cn.is_empty()).map(str::to_owned)
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

/// Whether `issued` names exactly what `spec` asks: the DNS, IP, URI and e-mail SANs, where
/// the common name (of `commonName` or the `literalSubject`) may or may not be among them (ACME
/// CAs add it; other issuers need not). otherNames are not compared, as cert-manager's fuzzy
/// check does not compare them: an external issuer may leave them out, and that would fail
/// every issuance; a change of them in the spec is caught against the request (request.rs).
/// `Err((issued, wanted))` lists both, for the message.
pub fn names_match(spec: &CertificateSpec, issued: &Issued) -> Result<(), (String, String)> {
    let cn = common_name(spec);
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
    fn a_literal_subjects_common_name_is_the_certificates() {
        let spec = |extra: &str| -> CertificateSpec {
            let yaml = format!(
                "secretName: s\nissuerRef: {{name: i}}\ndnsNames: [a.example.com]\n{extra}"
            );
            serde_yaml::from_str(&yaml).unwrap()
        };
        let table: [(&str, Option<&str>, &[&str]); 4] = [
            (
                "commonName: c.example.com",
                Some("c.example.com"),
                &["a.example.com", "c.example.com"],
            ),
            (
                "literalSubject: CN=b.example.com,O=x",
                Some("b.example.com"),
                &["a.example.com", "b.example.com"],
            ),
            ("literalSubject: O=x", None, &["a.example.com"]),
            ("literalSubject: 'not a dn'", None, &["a.example.com"]),
        ];
        for (extra, cn, names) in table {
            let s = spec(extra);
            assert_eq!(common_name(&s).as_deref(), cn, "{extra}");
            assert_eq!(identifiers(&s), names, "{extra}");
        }
    }

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
            // Go's order: DNS names, then IP addresses.
            ["DNSName(a.example.com)", "DNSName(b.example.com)", "IPAddress(c0:00:02:01)"]
        );
    }
}
