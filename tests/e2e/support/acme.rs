//! Pebble and the operator process, for the issuance tests.

use super::{KubeBed, repo, start, state_var, testbed_script};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Pebble + pebble-challtestsrv on free ports; every name resolves to 127.0.0.1.
pub struct PebbleBed {
    pub dir: PathBuf,
    pub directory_url: String,
    pub ca_pem: PathBuf,
    pub management_url: String,
    pub http01_port: u16,
}

impl PebbleBed {
    pub fn start(env: &[(&str, &str)]) -> PebbleBed {
        // The responder port is bound only when an operator starts: reserve it here, among the
        // ports this process hands out, so no parallel test's listener can take it meanwhile.
        let port = free_port().to_string();
        let mut env = env.to_vec();
        if !env.iter().any(|(k, _)| *k == "HTTP01_PORT") {
            env.push(("HTTP01_PORT", &port));
        }
        let dir = start("start-pebble.sh", &env);
        let var = |name: &str| state_var(&dir, name);
        PebbleBed {
            directory_url: var("PEBBLE_DIRECTORY_URL"),
            ca_pem: var("PEBBLE_CA").into(),
            management_url: var("PEBBLE_MANAGEMENT_URL"),
            http01_port: var("HTTP01_PORT").parse().unwrap(),
            dir,
        }
    }

    /// Pebble stopped and started again on the same ports with a fresh state: it knows no
    /// account, order or authorization any more, as a CA that was reset.
    pub fn restart(&self) {
        let status = self.outage(0).wait();
        assert!(status.unwrap().success(), "restart-pebble.sh failed");
    }

    /// The root that signs Pebble's issued chains (management API `/roots/0`).
    pub fn root_pem(&self) -> String {
        self.root(0)
    }

