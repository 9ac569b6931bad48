//! The end-to-end tests: one test binary, one module per subject, all on the local test bed
//! (`e2e/testbed/`, driven from `support`). Select by module path:
//! `cargo test --test e2e issuance::`, or several at once: `... -- issuance:: dns01::`.
//!
//! Beds, started on first use and stopped with the process (WATCH_PID): `issuance`,
//! `ingress_shim` and `api_server` each keep one bed for the module, as when each was its own
//! binary (`api_server`'s runs no operator; the other two each run their own); every other test
//! starts its own.

mod support;

mod accounts;
mod api_server;
mod ari;
mod budget;
mod chart;
mod dns01;
mod fan_out;
mod faults;
mod ingress_quiet;
mod ingress_shim;
mod internal_pki;
mod issuance;
mod leader;
mod migrate;
mod operations;
mod prometheus;
mod renewal;
mod requests;
mod resume;
