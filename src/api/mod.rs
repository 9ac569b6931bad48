//! The `cert-manager.io/v1` API, as Rust types: the same kinds, names and JSON fields as
//! cert-manager, so manifests written for it apply unchanged.

pub mod acme;
pub mod certificate;
pub mod crds;
pub mod issuer;
pub mod meta;

pub use certificate::{Certificate, CertificateSpec, CertificateStatus};
pub use issuer::{ClusterIssuer, ClusterIssuerSpec, Issuer, IssuerSpec, IssuerStatus};
