//! The commands a user runs by hand, in the spirit of `cmctl`: connecting as kubectl does
//! (kubeconfig, its context and namespace), `renew`, `status`, and errors in one human line.

mod renew;
mod status;

pub use renew::{Selection, renew, renew_selected};
pub use status::{describe, status};

use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no Kubernetes credentials found: set KUBECONFIG (or --kubeconfig) to a kubeconfig file, \
         create ~/.kube/config, or run inside a cluster"
    )]
    NoCredentials,
    #[error("the kubeconfig {path} cannot be used: {why}")]
    Kubeconfig { path: String, why: String },
    #[error("{0}")]
    Api(String),
    #[error("the Kubernetes API server cannot be reached: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Usage(String),
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Error {
        match e {
            // The API server's own sentence: `certificates.cert-manager.io "web" not found`.
            kube::Error::Api(status) => Error::Api(status.message.clone()),
            kube::Error::InferConfig(_) => Error::NoCredentials,
            other => Error::Unreachable(root_cause(&other)),
        }
    }
}

/// The innermost error's words: what actually went wrong, without the layers around it.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// Where to connect, as kubectl's flags say it.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Connection {
    /// The kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
}

/// A client, and the namespace commands default to: the context's namespace (kubectl's
/// rule), the pod's own in a cluster, else `default`.
pub async fn connect(
    connection: &Connection,
    agent: &str,
) -> Result<(kube::Client, String), Error> {
    let options =
        KubeConfigOptions { context: connection.context.clone(), ..KubeConfigOptions::default() };
    // KUBECONFIG may list several files (`a:b`), merged as kubectl merges them.
    let from_env = std::env::var_os("KUBECONFIG").filter(|p| !p.is_empty());
    let path = connection.kubeconfig.clone().or_else(|| from_env.clone().map(PathBuf::from));
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let home_config = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config"));
    let path = path.or(home_config.filter(|p| p.exists() && !in_cluster));
    let mut config = match path {
        Some(path) => {
            let unusable =
                |why: String| Error::Kubeconfig { path: path.display().to_string(), why };
            let file = match (&connection.kubeconfig, from_env) {
                (None, Some(_)) => Kubeconfig::from_env().map(Option::unwrap_or_default),
                _ => Kubeconfig::read_from(&path),
            }
            .map_err(|e| unusable(root_cause(&e)))?;
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| unusable(root_cause(&e)))?
        }
        None if in_cluster => {
            kube::Config::incluster().map_err(|e| Error::Unreachable(root_cause(&e)))?
        }
        None => return Err(Error::NoCredentials),
    };
    let agent = http::HeaderValue::from_str(agent)
        .map_err(|_| Error::Usage(format!("{agent:?} is not a valid User-Agent")))?;
    config.headers.push((http::header::USER_AGENT, agent));
    let namespace = config.default_namespace.clone();
    crate::cainjector::remember_api_server_ca(&config);
    let client =
        crate::api_client::build(config).map_err(|e| Error::Unreachable(root_cause(&e)))?;
    Ok((client, namespace))
}
