//! The operator's log: text or one JSON object per line (cert-manager's `--logging-format`),
//! on stderr as klog writes, coloured only on a terminal.

use std::io::IsTerminal;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(clap::Args, Clone, Debug)]
pub struct Logging {
    /// `text`, or `json` for log collectors: one JSON object per line with `timestamp`,
    /// `level`, `message` and the step's fields (`kind`, `namespace`, `name`, `reason`).
    #[arg(long, env = "CERTSMITH_LOGGING_FORMAT", value_enum, default_value = "text")]
    pub logging_format: Format,
    /// Verbosity as cert-manager's (klog's) `-v`: up to 2 (its default) info, 3–4 certsmith's
    /// debug lines, 5 and more its trace. `RUST_LOG`, when set, says it exactly instead.
    #[arg(short = 'v', long = "v", env = "CERTSMITH_LOG_LEVEL", value_name = "LEVEL")]
    pub verbosity: Option<u8>,
}

/// The filter `-v` stands for.
pub fn filter_for(verbosity: Option<u8>) -> &'static str {
    match verbosity.unwrap_or(0) {
        0..=2 => "info",
        3..=4 => "info,certsmith=debug",
        _ => "debug,certsmith=trace",
    }
}

/// Installs the process's subscriber. Colour is for people: a pipe or a file (a container
/// log) gets none, and `NO_COLOR` turns it off on a terminal too.
pub fn init(logging: &Logging) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| filter_for(logging.verbosity).into());
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match logging.logging_format {
        Format::Text => builder.init(),
        Format::Json => builder.json().flatten_event(true).with_current_span(false).init(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn klog_verbosity_maps_to_filters() {
        for (v, filter) in [
            (None, "info"),
            (Some(0), "info"),
            (Some(1), "info"),
            (Some(2), "info"),
            (Some(3), "info,certsmith=debug"),
            (Some(4), "info,certsmith=debug"),
            (Some(6), "debug,certsmith=trace"),
        ] {
            assert_eq!(super::filter_for(v), filter, "{v:?}");
        }
    }
}
