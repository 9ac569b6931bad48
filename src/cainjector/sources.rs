//! cainjector, step 1 (pure): where an injectable's CA comes from (its annotations, as cert-manager
//! v1.21's cainjector reads them), and what of a source Secret may be injected.

use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

/// `<namespace>/<name>` of a Secret whose `ca.crt` is injected (the Secret must allow it).
pub const ANN_FROM_SECRET: &str = "cert-manager.io/inject-ca-from-secret";
/// `<namespace>/<name>` of a Certificate whose Secret's `ca.crt` is injected.
pub const ANN_FROM_CERTIFICATE: &str = "cert-manager.io/inject-ca-from";
/// `"true"`: the CA the API server's clients trust.
pub const ANN_FROM_APISERVER: &str = "cert-manager.io/inject-apiserver-ca";
/// On a Secret: `"true"` lets `inject-ca-from-secret` read it. Without it a user who may
/// annotate a webhook could not make it trust an arbitrary Secret's CA by naming it.
pub const ANN_ALLOW_DIRECT: &str = "cert-manager.io/allow-direct-injection";
/// On a Certificate's Secret: the Certificate it belongs to (cert-manager's annotation).
pub const ANN_CERTIFICATE_NAME: &str = "cert-manager.io/certificate-name";
/// The one Secret key injected.
pub const CA_KEY: &str = "ca.crt";
/// A `ca.crt` past this size is refused: a caBundle is a few certificates, and every target
/// holding it is read and written whole.
pub const MAX_CA_BYTES: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Secret { namespace: String, name: String },
    Certificate { namespace: String, name: String },
    ApiServer,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Secret { namespace, name } => write!(f, "Secret {namespace}/{name}"),
            Source::Certificate { namespace, name } => write!(f, "Certificate {namespace}/{name}"),
            Source::ApiServer => f.write_str("the API server's CA"),
        }
    }
}

/// The source an object's annotations name: the first present of `inject-ca-from-secret`,
/// `inject-ca-from`, `inject-apiserver-ca: "true"` (cert-manager's order; one source per
/// object). `None`: not an injectable; `Err`: the winning annotation is malformed (words for a
/// Warning Event).
pub fn select(annotations: &BTreeMap<String, String>) -> Option<Result<Source, String>> {
    if let Some(value) = annotations.get(ANN_FROM_SECRET) {
        return Some(
            namespaced(ANN_FROM_SECRET, value)
                .map(|(namespace, name)| Source::Secret { namespace, name }),
        );
    }
    if let Some(value) = annotations.get(ANN_FROM_CERTIFICATE) {
        return Some(
            namespaced(ANN_FROM_CERTIFICATE, value)
                .map(|(namespace, name)| Source::Certificate { namespace, name }),
        );
    }
    (annotations.get(ANN_FROM_APISERVER).map(String::as_str) == Some("true"))
        .then_some(Ok(Source::ApiServer))
}

/// `namespace/name`, each a valid Kubernetes name.
fn namespaced(annotation: &str, value: &str) -> Result<(String, String), String> {
    let bad =
        || format!("annotation {annotation}: {value:?} is not <namespace>/<name>; no CA injected");
    let (namespace, name) = value.split_once('/').ok_or_else(bad)?;
    let valid = |s: &str, most: usize| {
        !s.is_empty()
            && s.len() <= most
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
    };
    if !valid(namespace, 63) || namespace.contains('.') || !valid(name, 253) {
        return Err(bad());
    }
    Ok((namespace.to_string(), name.to_string()))
}

/// Whether a change to the Secret `namespace/name` (annotated as Certificate `certificate`'s,
/// if it is one) may change what an object so annotated gets. Pure.
pub fn uses_secret(
    annotations: &BTreeMap<String, String>,
    namespace: &str,
    name: &str,
    certificate: Option<&str>,
) -> bool {
    match select(annotations) {
        Some(Ok(Source::Secret { namespace: n, name: s })) => n == namespace && s == name,
        Some(Ok(Source::Certificate { namespace: n, name: c })) => {
            n == namespace && certificate == Some(c.as_str())
        }
        _ => false,
    }
}

