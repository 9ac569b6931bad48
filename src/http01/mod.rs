//! The HTTP-01 step: the responder built into every replica, the temporary solver Ingress (or
//! the rule in the user's Ingress) that routes the CA to it through the namespace's responder
//! Service, and the self-check that proves the route before the CA is asked.

pub mod edit_in_place;
pub mod responder;
pub mod self_check;
pub mod solver_ingress;
pub mod solver_service;

/// The path prefix ACME CAs fetch HTTP-01 tokens under (RFC 8555 §8.3).
pub const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";
