//! The CertificateRequest a Certificate makes for one issuance, and whether the request behind
//! the current certificate still matches the spec (cert-manager's `RequestChanged`). Pure.

use crate::api::certificate::KeyUsage;
use crate::api::meta::{ConditionStatus, controlled_by};
use crate::api::request::{ANN_CERTIFICATE_NAME, ANN_PRIVATE_KEY_SECRET, ANN_REVISION};
use crate::api::{Certificate, CertificateRequest, CertificateRequestSpec};
use crate::pki::request::{Requested, read};
use crate::pki::{PkiError, csr};
use k8s_openapi::ByteString;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use std::collections::BTreeSet;
use std::sync::Arc;

/// cert-manager's defaults for a Certificate that leaves them unset.
pub const DEFAULT_DURATION: &str = "2160h";
pub const DEFAULT_USAGES: [KeyUsage; 2] = [KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment];

fn usages(u: &Option<Vec<KeyUsage>>) -> BTreeSet<String> {
    let list = match u.as_deref() {
        Some(list) if !list.is_empty() => list.to_vec(),
        _ => DEFAULT_USAGES.to_vec(),
    };
    list.iter().map(|u| serde_json::to_string(u).unwrap_or_default()).collect()
}

fn duration(d: &Option<String>) -> Option<std::time::Duration> {
    crate::validation::names::parse_duration(d.as_deref().unwrap_or(DEFAULT_DURATION)).ok()
}

/// `<certificate>-<revision>`: one name per issuance, so a repeated step finds its request.
pub fn name(cert: &Certificate, revision: i64) -> String {
    crate::naming::child(&cert.name_any(), &revision.to_string(), 253)
}

/// The request for `revision` of `cert`, carrying `csr_pem`, owned by the Certificate and
/// annotated as cert-manager annotates its requests.
pub fn build(
    cert: &Certificate,
    revision: i64,
    key_secret: Option<&str>,
    csr_pem: &str,
) -> CertificateRequest {
    let spec = &cert.spec;
    let mut annotations = std::collections::BTreeMap::from([
        (ANN_CERTIFICATE_NAME.to_string(), cert.name_any()),
        (ANN_REVISION.to_string(), revision.to_string()),
    ]);
    if let Some(k) = key_secret {
        annotations.insert(ANN_PRIVATE_KEY_SECRET.into(), k.into());
    }
    // The solver overrides go down to the Order, which applies them (cert-manager copies them
    // the same way).
    annotations.extend(crate::api::acme::solver_overrides(cert.annotations()));
    CertificateRequest {
        metadata: ObjectMeta {
            name: Some(name(cert, revision)),
            namespace: cert.namespace(),
            // Labels flow down (cert-manager copies them), so solver selectors see them.
            labels: Some(cert.labels().clone()).filter(|l| !l.is_empty()),
            annotations: Some(annotations),
            owner_references: cert.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: CertificateRequestSpec {
            request: ByteString(csr_pem.as_bytes().to_vec()),
            issuer_ref: spec.issuer_ref.clone(),
            duration: Some(spec.duration.clone().unwrap_or_else(|| DEFAULT_DURATION.into())),
            is_ca: spec.is_ca,
            usages: Some(
                spec.usages.clone().filter(|u| !u.is_empty()).unwrap_or(DEFAULT_USAGES.to_vec()),
            ),
            ..Default::default()
        },
        status: None,
    }
}

/// The fields of the spec a request no longer matches (`[]` when it matches), as cert-manager
/// words `RequestChanged`. The CSR is compared by building one for the spec with a throwaway
/// P-256 key: subject, names and requested extensions must be the same; the key is checked by
/// the Secret's own policy.
pub fn mismatches(
    cert: &Certificate,
    request: &CertificateRequest,
) -> Result<Vec<&'static str>, PkiError> {
    let spec = &cert.spec;
    let mut fields = Vec::new();
    if usages(&spec.usages) != usages(&request.spec.usages) {
        fields.push("spec.usages");
    }
    if duration(&spec.duration) != duration(&request.spec.duration) {
        fields.push("spec.duration");
    }
    if spec.is_ca.unwrap_or(false) != request.spec.is_ca.unwrap_or(false) {
        fields.push("spec.isCA");
    }
    let had = read(&request.spec.request.0)?;
    let throwaway = rcgen::KeyPair::generate().map_err(PkiError::Generate)?;
    // As written: its shape reads the same as an ACME request's (the common name counts as a
    // name either way), and it keeps URI and e-mail SANs.
    let want = read(&csr::build(spec, &throwaway, csr::Sans::AsWritten)?)?;
    let (_, had_names, had_ext) = had.shape();
    let (_, want_names, want_ext) = want.shape();
    // A literalSubject is compared byte for byte (as cert-manager compares it); the subject
    // fields attribute by attribute, whatever their order and string types.
    let literal = spec.literal_subject.as_ref().is_some_and(|l| !l.is_empty());
    if literal && had.subject_der != want.subject_der {
        fields.push("spec.literalSubject");
    }
    if !literal && had.subject_attributes != want.subject_attributes {
        fields.push("spec.subject");
    }
    if had_names != want_names {
        fields.push("spec.dnsNames");
    }
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    if sorted(&had.other_names) != sorted(&want.other_names) {
        fields.push("spec.otherNames");
    }
    // cert-manager does not compare these: a changed nameConstraints would stay unissued there.
    if had.name_constraints != want.name_constraints {
        fields.push("spec.nameConstraints");
    }
    // isCA shows in the extensions too (basicConstraints, certificate signing).
    if had_ext != want_ext && !fields.contains(&"spec.usages") && !fields.contains(&"spec.isCA") {
        fields.push("spec.usages");
    }
    Ok(fields)
}