/// What the Secret read for `source` gives to inject: `Ok(None)` when it has no `ca.crt` yet
/// (nothing to do), `Err` with the words of a Warning Event when it may not be used. `source`
/// is a Secret source, or the Certificate `source` whose Secret this is. Pure.
pub fn ca_of(secret: &Secret, source: &Source) -> Result<Option<Vec<u8>>, String> {
    let annotations = secret.metadata.annotations.as_ref();
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
    let secret_name = format!(
        "Secret {}/{}",
        secret.metadata.namespace.as_deref().unwrap_or_default(),
        secret.metadata.name.as_deref().unwrap_or_default()
    );
    match source {
        Source::Secret { .. } if annotation(ANN_ALLOW_DIRECT) != Some("true") => {
            return Err(format!(
                "{secret_name} is not annotated {ANN_ALLOW_DIRECT}: \"true\"; its CA is not \
                 injected (annotate the Secret to allow it)"
            ));
        }
        Source::Certificate { name, .. } if annotation(ANN_CERTIFICATE_NAME) != Some(name) => {
            return Err(format!(
                "{secret_name} does not belong to Certificate {name} (its {ANN_CERTIFICATE_NAME} \
                 annotation is {:?}); its CA is not injected",
                annotation(ANN_CERTIFICATE_NAME).unwrap_or_default()
            ));
        }
        _ => {}
    }
    let data = secret.data.as_ref().and_then(|d| d.get(CA_KEY)).map(|b| &b.0);
    match data {
        None => Ok(None),
        Some(ca) if ca.is_empty() => Ok(None),
        Some(ca) => bounded(ca, &secret_name).map(Some),
    }
}

