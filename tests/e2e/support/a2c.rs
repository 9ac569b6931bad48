//! acme2certifier (from PyPI) on the bed: an ACME server whose ARI windows a test can set,
//! "renew now" to every certificate included (e2e/testbed/start-a2c.sh).

use super::acme::PebbleBed;
use super::{KubeBed, state_var, testbed_script};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// acme2certifier on a free port (e2e/testbed/start-a2c.sh).
pub struct A2c {
    dir: PathBuf,
    directory_url: String,
    ca_pem: PathBuf,
}

impl A2c {
    /// acme2certifier, a bed with the CRDs and the `certsmith` namespace, its ClusterIssuer
    /// `ari`, and a Pebble bed for the operator's responder port (acme2certifier validates
    /// nothing).
    pub fn issuing_bed() -> (A2c, KubeBed, PebbleBed) {
        let a2c = A2c::start();
        let kube = KubeBed::start();
        kube.install_crds();
        kube.kubectl_ok(&["create", "namespace", "certsmith"], "");
        kube.kubectl_ok(&["apply", "-f", "-"], &a2c.cluster_issuer());
        (a2c, kube, PebbleBed::start(&[]))
    }

    pub fn start() -> A2c {
        let dir = super::start("start-a2c.sh", &[]);
        let (directory_url, ca_pem) =
            (state_var(&dir, "A2C_DIRECTORY_URL"), state_var(&dir, "A2C_CA"));
        A2c { directory_url, ca_pem: ca_pem.into(), dir }
    }

    /// Started again on its port and database; `renew_now` makes every window "renew now".
    pub fn restart(&self, renew_now: bool) {
        let pid = std::fs::read_to_string(self.dir.join("a2c.pid")).unwrap();
        let _ = Command::new("kill").arg(pid.trim()).status();
        std::thread::sleep(Duration::from_millis(300));
        let status = Command::new(self.dir.join("run-a2c"))
            .env("RENEW_NOW", if renew_now { "1" } else { "0" })
            .status()
            .unwrap();
        assert!(status.success(), "run-a2c failed");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("a2c.log")).unwrap_or_default()
    }

    /// The orders it was asked to open so far.
    pub fn orders(&self) -> usize {
        self.log().lines().filter(|l| l.starts_with("new order payload")).count()
    }

    pub fn cluster_issuer(&self) -> String {
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
