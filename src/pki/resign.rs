//! Exact names in what rcgen signs: rcgen's subject (and issuer) Name swapped for the exact
//! DER bytes, and the result signed again with the same key. rcgen's Name type keeps one value
//! per attribute type and no multi-valued RDNs, so it writes everything else and this step the
//! names.

use rcgen::SigningKey;
use x509_cert::der::asn1::{Any, BitStringRef};
use x509_cert::der::{Decode, Encode, Tag, Tagged};

/// A DER CSR with `subject` (a DER Name) as its subject, signed again by `key`.
pub fn csr(der: &[u8], subject: &[u8], key: &impl SigningKey) -> Result<Vec<u8>, String> {
    // CertificationRequestInfo: version, subject, subjectPKInfo, attributes.
    replace(der, &[(1, subject)], key)
}

/// A DER certificate with `issuer` and `subject` (DER Names), signed again by `key`.
pub fn certificate(
    der: &[u8],
    issuer: &[u8],
    subject: &[u8],
    key: &impl SigningKey,
) -> Result<Vec<u8>, String> {
    // TBSCertificate: [0] version (rcgen writes v3), serial, signature, issuer, validity, subject.
    replace(der, &[(3, issuer), (5, subject)], key)
}

/// `signed` (a SEQUENCE of the signed part, the algorithm and the signature) with the fields
/// of its signed part at the given positions replaced, and a new signature over it.
fn replace(
    signed: &[u8],
    fields: &[(usize, &[u8])],
    key: &impl SigningKey,
) -> Result<Vec<u8>, String> {
    let err = |e: x509_cert::der::Error| e.to_string();
    let mut outer: Vec<Any> = Vec::from_der(signed).map_err(err)?;
    let [to_sign, _algorithm, _signature] = outer.as_mut_slice() else {
        return Err("not a signed SEQUENCE of three".into());
    };
    let mut inner: Vec<Any> = to_sign.decode_as().map_err(err)?;
    for (at, name) in fields {
        let slot = inner.get_mut(*at).ok_or("a field missing from rcgen's output")?;
        if slot.tag() != Tag::Sequence {
            return Err(format!("field {at} of rcgen's output is not a Name"));
        }
        *slot = Any::from_der(name).map_err(err)?;
    }
    let tbs = inner.to_der().map_err(err)?;
    let signature = key.sign(&tbs).map_err(|e| e.to_string())?;
    outer[0] = Any::from_der(&tbs).map_err(err)?;
    outer[2] =
        Any::encode_from(&BitStringRef::from_bytes(&signature).map_err(err)?).map_err(err)?;
    outer.to_der().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};
    use x509_parser::prelude::{FromDer, X509Certificate};

    #[test]
    fn names_are_replaced_and_the_signature_still_verifies() {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["a.example.com".into()]).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let subject =
            crate::pki::dn::to_der(&crate::pki::dn::parse("CN=b,O=x+OU=y,O=z").unwrap()).unwrap();
        let issuer = crate::pki::dn::to_der(&crate::pki::dn::parse("CN=root").unwrap()).unwrap();
        let out = certificate(&der, &issuer, &subject, &key).unwrap();
        let (_, cert) = X509Certificate::from_der(&out).unwrap();
        assert_eq!(cert.subject().as_raw(), subject);
        assert_eq!(cert.issuer().as_raw(), issuer);
        cert.verify_signature(Some(cert.public_key())).unwrap();
        let sans = cert.subject_alternative_name().unwrap().unwrap().value.general_names.len();
        assert_eq!(sans, 1, "the rest is rcgen's, untouched");
    }
}
