//! certsmith: an ACME certificate operator serving the `cert-manager.io/v1` API.
//!
//! The data flows one way and the modules follow it: `api` (the types) and `validation` →
//! `issuer` (accounts) → `certificate` (policy → issue → secret → status) → `acme` (order) →
//! `http01` (responder, solver Ingress, self-check) → `pki` (keys, CSR, inspection) →
//! `renewal` (when to renew). `operator` wires them for `certsmith run`.
#![forbid(unsafe_code)]

pub mod acme;
pub mod api;
pub mod certificate;
pub mod cli;
pub mod config;
pub mod context;
pub mod http01;
pub mod ingress_shim;
pub mod issuer;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod pki;
pub mod renewal;
pub mod ssa;
pub mod validation;

/// The field manager of every server-side apply certsmith makes.
pub const FIELD_MANAGER: &str = "certsmith";
