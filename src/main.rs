//! The `certsmith` binary: command-line wiring only; the work is in the library.
// Two unsafe calls, the allocator's settings and trim (`tune_malloc`, `trim_malloc`); none
// anywhere else.
#![deny(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "ACME certificates for Kubernetes, serving the cert-manager.io/v1 API",
    after_help = "Examples:\n  \
        certsmith run                                  # the operator (in a cluster, or with KUBECONFIG)\n  \
        certsmith status web-tls -n shop               # conditions, requests, orders, challenges, Events\n  \
        certsmith renew web-tls                        # re-issue now, in the kubeconfig's namespace\n  \
        certsmith renew --all -A -l team=shop          # every Certificate labelled team=shop\n  \
        certsmith migrate --check                      # what a takeover from cert-manager would do\n  \
        certsmith crds | kubectl apply -f -            # the CRDs"
)]
struct Cli {
    #[command(flatten)]
    connection: certsmith::cli::Connection,
    #[command(subcommand)]
    command: Command,
}

// `Run` carries every operator flag; the enum is parsed once, so its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the operator (in-cluster config, or KUBECONFIG).
    Run(certsmith::config::Config),
    /// Mark Certificates for re-issue now (like `cmctl renew`).
    #[command(after_help = "Examples:\n  \
        certsmith renew web-tls api-tls -n shop\n  \
        certsmith renew --all                 # every Certificate in the namespace\n  \
        certsmith renew -A -l issuer=le-prod  # those labelled so, in every namespace")]
    Renew {
        #[command(flatten)]
        selection: certsmith::cli::Selection,
        /// The namespace (default: the kubeconfig context's).
        #[arg(short, long)]
        namespace: Option<String>,
    },
    /// Print a Certificate's state: conditions, dates, its requests, orders and challenges, and
    /// the Events on all of them.
    #[command(after_help = "Example:\n  certsmith status web-tls -n shop")]
    Status {
        name: String,
        /// The namespace (default: the kubeconfig context's).
        #[arg(short, long)]
        namespace: Option<String>,
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

/// Writes to stdout; a reader that went away (`certsmith crds | head`) ends the command
/// quietly and successfully, as it does for other Unix tools.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

/// A client as kubectl would make one, identified as certsmith (with the pod) in audit logs.
async fn connect(cli: &certsmith::cli::Connection) -> anyhow::Result<(kube::Client, String)> {
    let mut agent = concat!("certsmith/", env!("CARGO_PKG_VERSION")).to_string();
    if let Ok(pod) = std::env::var("POD_NAME") {
        agent = format!("{agent} ({pod})");
    }
    Ok(certsmith::cli::connect(cli, &agent).await?)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    use certsmith::cli::Error;
    match cli.command {
        Command::Run(config) => {
            tokio::spawn(async {
                let mut every = tokio::time::interval(TRIM_EVERY);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    every.tick().await;
                    trim_malloc();
                }
            });
            let (client, _) = connect(&cli.connection).await?;
            certsmith::operator::run(client, config).await?;
        }
        Command::Renew { selection, namespace } => {
            selection.check()?;
            let (client, default) = connect(&cli.connection).await?;
            let namespace = namespace.unwrap_or(default);
            let renewed = certsmith::cli::renew_selected(client, &namespace, &selection).await?;
            if renewed.is_empty() {
                emit("No Certificates found\n")?;
            }
            for name in renewed {
                emit(&format!("Manually triggered issuance of Certificate {name}\n"))?;
            }
        }
        Command::Status { name, namespace } => {
            let (client, default) = connect(&cli.connection).await?;
            let namespace = namespace.unwrap_or(default);
            let text =
                certsmith::cli::status(client, &namespace, &name).await.map_err(Error::from)?;
            emit(&text)?;
        }
        Command::Migrate { check, cluster_resource_namespace: ns, .. } => {
            let (client, _) = connect(&cli.connection).await?;
            let lines = match check {
                true => certsmith::migrate::check(&client, &ns).await?,
                false => certsmith::migrate::back(&client, &ns).await?,
            };
            emit(&certsmith::migrate::report(&lines))?;
            if lines.iter().any(|l| !l.ok) {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Crds { write } => {
            for crd in certsmith::api::crds::all() {
                let yaml = certsmith::api::crds::to_yaml(&crd)?;
                match &write {
                    None => emit(&yaml)?,
                    Some(dir) => {
                        let path = dir.join(certsmith::api::crds::file_name(&crd));
                        std::fs::write(&path, yaml)
                            .with_context(|| format!("writing {}", path.display()))?;
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// glibc's malloc keeps what a burst freed: its mmap threshold rises to the largest block freed,
/// so a restart's list pages and the objects they decode land in the heap, whose freed middle is
/// never given back. Fixed thresholds give large blocks back when freed and trim the heap's top
/// past 128 KiB; two arenas suffice for two async workers. Measured with `cargo bench --bench
/// scale` (1,000 Certificates): RSS after a restart 76.8 MiB without, 54.4 MiB (the same
/// settings as MALLOC_* variables) and 61.6 MiB (these calls) with; all Ready ~60 MiB either way.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_malloc() {
    // SAFETY: mallopt only changes the allocator's parameters; it is called before the runtime
    // starts any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

/// How often the operator gives the allocator's free pages back.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// glibc gives back only the top of its heap: after a burst (a restart's lists decoded and
/// 1,000 Certificates reconciled at once) the free pages between live blocks stay resident
/// until `malloc_trim` walks the free lists and releases them. Every `TRIM_EVERY`: a walk of
/// the free lists, well under a millisecond, and no request to anyone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim_malloc() {
    // SAFETY: malloc_trim only releases memory the allocator holds free; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_malloc() {}

fn main() -> ExitCode {
    tune_malloc();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match runtime {
        Ok(runtime) => runtime.block_on(start()),
        Err(e) => {
            eprintln!("certsmith: starting the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}

async fn start() -> ExitCode {
    let cli = Cli::parse();
    let logging = match &cli.command {
        Command::Run(config) => config.logging.clone(),
        _ => certsmith::logging::Logging { logging_format: Default::default(), verbosity: None },
    };
    certsmith::logging::init(&logging);
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            // One line a person can act on: the error and its causes, never a debug dump.
            eprintln!("certsmith: {e:#}");
            ExitCode::from(1)
        }
    }
}
