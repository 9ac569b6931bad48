//! Gateway API on the bed: its v1.6.1 standard-channel CRDs (../shared/testdata), and Traefik
//! (built from its Go module by e2e/testbed/build-traefik.sh) as the Gateway implementation,
//! run as a process against the bed's API server: it routes by the bed's Gateways and
//! HTTPRoutes to the EndpointSlices of their backend Services, and writes their status.

use super::acme::free_port;
use super::{KubeBed, repo, testbed_script};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Traefik's `controllerName`, in the GatewayClass `traefik` and the routes' status.
pub const CONTROLLER: &str = "traefik.io/gateway-controller";

/// Creates Gateway API's CRDs (created, not applied: the largest exceeds what the
/// last-applied annotation may hold) and waits until they are served.
pub fn install_gateway_api(kube: &KubeBed) {
    let dir = repo().join("../shared/testdata/gateway-api-v1.6.1-standard");
    let dir = dir.to_str().unwrap();
    kube.kubectl_ok(&["create", "-f", dir], "");
    let crds = ["gateways", "listenersets", "httproutes", "gatewayclasses"]
        .map(|k| format!("crd/{k}.gateway.networking.k8s.io"));
    let mut args = vec!["wait", "--for=condition=established", "--timeout=60s"];
    args.extend(crds.iter().map(String::as_str));
    kube.kubectl_ok(&args, "");
}

pub struct Traefik {
    child: Child,
    /// Its entry points, `web` and `websecure`: a Gateway's listener must have one of these
    /// ports, as Traefik binds a listener to the entry point listening on the listener's port
    /// (the bed's stand-in for a load balancer's 80 and 443).
    pub web_port: u16,
    pub secure_port: u16,
    pub log: std::path::PathBuf,
}

impl Traefik {
    /// Starts Traefik with the bed's admin kubeconfig and the GatewayClass `traefik`.
    pub fn start(kube: &KubeBed) -> Traefik {
        let built = Command::new(testbed_script("build-traefik.sh"))
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(built.status.success(), "build-traefik.sh failed (run e2e/testbed/install.sh)");
        let binary = String::from_utf8(built.stdout).unwrap().trim().to_string();
        kube.kubectl_ok(
            &["apply", "-f", "-"],
            &format!("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: traefik}}\nspec: {{controllerName: {CONTROLLER}}}\n"),
        );
        let (web_port, secure_port) = (free_port(), free_port());
        let log = std::env::temp_dir()
            .join(format!("certsmith-traefik-{}-{web_port}.log", std::process::id()));
        let child = Command::new(binary)
            .args([
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
                &format!("--entryPoints.web.address=127.0.0.1:{web_port}"),
                &format!("--entryPoints.websecure.address=127.0.0.1:{secure_port}"),
                "--providers.kubernetesgateway=true",
                "--log.level=INFO",
                "--log.noColor=true",
            ])
            // Traefik reads KUBECONFIG when set (and ignores the in-cluster variables then).
            .env("KUBECONFIG", kube.kubeconfig())
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting traefik");
        // Dies with the test process, as the operator does.
        let watchdog = format!(
            "while kill -0 {me} 2>/dev/null && kill -0 {it} 2>/dev/null; do sleep 0.5; done; kill -9 {it} 2>/dev/null",
            me = std::process::id(),
            it = child.id()
        );
        Command::new("bash")
            .args(["-c", &format!("({watchdog}) </dev/null >/dev/null 2>&1 &")])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", web_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "traefik not listening after 30s: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Traefik { child, web_port, secure_port, log }
    }

    /// The operator's responder Service (`certsmith-http01` in `certsmith`) and its one
    /// endpoint, the responder at 127.0.0.1:`port`, as the EndpointSlice controller would write
    /// it for the operator's pods: certsmith copies it into each namespace's responder Service,
    /// and Traefik sends the solver routes' traffic there. An FQDN slice: the API server refuses
    /// loopback addresses in IPv4 ones.
    pub fn expose_responder(&self, kube: &KubeBed, port: u16) {
        let yaml = format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: certsmith-http01, namespace: certsmith}}\n\
             spec: {{ports: [{{name: http01, port: 8089, protocol: TCP}}]}}\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: certsmith-http01-bed\n  namespace: certsmith\n  \
             labels: {{kubernetes.io/service-name: certsmith-http01}}\naddressType: FQDN\n\
             ports: [{{name: http01, port: {port}, protocol: TCP}}]\n\
             endpoints: [{{addresses: ['127.0.0.1'], conditions: {{ready: true}}}}]\n"
        );
        kube.kubectl_ok(&["apply", "-f", "-"], &yaml);
    }
}

impl Traefik {
    /// Its log, for a failing test's message.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Traefik {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
