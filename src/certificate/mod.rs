//! The Certificate step: decide whether to issue, issue through the issuer, store the Secret,
//! report status, and schedule the renewal.

pub mod policy;
pub mod secret;
