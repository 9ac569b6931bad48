//! The local test bed, from Rust: a real kube-apiserver (+ controller-manager) and, for the
//! issuance tests, a real Pebble, started by the scripts in `e2e/testbed/` on free ports.
//! A bed missing its binaries is a failure, never a skip: run `e2e/testbed/install.sh`.

pub mod a2c;
pub mod acme;
pub mod cert_manager;
pub mod faults;
pub mod gateway;
pub mod hostile;
pub mod objects;
pub mod shared;

use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn testbed_script(name: &str) -> PathBuf {
    repo().join("e2e/testbed").join(name)
}

/// Runs a start script; its stdout is the bed's state directory. `WATCH_PID` ties the bed's
/// life to this test process, so a panic or a kill leaves nothing running. A script that fails
/// is run again, twice at most: it picks free ports at start, and a test beside it may take one
/// before its server binds it (CI saw etcd's "address already in use").
pub fn start(script: &str, env: &[(&str, &str)]) -> PathBuf {
    let run = || {
        Command::new(testbed_script(script))
            .env("WATCH_PID", std::process::id().to_string())
            .envs(env.iter().copied())
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("running {script}: {e}"))
    };
    let mut out = run();
    for _ in 0..2 {
        if out.status.success() {
            break;
        }
        eprintln!("[{script}] failed; starting it again on other ports");
        out = run();
    }
    assert!(out.status.success(), "{script} failed (run e2e/testbed/install.sh first?)");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A variable a start script exported in `<state>/env` (`export NAME=value`).
pub fn state_var(dir: &Path, name: &str) -> String {
    let vars = std::fs::read_to_string(dir.join("env")).unwrap();
    vars.lines()
        .find_map(|l| l.strip_prefix(&format!("export {name}=")))
        .unwrap_or_else(|| panic!("{name} missing from {}/env", dir.display()))
        .to_string()
}

/// etcd + kube-apiserver + kube-controller-manager (env.sh's `KUBE_VERSION`) on 127.0.0.1.
pub struct KubeBed {
    pub dir: PathBuf,
}

impl KubeBed {
    pub fn start() -> KubeBed {
        KubeBed { dir: start("start-kube.sh", &[]) }
    }

