//! The operator's settings: `certsmith run` flags, each also read from the environment.

use std::net::SocketAddr;
use std::time::Duration;

fn go_duration(s: &str) -> Result<Duration, String> {
    crate::validation::names::parse_duration(s)
}

#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    /// The operator's namespace: its Lease and the responder Service live here (and ClusterIssuer
    /// Secrets, unless `--cluster-resource-namespace` says otherwise).
    #[arg(long = "operator-namespace", env = "POD_NAMESPACE", default_value = "certsmith")]
    pub namespace: String,
    /// cert-manager's `--namespace`: if set, only this namespace is watched and acted in, and
    /// ClusterIssuers are disabled (cert-manager's single-namespace mode). Not the operator's
    /// own namespace, which is `--operator-namespace`.
    #[arg(long = "namespace")]
    pub single_namespace: Option<String>,
    /// Where ClusterIssuers' Secrets (account keys, EAB keys) are read and written: cert-manager's
    /// flag and meaning. Defaults to the operator's namespace; set it to `cert-manager` to take
    /// over the account Secrets cert-manager registered.
    #[arg(long, env = "CERTSMITH_CLUSTER_RESOURCE_NAMESPACE")]
    pub cluster_resource_namespace: Option<String>,
    /// Reconcile nothing while this Lease (`namespace/name`, cert-manager's leader Lease by
    /// default) is held and renewed by someone, nor while cert-manager's controllers change
    /// Orders (their field managers in `managedFields`, within one lease period), whatever
    /// their Lease: certsmith and
    /// cert-manager never both act on the same objects. Empty turns both checks off.
    #[arg(
        long,
        env = "CERTSMITH_DEFER_TO_LEASE",
        default_value = "kube-system/cert-manager-controller"
    )]
    pub defer_to_lease: String,
    /// The cainjector stands by while this Lease (`namespace/name`: cert-manager's cainjector's
    /// by default) is held and renewed, so the two never inject at once. Empty turns it off.
    #[arg(
        long,
        env = "CERTSMITH_CAINJECTOR_DEFER_TO_LEASE",
        default_value = "kube-system/cert-manager-cainjector-leader-election"
    )]
    pub cainjector_defer_to_lease: String,
    /// Where the HTTP-01 challenge responder listens.
    #[arg(long, env = "CERTSMITH_HTTP01_LISTEN", default_value = "0.0.0.0:8089")]
    pub http01_listen: SocketAddr,
    /// The Service, in the operator's namespace, that solver Ingresses route to.
    #[arg(long, env = "CERTSMITH_HTTP01_SERVICE", default_value = "certsmith-http01")]
    pub http01_service: String,
    #[arg(long, env = "CERTSMITH_HTTP01_SERVICE_PORT", default_value_t = 8089)]
    pub http01_service_port: u16,
    /// GET each challenge URL through the normal path before asking the CA to validate it.
    /// Turn off where the operator cannot reach its own Ingresses (no DNS, hairpin NAT).
    #[arg(long, env = "CERTSMITH_HTTP01_SELF_CHECK", default_value_t = true, action = clap::ArgAction::Set)]
    pub http01_self_check: bool,
    /// Connect the self-check to this address instead of `<host>:80` (like `curl --resolve`),
    /// for test beds whose names do not resolve.
    #[arg(long, env = "CERTSMITH_HTTP01_SELF_CHECK_ADDRESS")]
    pub http01_self_check_address: Option<String>,
    /// cert-manager's flag: the DNS servers (`host[:port]`, comma-separated) that DNS-01 asks
    /// for zones, name servers and CNAMEs; default: /etc/resolv.conf's.
    #[arg(long, env = "CERTSMITH_DNS01_RECURSIVE_NAMESERVERS", value_delimiter = ',')]
    pub dns01_recursive_nameservers: Vec<String>,
    /// cert-manager's flag: check a DNS-01 record on those servers only, not on the zone's
    /// authoritative servers.
    #[arg(long, env = "CERTSMITH_DNS01_RECURSIVE_NAMESERVERS_ONLY", num_args = 0..=1, default_missing_value = "true", default_value_t = false, action = clap::ArgAction::Set)]
    pub dns01_recursive_nameservers_only: bool,
    /// The issuer of Ingresses annotated `kubernetes.io/tls-acme: "true"` (ingress-shim).
    #[arg(long, env = "CERTSMITH_DEFAULT_ISSUER_NAME")]
    pub default_issuer_name: Option<String>,
    #[arg(long, env = "CERTSMITH_DEFAULT_ISSUER_KIND", default_value = "Issuer")]
    pub default_issuer_kind: String,
    #[arg(long, env = "CERTSMITH_DEFAULT_ISSUER_GROUP", default_value = "cert-manager.io")]
    pub default_issuer_group: String,
    /// cert-manager's flag: run the gateway-shim (Certificates for annotated Gateways). On by
    /// default here (cert-manager's default is off), and only when the Gateway API CRDs are
    /// served when certsmith starts; the HTTPRoute solver needs no flag.
    #[arg(long, env = "CERTSMITH_ENABLE_GATEWAY_API", num_args = 0..=1, default_missing_value = "true", default_value_t = true, action = clap::ArgAction::Set)]
    pub enable_gateway_api: bool,
    /// cert-manager's flag: run the ListenerSet shim too (with `--enable-gateway-api`; when the
    /// ListenerSet CRD is served).
    #[arg(long, env = "CERTSMITH_ENABLE_GATEWAY_API_LISTENERSET", num_args = 0..=1, default_missing_value = "true", default_value_t = true, action = clap::ArgAction::Set)]
    pub enable_gateway_api_listenerset: bool,
    /// cert-manager's flag (v1.21): listener protocols besides HTTPS and TLS whose listeners get
    /// Certificates (case-sensitive, comma-separated).
    #[arg(long, env = "CERTSMITH_GATEWAY_API_EXTRA_PROTOCOLS", value_delimiter = ',')]
    pub gateway_api_extra_protocols: Vec<String>,
    /// The signers whose requests the built-in approver approves (the chart passes its
    /// `approveSignerNames`, which also bounds its `approve` grant): signer names or
    /// `<resource>.<group>/*`; empty means every signer.
    #[arg(long, env = "CERTSMITH_APPROVE_SIGNER_NAMES", value_delimiter = ',', default_value = crate::certificate_request::approve::DEFAULT_SIGNER_NAMES)]
    pub approve_signer_names: Vec<String>,
    /// cert-manager's `--extra-certificate-annotations` (v1.18): the annotations of an Ingress,
    /// Gateway or ListenerSet copied onto the Certificates the shim makes for it.
    #[arg(long, env = "CERTSMITH_EXTRA_CERTIFICATE_ANNOTATIONS", value_delimiter = ',')]
    pub extra_certificate_annotations: Vec<String>,
    /// cert-manager's `--enable-certificate-owner-ref`: a Certificate's Secret is owned (and so
    /// garbage-collected) by it. Turned off again, the reference is taken away.
    #[arg(long, env = "CERTSMITH_ENABLE_CERTIFICATE_OWNER_REF", num_args = 0..=1, default_missing_value = "true", default_value_t = false, action = clap::ArgAction::Set)]
    pub enable_certificate_owner_ref: bool,
    /// Reconcile only while holding the Lease `certsmith` in the operator's namespace; every
    /// replica serves challenges, metrics and probes regardless.
    #[arg(long, env = "CERTSMITH_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// How long a Lease lasts without renewal before another replica may take it.
    #[arg(long, env = "CERTSMITH_LEADER_ELECTION_LEASE_DURATION", default_value = "60s", value_parser = go_duration)]
    pub leader_election_lease_duration: Duration,
    /// How long a leader keeps leading without a successful renewal.
    #[arg(long, env = "CERTSMITH_LEADER_ELECTION_RENEW_DEADLINE", default_value = "40s", value_parser = go_duration)]
    pub leader_election_renew_deadline: Duration,
    /// How often the Lease is renewed or tried.
    #[arg(long, env = "CERTSMITH_LEADER_ELECTION_RETRY_PERIOD", default_value = "15s", value_parser = go_duration)]
    pub leader_election_retry_period: Duration,
    /// Which controllers run, as cert-manager's flag: `*` for all, `-name` to turn one off.
    /// `--controllers=*,-certificaterequests-approver` leaves approval to an external approver
    /// such as approver-policy.
    #[arg(long, env = "CERTSMITH_CONTROLLERS", default_value = "*", value_delimiter = ',')]
    pub controllers: Vec<String>,
    /// New orders one ACME account (one issuer) may open per `--acme-order-budget-window`, on
    /// every ACME server; `0` holds none back. Unset: Let's Encrypt's limit on its servers
    /// (300 per 3 hours; 1,500 on staging) and none elsewhere. An issuer's
    /// `acme.certsmith.io/order-budget` annotation wins over both. Orders past it wait, and
    /// their status says until when.
    #[arg(long, env = "CERTSMITH_ACME_ORDER_BUDGET")]
    pub acme_order_budget: Option<usize>,
    /// The window of `--acme-order-budget` (only with it).
    #[arg(long, env = "CERTSMITH_ACME_ORDER_BUDGET_WINDOW", default_value = "3h", value_parser = go_duration)]
    pub acme_order_budget_window: Duration,
    /// Orders one ACME account keeps open at the CA at once; the rest wait their turn.
    #[arg(long, env = "CERTSMITH_ACME_MAX_CONCURRENT_ORDERS", default_value_t = 50)]
    pub acme_max_concurrent_orders: usize,
    /// Reconciles each controller runs at once, as cert-manager's `--concurrent-workers`: what
    /// bounds the operator's memory and API requests when thousands of objects change together.
    #[arg(long, env = "CERTSMITH_CONCURRENT_WORKERS", default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrent_workers: u16,
    /// `/metrics`, `/healthz` and `/readyz` (cert-manager's `--metrics-listen-address` too).
    #[arg(
        long,
        alias = "metrics-listen-address",
        env = "CERTSMITH_METRICS_LISTEN",
        default_value = "0.0.0.0:9402"
    )]
    pub metrics_listen: SocketAddr,
    #[command(flatten)]
    pub logging: crate::logging::Logging,
    #[command(flatten)]
    pub cert_manager_only: crate::compat_flags::CertManagerOnly,
}

