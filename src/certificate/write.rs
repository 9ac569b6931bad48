//! The Certificate's writes to the API: status (replaced whole, conditional on the version
//! read), the TLS Secret (server-side apply), the in-flight key Secret.

use crate::api::{Certificate, CertificateStatus};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

/// Writes `status` (see `ssa::replace_status`); `cert` follows the write.
pub async fn status(
    client: &kube::Client,
    cert: &mut Certificate,
    status: &CertificateStatus,
) -> Result<(), kube::Error> {
    let api: Api<Certificate> =
        Api::namespaced(client.clone(), &cert.namespace().unwrap_or_default());
    let written = crate::ssa::replace_status(&api, cert, status).await?;
    cert.metadata.resource_version = written.metadata.resource_version;
    cert.status = written.status;
    Ok(())
}

pub async fn secret(client: &kube::Client, secret: &Secret) -> Result<Secret, kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace().unwrap_or_default());
    crate::ssa::apply(&api, secret, crate::FIELD_MANAGER).await
}

/// Removes what another field manager wrote into the Secret `name` and certsmith's apply cannot
/// take away: the data `keys`, and the owner reference at `owner` (its index and UID, tested
/// first, so a Secret changed meanwhile is refused, not damaged).
pub async fn remove_from_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    keys: &[&str],
    owner: Option<(usize, &str)>,
) -> Result<(), kube::Error> {
    use kube::api::{Patch, PatchParams};
    let mut ops = Vec::new();
    if let Some((i, uid)) = owner {
        let path = format!("/metadata/ownerReferences/{i}");
        ops.push(serde_json::json!({"op": "test", "path": format!("{path}/uid"), "value": uid}));
        ops.push(serde_json::json!({"op": "remove", "path": path}));
    }
    for key in keys {
        ops.push(serde_json::json!({"op": "remove", "path": format!("/data/{key}")}));
    }
    if ops.is_empty() {
        return Ok(());
    }
    let patch: json_patch::Patch =
        serde_json::from_value(serde_json::Value::Array(ops)).map_err(kube::Error::SerdeError)?;
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch)).await?;
    Ok(())
}

/// Deletes the in-flight key Secret `name` (gone already is fine).
pub async fn delete_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<(), kube::Error> {
    crate::ssa::delete(&Api::<Secret>::namespaced(client.clone(), namespace), name).await
}
