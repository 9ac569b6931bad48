//! The HTTP-01 step: the responder built into every replica, the temporary solver Ingress that
//! routes the CA to it, and the self-check that proves the route before the CA is asked.

pub mod edit_in_place;
pub mod responder;
pub mod self_check;
pub mod solver_ingress;

/// The path prefix ACME CAs fetch HTTP-01 tokens under (RFC 8555 §8.3).
pub const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";
