//! What the Certificate step keeps in memory between reconciles, and no other step reads: the
//! keys of issuances in flight, the ACME servers without ARI, and ARI windows an older CRD
//! prunes from the status. Each is a saving (a read, a request, a write), never the truth:
//! everything is found again from the cluster after a restart.

use crate::api::certificate::AriStatus;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a Secret just written is awaited from the watch before it is read instead.
const ARRIVING: Duration = Duration::from_secs(30);
/// Secrets just written, remembered at most (past it, all are read again).
const WRITTEN_KEPT: usize = 4096;

#[derive(Default)]
pub struct Memory {
    /// The private keys of issuances in flight, by `namespace/name` of the Secret that keeps
    /// them: read from there once (after a restart), not at every step.
    next_keys: Mutex<HashMap<String, String>>,
    /// ACME servers whose directory has no renewalInfo (ARI).
    without_ari: Mutex<HashSet<String>>,
    /// ARI status by Certificate uid, for a cluster whose (older) CRD prunes `status.acme`.
    ari_pruned: Mutex<HashMap<String, AriStatus>>,
    /// Secrets written by an issuance, by `namespace/name`: the notAfter written and when, until
    /// the Secret cache shows them.
    written: Mutex<HashMap<String, (jiff::Timestamp, Instant)>>,
}

impl Memory {
    /// The key kept in the Secret at `namespace/name`, as last read or made.
    pub fn next_key(&self, at: &str) -> Option<String> {
        self.next_keys.lock().ok()?.get(at).cloned()
    }

    /// Keeps (`Some`) or forgets (`None`) the key of an issuance in flight.
    pub fn remember_key(&self, at: String, pem: Option<String>) {
        if let Ok(mut keys) = self.next_keys.lock() {
            match pem {
                Some(pem) => keys.insert(at, pem),
                None => keys.remove(&at),
            };
        }
    }

    /// Whether `server` said it has no renewalInfo.
    pub fn without_ari(&self, server: &str) -> bool {
        self.without_ari.lock().is_ok_and(|s| s.contains(server))
    }

    pub fn no_ari_at(&self, server: &str) {
        if let Ok(mut servers) = self.without_ari.lock() {
            servers.insert(server.to_string());
        }
    }

    /// The ARI status kept for the Certificate `uid`, whose CRD pruned it.
    pub fn pruned_ari(&self, uid: &str) -> Option<AriStatus> {
        self.ari_pruned.lock().ok()?.get(uid).cloned()
    }

    pub fn keep_pruned_ari(&self, uid: String, ari: AriStatus) {
        if let Ok(mut pruned) = self.ari_pruned.lock() {
            pruned.insert(uid, ari);
        }
    }

    /// The Secret at `at` was just written with a certificate valid until `not_after`.
    pub fn wrote(&self, at: String, not_after: jiff::Timestamp) {
        if let Ok(mut written) = self.written.lock() {
            if written.len() >= WRITTEN_KEPT {
                written.clear();
            }
            written.insert(at, (not_after, Instant::now()));
        }
    }

    /// Whether the Secret at `at` was written with `not_after` moments ago: its watch event is
    /// on its way, and a read now would be one more request per issuance.
    pub fn arriving(&self, at: &str, not_after: jiff::Timestamp) -> bool {
        let Ok(written) = self.written.lock() else { return false };
        written.get(at).is_some_and(|(t, when)| *t == not_after && when.elapsed() < ARRIVING)
    }

    /// The cache shows the Secret at `at` as written.
    pub fn arrived(&self, at: &str) {
        if let Ok(mut written) = self.written.lock() {
            written.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_just_written_is_awaited_only_with_the_certificate_written() {
        let memory = Memory::default();
        let t: jiff::Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        assert!(!memory.arriving("n/web-tls", t), "nothing written");
        memory.wrote("n/web-tls".into(), t);
        assert!(memory.arriving("n/web-tls", t));
        let other = t + jiff::SignedDuration::from_hours(1);
        assert!(!memory.arriving("n/web-tls", other), "another certificate: read it");
        assert!(!memory.arriving("m/web-tls", t), "another namespace's Secret");
        memory.arrived("n/web-tls");
        assert!(!memory.arriving("n/web-tls", t), "in the cache: nothing awaited");
    }
}
