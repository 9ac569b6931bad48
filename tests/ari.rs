//! ACME Renewal Information (RFC 9773) against a server that serves it (acme2certifier from
//! PyPI; Pebble 2.4 has none): the window is recorded and the renewal time falls inside it; a
//! "renew now" window renews within a minute, and the renewal order names what it replaces.

mod support;

use certsmith::api::Certificate;
use certsmith::certificate::ari::cert_id;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use support::acme::{Operator, PebbleBed, eventually};
use support::faults::Row;
use support::{KubeBed, repo};

/// acme2certifier on a free port (e2e/testbed/start-a2c.sh).
struct A2c {
    dir: PathBuf,
    directory_url: String,
    ca_pem: PathBuf,
}

impl A2c {
    fn start() -> A2c {
        let out = Command::new(repo().join("e2e/testbed/start-a2c.sh"))
            .env("WATCH_PID", std::process::id().to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "start-a2c.sh: {}", String::from_utf8_lossy(&out.stderr));
        let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let env = std::fs::read_to_string(dir.join("env")).unwrap();
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap()
                .to_string()
        };
        A2c { directory_url: var("A2C_DIRECTORY_URL"), ca_pem: var("A2C_CA").into(), dir }
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
        let _ = Command::new(repo().join("e2e/testbed/stop-a2c.sh")).arg(&self.dir).status();
    }
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
    let cert = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web, namespace: default}\n\
                spec: {secretName: web-tls, dnsNames: [web.example.com], issuerRef: {name: ari, kind: ClusterIssuer}}\n";
    kube.kubectl_ok(&["apply", "-f", "-"], cert);
    // Issued, and the CA's window recorded with the renewal time inside it.
    let first = eventually(60, "the Certificate Ready with its ARI window", || async {
        let c = certs.get("web").await.ok()?;
        let window = c.status.as_ref()?.acme.as_ref()?.ari.as_ref()?.suggested_window.clone()?;
        let renewal = c.status.as_ref()?.renewal_time.as_ref()?.0;
        let inside = window.start.0 <= renewal && renewal <= window.end.0;
        (revision(&c) == 1 && inside).then_some((c, window))
    })
    .await;
    let (c, window) = first;
    let status = c.status.unwrap();
    let renewal = status.renewal_time.unwrap().0;
    let (not_before, not_after) = (status.not_before.unwrap().0, status.not_after.unwrap().0);
    // acme2certifier's window starts at 85% of the life: not certsmith's own 2/3 rule.
    let two_thirds = certsmith::renewal::renewal_time(not_before, not_after, None, None);
    assert!(renewal > two_thirds, "renewal {renewal} is not later than 2/3 of the life");
    row.figure(format!("window {} .. {}, renewal at {renewal}", window.start.0, window.end.0));

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
    // Back to an ordinary window: the new certificate's own is recorded, renewal inside it.
    let c = eventually(60, "the renewed certificate's own window", || async {
        let c = certs.get("web").await.ok()?;
        let status = c.status.clone()?;
        let ari = status.acme?.ari?;
        let fresh = ari.last_checked?.0 >= status.not_before?.0;
        let window = ari.suggested_window?;
        let renewal = status.renewal_time?.0;
        let inside = window.start.0 <= renewal && renewal <= window.end.0;
        (fresh && inside && window.start.0 > jiff::Timestamp::now()).then_some(c)
    })
    .await;
    row.figure(format!(
        "renewed {took:.0} s after the CA said renew now, the order naming {replaced}; revision {} then",
        revision(&c)
    ));
}
