//! The Challenge step: present (solver Ingress or a rule in the user's Ingress), self-check,
//! accept at the CA, wait for its verdict, clean up whatever happens (a finalizer guards what
//! the Challenge does not own: a TXT record, a rule in the user's Ingress).

pub mod controller;
pub mod trust;

#[cfg(test)]
mod controller_tests;
#[cfg(test)]
mod fixtures;
