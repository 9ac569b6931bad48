//! The CertificateRequest step: approval (certsmith's built-in approver, for its own issuer
//! kinds) and signing through an ACME issuer by way of an Order.

pub mod approve;
pub mod controller;
pub mod sign;
