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
    crate::ssa::delete(&Api::<Secret>::namespaced(client.clone(), namespace), name).await
}