    /// An outage: kube-apiserver stopped for `secs` and started again over the same etcd
    /// (restart-apiserver.sh); returns once it answers again.
    pub fn outage(&self, secs: u64) {
        let status = Command::new(testbed_script("restart-apiserver.sh"))
            .arg(&self.dir)
            .arg(secs.to_string())
            .status();
        assert!(status.unwrap().success(), "restart-apiserver.sh failed");
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    pub async fn client(&self) -> kube::Client {
        let kc = Kubeconfig::read_from(self.kubeconfig()).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .expect("config");
        kube::Client::try_from(config).expect("client")
    }

    /// kubectl (built with the bed, same release) against this bed, with `stdin` fed in.
    pub fn kubectl(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let bin = kube_bin_dir().join("kubectl");
        let mut child = Command::new(&bin)
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// kubectl that must succeed; returns its stdout.
    pub fn kubectl_ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.kubectl(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Writes (create, update, patch, delete) the API server has audited from clients whose
    /// user agent starts with `agent`.
    pub fn writes_by(&self, agent: &str) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("audit.log")).unwrap_or_default();
        log.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["userAgent"].as_str().is_some_and(|a| a.starts_with(agent)))
            // The bed audits reads too (for its deprecated-API check): keep the writes.
            .filter(|e| WRITE_VERBS.contains(&e["verb"].as_str().unwrap_or("")))
            .map(|e| {
                format!(
                    "{} {}",
                    e["verb"].as_str().unwrap_or(""),
                    e["requestURI"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    /// Installs the CRDs the suite runs on, and waits until the API serves them: certsmith's
    /// own `crds/` (applied as a user would), or, with `CERTSMITH_TEST_CRDS=cert-manager`,
    /// cert-manager's published ones from `../shared/testdata` (created as that folder's
    /// README says), as on a cluster that already runs cert-manager.
    pub fn install_crds(&self) {
        let dir = crds_dir();
        let dir = dir.to_str().unwrap();
        if on_cert_manager_crds() {
            self.kubectl_ok(&["create", "--validate=false", "-f", dir], "");
        } else {
            self.kubectl_ok(&["apply", "-f", dir], "");
        }
        self.kubectl_ok(&["wait", "--for=condition=established", "--timeout=60s", "-f", dir], "");
    }
}

const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// Whether this run uses cert-manager's own CRDs (`CERTSMITH_TEST_CRDS=cert-manager` or
/// `=cert-manager-v1.21.1`, or `=cert-manager-v1.14.7` for an older cert-manager's).
pub fn on_cert_manager_crds() -> bool {
    std::env::var("CERTSMITH_TEST_CRDS").is_ok_and(|v| v.starts_with("cert-manager"))
}

/// Whether this run uses cert-manager v1.14.7's CRDs, which lack the fields added since (the
/// API server refuses a manifest that sets one).
pub fn on_old_cert_manager_crds() -> bool {
    std::env::var("CERTSMITH_TEST_CRDS").is_ok_and(|v| v == "cert-manager-v1.14.7")
}

/// cert-manager's published CRDs, beside the project (never copied into it): v1.21.1's, as
/// clusters that run cert-manager now have them, unless `CERTSMITH_TEST_CRDS` names v1.14.7's.
pub fn cert_manager_crds() -> PathBuf {
    let release = if on_old_cert_manager_crds() { "v1.14.7" } else { "v1.21.1" };
    repo().join(format!("../shared/testdata/cert-manager-crds-{release}"))
}

fn crds_dir() -> PathBuf {
    if !on_cert_manager_crds() {
        return repo().join("crds");
    }
    let dir = cert_manager_crds();
    assert!(
        dir.is_dir(),
        "CERTSMITH_TEST_CRDS=cert-manager, but {} is missing (e2e/test.sh skips this run outside CI)",
        dir.display()
    );
    dir
}

impl Drop for KubeBed {
    fn drop(&mut self) {
        let _ = Command::new(testbed_script("stop-kube.sh")).arg(&self.dir).status();
    }
}

/// Where `e2e/testbed/env.sh` says the Kubernetes binaries are (asked, not re-derived).
pub fn kube_bin_dir() -> PathBuf {
    let env_sh = testbed_script("env.sh");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' && printf %s \"$KUBE_BIN_DIR\"", env_sh.display()))
        .output()
        .expect("bash");
    PathBuf::from(String::from_utf8(out.stdout).unwrap())
}

/// `dig +short` for `name`'s TXT record at the bed's BIND (listening on `port`).
pub fn txt(port: &str, name: &str) -> String {
    let out = Command::new("dig")
        .args(["+short", "+time=2", "+tries=1", "@127.0.0.1", "-p", port, name, "TXT"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The YAML file under `e2e/fixtures/`.
pub fn fixture(name: &str) -> String {
    let path = repo().join("e2e/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The DNS names of the certificate the Secret `secret` holds, once its chain is checked to
/// verify against `root` (the CA's).
pub async fn issued_names(
    secrets: &kube::Api<k8s_openapi::api::core::v1::Secret>,
    secret: &str,
    root: &str,
) -> Vec<String> {
    let s = secrets.get(secret).await.unwrap();
    let chain = String::from_utf8(s.data.as_ref().unwrap()["tls.crt"].0.clone()).unwrap();
    assert!(verifies(&chain, root), "the chain of {secret} does not verify");
    certsmith::pki::inspect::parse_chain(&chain).unwrap().dns_names
}

/// `openssl verify` of the chain's leaf against `root`, the rest of the chain untrusted.
pub fn verifies(chain: &str, root: &str) -> bool {
    let dir = std::env::temp_dir().join(format!(
        "certsmith-verify-{}-{}",
        std::process::id(),
        acme::free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let blocks: Vec<&str> = chain.split_inclusive("-----END CERTIFICATE-----\n").collect();
    std::fs::write(dir.join("leaf.pem"), blocks[0]).unwrap();
    std::fs::write(dir.join("rest.pem"), blocks[1..].concat()).unwrap();
    std::fs::write(dir.join("root.pem"), root).unwrap();
    let status = Command::new("openssl")
        .args(["verify", "-CAfile", "root.pem", "-untrusted", "rest.pem", "leaf.pem"])
        .current_dir(&dir)
        .status()
        .unwrap();
    status.success()
}

/// `certsmith renew` of the Certificate `namespace/name` on `kube`, as a user runs it.
pub async fn renew(kube: &KubeBed, namespace: &str, name: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certsmith"))
        .args(["renew", name, "-n", namespace])
        .env("KUBECONFIG", kube.kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
