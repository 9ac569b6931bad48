//! The one issuing bed the whole test binary shares: an API server, a Pebble and an operator
//! with default flags, started by the first test that asks for it and stopped with the process
//! (WATCH_PID). A test on it creates only objects of its own (its own namespace, or names no
//! other test uses) and restarts or breaks nothing; anything else starts its own bed.

use super::KubeBed;
use super::acme::{Operator, PebbleBed, issuing_bed};
use std::sync::OnceLock;

pub struct IssuingBed {
    pub kube: KubeBed,
    pub pebble: PebbleBed,
    pub operator: Operator,
}

/// The shared bed: [`issuing_bed`] (the seed's ClusterIssuer `letsencrypt-prod` on its Pebble)
/// and `certsmith run` with no extra flags.
pub fn issuing() -> &'static IssuingBed {
    static BED: OnceLock<IssuingBed> = OnceLock::new();
    BED.get_or_init(|| {
        let kube = KubeBed::start();
        let pebble = issuing_bed(&kube);
        let operator = Operator::start(&kube, &pebble, &[]);
        IssuingBed { kube, pebble, operator }
    })
}
