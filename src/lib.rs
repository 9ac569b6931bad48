//! certsmith: an ACME certificate operator serving the `cert-manager.io/v1` API.
//!
//! The data flows one way and the modules follow it: `api` (the types) → `validation` (what a
//! spec may say) → … (the issuance pipeline arrives with the issuance work).
#![forbid(unsafe_code)]

pub mod api;
pub mod certificate;
pub mod pki;
pub mod renewal;
pub mod validation;
