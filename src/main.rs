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

#[derive(Subcommand)]
enum Command {
    /// Print every CRD as YAML, or write one file per CRD into a directory.
    Crds {
        /// Write `<group>_<plural>.yaml` files into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        write: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
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
