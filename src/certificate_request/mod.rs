//! The CertificateRequest step: approval (certsmith's built-in approver, for its own issuer
//! kinds), signing through an ACME issuer by way of an Order, and signing here for the
//! SelfSigned and CA issuers.

pub mod approve;
pub mod controller;
pub mod local;
pub mod sign;

#[cfg(test)]
mod controller_tests;