/// The serial of the leaf of a request's signed `chain`.
pub fn signed_serial(chain: &[u8]) -> Option<String> {
    let issued = crate::pki::inspect::parse_chain(&String::from_utf8_lossy(chain)).ok()?;
    Some(issued.serial)
}

/// Whether `request` was made with the private key `spki` (DER SubjectPublicKeyInfo).
pub fn made_with_key(request: &CertificateRequest, spki: &[u8]) -> bool {
    read(&request.spec.request.0).is_ok_and(|r: Requested| r.public_key == spki)
}

/// The requests `cert` controls, as the cache last saw them.
pub fn owned<'a>(
    cert: &Certificate,
    all: &'a [Arc<CertificateRequest>],
) -> Vec<&'a Arc<CertificateRequest>> {
    let uid = cert.uid();
    all.iter().filter(|r| controlled_by(r.owner_references(), uid.as_deref())).collect()
}

/// `spec.revisionHistoryLimit` when it is unset: cert-manager v1.18+ keeps one revision.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 1;

/// The requests to delete, oldest revision first, by cert-manager v1.18+'s revision manager
/// rule: only for a Ready Certificate not being deleted; every owned request counts, finished
/// or not (nothing goes while they number at most the limit, 1 when unset); of those with a
/// revision, all but the `limit` newest go. The newest, possibly in flight, always stays.
pub fn to_prune<'a>(
    cert: &Certificate,
    owned: &[&'a Arc<CertificateRequest>],
) -> Vec<&'a Arc<CertificateRequest>> {
    let limit = cert.spec.revision_history_limit.unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT);
    // Validation refuses a limit below 1; a CRD that let one through still keeps the newest.
    let limit = limit.max(1) as usize;
    let ready =
        cert.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| {
            c.iter().any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True)
        });
    if !ready || cert.metadata.deletion_timestamp.is_some() || owned.len() <= limit {
        return vec![];
    }
    // A request without a readable revision is not cert-manager's to order, nor deleted.
    let mut numbered: Vec<_> = owned.iter().copied().filter(|r| r.revision().is_some()).collect();
    numbered.sort_by_key(|r| r.revision());
    let excess = numbered.len().saturating_sub(limit);
    numbered.into_iter().take(excess).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn cert(extra: &str) -> Certificate {
        serde_yaml::from_str(&format!(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: web, namespace: default, uid: u1}}\n\
             spec:\n  secretName: web-tls\n  issuerRef: {{name: le, kind: ClusterIssuer}}\n  dnsNames: [a.example.com]\n{extra}"
        ))
        .unwrap()
    }

    fn request_for(c: &Certificate) -> CertificateRequest {
        let key = rcgen::KeyPair::generate().unwrap();
        let csr = crate::pki::request::to_pem(&csr::build(&c.spec, &key, csr::Sans::Acme).unwrap());
        build(c, 1, Some("web-abcde"), &csr)
    }

    #[test]
    fn a_spec_change_the_request_does_not_match_is_named() {
        let base = cert("");
        let request = request_for(&base);
        assert_eq!(request.metadata.name.as_deref(), Some("web-1"));
        assert_eq!(request.revision(), Some(1));
        let table: [(&str, &[&str]); 9] = [
            ("", &[]),
            ("  usages: [digital signature, key encipherment]", &[]),
            ("  duration: 2160h0m0s", &[]),
            ("  usages: [server auth]", &["spec.usages"]),
            ("  duration: 720h", &["spec.duration"]),
            ("  isCA: true", &["spec.isCA"]),
            ("  subject: {organizations: [Example]}", &["spec.subject"]),
            ("  commonName: a.example.com", &["spec.subject"]),
            ("# more names", &["spec.dnsNames"]),
        ];
        for (extra, want) in table {
            let mut changed = cert(extra);
            if extra == "# more names" {
                changed.spec.dns_names = Some(vec!["a.example.com".into(), "b.example.com".into()]);
            }
            assert_eq!(mismatches(&changed, &request).unwrap(), want, "{extra:?}");
        }
    }

    #[test]
    fn literal_subjects_other_names_and_name_constraints_are_compared() {
        let with = "  literalSubject: CN=app,O=Org1+OU=Unit,O=Org2\n  otherNames: [{oid: 1.2.3.4, utf8Value: x}]\n  isCA: true\n  nameConstraints: {critical: true, permitted: {dnsDomains: [example.com]}}";
        let base = cert(with);
        let as_written = |c: &Certificate| {
            let key = rcgen::KeyPair::generate().unwrap();
            let der = csr::build(&c.spec, &key, csr::Sans::AsWritten).unwrap();
            build(c, 1, Some("web-abcde"), &crate::pki::request::to_pem(&der))
        };
        let request = as_written(&base);
        let table: [(&str, &[&str]); 5] = [
            ("", &[]),
            // Same names and order, another string: the bytes differ.
            ("CN=app,O=Org1+OU=Unit,O=Org3", &["spec.literalSubject"]),
            ("CN=app,O=Org2,O=Org1+OU=Unit", &["spec.literalSubject"]),
            ("utf8Value: y", &["spec.otherNames"]),
            ("critical: false", &["spec.nameConstraints"]),
        ];
        for (change, want) in table {
            let changed = match change {
                "" => base.clone(),
                c if c.starts_with("CN=") => cert(&with.replace("CN=app,O=Org1+OU=Unit,O=Org2", c)),
                "utf8Value: y" => cert(&with.replace("utf8Value: x", change)),
                _ => cert(&with.replace("critical: true", change)),
            };
            assert_eq!(mismatches(&changed, &request).unwrap(), want, "{change:?}");
        }
        // otherNames removed are noticed too.
        let without = cert(&with.replace("  otherNames: [{oid: 1.2.3.4, utf8Value: x}]\n", ""));
        assert_eq!(mismatches(&without, &request).unwrap(), ["spec.otherNames"]);
    }

    #[test]
    fn subject_fields_written_in_another_order_still_match() {
        // Before certsmith wrote subjects as cert-manager does: the common name first, one RDN
        // per value, UTF8Strings. Such a request asks for the same subject.
        let c = cert("  commonName: a.example.com\n  subject: {organizations: [Example]}");
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["a.example.com".into()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "a.example.com");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Example");
        params.key_usages =
            vec![rcgen::KeyUsagePurpose::DigitalSignature, rcgen::KeyUsagePurpose::KeyEncipherment];
        let der = params.serialize_request(&key).unwrap().der().to_vec();
        let old = build(&c, 1, Some("web-abcde"), &crate::pki::request::to_pem(&der));
        assert_eq!(mismatches(&c, &old).unwrap(), Vec::<&str>::new());
    }

    /// Web's requests: revisions 1 to 3 signed, 4 in flight, and one whose revision annotation
    /// someone removed.
    fn history(c: &Certificate) -> Vec<Arc<CertificateRequest>> {
        let mut all = Vec::new();
        for revision in 1..=5 {
            let mut r = build(c, revision, None, "");
            if revision == 5 {
                r.metadata.name = Some("web-unnumbered".into());
                r.metadata.annotations.as_mut().unwrap().remove(ANN_REVISION);
            }
            let mut status = crate::api::CertificateRequestStatus::default();
            if revision != 4 {
                crate::api::meta::set_condition(
                    &mut status.conditions,
                    "Ready",
                    ConditionStatus::True,
                    "Issued",
                    "",
                    None,
                    jiff::Timestamp::UNIX_EPOCH,
                );
            }
            r.status = Some(status);
            all.push(Arc::new(r));
        }
        all
    }

    #[test]
    fn requests_beyond_the_limit_are_pruned_as_cert_manager_prunes_them() {
        let ready = "[{type: Ready, status: 'True'}]";
        let table: [(&str, bool, &str, &[&str]); 7] = [
            // cert-manager v1.18+: unset means 1, and unfinished requests count too.
            (ready, false, "", &["web-1", "web-2", "web-3"]),
            (ready, false, "  revisionHistoryLimit: 2", &["web-1", "web-2"]),
            (ready, false, "  revisionHistoryLimit: 4", &[]),
            (ready, false, "  revisionHistoryLimit: 5", &[]),
            ("[{type: Ready, status: 'False'}]", false, "", &[]),
            ("[]", false, "", &[]),
            (ready, true, "", &[]),
        ];
        for (conditions, deleted, spec, want) in table {
            let mut c = cert(&format!("{spec}\nstatus: {{conditions: {conditions}}}"));
            if deleted {
                c.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
            }
            let all = history(&c);
            let owned = owned(&c, &all);
            assert_eq!(owned.len(), 5, "all owned by the Certificate");
            let pruned: Vec<_> = to_prune(&c, &owned).iter().map(|r| r.name_any()).collect();
            assert_eq!(pruned, want, "{conditions} deleted={deleted} {spec:?}");
        }
    }
}
