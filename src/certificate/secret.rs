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
/// cert-manager's label on the Secrets its Certificates fill ("for all objects"): its filtered
/// Secret cache, and certsmith's watch, see the Secrets either of them wrote.
pub const LABEL_FAO: (&str, &str) = ("controller.cert-manager.io/fao", "true");

/// The Secret for a freshly issued `chain` and its `key_pem`, to be server-side applied.
/// `ca` is the issuer's CA certificate when it gave one; else the chain's root, if it ends in one.
pub fn tls_secret(
    cert: &Certificate,
    chain: &str,
    key_pem: &str,
    issued: &Issued,
    ca: Option<&str>,
) -> Secret {
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
    labels.insert(LABEL_FAO.0.into(), LABEL_FAO.1.into());
    let mut data = BTreeMap::from([
        ("tls.crt".to_string(), ByteString(chain.as_bytes().to_vec())),
        ("tls.key".to_string(), ByteString(key_pem.as_bytes().to_vec())),
    ]);
    match ca.filter(|c| !c.is_empty()) {
        Some(ca) => {
            data.insert("ca.crt".into(), ByteString(ca.as_bytes().to_vec()));
        }
        None if issued.chain_ends_in_root => {
            data.insert("ca.crt".into(), ByteString(issued.last_in_chain.as_bytes().to_vec()));
        }
        None => {}
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

/// `--enable-certificate-owner-ref`: the Secret is controlled by `cert` (garbage-collected with
/// it), as cert-manager sets it; else it has no reference to it.
pub fn set_owner(secret: &mut Secret, cert: &Certificate, enabled: bool) {
    secret.metadata.owner_references = enabled.then(|| owner(cert)).flatten().map(|o| vec![o]);
}

/// Whether the Secret of `secret` (its metadata) is controlled by `cert`.
pub fn owned_by(secret: &ObjectMeta, cert: &Certificate) -> bool {
    let owners = secret.owner_references.as_deref().unwrap_or_default();
    crate::api::meta::controlled_by(owners, cert.metadata.uid.as_deref())
}

/// cert-manager's label on the Secret that holds the private key of an issuance in flight.
pub const LABEL_NEXT_PRIVATE_KEY: &str = "cert-manager.io/next-private-key";

/// The Secret that holds the private key of an issuance in flight, so that a restarted
/// operator requests with the same key. Named by the API server (`generateName`), so no user's
/// Secret can ever be in the way; owned by the Certificate (garbage-collected with it) and
/// deleted once the key is in the target Secret.
pub fn next_key_secret(cert: &Certificate, key_pem: &str) -> Secret {
    let name = cert.metadata.name.as_deref().unwrap_or_default();
    // generateName adds 5 characters; names are at most 253.
    let prefix = format!("{}-", &name[..name.len().min(240)]);
    Secret {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: cert.metadata.namespace.clone(),
            labels: Some(BTreeMap::from([
                (LABEL_MANAGED_BY.0.into(), LABEL_MANAGED_BY.1.into()),
                (LABEL_NEXT_PRIVATE_KEY.into(), "true".into()),
            ])),
            owner_references: owner(cert).map(|o| vec![o]),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([("tls.key".into(), ByteString(key_pem.as_bytes().to_vec()))])),
        ..Default::default()
    }
}

/// Whether `secret` is a next-key Secret made for `cert` (by certsmith or cert-manager: the
/// label, and `cert` as its controller). `status.nextPrivateKeySecretName` is written by
/// whoever may write the status: any other Secret it names is neither used nor deleted.
pub fn is_next_key_of(secret: &Secret, cert: &Certificate) -> bool {
    let labelled =
        kube::ResourceExt::labels(secret).get(LABEL_NEXT_PRIVATE_KEY).map(String::as_str)
            == Some("true");
    let owners = secret.metadata.owner_references.as_deref().unwrap_or_default();
    labelled && crate::api::meta::controlled_by(owners, cert.metadata.uid.as_deref())
}

fn owner(cert: &Certificate) -> Option<OwnerReference> {
    cert.controller_owner_ref(&())
}

/// The key of an existing Secret's `tls.key`, as text.
pub fn tls_key(secret: &Secret) -> Option<String> {
    text(secret, "tls.key")
}

/// The entry `key` of a Secret's data, as text; an empty entry is none.
pub fn text(secret: &Secret, key: &str) -> Option<String> {
    let data = secret.data.as_ref()?.get(key)?;
    Some(String::from_utf8_lossy(&data.0).into_owned()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_labelled_secret_the_certificate_controls_is_its_next_key() {
        let mut cert = Certificate::new("web", Default::default());
        cert.metadata.uid = Some("u-1".into());
        let made = next_key_secret(&cert, "key");
        assert!(is_next_key_of(&made, &cert));
        let mut unlabelled = made.clone();
        unlabelled.metadata.labels = None;
        assert!(!is_next_key_of(&unlabelled, &cert), "an app's Secret the status names");
        let mut other = cert.clone();
        other.metadata.uid = Some("u-2".into());
        assert!(!is_next_key_of(&made, &other), "another Certificate's next key");
        let mut orphan = made;
        orphan.metadata.owner_references = None;
        assert!(!is_next_key_of(&orphan, &cert));
    }
}
