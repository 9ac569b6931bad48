//! The `certsmith` binary: command-line wiring only; the work is in the library.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(version, about = "ACME certificates for Kubernetes, serving the cert-manager.io/v1 API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// `Run` carries every operator flag; the enum is parsed once, so its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the operator (in-cluster config, or KUBECONFIG).
    Run(certsmith::config::Config),
    /// Mark a Certificate for re-issue now (like `cmctl renew`).
    Renew {
        name: String,
        #[arg(short, long, default_value = "default")]
        namespace: String,
    },
    /// Print a Certificate's state: conditions, dates, the order in flight, the last failure.
    Status {
        name: String,
        #[arg(short, long, default_value = "default")]
        namespace: String,
    },
    /// Taking over from cert-manager: `--check` prints what certsmith will adopt, roll over or
    /// leave behind (exit 1 when something would be left behind); `--back` rolls adopted ACME
    /// accounts back to the RSA keys cert-manager signs with.
    Migrate {
        #[arg(long, required_unless_present = "back", conflicts_with = "back")]
        check: bool,
        #[arg(long)]
        back: bool,
        /// Where cert-manager keeps ClusterIssuers' Secrets (its --cluster-resource-namespace).
        #[arg(long, default_value = "cert-manager")]
        cluster_resource_namespace: String,
    },
    /// Print every CRD as YAML, or write one file per CRD into a directory.
    Crds {
        /// Write `<group>_<plural>.yaml` files into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        write: Option<PathBuf>,
    },
}

/// A client from in-cluster config or KUBECONFIG, identified as certsmith in audit logs.
async fn client() -> anyhow::Result<kube::Client> {
    let mut config = kube::Config::infer().await.context("finding Kubernetes credentials")?;
    let mut agent = concat!("certsmith/", env!("CARGO_PKG_VERSION")).to_string();
    if let Ok(pod) = std::env::var("POD_NAME") {
        agent = format!("{agent} ({pod})");
    }
    let agent =
        http::HeaderValue::from_str(&agent).context("POD_NAME is not a valid header value")?;
    config.headers.push((http::header::USER_AGENT, agent));
    kube::Client::try_from(config).context("connecting to Kubernetes")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let logging = match &cli.command {
        Command::Run(config) => config.logging.clone(),
        _ => certsmith::logging::Logging { logging_format: Default::default(), verbosity: None },
    };
    certsmith::logging::init(&logging);
    match cli.command {
        Command::Run(config) => {
            let client = client().await?;
            certsmith::operator::run(client, config).await?;
        }
        Command::Renew { name, namespace } => {
            let client = client().await?;
            certsmith::cli::renew(client, &namespace, &name).await?;
            println!("Manually triggered issuance of Certificate {namespace}/{name}");
        }
        Command::Status { name, namespace } => {
            let client = client().await?;
            print!("{}", certsmith::cli::status(client, &namespace, &name).await?);
        }
        Command::Migrate { check, cluster_resource_namespace: ns, .. } => {
            let client = client().await?;
            let lines = match check {
                true => certsmith::migrate::check(&client, &ns).await?,
                false => certsmith::migrate::back(&client, &ns).await?,
            };
            print!("{}", certsmith::migrate::report(&lines));
            if lines.iter().any(|l| !l.ok) {
                std::process::exit(1);
            }
        }
        Command::Crds { write } => {
            for crd in certsmith::api::crds::all() {
                let yaml = certsmith::api::crds::to_yaml(&crd)?;
                match &write {
                    None => print!("{yaml}"),
                    Some(dir) => {
                        let path = dir.join(certsmith::api::crds::file_name(&crd));
                        std::fs::write(&path, yaml)
                            .with_context(|| format!("writing {}", path.display()))?;
                    }
                }
            }
        }
    }
    Ok(())
}
