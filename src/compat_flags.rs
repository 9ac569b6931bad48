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
        }
    };
}

const NO_SOLVER_PODS: &str = "certsmith answers HTTP-01 itself, with no solver pods";
const NO_AMBIENT: &str = "certsmith's issuers use no ambient credentials";
const NO_PROFILER: &str = "certsmith has no profiler endpoint";
const NO_CLIENT_LIMIT: &str = "certsmith's Kubernetes client is not rate-limited client-side";

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
    leader_election_namespace = "leader-election-namespace": "certsmith's Lease lives in its own namespace (--namespace)",
    profiling = "enable-profiling": NO_PROFILER,
    profiler_address = "profiler-address": NO_PROFILER,
    healthz_address = "healthz-listen-address": "/healthz is served on the metrics address (--metrics-listen)",
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
