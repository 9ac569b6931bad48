//! How certsmith writes: server-side apply of whole objects it owns, under one field manager,
//! forcing ownership of the fields it sets (an object certsmith made is certsmith's to shape);
//! and status replaced whole, on the condition that the object did not change since it was read.

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::{Serialize, de::DeserializeOwned};

pub async fn apply<K>(api: &Api<K>, object: &K, manager: &str) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    apply_with(api, object, &PatchParams::apply(manager).force()).await
}

/// [`apply`] for an object certsmith believes new: not forced, so one that another manager
/// made meanwhile is not taken over (409: a field conflict).
pub async fn apply_new<K>(api: &Api<K>, object: &K, manager: &str) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    apply_with(api, object, &PatchParams::apply(manager)).await
}

async fn apply_with<K>(api: &Api<K>, object: &K, params: &PatchParams) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    let mut body = serde_json::to_value(object).map_err(kube::Error::SerdeError)?;
    body["apiVersion"] = K::api_version(&()).into();
    body["kind"] = K::kind(&()).into();
    api.patch(&object.name_any(), params, &Patch::Apply(body)).await
}

/// The API server's whole message for a JSON patch whose `test` op failed.
const STALE: &str = "the server rejected our request due to an error in our request";

/// Replaces `object`'s status with `status` if `object` is the latest version: a reconcile that
/// started from a stale cache gets a 409 and is retried, instead of writing old state back. A
/// JSON patch, not an apply: the whole status is the controller's, including conditions others
/// added (`certsmith renew`'s ManuallyTriggered), which an apply could not remove while another
/// manager shares them. Returns the object as written.
pub async fn replace_status<K, S>(api: &Api<K>, object: &K, status: &S) -> Result<K, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": object.meta().resource_version},
        {"op": "add", "path": "/status", "value": status},
    ]))
    .map_err(kube::Error::SerdeError)?;
    let name = object.name_any();
    match api.patch_status(&name, &PatchParams::default(), &Patch::Json::<()>(patch)).await {
        // A failed `test` op comes back as a bare 422 (this message, no field causes); a status
        // the API server refuses says what "is invalid". A stale read is a conflict, retried
        // soon, with no read to tell them apart.
        Err(kube::Error::Api(e)) if e.code == 422 && e.message == STALE => {
            let mut conflict = *e;
            conflict.code = 409;
            conflict.reason = "Conflict".into();
            conflict.message = format!("{name} changed since it was read");
            Err(kube::Error::Api(Box::new(conflict)))
        }
        other => other,
    }
}

/// Deletes `name` (gone already is fine).
pub async fn delete<K>(api: &Api<K>, name: &str) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &kube::api::DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `object`; one that exists already (a repeated step after a restart, or a stale
/// cache) is read back instead.
pub async fn create_or_get<K>(api: &Api<K>, object: &K) -> Result<K, kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    match api.create(&kube::api::PostParams::default(), object).await {
        Err(kube::Error::Api(e)) if e.code == 409 => api.get(&object.name_any()).await,
        other => other,
    }
}
