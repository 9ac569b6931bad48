//! cert-manager's controller flags that mean nothing in certsmith: accepted, so that a chart's
//! `extraArgs` written for cert-manager never crash-loop the pod, and each reported at start.

/// Declares the flags (hidden from `--help`; each takes an optional value, as Go's booleans
/// do) and what certsmith says when one is given.
macro_rules! cert_manager_only {
    ($($field:ident = $flag:literal: $why:expr,)*) => {
        #[derive(clap::Args, Clone, Debug, Default)]
        pub struct CertManagerOnly {
            $(
                #[arg(long = $flag, hide = true, num_args = 0..=1, default_missing_value = "true", value_name = "VALUE")]
                $field: Option<String>,
            )*
        }

        impl CertManagerOnly {
            /// The flags given, each with why it changes nothing.
            pub fn given(&self) -> Vec<(&'static str, &'static str)> {
                let mut given = vec![];
                $(if self.$field.is_some() { given.push(($flag, $why)); })*
                given
            }

            /// Every such flag with why it changes nothing (the README's parity table).
            pub fn all() -> Vec<(&'static str, &'static str)> {
                vec![$(($flag, $why)),*]
            }
        }
    };
}

const NO_SOLVER_PODS: &str = "certsmith answers HTTP-01 itself, with no solver pods";
const NO_AMBIENT: &str = "certsmith's issuers use no ambient credentials";
const NO_PROFILER: &str = "certsmith has no profiler endpoint";
const NO_CLIENT_LIMIT: &str = "certsmith's Kubernetes client is not rate-limited client-side";
const BACKOFF: &str = "certsmith retries a failed issuance after 1 min, 10 min, 100 min, then daily (Let's Encrypt's integration guide)";
const OWN_BOUNDS: &str = "certsmith bounds what it reads itself (1 MiB ACME answers, 16 KiB self-checks, the API server's 1 MiB objects)";
const PLAIN_METRICS: &str =
    "certsmith serves metrics over plain HTTP on --metrics-listen; terminate TLS in front of it";

cert_manager_only! {
    dns01_check_period = "dns01-check-retry-period": "certsmith checks a DNS-01 record every 2 seconds",
    solver_image = "acme-http01-solver-image": NO_SOLVER_PODS,
    solver_cpu_request = "acme-http01-solver-resource-request-cpu": NO_SOLVER_PODS,
    solver_memory_request = "acme-http01-solver-resource-request-memory": NO_SOLVER_PODS,
    solver_cpu_limit = "acme-http01-solver-resource-limits-cpu": NO_SOLVER_PODS,
    solver_memory_limit = "acme-http01-solver-resource-limits-memory": NO_SOLVER_PODS,
    solver_non_root = "acme-http01-solver-run-as-non-root": NO_SOLVER_PODS,
    solver_nameservers = "acme-http01-solver-nameservers": NO_SOLVER_PODS,
    max_concurrent_challenges = "max-concurrent-challenges": "certsmith bounds orders per ACME account: --acme-max-concurrent-orders",
    kube_api_qps = "kube-api-qps": NO_CLIENT_LIMIT,
    kube_api_burst = "kube-api-burst": NO_CLIENT_LIMIT,
    feature_gates = "feature-gates": "certsmith has no feature gates",
    auto_annotations = "auto-certificate-annotations": "certsmith always reads the kubernetes.io/tls-acme annotation",
    issuer_ambient = "issuer-ambient-credentials": NO_AMBIENT,
    cluster_issuer_ambient = "cluster-issuer-ambient-credentials": NO_AMBIENT,
    leader_election_namespace = "leader-election-namespace": "certsmith's Lease lives in its own namespace (--operator-namespace)",
    profiling = "enable-profiling": NO_PROFILER,
    profiler_address = "profiler-address": NO_PROFILER,
    healthz_address = "healthz-listen-address": "/healthz is served on the metrics address (--metrics-listen)",
    internal_healthz_address = "internal-healthz-listen-address": "/healthz and /livez are served on the metrics address (--metrics-listen)",
    internal_healthz_timeout = "internal-healthz-leader-election-timeout": "certsmith exits when it loses its Lease, so a stuck leader restarts",
    solver_labels = "acme-http01-solver-extra-labels": NO_SOLVER_PODS,
    solver_runtime_class = "acme-http01-solver-runtime-class-name": NO_SOLVER_PODS,
    request_min_backoff = "certificate-request-minimum-backoff-duration": BACKOFF,
    request_max_backoff = "certificate-request-maximum-backoff-duration": BACKOFF,
    copied_annotations = "copied-annotation-prefixes": "certsmith copies no Certificate annotations to its requests and Orders",
    config_file = "config": "certsmith takes flags, not a config file",
    master = "master": "certsmith reads the API server's address from KUBECONFIG or the pod's ServiceAccount",
    max_bundle_size = "max-certificate-bundle-size": OWN_BOUNDS,
    max_chain_length = "max-certificate-chain-length": OWN_BOUNDS,
    max_certificate_size = "max-certificate-size": OWN_BOUNDS,
    max_private_key_size = "max-private-key-size": OWN_BOUNDS,
    metrics_ca_name = "metrics-dynamic-serving-ca-secret-name": PLAIN_METRICS,
    metrics_ca_namespace = "metrics-dynamic-serving-ca-secret-namespace": PLAIN_METRICS,
    metrics_dns_names = "metrics-dynamic-serving-dns-names": PLAIN_METRICS,
    metrics_leaf_duration = "metrics-dynamic-serving-leaf-duration": PLAIN_METRICS,
    metrics_cert = "metrics-tls-cert-file": PLAIN_METRICS,
    metrics_key = "metrics-tls-private-key-file": PLAIN_METRICS,
    metrics_ciphers = "metrics-tls-cipher-suites": PLAIN_METRICS,
    metrics_min_version = "metrics-tls-min-version": PLAIN_METRICS,
}

impl CertManagerOnly {
    /// One warning per cert-manager flag given, at start.
    pub fn warn(&self) {
        for (flag, why) in self.given() {
            tracing::warn!(flag, "cert-manager's --{flag} has no effect in certsmith: {why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use clap::Parser;

    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn cert_managers_flags_are_accepted_and_named() {
        let run = Run::try_parse_from([
            "run",
            "--v=2",
            "--logging-format=json",
            "--max-concurrent-challenges=60",
            "--auto-certificate-annotations",
            "--acme-http01-solver-image",
            "quay.io/jetstack/cert-manager-acmesolver:v1.14.7",
            "--metrics-listen-address=0.0.0.0:9402",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let given: Vec<&str> = run.config.cert_manager_only.given().iter().map(|g| g.0).collect();
        assert_eq!(
            given,
            [
                "acme-http01-solver-image",
                "max-concurrent-challenges",
                "auto-certificate-annotations"
            ]
        );
        assert_eq!(run.config.logging.verbosity, Some(2));
    }
}
