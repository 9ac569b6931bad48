//! The CRDs generated from the API types: what `certsmith crds` prints and `crds/` holds.

use super::{Certificate, CertificateRequest, Challenge, ClusterIssuer, Issuer, Order};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

/// Every CRD certsmith serves, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    [
        Certificate::crd(),
        CertificateRequest::crd(),
        ClusterIssuer::crd(),
        Issuer::crd(),
        Challenge::crd(),
        Order::crd(),
    ]
    .map(without_null_enum_values)
    .into()
}

/// schemars writes an optional enum as `enum: [A, B, null]` beside `nullable: true`; kubectl 1.20
/// refuses a `null` enum value ("unknown object type nil"), and `nullable` already says it.
fn without_null_enum_values(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if let Some(Value::Array(values)) = map.get_mut("enum") {
                    values.retain(|e| !e.is_null());
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(crd).expect("a CRD serializes");
    walk(&mut value);
    serde_json::from_value(value).expect("still a CRD")
}

/// The file a CRD is kept in under `crds/`: `<group>_<plural>.yaml`, as cert-manager names them.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}

/// One CRD as a YAML document with a leading `---`, so files concatenate into a stream.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml::Error> {
    Ok(format!("---\n{}", serde_yaml::to_string(crd)?))
}