    /// Root `n`: 0 signs the default chains, 1… the alternates (`PEBBLE_ALTERNATE_ROOTS`).
    pub fn root(&self, n: usize) -> String {
        let out = Command::new("curl")
            .args(["-sf", "--cacert", self.ca_pem.to_str().unwrap()])
            .arg(format!("{}/roots/{n}", self.management_url))
            .output()
            .unwrap();
        assert!(out.status.success(), "fetching Pebble's root {n}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// A CA outage, started: Pebble stopped for `secs`, then started again on the same ports
    /// with a fresh state, as a CA restored from nothing. The child exits once Pebble is back.
    pub fn outage(&self, secs: u64) -> Child {
        Command::new(testbed_script("restart-pebble.sh"))
            .arg(&self.dir)
            .arg(secs.to_string())
            .spawn()
            .expect("restart-pebble.sh")
    }

    /// How many orders the CA opened (Pebble logs each one it adds).
    pub fn orders_opened(&self) -> usize {
        self.orders_opened_at().len()
    }

    /// When the CA opened each order, to the second, from Pebble's log
    /// (`Pebble 2026/01/01 03:00:00 Added order …`).
    pub fn orders_opened_at(&self) -> Vec<jiff::civil::DateTime> {
        let log = std::fs::read_to_string(self.dir.join("pebble.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("Added order"))
            .filter_map(|l| {
                let stamp: String = l.strip_prefix("Pebble ")?.chars().take(19).collect();
                jiff::civil::DateTime::strptime("%Y/%m/%d %H:%M:%S", &stamp).ok()
            })
            .collect()
    }

    /// A ClusterIssuer (or, with a namespace, an Issuer) for this Pebble, as the seed tutorial
    /// writes it with the server pointed here and `caBundle` set.
    pub fn issuer_yaml(&self, kind: &str, name: &str, namespace: Option<&str>) -> String {
        use base64::Engine as _;
        let ca =
            base64::engine::general_purpose::STANDARD.encode(std::fs::read(&self.ca_pem).unwrap());
        let ns = namespace.map(|n| format!("\n  namespace: {n}")).unwrap_or_default();
        format!(
            "apiVersion: cert-manager.io/v1\nkind: {kind}\nmetadata:\n  name: {name}{ns}\nspec:\n  acme:\n    \
             server: {}\n    caBundle: {ca}\n    email: admin@example.com\n    privateKeySecretRef:\n      \
             name: {name}\n    solvers:\n    - http01:\n        ingress:\n          class: nginx\n",
            self.directory_url
        )
    }
}

/// Readies `kube` for issuance: the CRDs, the operator's namespace, a Pebble, and the seed
/// tutorial's ClusterIssuer `letsencrypt-prod` pointed at that Pebble.
pub fn issuing_bed(kube: &KubeBed) -> PebbleBed {
    // One alternate chain, as Let's Encrypt offers, for preferredChain.
    issuing_bed_with(kube, &[("PEBBLE_ALTERNATE_ROOTS", "1")])
}

/// [`issuing_bed`] with Pebble started with `env` (CERT_VALIDITY, PEBBLE_HARSH, …).
pub fn issuing_bed_with(kube: &KubeBed, env: &[(&str, &str)]) -> PebbleBed {
    kube.install_crds();
    kube.kubectl_ok(&["create", "namespace", "certsmith"], "");
    let pebble = PebbleBed::start(env);
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        &pebble.issuer_yaml("ClusterIssuer", "letsencrypt-prod", None),
    );
    pebble
}

impl Drop for PebbleBed {
    fn drop(&mut self) {
        let _ = Command::new(testbed_script("stop-pebble.sh")).arg(&self.dir).status();
    }
}

/// `certsmith run` as a child process, the way a user runs it outside a cluster.
pub struct Operator {
    child: Child,
    pub log: PathBuf,
    pub metrics_port: u16,
}

/// A port nothing listens on now, never handed out twice in this process: tests of one binary
/// run in parallel, and a responder port shared by accident (SO_REUSEPORT) answers 404 at random.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

impl Operator {
    /// Starts the operator against `kube`, answering challenges where `pebble` looks for them.
    pub fn start(kube: &KubeBed, pebble: &PebbleBed, extra: &[&str]) -> Operator {
        Self::start_with_kubeconfig(&kube.kubeconfig(), pebble, extra)
    }

    pub fn start_with_kubeconfig(
        kubeconfig: &std::path::Path,
        pebble: &PebbleBed,
        extra: &[&str],
    ) -> Operator {
        Self::start_named(None, kubeconfig, pebble, extra)
    }

    /// Starts a replica called `pod` (its POD_NAME: Lease identity and user agent).
    pub fn start_named(
        pod: Option<&str>,
        kubeconfig: &std::path::Path,
        pebble: &PebbleBed,
        extra: &[&str],
    ) -> Operator {
        Self::start_with_env(pod, kubeconfig, pebble, extra, &[])
    }

    /// [`Operator::start_named`] with `env` added to the process's environment.
    pub fn start_with_env(
        pod: Option<&str>,
        kubeconfig: &std::path::Path,
        pebble: &PebbleBed,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Operator {
        let http01 = format!("127.0.0.1:{}", pebble.http01_port);
        let metrics_port = free_port();
        let log = std::env::temp_dir()
            .join(format!("certsmith-operator-{}-{metrics_port}.log", std::process::id()));
        let child = Command::new(env!("CARGO_BIN_EXE_certsmith"))
            .args(["run", "--operator-namespace", "certsmith"])
            // Pebble's HTTP-01 port, unless the test puts something in front of the responder.
            .args(if extra.contains(&"--http01-listen") {
                vec![]
            } else {
                vec!["--http01-listen", &http01]
            })
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            // Short leases, so a test's takeover takes seconds (unless the test sets its own).
            .args(if extra.iter().any(|a| a.starts_with("--leader-election")) {
                vec![]
            } else {
                vec![
                    "--leader-election-lease-duration=4s",
                    "--leader-election-renew-deadline=3s",
                    "--leader-election-retry-period=1s",
                ]
            })
            .args(if extra.contains(&"--http01-self-check-address") {
                vec![]
            } else {
                vec!["--http01-self-check-address", &http01]
            })
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .envs(pod.map(|p| ("POD_NAME", p)))
            .envs(env.iter().copied())
            .current_dir(repo())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting certsmith");
        // The operator dies with the test process, even when a shared one is never dropped.
        let watchdog = format!(
            "while kill -0 {} 2>/dev/null && kill -0 {} 2>/dev/null; do sleep 0.5; done; kill -9 {} 2>/dev/null",
            std::process::id(),
            child.id(),
            child.id()
        );
        let detached = format!("({watchdog}) </dev/null >/dev/null 2>&1 &");
        Command::new("bash").args(["-c", &detached]).status().unwrap();
        let mut op = Operator { child, log, metrics_port };
        op.wait_ready();
        op
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("operator exited ({exit}); log:\n{}", self.logs());
            }
            // "ready; standing by: …" is ready too: a replica that defers still serves.
            if self.get("/readyz").is_some_and(|b| b.starts_with("ready")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("operator not ready in 30s; log:\n{}", self.logs());
    }

    /// GET a path of the metrics listener; `None` unless 200.
    pub fn get(&self, path: &str) -> Option<String> {
        let out = Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{}{path}", self.metrics_port)])
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The value of a metric line that starts with `prefix`.
    pub fn metric(&self, prefix: &str) -> f64 {
        let body = self.get("/metrics").unwrap_or_default();
        body.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as the kubelet stops a pod, and waits for the process to exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().unwrap()
    }

    /// Whether the process has exited (as on a lost Lease).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGKILL: no clean shutdown, as when a node dies.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `secs` with `what`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {secs}s waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits up to 60 s until Certificate `name` is Ready at `revision`; on timeout the panic shows
/// its state and the newest lines of `operator`'s log.
pub async fn ready(
    certs: &kube::Api<certsmith::api::Certificate>,
    name: &str,
    revision: i64,
    operator: &Operator,
) -> certsmith::api::Certificate {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // An Ingress's Certificate may not exist yet.
        let Some(c) = certs.get_opt(name).await.unwrap() else {
            assert!(Instant::now() < deadline, "Certificate {name} was never created");
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let status = c.status.as_ref();
        let is_ready = status.and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
            cs.iter().any(|c| c.type_ == "Ready" && c.reason.as_deref() == Some("Ready"))
        });
        if is_ready && status.and_then(|s| s.revision) == Some(revision) {
            return c;
        }
        if Instant::now() > deadline {
            let log = operator.logs();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!(
                "Certificate {name} not Ready at revision {revision} after 60s:\n{}\noperator log (newest first):\n{}",
                certsmith::cli::describe(&c),
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The objects an issuance of Certificate `name` made, found by owner: its
/// CertificateRequests, their Orders, their Challenges.
pub async fn pipeline(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> (
    Vec<certsmith::api::CertificateRequest>,
    Vec<certsmith::api::Order>,
    Vec<certsmith::api::Challenge>,
) {
    let cert = kube::Api::<certsmith::api::Certificate>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .unwrap();
    let Some(cert) = cert else { return (vec![], vec![], vec![]) };
    let crs = controlled(client, namespace, &uids(std::slice::from_ref(&cert))).await;
    let orders = controlled(client, namespace, &uids(&crs)).await;
    let challenges = controlled(client, namespace, &uids(&orders)).await;
    (crs, orders, challenges)
}

fn uids<K: kube::Resource>(objects: &[K]) -> Vec<Option<String>> {
    objects.iter().map(|o| o.meta().uid.clone()).collect()
}

/// The objects of kind `K` in `namespace` controlled by one of `owners`.
async fn controlled<K>(client: &kube::Client, namespace: &str, owners: &[Option<String>]) -> Vec<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    use certsmith::api::meta::controlled_by;
    use kube::ResourceExt;
    let list = kube::Api::<K>::namespaced(client.clone(), namespace)
        .list(&Default::default())
        .await
        .unwrap();
    list.items
        .into_iter()
        .filter(|o| owners.iter().any(|u| controlled_by(o.owner_references(), u.as_deref())))
        .collect()
}

impl Operator {
    /// SIGSTOP: the process is frozen where it is, mid-step, until it is killed.
    pub fn freeze(&self) {
        let _ = Command::new("kill").args(["-STOP", &self.child.id().to_string()]).status();
    }

    /// The process id: to signal it, or for /proc (RSS, descriptors, sockets).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}
