//! The issuance step's judgment of its request, by table.

use super::*;
use crate::api::meta::{ConditionStatus, set_condition};
use crate::pki::key::KeySpec;

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

#[test]
fn where_the_request_stands() {
    let cert: Certificate = serde_yaml::from_str(
        "metadata: {name: web, namespace: shop, generation: 1}\n\
         spec: {secretName: web-tls, issuerRef: {name: ca}, dnsNames: [a.example.com]}",
    )
    .unwrap();
    let key = KeySpec::from_spec(&cert.spec).unwrap().generate().unwrap();
    let other = KeySpec::from_spec(&cert.spec).unwrap().generate().unwrap();
    let csr =
        crate::pki::request::to_pem(&csr::build(&cert.spec, &key, csr::Sans::AsWritten).unwrap());
    let spki = key.subject_public_key_info();
    let with =
        |ready: Option<(ConditionStatus, &str, &str)>, signed: bool, failed_at: Option<&str>| {
            let mut cr = request::build(&cert, 1, None, &csr);
            let status = cr.status.get_or_insert_default();
            if let Some((value, reason, message)) = ready {
                let at = ts(failed_at.unwrap_or("2026-01-01T00:00:00Z"));
                set_condition(&mut status.conditions, "Ready", value, reason, message, None, at);
            }
            status.failure_time =
                failed_at.map(|t| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(ts(t)));
            if signed {
                status.certificate = Some(k8s_openapi::ByteString(b"PEM".to_vec()));
            }
            cr
        };
    let failed = Some((ConditionStatus::False, "Failed", "the CA said no"));
    let pending =
        Some((ConditionStatus::False, "Pending", "signing: the CA issuer's Secret is missing"));
    let at = Some("2026-02-01T00:00:00Z");
    // (what, the request, the last failure counted, the key's SPKI, where it stands)
    type Case<'a> = (&'a str, CertificateRequest, Option<&'a str>, &'a [u8], Judged);
    let cases: [Case; 7] = [
        (
            "new, nothing said",
            with(None, false, None),
            None,
            &spki,
            Judged::Waiting("Issuing".into()),
        ),
        (
            "pending, with what it waits on",
            with(pending, false, None),
            None,
            &spki,
            Judged::Waiting("Issuing; signing: the CA issuer's Secret is missing".into()),
        ),
        (
            "signed",
            with(Some((ConditionStatus::True, "Issued", "")), true, None),
            None,
            &spki,
            Judged::Signed,
        ),
        (
            "failed, not counted yet",
            with(failed, false, at),
            Some("2026-01-15T00:00:00Z"),
            &spki,
            Judged::Failed("The CertificateRequest \"web-1\" failed: the CA said no".into()),
        ),
        ("failed and counted", with(failed, false, at), at, &spki, Judged::Replace),
        (
            "made with another key",
            with(None, false, None),
            None,
            &other.subject_public_key_info(),
            Judged::Replace,
        ),
        (
            "a failed request for another key is still counted first",
            with(failed, false, at),
            None,
            &other.subject_public_key_info(),
            Judged::Failed("The CertificateRequest \"web-1\" failed: the CA said no".into()),
        ),
    ];
    for (what, cr, last_failure, key, want) in cases {
        assert_eq!(judge(&cert, &cr, key, last_failure.map(ts), "Issuing"), want, "{what}");
    }
}
