//! ACME Renewal Information (RFC 9773) against a server that serves it (acme2certifier from
//! PyPI; Pebble 2.4 has none): the window is recorded and the renewal time falls inside it; a
//! "renew now" window renews within a minute, and the renewal order names what it replaces.

use crate::support;

use crate::support::acme::{Operator, PebbleBed, eventually};
use crate::support::faults::Row;
use crate::support::{KubeBed, state_var, testbed_script};
use certsmith::api::Certificate;
use certsmith::certificate::ari::cert_id;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// acme2certifier on a free port (e2e/testbed/start-a2c.sh).
struct A2c {
    dir: PathBuf,
    directory_url: String,
    ca_pem: PathBuf,
}

impl A2c {
    fn start() -> A2c {
        let dir = support::start("start-a2c.sh", &[]);
        let (directory_url, ca_pem) =
            (state_var(&dir, "A2C_DIRECTORY_URL"), state_var(&dir, "A2C_CA"));
        A2c { directory_url, ca_pem: ca_pem.into(), dir }
    }

    /// Started again on its port and database; `renew_now` makes every window "renew now".
    fn restart(&self, renew_now: bool) {
        let pid = std::fs::read_to_string(self.dir.join("a2c.pid")).unwrap();
        let _ = Command::new("kill").arg(pid.trim()).status();
        std::thread::sleep(Duration::from_millis(300));
        let status = Command::new(self.dir.join("run-a2c"))
            .env("RENEW_NOW", if renew_now { "1" } else { "0" })
            .status()
            .unwrap();
        assert!(status.success(), "run-a2c failed");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("a2c.log")).unwrap_or_default()
    }

    fn cluster_issuer(&self) -> String {
        use base64::Engine as _;
        let ca =
            base64::engine::general_purpose::STANDARD.encode(std::fs::read(&self.ca_pem).unwrap());
        format!(
            "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {{name: ari}}\nspec:\n  acme:\n    \
             server: {}\n    caBundle: {ca}\n    email: admin@example.com\n    privateKeySecretRef: {{name: ari}}\n    \
             solvers:\n    - http01: {{ingress: {{class: nginx}}}}\n",
            self.directory_url
        )
    }
}

impl Drop for A2c {
    fn drop(&mut self) {
        let _ = Command::new(testbed_script("stop-a2c.sh")).arg(&self.dir).status();
    }
}

/// Whether the renewal time lies in acme2certifier's window for the current certificate
/// (from 85% of its life to its end) and, where the CRD keeps it, in the recorded window.
fn in_window(c: &Certificate) -> bool {
    let Some(status) = c.status.as_ref() else { return false };
    let (Some(nb), Some(na), Some(at)) =
        (&status.not_before, &status.not_after, &status.renewal_time)
    else {
        return false;
    };
    let life = na.0.duration_since(nb.0);
    let start = nb.0 + life.mul_f64(0.85) - jiff::SignedDuration::from_mins(1);
    let by_server = start <= at.0 && at.0 <= na.0;
    let recorded = status.acme.as_ref().and_then(|a| a.ari.as_ref());
    let by_status = match recorded
        .and_then(|a| Some((a.last_checked.as_ref()?, a.suggested_window.as_ref()?)))
    {
        Some((checked, w)) => checked.0 >= nb.0 && w.start.0 <= at.0 && at.0 <= w.end.0,
        None => support::on_cert_manager_crds(),
    };
    by_server && by_status
}

fn revision(c: &Certificate) -> i64 {
    let ready = c.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
        cs.iter().any(|c| c.type_ == "Ready" && c.reason.as_deref() == Some("Ready"))
    });
    if ready { c.status.as_ref().and_then(|s| s.revision).unwrap_or(0) } else { 0 }
}

#[tokio::test]
async fn the_cas_renewal_window_is_honoured_and_renew_now_renews_with_replaces() {
    let mut row = Row::new("ARI (acme2certifier): window honoured, renew-now, replaces");
    let a2c = A2c::start();
    let kube = KubeBed::start();
    kube.install_crds();
    kube.kubectl_ok(&["create", "namespace", "certsmith"], "");
    kube.kubectl_ok(&["apply", "-f", "-"], &a2c.cluster_issuer());
    // The operator's responder port comes from a Pebble bed; acme2certifier validates nothing.
    let pebble = PebbleBed::start(&[]);
    let _operator = Operator::start(&kube, &pebble, &[]);
    let certs: Api<Certificate> = Api::namespaced(kube.client().await, "default");
    let cert = support::objects::certificate("web").cluster_issuer("ari").yaml();
    kube.kubectl_ok(&["apply", "-f", "-"], &cert);
    // Issued, and renewing inside the CA's window (recorded in status.acme.ari, unless
    // cert-manager's older CRD prunes it).
    let c = eventually(60, "the Certificate Ready, renewing in its ARI window", || async {
        let c = certs.get("web").await.ok()?;
        (revision(&c) == 1 && in_window(&c)).then_some(c)
    })
    .await;
    let status = c.status.unwrap();
    let renewal = status.renewal_time.unwrap().0;
    row.figure(format!("renewal at {renewal}, inside the window (85%..100% of the life)"));

    // The CA now says "renew now" (as before a mass revocation).
    let secrets: Api<Secret> = Api::namespaced(kube.client().await, "default");
    let replaced = cert_id(&secrets.get("web-tls").await.unwrap()).unwrap();
    a2c.restart(true);
    let said = Instant::now();
    eventually(60, "a renewal after the CA said renew now", || async {
        (revision(&certs.get("web").await.ok()?) >= 2).then_some(())
    })
    .await;
    let took = said.elapsed().as_secs_f64();
    a2c.restart(false);
    let sent = format!("\"replaces\":\"{replaced}\"");
    assert!(a2c.log().contains(&sent), "no order named the certificate it replaces ({sent})");
    // Back to an ordinary window: the new certificate's own, the renewal inside it.
    // (A renewal while the CA restarted finds it away: its window is asked for within a minute.)
    let c = eventually(120, "the renewed certificate renewing in its own window", || async {
        let c = certs.get("web").await.ok()?;
        let later = c.status.as_ref()?.renewal_time.as_ref()?.0 > jiff::Timestamp::now();
        (revision(&c) >= 2 && later && in_window(&c)).then_some(c)
    })
    .await;
    // The window is asked for when the CA's Retry-After (10 s) says, never in a loop (also
    // where the CRD prunes what was recorded).
    let asked = a2c.log().lines().filter(|l| l.contains("\"GET /acme/renewal-info/")).count();
    assert!(asked <= 40, "{asked} renewal-info requests");
    row.figure(format!(
        "renewed {took:.0} s after the CA said renew now, the order naming {replaced}; \
         revision {} then; {asked} renewal-info requests in all",
        revision(&c)
    ));
}
