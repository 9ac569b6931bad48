//! cainjector, step 2 (pure): the caBundle to write, as cert-manager v1.21's `CAInjectorMerging`
//! merges it: the certificates already there, then the new ones, each once, those expired left
//! out. A CA rotated at its source is thus trusted beside the old one until the old one expires,
//! so clients of the webhook keep working while its serving certificate moves to the new CA.

use jiff::Timestamp;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Certificates one bundle may hold (a source past it is refused before it gets here).
pub const MAX_CERTIFICATES: usize = 100;

/// The bundle to write where `existing` is, for the source's `new` CA data, at `now`. `existing`
/// is returned unchanged (same bytes) when it already holds exactly what the merge keeps.
/// Either side that is not PEM certificates: the new data replaces the bundle, as cert-manager's.
pub fn merge(existing: &[u8], new: &[u8], now: Timestamp) -> Vec<u8> {
    if existing.is_empty() {
        return new.to_vec();
    }
    let (Some(old), Some(fresh)) = (certificates(existing), certificates(new)) else {
        return new.to_vec();
    };
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for (der, not_after) in old.iter().chain(&fresh) {
        if now.as_second() <= *not_after && !kept.contains(der) {
            kept.push(der.clone());
        }
    }
    // Every certificate expired: the source's data as it is, rather than an empty bundle.
    if kept.is_empty() {
        return new.to_vec();
    }
    let old_ders: Vec<&Vec<u8>> = old.iter().map(|(der, _)| der).collect();
    if kept.iter().collect::<Vec<_>>() == old_ders {
        return existing.to_vec();
    }
    kept.into_iter()
        .map(|der| crate::pki::pem_text(&pem::Pem::new("CERTIFICATE", der)))
        .collect::<String>()
        .into_bytes()
}

/// Each certificate's DER and notAfter (Unix seconds); `None` unless `data` is only PEM
/// CERTIFICATE blocks (at least one, at most `MAX_CERTIFICATES`) that parse.
fn certificates(data: &[u8]) -> Option<Vec<(Vec<u8>, i64)>> {
    let blocks = pem::parse_many(data).ok()?;
    if blocks.is_empty() || blocks.len() > MAX_CERTIFICATES {
        return None;
    }
    blocks
        .into_iter()
        .map(|block| {
            if block.tag() != "CERTIFICATE" {
                return None;
            }
            let (_, cert) = X509Certificate::from_der(block.contents()).ok()?;
            let not_after = cert.validity().not_after.timestamp();
            Some((block.into_contents(), not_after))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA certificate valid until `not_after` (PEM).
    fn ca(name: &str, not_after: (i32, u8, u8)) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        params.self_signed(&key).unwrap().pem().replace("\r\n", "\n")
    }

    fn ders(bundle: &[u8]) -> Vec<Vec<u8>> {
        pem::parse_many(bundle).unwrap().into_iter().map(pem::Pem::into_contents).collect()
    }

    #[test]
    fn new_cas_are_added_once_after_the_old_and_expired_ones_are_dropped() {
        let now: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let old = ca("old", (2030, 1, 1));
        let new = ca("new", (2031, 1, 1));
        let expired = ca("expired", (2026, 1, 1));
        let der = |pem: &str| ders(pem.as_bytes());
        let cat = |parts: &[&String]| parts.iter().map(|p| p.as_str()).collect::<String>();
        // (existing, new, the certificates of the result)
        let table: [(String, String, Vec<Vec<u8>>); 7] = [
            // Nothing there yet: the source's data as it is.
            (String::new(), old.clone(), der(&old)),
            // Rotation: the old CA stays, the new one follows it.
            (old.clone(), new.clone(), [der(&old), der(&new)].concat()),
            // Already there: once.
            (cat(&[&old, &new]), new.clone(), [der(&old), der(&new)].concat()),
            (cat(&[&old, &old]), old.clone(), der(&old)),
            // An expired CA goes, in the bundle or in the source.
            (cat(&[&expired, &old]), new.clone(), [der(&old), der(&new)].concat()),
            (old.clone(), cat(&[&expired, &new]), [der(&old), der(&new)].concat()),
            // Both sides expired: the source's data rather than nothing.
            (expired.clone(), expired.clone(), der(&expired)),
        ];
        for (i, (existing, incoming, want)) in table.into_iter().enumerate() {
            let got = merge(existing.as_bytes(), incoming.as_bytes(), now);
            assert_eq!(ders(&got), want, "row {i}");
            assert!(String::from_utf8(got).unwrap().ends_with("-----\n"), "row {i}: PEM, LF");
        }
        // Unchanged: the very same bytes, so nothing is written.
        let spaced = format!("{old}\n");
        assert_eq!(merge(spaced.as_bytes(), old.as_bytes(), now), spaced.as_bytes());
    }

    #[test]
    fn a_bundle_or_source_that_is_not_pem_certificates_is_replaced_by_the_source() {
        let now: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let good = ca("good", (2030, 1, 1));
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        for existing in ["garbage", key, broken] {
            assert_eq!(merge(existing.as_bytes(), good.as_bytes(), now), good.as_bytes());
        }
        for new in ["garbage", broken] {
            assert_eq!(merge(good.as_bytes(), new.as_bytes(), now), new.as_bytes());
        }
        let many = good.repeat(MAX_CERTIFICATES + 1);
        assert_eq!(merge(many.as_bytes(), good.as_bytes(), now), good.as_bytes());
    }
}
