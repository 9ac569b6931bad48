//! Subjects as cert-manager writes them: a `literalSubject` parsed from RFC 4514, or the
//! `commonName` and `subject` fields, as the exact DER Name of the CSR and the certificate.

use crate::api::CertificateSpec;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::der::asn1::{Any, ObjectIdentifier, PrintableStringRef, SetOfVec, Utf8StringRef};
use x509_cert::der::{Decode, Encode};
use x509_cert::name::{RdnSequence, RelativeDistinguishedName};

/// A subject in encoding order (the reverse of an RFC 4514 string): RDNs of attributes.
pub type Rdns = Vec<Vec<(ObjectIdentifier, String)>>;

const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// The attribute names a literalSubject may use: cert-manager's list (it names no others,
/// whatever RFC 4514 or OpenSSL know); any other type must be a dotted OID.
const NAMES: [(&str, &str); 10] = [
    ("C", "2.5.4.6"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("CN", "2.5.4.3"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
];

/// Parses an RFC 4514 string as cert-manager does (go-ldap's reading): `,` or `;` ends an RDN,
/// `+` joins attributes into one, spaces around types and values are dropped unless escaped,
/// `\X` and `\XX` escape, and `#hex` is a BER value whose contents are the string. The types
/// are matched as written (`cn` is not `CN`). The RDNs come back in encoding order.
pub fn parse(literal: &str) -> Result<Rdns, String> {
    if literal.trim().is_empty() {
        return Ok(vec![]);
    }
    let bytes = literal.as_bytes();
    let (mut rdns, mut rdn) = (Rdns::new(), Vec::new());
    let (mut start, mut escaping, mut key) = (0, false, None::<String>);
    for i in 0..=bytes.len() {
        let c = bytes.get(i).copied();
        match c {
            // A trailing backslash escapes nothing: the last value then fails to unescape.
            Some(_) if escaping => escaping = false,
            Some(b'\\') => escaping = true,
            Some(b'=') if key.is_none() => {
                key = Some(unescape(&literal[start..i])?);
                start = i + 1;
            }
            None | Some(b',' | b';' | b'+') => {
                let Some(k) = key.take() else {
                    return Err(format!("{:?} is not a type=value pair", &literal[start..i]));
                };
                let value = value(&literal[start..i])?;
                rdn.push((oid_of(&k)?, value));
                start = i + 1;
                if c != Some(b'+') {
                    rdns.push(std::mem::take(&mut rdn));
                }
            }
            _ => {}
        }
    }
    rdns.reverse();
    Ok(rdns)
}

fn oid_of(key: &str) -> Result<ObjectIdentifier, String> {
    let named = NAMES.iter().find(|(n, _)| *n == key).map(|(_, oid)| *oid);
    ObjectIdentifier::new(named.unwrap_or(key)).map_err(|_| {
        format!(
            "unknown attribute type {key:?}: use C, O, OU, CN, SERIALNUMBER, L, ST, STREET, DC, \
             UID or a dotted OID"
        )
    })
}

fn value(written: &str) -> Result<String, String> {
    // Only a `#` right after the `=` starts one (go-ldap's reading; ` #…` is text).
    let Some(hex) = written.strip_prefix('#') else {
        return unescape(written);
    };
    // A BER value in hex (RFC 4514 §2.4): its contents are the string; its tag is not kept.
    let ber = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| format!("#{hex} is not hexadecimal"))?;
    let any = Any::from_der(&ber).map_err(|e| format!("#{hex} is not one BER value: {e}"))?;
    String::from_utf8(any.value().to_vec()).map_err(|_| format!("#{hex} is not UTF-8 text"))
}

/// A type or value as written: outer spaces dropped (an escaped trailing space kept), escapes
/// undone, and the characters RFC 4514 wants escaped refused bare.
fn unescape(written: &str) -> Result<String, String> {
    let mut s = written.trim_start_matches(' ');
    let trimmed = s.trim_end_matches(' ');
    let backslashes = trimmed.bytes().rev().take_while(|&b| b == b'\\').count();
    s = if trimmed.len() < s.len() && backslashes % 2 == 1 {
        &s[..=trimmed.len()]
    } else {
        trimmed
    };
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => match b.get(i + 1) {
                Some(
                    c @ (b' ' | b'"' | b'#' | b'+' | b',' | b';' | b'<' | b'=' | b'>' | b'\\'),
                ) => {
                    out.push(*c);
                    i += 2;
                }
                Some(_) => {
                    let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
                    out.push(hex.ok_or_else(|| format!("bad escape in {written:?}"))?);
                    i += 3;
                }
                None => return Err(format!("{written:?} ends in a lone backslash")),
            },
            c @ (b'"' | b'<' | b'>' | 0) => {
                return Err(format!("{:?} must be escaped in {written:?}", c as char));
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{written:?} escapes bytes that are not UTF-8"))
}

/// The first common name in encoding order, as cert-manager takes it from a literalSubject.
pub fn common_name(rdns: &Rdns) -> Option<&str> {
    rdns.iter().flatten().find(|(oid, _)| *oid == CN).map(|(_, v)| v.as_str())
}

/// The subject `spec` asks for: its literalSubject, else the common name and `subject`
/// fields in Go's order (C, ST, L, STREET, postalCode, O, OU, CN, SERIALNUMBER), the values of
/// one field together in one RDN, as cert-manager writes them.
pub fn of_spec(spec: &CertificateSpec) -> Result<Rdns, String> {
    if let Some(literal) = spec.literal_subject.as_deref().filter(|l| !l.is_empty()) {
        return parse(literal);
    }
    let s = spec.subject.clone().unwrap_or_default();
    let cn = spec.common_name.iter().filter(|c| !c.is_empty()).cloned().collect();
    let serial = s.serial_number.iter().filter(|c| !c.is_empty()).cloned().collect();
    let fields: [(&str, Vec<String>); 9] = [
        ("2.5.4.6", s.countries.unwrap_or_default()),
        ("2.5.4.8", s.provinces.unwrap_or_default()),
        ("2.5.4.7", s.localities.unwrap_or_default()),
        ("2.5.4.9", s.street_addresses.unwrap_or_default()),
        ("2.5.4.17", s.postal_codes.unwrap_or_default()),
        ("2.5.4.10", s.organizations.unwrap_or_default()),
        ("2.5.4.11", s.organizational_units.unwrap_or_default()),
        ("2.5.4.3", cn),
        ("2.5.4.5", serial),
    ];
    let rdns = fields.into_iter().filter(|(_, values)| !values.is_empty());
    Ok(rdns
        .map(|(oid, values)| {
            let oid = ObjectIdentifier::new_unwrap(oid);
            values.into_iter().map(|v| (oid, v)).collect()
        })
        .collect())
}

/// The DER Name of `rdns`. Each value is a PrintableString when it can be one, else a
/// UTF8String (Go's choice, so the bytes match cert-manager's); a multi-valued RDN is sorted,
/// as DER's SET OF is.
pub fn to_der(rdns: &Rdns) -> Result<Vec<u8>, String> {
    let der_err = |e: x509_cert::der::Error| e.to_string();
    let mut sequence = Vec::with_capacity(rdns.len());
    for rdn in rdns {
        let mut atvs = Vec::with_capacity(rdn.len());
        for (oid, v) in rdn {
            let value = if v.bytes().all(printable) {
                Any::encode_from(&PrintableStringRef::new(v).map_err(der_err)?)
            } else {
                Any::encode_from(&Utf8StringRef::new(v).map_err(der_err)?)
            };
            atvs.push(AttributeTypeAndValue { oid: *oid, value: value.map_err(der_err)? });
        }
        sequence.push(RelativeDistinguishedName::from(SetOfVec::try_from(atvs).map_err(der_err)?));
    }
    RdnSequence::from(sequence).to_der().map_err(der_err)
}

/// PrintableString's alphabet, less `*` and `&`, which Go's encoder also refuses there.
fn printable(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
}

/// The DER of an empty subject (an empty SEQUENCE).
pub const EMPTY: [u8; 2] = [0x30, 0x00];

#[cfg(test)]
#[path = "dn_tests.rs"]
mod tests;
