//! The README's parity table with cert-manager v1.21, generated here from tables each of which
//! is held against the code: every Certificate and Issuer field (`fields_v1_21`, walked from
//! cert-manager's v1.21.1 CRDs), every controller flag (parsed by certsmith's own CLI), every
//! top-level chart value (read from the chart's values schema). The README must carry exactly
//! what this renders; `CERTSMITH_WRITE_PARITY=1 cargo test --test checks parity` rewrites it.

use crate::fields_v1_21::{CERTIFICATE, ISSUER, Verdict};
use certsmith::config::Config;
use clap::Parser;
use serde_json::Value;

/// What certsmith does with a cert-manager controller flag.
enum Flag {
    /// Parsed, with cert-manager's meaning (`value` is a sample).
    Same(&'static str),
    /// Accepted, warned about at start with why it changes nothing.
    Warned,
}
use Flag::*;

/// cert-manager v1.21.1's controller flags (cmd/controller/app/options), and logging's.
const FLAGS: &[(&str, Flag)] = &[
    ("acme-http01-solver-extra-labels", Warned),
    ("acme-http01-solver-image", Warned),
    ("acme-http01-solver-nameservers", Warned),
    ("acme-http01-solver-resource-limits-cpu", Warned),
    ("acme-http01-solver-resource-limits-memory", Warned),
    ("acme-http01-solver-resource-request-cpu", Warned),
    ("acme-http01-solver-resource-request-memory", Warned),
    ("acme-http01-solver-run-as-non-root", Warned),
    ("acme-http01-solver-runtime-class-name", Warned),
    ("auto-certificate-annotations", Warned),
    ("certificate-request-maximum-backoff-duration", Warned),
    ("certificate-request-minimum-backoff-duration", Warned),
    ("cluster-issuer-ambient-credentials", Warned),
    ("cluster-resource-namespace", Same("cert-manager")),
    ("concurrent-workers", Same("5")),
    ("config", Warned),
    ("controllers", Same("*,-certificaterequests-approver")),
    ("copied-annotation-prefixes", Warned),
    ("default-issuer-group", Same("cert-manager.io")),
    ("default-issuer-kind", Same("ClusterIssuer")),
    ("default-issuer-name", Same("letsencrypt-prod")),
    ("dns01-check-retry-period", Warned),
    ("dns01-recursive-nameservers", Same("10.0.0.53:53")),
    ("dns01-recursive-nameservers-only", Same("true")),
    ("enable-certificate-owner-ref", Same("true")),
    ("enable-gateway-api", Same("true")),
    ("enable-gateway-api-listenerset", Same("true")),
    ("enable-profiling", Warned),
    ("extra-certificate-annotations", Same("team")),
    ("feature-gates", Warned),
    ("gateway-api-extra-protocols", Same("TCP")),
    ("internal-healthz-leader-election-timeout", Warned),
    ("internal-healthz-listen-address", Warned),
    ("issuer-ambient-credentials", Warned),
    ("kube-api-burst", Warned),
    ("kube-api-qps", Warned),
    ("leader-elect", Same("true")),
    ("leader-election-lease-duration", Same("60s")),
    ("leader-election-namespace", Warned),
    ("leader-election-renew-deadline", Same("40s")),
    ("leader-election-retry-period", Same("15s")),
    ("logging-format", Same("json")),
    ("max-certificate-bundle-size", Warned),
    ("max-certificate-chain-length", Warned),
    ("max-certificate-size", Warned),
    ("max-concurrent-challenges", Warned),
    ("max-private-key-size", Warned),
    ("master", Warned),
    ("metrics-dynamic-serving-ca-secret-name", Warned),
    ("metrics-dynamic-serving-ca-secret-namespace", Warned),
    ("metrics-dynamic-serving-dns-names", Warned),
    ("metrics-dynamic-serving-leaf-duration", Warned),
    ("metrics-listen-address", Same("0.0.0.0:9402")),
    ("metrics-tls-cert-file", Warned),
    ("metrics-tls-cipher-suites", Warned),
    ("metrics-tls-min-version", Warned),
    ("metrics-tls-private-key-file", Warned),
    ("namespace", Same("team-a")),
    ("profiler-address", Warned),
    ("v", Same("2")),
];

/// What certsmith's chart does with a cert-manager chart value.
enum ChartValue {
    /// The same meaning (perhaps with fewer keys below it: the schema says which).
    Same,
    /// Refused by the chart's schema with a message that says what to do instead.
    Refused,
    /// Accepted; no effect (said in the schema's description).
    NoEffect,
}

/// cert-manager v1.21.1's top-level chart values.
const VALUES: &[(&str, ChartValue)] = &[
    ("global", ChartValue::Same),
    ("installCRDs", ChartValue::NoEffect),
    ("crds", ChartValue::NoEffect),
    ("replicaCount", ChartValue::Same),
    ("strategy", ChartValue::Refused),
    ("podDisruptionBudget", ChartValue::Same),
    ("featureGates", ChartValue::Refused),
    ("maxConcurrentChallenges", ChartValue::Refused),
    ("imageRegistry", ChartValue::Refused),
    ("imageNamespace", ChartValue::Refused),
    ("image", ChartValue::Same),
    ("clusterResourceNamespace", ChartValue::Same),
    ("namespace", ChartValue::Refused),
    ("serviceAccount", ChartValue::Same),
    ("enableCertificateOwnerRef", ChartValue::Same),
    ("config", ChartValue::Refused),
    ("dns01RecursiveNameservers", ChartValue::Same),
    ("dns01RecursiveNameserversOnly", ChartValue::Same),
    ("disableAutoApproval", ChartValue::Same),
    ("approveSignerNames", ChartValue::Same),
    ("extraArgs", ChartValue::Same),
    ("extraContainers", ChartValue::Same),
    ("extraEnv", ChartValue::Same),
    ("resources", ChartValue::Same),
    ("securityContext", ChartValue::Same),
    ("containerSecurityContext", ChartValue::Same),
    ("volumes", ChartValue::Same),
    ("volumeMounts", ChartValue::Same),
    ("podLabels", ChartValue::Same),
    ("hostAliases", ChartValue::Refused),
    ("nodeSelector", ChartValue::Same),
    ("networkPolicy", ChartValue::Same),
    ("ingressShim", ChartValue::Same),
    ("affinity", ChartValue::Same),
    ("runtimeClassName", ChartValue::Same),
    ("tolerations", ChartValue::Same),
    ("topologySpreadConstraints", ChartValue::Same),
    ("livenessProbe", ChartValue::Refused),
    ("enableServiceLinks", ChartValue::Refused),
    ("prometheus", ChartValue::Same),
    ("webhook", ChartValue::Refused),
    ("cainjector", ChartValue::Same),
    ("acmesolver", ChartValue::Refused),
    ("startupapicheck", ChartValue::Refused),
    ("extraObjects", ChartValue::Same),
    ("creator", ChartValue::NoEffect),
    ("enabled", ChartValue::NoEffect),
];

#[derive(Parser)]
struct Run {
    #[command(flatten)]
    config: Config,
}

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/certsmith/values.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_flag_and_chart_value_does_what_the_table_says() {
    let mut problems = Vec::new();
    for (flag, verdict) in FLAGS {
        let value = match verdict {
            Same(v) => *v,
            _ => "x",
        };
        let arg = format!("--{flag}={value}");
        let parsed = Run::try_parse_from(["run", arg.as_str()]);
        let Ok(run) = parsed else {
            problems.push(format!("--{flag}: certsmith does not parse {arg}"));
            continue;
        };
        let warned = run.config.cert_manager_only.given().iter().any(|(f, _)| f == flag);
        let ok = match verdict {
            Same(_) => !warned,
            Warned => warned,
        };
        if !ok {
            problems.push(format!("--{flag}: not as the table says"));
        }
    }
    let schema = schema();
    let props = schema["properties"].as_object().unwrap();
    for (key, verdict) in VALUES {
        let Some(prop) = props.get(*key) else {
            problems.push(format!("{key}: not in the chart's values schema"));
            continue;
        };
        let refused = prop.get("const").is_some();
        let says_no_effect = prop["description"].as_str().is_some_and(|d| d.contains("no effect"));
        let ok = match verdict {
            ChartValue::Same => !refused,
            ChartValue::Refused => refused,
            ChartValue::NoEffect => !refused && says_no_effect,
        };
        if !ok {
            problems.push(format!("{key}: not as the table says ({prop})"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The README's section between these markers is [`render`]'s.
const BEGIN: &str = "<!-- parity: generated by tests/checks/parity.rs; do not edit -->";
const END: &str = "<!-- parity: end -->";

fn field_rows(kind: &str, table: &[(&str, Verdict)], out: &mut String) {
    for (path, verdict) in table {
        let what = match verdict {
            Verdict::Honoured => "honoured".to_string(),
            Verdict::Reported { words, .. } => format!("reported: \"…{words}…\""),
            Verdict::AsCertManager => "ignored, as cert-manager ignores it (deprecated)".into(),
        };
        out.push_str(&format!("| {kind} | `{path}` | {what} |\n"));
    }
}

fn render() -> String {
    let mut out =
        format!("{BEGIN}\n\n| what | cert-manager v1.21 | certsmith |\n| --- | --- | --- |\n");
    field_rows("Certificate", CERTIFICATE, &mut out);
    field_rows("Issuer, ClusterIssuer", ISSUER, &mut out);
    for (flag, verdict) in FLAGS {
        let what = match verdict {
            Same(_) => "honoured".to_string(),
            Warned => {
                let all = certsmith::compat_flags::CertManagerOnly::all();
                let why = all.iter().find(|(f, _)| f == flag).map(|(_, why)| *why);
                format!("accepted, no effect (warned at start): {}", why.unwrap_or("?"))
            }
        };
        out.push_str(&format!("| controller flag | `--{flag}` | {what} |\n"));
    }
    let schema = schema();
    for (key, verdict) in VALUES {
        let prop = &schema["properties"][*key];
        let what = match verdict {
            ChartValue::Same => "honoured".to_string(),
            ChartValue::NoEffect => "accepted, no effect".to_string(),
            ChartValue::Refused => {
                format!("refused: \"{}\"", prop["const"].as_str().unwrap_or_default())
            }
        };
        out.push_str(&format!("| chart value | `{key}` | {what} |\n"));
    }
    out.push('\n');
    out.push_str(END);
    out
}

#[test]
fn the_readme_carries_the_parity_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (Some(a), Some(b)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no parity markers");
    };
    let now = &readme[a..b + END.len()];
    let want = render();
    if now != want {
        if std::env::var("CERTSMITH_WRITE_PARITY").as_deref() == Ok("1") {
            let written = format!("{}{want}{}", &readme[..a], &readme[b + END.len()..]);
            std::fs::write(path, written).unwrap();
            return;
        }
        panic!(
            "README.md's parity table is out of date: run \
             CERTSMITH_WRITE_PARITY=1 cargo test --test checks parity"
        );
    }
}