/// `ca`, unless it is larger than a caBundle should ever be.
pub fn bounded(ca: &[u8], from: &str) -> Result<Vec<u8>, String> {
    if ca.len() > MAX_CA_BYTES {
        return Err(format!(
            "{CA_KEY} of {from} is {} bytes, more than the {MAX_CA_BYTES} a CA bundle may have; \
             its CA is not injected",
            ca.len()
        ));
    }
    if ca.windows(b"-----BEGIN".len()).filter(|w| w == b"-----BEGIN").count()
        > super::merge::MAX_CERTIFICATES
    {
        return Err(format!(
            "{CA_KEY} of {from} holds more than {} PEM blocks; its CA is not injected",
            super::merge::MAX_CERTIFICATES
        ));
    }
    Ok(ca.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use kube::api::ObjectMeta;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_first_present_annotation_names_the_source() {
        let secret = |n: &str, s: &str| Source::Secret { namespace: n.into(), name: s.into() };
        let cert = |n: &str, s: &str| Source::Certificate { namespace: n.into(), name: s.into() };
        type Row<'a> = (&'a [(&'a str, &'a str)], Option<Result<Source, &'a str>>);
        let table: [Row; 10] = [
            (&[], None),
            (&[("other", "x")], None),
            (&[(ANN_FROM_SECRET, "ns/ca")], Some(Ok(secret("ns", "ca")))),
            (&[(ANN_FROM_CERTIFICATE, "ns/root")], Some(Ok(cert("ns", "root")))),
            (&[(ANN_FROM_APISERVER, "true")], Some(Ok(Source::ApiServer))),
            // Exactly "true".
            (&[(ANN_FROM_APISERVER, "True")], None),
            // Secret first, then Certificate, then the API server.
            (
                &[
                    (ANN_FROM_APISERVER, "true"),
                    (ANN_FROM_CERTIFICATE, "a/b"),
                    (ANN_FROM_SECRET, "c/d"),
                ],
                Some(Ok(secret("c", "d"))),
            ),
            (
                &[(ANN_FROM_APISERVER, "true"), (ANN_FROM_CERTIFICATE, "a/b")],
                Some(Ok(cert("a", "b"))),
            ),
            // A malformed winner is an error, not a fall-through to the next source.
            (&[(ANN_FROM_SECRET, "ca"), (ANN_FROM_CERTIFICATE, "a/b")], Some(Err("\"ca\" is not"))),
            (&[(ANN_FROM_CERTIFICATE, "a/b/c")], Some(Err("\"a/b/c\" is not <namespace>/<name>"))),
        ];
        for (pairs, want) in table {
            let got = select(&annotations(pairs));
            match (&got, &want) {
                (Some(Err(e)), Some(Err(words))) => assert!(e.contains(words), "{e}"),
                _ => assert_eq!(got, want.map(|w| w.map_err(String::from)), "{pairs:?}"),
            }
        }
        for bad in ["/x", "x/", "", "Ns/x", "a.b/x", "ns/X", "ns/a b"] {
            let got = select(&annotations(&[(ANN_FROM_CERTIFICATE, bad)]));
            assert!(matches!(got, Some(Err(_))), "{bad:?}: {got:?}");
        }
    }

    #[test]
    fn a_secret_change_wakes_the_objects_that_read_it() {
        let by_secret = annotations(&[(ANN_FROM_SECRET, "ns/ca")]);
        let by_cert = annotations(&[(ANN_FROM_CERTIFICATE, "ns/root")]);
        assert!(uses_secret(&by_secret, "ns", "ca", None));
        assert!(!uses_secret(&by_secret, "other", "ca", None));
        assert!(uses_secret(&by_cert, "ns", "root-tls", Some("root")));
        assert!(!uses_secret(&by_cert, "ns", "root-tls", None));
        assert!(!uses_secret(&by_cert, "other", "root-tls", Some("root")));
        assert!(!uses_secret(&annotations(&[(ANN_FROM_APISERVER, "true")]), "ns", "ca", None));
    }

    fn secret(annotations: &[(&str, &str)], ca: Option<&[u8]>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("s".into()),
                annotations: Some(super::tests::annotations(annotations)),
                ..Default::default()
            },
            data: ca.map(|ca| [(CA_KEY.to_string(), ByteString(ca.to_vec()))].into()),
            ..Default::default()
        }
    }

    #[test]
    fn only_a_secret_that_allows_it_or_the_certificates_own_is_injected() {
        let direct = Source::Secret { namespace: "ns".into(), name: "s".into() };
        let root = Source::Certificate { namespace: "ns".into(), name: "root".into() };
        let ca = Some(&b"PEM"[..]);
        let allow = (ANN_ALLOW_DIRECT, "true");
        let owned = (ANN_CERTIFICATE_NAME, "root");
        type Row<'a> = (
            &'a [(&'a str, &'a str)],
            Option<&'a [u8]>,
            &'a Source,
            Result<Option<&'a [u8]>, &'a str>,
        );
        let table: [Row; 9] = [
            (&[allow], ca, &direct, Ok(ca)),
            (&[], ca, &direct, Err("is not annotated cert-manager.io/allow-direct-injection")),
            (&[(ANN_ALLOW_DIRECT, "yes")], ca, &direct, Err("is not annotated")),
            // A Certificate's own Secret needs no allowance.
            (&[allow], ca, &root, Err("does not belong to Certificate root")),
            (&[owned], ca, &root, Ok(ca)),
            (&[(ANN_CERTIFICATE_NAME, "other")], ca, &root, Err("is \"other\"")),
            // No ca.crt (yet): nothing to do.
            (&[owned], None, &root, Ok(None)),
            (&[owned], Some(b""), &root, Ok(None)),
            (&[allow], None, &direct, Ok(None)),
        ];
        for (annotations, data, source, want) in table {
            let got = ca_of(&secret(annotations, data), source);
            match (&got, want) {
                (Err(e), Err(words)) => assert!(e.contains(words), "{e}"),
                (Ok(got), Ok(want)) => assert_eq!(got.as_deref(), want, "{annotations:?}"),
                _ => panic!("{annotations:?} {source}: {got:?}, want {want:?}"),
            }
        }
        let huge = vec![b'a'; MAX_CA_BYTES + 1];
        let got = ca_of(&secret(&[owned], Some(&huge)), &root).unwrap_err();
        assert!(got.contains("more than the 1048576"), "{got}");
        let many = "-----BEGIN CERTIFICATE-----\n".repeat(101);
        let got = ca_of(&secret(&[owned], Some(many.as_bytes())), &root).unwrap_err();
        assert!(got.contains("more than 100 PEM blocks"), "{got}");
    }
}
