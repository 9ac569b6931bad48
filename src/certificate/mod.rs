//! The Certificate step: decide whether to issue, issue through the issuer, store the Secret,
//! report status, and schedule the renewal.

pub mod ari;
pub mod controller;
#[cfg(test)]
mod controller_tests;
pub mod facts;
pub mod issue;
pub mod keystores;
pub mod memory;
pub mod outputs;
pub mod passwords;
pub mod pbmac1;
pub mod policy;
pub mod request;
pub mod secret;
pub mod status;
pub mod support;
pub mod write;

pub use crate::context::Context;
