//! The `cert-manager.io/v1` and `acme.cert-manager.io/v1` APIs, as Rust types: the same kinds,
//! names and JSON fields as cert-manager, so manifests and tools written for it work unchanged.

pub mod acme;
pub mod certificate;
mod certificate_outputs;
mod certificate_renewal;
mod certificate_status;
pub mod crds;
pub mod gateway;
pub mod issuer;
pub mod meta;
pub mod order;
pub mod request;

pub use certificate::{Certificate, CertificateSpec, CertificateStatus};
pub use issuer::{ClusterIssuer, ClusterIssuerSpec, Issuer, IssuerKind, IssuerSpec, IssuerStatus};
pub use order::{Challenge, ChallengeSpec, ChallengeStatus, Order, OrderSpec, OrderStatus, State};
pub use request::{CertificateRequest, CertificateRequestSpec, CertificateRequestStatus};
