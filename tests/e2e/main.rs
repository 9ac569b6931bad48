//! The end-to-end tests: one test binary, one module per subject, all on the local test bed
//! (`e2e/testbed/`, driven from `support`). Select by module path:
//! `cargo test --test e2e issuance::`, or several at once: `... -- issuance:: dns01::`.
//!
//! Beds, started on first use and stopped with the process (WATCH_PID):
//! - `support::shared::issuing()`: one API server, one Pebble and one operator with default
//!   flags for the whole binary, used by `issuance`, `requests::an_external_issuers_…`,
//!   `internal_pki::a_ca_issuer_without_…`, `pki_fields` and `cainjector`: tests that only create namespaced
//!   objects of their own (and cluster-scoped ones of distinct names: ClusterIssuers, webhook
//!   configurations and CRDs of made-up groups), and restart or break nothing.
//! - `ingress_shim`, `gateway` and `api_server` each keep one bed for their module: the
//!   shim's operator runs with its own flags, `gateway`'s with BIND, Traefik and Gateway API's
//!   CRDs (installed before the operator starts), and `api_server` needs no operator at all.
//! - Every other test starts its own bed: it restarts or kills the API server, Pebble or the
//!   operator, starts the operator with its own flags or Pebble with its own settings, or
//!   counts what the whole cluster, the CA or the operator did (writes, orders, metrics).

mod support;

mod accounts;
mod acme_dns;
mod api_server;
mod ari;
mod budget;
mod ca_proxy;
mod cainjector;
mod chart;
mod chart_admission;
mod chart_identity;
mod chart_solver;
mod chart_support;
mod controller_flags;
mod dns01;
mod dns_persist;
mod fan_out;
mod faults;
mod gateway;
mod ingress_quiet;
mod ingress_shim;
mod internal_pki;
mod issuance;
mod leader;
mod migrate;
mod migrate_solvers;
mod operations;
mod outputs;
mod pki_fields;
mod prometheus;
mod renewal;
mod renewal_policy;
mod requests;
mod resume;
mod route53;
mod single_namespace;
mod start_up;
mod tenant;
mod webhook_solver;
