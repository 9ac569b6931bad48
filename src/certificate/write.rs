//! The Certificate's writes to the API, all by server-side apply under certsmith's field
//! manager: status, the TLS Secret, the in-flight key Secret.

use crate::api::{Certificate, CertificateStatus};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};

/// Applies `status` as the whole status certsmith manages (fields it stops sending are
/// removed), on the condition that `cert` is the latest version: a reconcile that started from
/// a stale cache gets a conflict and is retried, instead of writing old state back. `cert`
/// follows the write, so a reconcile can write several times.
pub async fn status(
    client: &kube::Client,
    cert: &mut Certificate,
    status: &CertificateStatus,
) -> Result<(), kube::Error> {
    let api: Api<Certificate> =
        Api::namespaced(client.clone(), &cert.namespace().unwrap_or_default());
    let body = serde_json::json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"resourceVersion": cert.metadata.resource_version},
        "status": status,
    });
    let written = api
        .patch_status(
            &cert.name_any(),
            &PatchParams::apply(crate::FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await?;
    cert.metadata.resource_version = written.metadata.resource_version;
    cert.status = written.status;
    Ok(())
}

pub async fn secret(client: &kube::Client, secret: &Secret) -> Result<(), kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace().unwrap_or_default());
    let mut body = serde_json::to_value(secret).map_err(kube::Error::SerdeError)?;
    body["apiVersion"] = "v1".into();
    body["kind"] = "Secret".into();
    api.patch(
        &secret.name_any(),
        &PatchParams::apply(crate::FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await?;
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
