//! certsmith: an ACME certificate operator serving the `cert-manager.io/v1` API.
//!
//! The data flows one way and the modules follow it, as cert-manager's resources do:
//! `shim` (Ingress → Certificate) → `certificate` (policy → next key → request → Secret) →
//! `certificate_request` (approve, sign through an Order or here) → `order` (the ACME order) →
//! `challenge` (present, self-check, accept, clean up, through a `solver`: `http01`, `dns01`) →
//! `renewal`. Beside them: `api` (the types), `validation`, `issuer` (accounts, readiness),
//! `acme` (the CA client), `pki` (keys, CSRs, chains), `error` (the controllers' one error).
//! `controllers` wires them for `certsmith run`, `operator` runs the process.
#![forbid(unsafe_code)]

pub mod acme;
pub mod admission;
pub mod api;
pub mod api_client;
pub mod cainjector;
pub mod certificate;
pub mod certificate_request;
pub mod chains;
pub mod challenge;
pub mod cli;
pub mod compat_flags;
pub mod config;
pub mod context;
pub mod controllers;
pub mod defer;
pub mod dns01;
pub mod error;
pub mod events;
pub mod http01;
pub mod issuer;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod migrate;
#[cfg(test)]
pub mod mock_api;
pub mod naming;
pub mod operator;
pub mod order;
pub mod pki;
pub mod relist;
pub mod renewal;
pub mod scope;
pub mod shim;
pub mod solver;
pub mod ssa;
pub mod validation;
pub mod watches;

/// The field manager of every server-side apply certsmith makes.
pub const FIELD_MANAGER: &str = "certsmith";
