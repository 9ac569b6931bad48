//! The Order step: one ACME order, driven a step per reconcile from what `Order.status` and the
//! CA say, with one Challenge per pending authorization.

pub mod budget;
mod chain;
pub mod controller;
pub mod load;
pub mod plan;
pub mod trust;

#[cfg(test)]
mod controller_tests;
