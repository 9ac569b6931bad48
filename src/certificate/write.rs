//! The Certificate's writes to the API, all by server-side apply under certsmith's field
//! manager: status, the TLS Secret, the in-flight key Secret.

use crate::api::{Certificate, CertificateStatus};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};

/// Replaces the status with `status`, on the condition that `cert` is the latest version: a
/// reconcile that started from a stale cache gets a conflict and is retried, instead of
/// writing old state back. A JSON patch, not an apply: the whole status is the controller's,
/// including conditions others added (`certsmith renew`'s ManuallyTriggered), which an apply
/// could not remove while another manager shares them. `cert` follows the write.
pub async fn status(
    client: &kube::Client,
    cert: &mut Certificate,
    status: &CertificateStatus,
) -> Result<(), kube::Error> {
    let api: Api<Certificate> =
        Api::namespaced(client.clone(), &cert.namespace().unwrap_or_default());
    let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": cert.metadata.resource_version},
        {"op": "add", "path": "/status", "value": status},
    ]))
    .map_err(kube::Error::SerdeError)?;
    let written = match api
        .patch_status(&cert.name_any(), &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
    {
        // A failed `test` op comes back as a bare 422; tell a stale read (a conflict, retried
        // soon) from a status the API server refuses.
        Err(kube::Error::Api(e)) if e.code == 422 => {
            let current = api.get(&cert.name_any()).await?;
            if current.metadata.resource_version != cert.metadata.resource_version {
                let message = "the Certificate changed since it was read".to_string();
                let mut conflict = *e;
                conflict.code = 409;
                conflict.reason = "Conflict".into();
                conflict.message = message;
                return Err(kube::Error::Api(Box::new(conflict)));
            }
            return Err(kube::Error::Api(e));
        }
        other => other?,
    };
    cert.metadata.resource_version = written.metadata.resource_version;
    cert.status = written.status;
    Ok(())
}

pub async fn secret(client: &kube::Client, secret: &Secret) -> Result<(), kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace().unwrap_or_default());
    crate::ssa::apply(&api, secret, crate::FIELD_MANAGER).await?;
    Ok(())
}

/// Deletes the in-flight key Secret `name` (gone already is fine).
pub async fn delete_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<(), kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