/// `namespace/name` as a pair; `None` when either is empty.
fn lease_name(value: &str) -> Option<(String, String)> {
    let (ns, name) = value.split_once('/')?;
    Some((ns.to_string(), name.to_string())).filter(|(n, m)| !n.is_empty() && !m.is_empty())
}

impl Config {
    /// The order limits of an issuer on the ACME server `server` whose
    /// `acme.certsmith.io/order-budget` annotation is `annotation`.
    pub fn order_limits(
        &self,
        server: &str,
        annotation: Option<&str>,
    ) -> crate::order::budget::Limits {
        let flag = self.acme_order_budget.map(|n| (n, self.acme_order_budget_window));
        crate::order::budget::Limits {
            budget: crate::order::budget::budget_for(server, flag, annotation),
            concurrent: self.acme_max_concurrent_orders,
        }
    }

    /// Every namespace, or the one `--namespace` names: what the watches are opened on.
    pub fn scope(&self) -> crate::scope::Scope {
        crate::scope::Scope::from_flag(self.single_namespace.as_deref())
    }

    /// Whether the controller `name` runs (cert-manager's `--controllers` semantics).
    pub fn controller_enabled(&self, name: &str) -> bool {
        let off = self.controllers.iter().any(|c| c.strip_prefix('-') == Some(name));
        let on = self.controllers.iter().any(|c| c == "*" || c == name);
        on && !off
    }

