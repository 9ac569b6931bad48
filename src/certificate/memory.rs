//! What the Certificate step keeps in memory between reconciles, and no other step reads: the
//! keys of issuances in flight, the ACME servers without ARI, and ARI windows an older CRD
//! prunes from the status. Each is a saving (a read, a request, a write), never the truth:
//! everything is found again from the cluster after a restart.

use crate::api::certificate::AriStatus;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
pub struct Memory {
    /// The private keys of issuances in flight, by `namespace/name` of the Secret that keeps
    /// them: read from there once (after a restart), not at every step.
    next_keys: Mutex<HashMap<String, String>>,
    /// ACME servers whose directory has no renewalInfo (ARI).
    without_ari: Mutex<HashSet<String>>,
    /// ARI status by Certificate uid, for a cluster whose (older) CRD prunes `status.acme`.
    ari_pruned: Mutex<HashMap<String, AriStatus>>,
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
}
