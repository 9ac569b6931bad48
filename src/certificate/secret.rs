//! The Secret a Certificate fills: `kubernetes.io/tls` with cert-manager's annotations, so
//! tools that read cert-manager's Secrets read certsmith's too.

use crate::api::Certificate;
use crate::pki::inspect::Issued;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use std::collections::BTreeMap;

pub const ANN_CERTIFICATE_NAME: &str = "cert-manager.io/certificate-name";
pub const ANN_ISSUER_NAME: &str = "cert-manager.io/issuer-name";
pub const ANN_ISSUER_KIND: &str = "cert-manager.io/issuer-kind";
pub const ANN_ISSUER_GROUP: &str = "cert-manager.io/issuer-group";
pub const ANN_COMMON_NAME: &str = "cert-manager.io/common-name";
pub const ANN_ALT_NAMES: &str = "cert-manager.io/alt-names";
pub const ANN_IP_SANS: &str = "cert-manager.io/ip-sans";
pub const ANN_URI_SANS: &str = "cert-manager.io/uri-sans";
/// Marks Secrets certsmith writes, for `kubectl get secrets -l`.
pub const LABEL_MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "certsmith");

/// The Secret for a freshly issued `chain` and its `key_pem`, to be server-side applied.
pub fn tls_secret(cert: &Certificate, chain: &str, key_pem: &str, issued: &Issued) -> Secret {
    let spec = &cert.spec;
    let template = spec.secret_template.clone().unwrap_or_default();
    let mut annotations = template.annotations.unwrap_or_default();
    let issuer = &spec.issuer_ref;
    annotations.extend(
        [
            (ANN_CERTIFICATE_NAME, cert.metadata.name.clone().unwrap_or_default()),
            (ANN_ISSUER_NAME, issuer.name.clone()),
            (ANN_ISSUER_KIND, issuer.kind.clone().unwrap_or_else(|| "Issuer".into())),
            (
                ANN_ISSUER_GROUP,
                issuer.group.clone().unwrap_or_else(|| crate::api::meta::GROUP.into()),
            ),
            (ANN_COMMON_NAME, issued.common_name.clone().unwrap_or_default()),
            (ANN_ALT_NAMES, issued.dns_names.join(",")),
            (ANN_IP_SANS, issued.ip_addresses.join(",")),
            (ANN_URI_SANS, issued.uris.join(",")),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let mut labels = template.labels.unwrap_or_default();
    labels.insert(LABEL_MANAGED_BY.0.into(), LABEL_MANAGED_BY.1.into());
    let mut data = BTreeMap::from([
        ("tls.crt".to_string(), ByteString(chain.as_bytes().to_vec())),
        ("tls.key".to_string(), ByteString(key_pem.as_bytes().to_vec())),
    ]);
    if issued.chain_ends_in_root {
        data.insert("ca.crt".into(), ByteString(issued.last_in_chain.as_bytes().to_vec()));
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(spec.secret_name.clone()),
            namespace: cert.metadata.namespace.clone(),
            annotations: Some(annotations),
            labels: Some(labels),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(data),
        ..Default::default()
    }
}

/// The Secret that holds the private key of an issuance in flight, so that a restarted
/// operator finalizes its order with the same key. Owned by the Certificate (garbage-collected
/// with it) and deleted once the key is in the target Secret.
pub fn next_key_secret(cert: &Certificate, key_pem: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(next_key_secret_name(cert)),
            namespace: cert.metadata.namespace.clone(),
            labels: Some(BTreeMap::from([
                (LABEL_MANAGED_BY.0.into(), LABEL_MANAGED_BY.1.into()),
                ("certsmith.io/next-private-key".into(), "true".into()),
            ])),
            owner_references: owner(cert).map(|o| vec![o]),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([("tls.key".into(), ByteString(key_pem.as_bytes().to_vec()))])),
        ..Default::default()
    }
}

pub fn next_key_secret_name(cert: &Certificate) -> String {
    let name = cert.metadata.name.as_deref().unwrap_or_default();
    // Secret names are at most 253 characters; keep the suffix whole.
    let keep = name.len().min(253 - "-next-key".len());
    format!("{}-next-key", &name[..keep])
}

fn owner(cert: &Certificate) -> Option<OwnerReference> {
    cert.controller_owner_ref(&())
}

/// The key of an existing Secret's `tls.key`, as text.
pub fn tls_key(secret: &Secret) -> Option<String> {
    let data = secret.data.as_ref()?.get("tls.key")?;
    Some(String::from_utf8_lossy(&data.0).into_owned()).filter(|s| !s.is_empty())
}