    pub fn approver_enabled(&self) -> bool {
        self.controller_enabled("certificaterequests-approver")
    }

    /// The namespace of ClusterIssuer Secrets.
    pub fn cluster_resource_namespace(&self) -> &str {
        self.cluster_resource_namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.namespace)
    }

    /// The Lease to defer to, as (namespace, name); `None` when off or malformed.
    pub fn deferred_lease(&self) -> Option<(String, String)> {
        lease_name(&self.defer_to_lease)
    }

    /// The Lease the cainjector defers to, as (namespace, name); `None` when off or malformed.
    pub fn cainjector_deferred_lease(&self) -> Option<(String, String)> {
        lease_name(&self.cainjector_defer_to_lease)
    }

    pub fn leader_timings(&self) -> crate::leader::Timings {
        crate::leader::Timings {
            lease_duration: self.leader_election_lease_duration,
            renew_deadline: self.leader_election_renew_deadline,
            retry_period: self.leader_election_retry_period,
        }
    }

    pub fn default_issuer(&self) -> crate::shim::annotations::DefaultIssuer {
        crate::shim::annotations::DefaultIssuer {
            name: self.default_issuer_name.clone(),
            kind: self.default_issuer_kind.clone(),
            group: self.default_issuer_group.clone(),
        }
    }
}
