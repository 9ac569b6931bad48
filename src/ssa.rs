//! Server-side apply of whole objects certsmith owns, under one field manager, forcing
//! ownership of the fields it sets (an object certsmith made is certsmith's to shape).

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::{Serialize, de::DeserializeOwned};

pub async fn apply<K>(api: &Api<K>, object: &K, manager: &str) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + std::fmt::Debug,
{
    let mut body = serde_json::to_value(object).map_err(kube::Error::SerdeError)?;
    body["apiVersion"] = K::api_version(&()).into();
    body["kind"] = K::kind(&()).into();
    api.patch(&object.name_any(), &PatchParams::apply(manager).force(), &Patch::Apply(body)).await
}
