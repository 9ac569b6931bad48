//! The operator's settings: `certsmith run` flags, each also read from the environment.

use std::net::SocketAddr;

#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    /// The operator's namespace: ClusterIssuer account Secrets and solver Ingresses live here.
    #[arg(long, env = "POD_NAMESPACE", default_value = "certsmith")]
    pub namespace: String,
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
    /// The issuer of Ingresses annotated `kubernetes.io/tls-acme: "true"` (ingress-shim).
    #[arg(long, env = "CERTSMITH_DEFAULT_ISSUER_NAME")]
    pub default_issuer_name: Option<String>,
    #[arg(long, env = "CERTSMITH_DEFAULT_ISSUER_KIND", default_value = "Issuer")]
    pub default_issuer_kind: String,
    #[arg(long, env = "CERTSMITH_DEFAULT_ISSUER_GROUP", default_value = "cert-manager.io")]
    pub default_issuer_group: String,
    /// `/metrics`, `/healthz` and `/readyz`.
    #[arg(long, env = "CERTSMITH_METRICS_LISTEN", default_value = "0.0.0.0:9402")]
    pub metrics_listen: SocketAddr,
}

impl Config {
    pub fn default_issuer(&self) -> crate::ingress_shim::annotations::DefaultIssuer {
        crate::ingress_shim::annotations::DefaultIssuer {
            name: self.default_issuer_name.clone(),
            kind: self.default_issuer_kind.clone(),
            group: self.default_issuer_group.clone(),
        }
    }
}
