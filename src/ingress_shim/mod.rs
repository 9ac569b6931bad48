//! The Ingress step: annotated Ingresses get their Certificates, as cert-manager's
//! ingress-shim makes them.

pub mod annotations;
pub mod controller;
pub mod desired;

#[cfg(test)]
mod tests;
