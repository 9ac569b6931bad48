//! Checks that need no test bed, no server and no tool: what the Rust types generate against
//! what is checked in and what cert-manager's CRDs define. Their own small binary, so that
//! `cargo test --test checks` answers in seconds on a machine without the bed installed.

mod crds_drift;
mod fields_v1_21;
mod parity;
