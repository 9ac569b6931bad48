//! The extensions of a CSR that rcgen cannot write as cert-manager does: the SANs with
//! otherNames, and nameConstraints, each the DER value of an X.509 extension.

use crate::api::CertificateSpec;
use crate::api::certificate::{NameConstraintItem, NameConstraints};
use std::net::IpAddr;
use x509_cert::der::Encode;
use x509_cert::der::asn1::{Any, Ia5String, ObjectIdentifier, OctetString, Utf8StringRef};
use x509_cert::ext::pkix::constraints::name::{GeneralSubtree, GeneralSubtrees};
use x509_cert::ext::pkix::name::{GeneralName, OtherName};

pub const OID_SAN: &[u64] = &[2, 5, 29, 17];
pub const OID_NAME_CONSTRAINTS: &[u64] = &[2, 5, 29, 30];

/// The names of a subjectAltName in cert-manager's order (Go's: DNS names, e-mail addresses,
/// IP addresses, URIs, then otherNames), or `None` when there are none.
pub fn sans(
    dns: &[String],
    emails: &[String],
    ips: &[IpAddr],
    uris: &[String],
    other_names: &[(ObjectIdentifier, String)],
) -> Result<Option<Vec<u8>>, String> {
    let ia5 = |s: &String| Ia5String::new(s).map_err(|_| format!("{s:?} is not ASCII"));
    let mut names = Vec::new();
    for d in dns {
        names.push(GeneralName::DnsName(ia5(d)?));
    }
    for e in emails {
        names.push(GeneralName::Rfc822Name(ia5(e)?));
    }
    for ip in ips {
        names.push(GeneralName::IpAddress(ip_bytes(*ip)));
    }
    for u in uris {
        names.push(GeneralName::UniformResourceIdentifier(ia5(u)?));
    }
    for (oid, text) in other_names {
        names.push(GeneralName::OtherName(OtherName { type_id: *oid, value: utf8(text)? }));
    }
    if names.is_empty() {
        return Ok(None);
    }
    names.to_der().map(Some).map_err(|e| e.to_string())
}

/// An otherName's value: a UTF8String, the only kind cert-manager writes (x509-cert wraps it
/// in the `[0] EXPLICIT` tag).
fn utf8(text: &str) -> Result<Any, String> {
    Any::encode_from(&Utf8StringRef::new(text).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())
}

fn ip_bytes(ip: IpAddr) -> OctetString {
    // 4 bytes for IPv4, as Go writes it; the lengths are fixed, so this cannot fail.
    let bytes = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(v6.octets().to_vec(), |v4| v4.octets().into()),
    };
    OctetString::new(bytes).expect("an IP address fits an OCTET STRING")
}

/// An `otherNames[].oid` as written (dotted decimal).
pub fn oid(written: &str) -> Result<ObjectIdentifier, String> {
    ObjectIdentifier::new(written).map_err(|_| "invalid oid syntax".into())
}

/// The spec's otherNames: each OID with its UTF-8 value.
pub fn other_names(spec: &CertificateSpec) -> Result<Vec<(ObjectIdentifier, String)>, String> {
    let names = spec.other_names.iter().flatten();
    names
        .map(|n| {
            let written = n.oid.as_deref().unwrap_or_default();
            let oid = oid(written).map_err(|e| format!("otherNames oid {written:?}: {e}"))?;
            Ok((oid, n.utf8_value.clone().unwrap_or_default()))
        })
        .collect()
}

/// A CIDR as Go's ParseCIDR reads it: an address and a prefix length within its family; the
/// host bits may be set (they are masked when encoded).
pub fn cidr(written: &str) -> Result<(IpAddr, u8), String> {
    let invalid = || "invalid CIDR address".to_string();
    let (addr, len) = written.split_once('/').ok_or_else(invalid)?;
    let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let len: u8 =
        len.parse().ok().filter(|l| *l <= bits && !len.starts_with('+')).ok_or_else(invalid)?;
    Ok((addr, len))
}

/// The NameConstraints extension value `nc` asks for, and whether it is critical; `None` when
/// it constrains nothing (cert-manager then leaves the extension out).
pub fn name_constraints(nc: &NameConstraints) -> Result<Option<(Vec<u8>, bool)>, String> {
    let permitted = subtrees(nc.permitted.as_ref())?;
    let excluded = subtrees(nc.excluded.as_ref())?;
    if permitted.is_none() && excluded.is_none() {
        return Ok(None);
    }
    let value = x509_cert::ext::pkix::constraints::name::NameConstraints {
        permitted_subtrees: permitted,
        excluded_subtrees: excluded,
    };
    let der = value.to_der().map_err(|e| e.to_string())?;
    Ok(Some((der, nc.critical == Some(true))))
}

/// One side of the constraints, in Go's order: DNS domains, IP ranges, e-mail, URI domains.
fn subtrees(item: Option<&NameConstraintItem>) -> Result<Option<GeneralSubtrees>, String> {
    let Some(item) = item else { return Ok(None) };
    let ia5 = |s: &String| Ia5String::new(s).map_err(|_| format!("{s:?} is not ASCII"));
    let mut bases = Vec::new();
    for d in item.dns_domains.iter().flatten() {
        bases.push(GeneralName::DnsName(ia5(d)?));
    }
    for range in item.ip_ranges.iter().flatten() {
        let (addr, len) = cidr(range).map_err(|e| format!("{range:?}: {e}"))?;
        bases.push(GeneralName::IpAddress(ip_and_mask(addr, len)));
    }
    for e in item.email_addresses.iter().flatten() {
        bases.push(GeneralName::Rfc822Name(ia5(e)?));
    }
    for u in item.uri_domains.iter().flatten() {
        bases.push(GeneralName::UniformResourceIdentifier(ia5(u)?));
    }
    let trees: GeneralSubtrees =
        bases.into_iter().map(|base| GeneralSubtree { base, minimum: 0, maximum: None }).collect();
    Ok((!trees.is_empty()).then_some(trees))
}

/// RFC 5280 §4.2.1.10: the network address then the mask, 8 bytes for IPv4, 32 for IPv6.
fn ip_and_mask(addr: IpAddr, len: u8) -> OctetString {
    let (ip, bits): (Vec<u8>, u32) = match addr {
        IpAddr::V4(v4) => (v4.octets().into(), 32),
        IpAddr::V6(v6) => (v6.octets().into(), 128),
    };
    let mask: Vec<u8> = (0..bits / 8)
        .map(|i| {
            let on = (u32::from(len)).saturating_sub(i * 8).min(8);
            (0xffu16 << (8 - on)) as u8
        })
        .collect();
    let mut out: Vec<u8> = ip.iter().zip(&mask).map(|(b, m)| b & m).collect();
    out.extend(mask);
    OctetString::new(out).expect("an address and mask fit an OCTET STRING")
}

#[cfg(test)]
#[path = "ext_tests.rs"]
mod tests;
