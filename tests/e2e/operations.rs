//! Operating certsmith as cert-manager is operated: its log read by a collector, its CLI.

use crate::support;

use crate::support::acme::{Operator, issuing_bed};
use crate::support::{KubeBed, kube_bin_dir};
use std::process::{Command, Output};

/// A CLI row: connection environment, arguments, exit code, stdout lines (sorted, for
/// `renew`; else parts of it), a part of the one stderr line.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], i32, &'a [&'a str], &'a str);

/// The certsmith binary with exactly `env` for its connection (HOME and KUBECONFIG are cleared
/// first, so that nothing of the machine's leaks in).
fn certsmith(env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certsmith"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", "/nonexistent")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_text_logs_have_no_colour_off_a_terminal() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let operator = Operator::start(&kube, &pebble, &["--logging-format=json"]);
    kube.kubectl_ok(&["apply", "-f", "-"], &support::objects::certificate("logged").yaml());
    let certs = kube::Api::namespaced(kube.client().await, "default");
    support::acme::ready(&certs, "logged", 1, &operator).await;
    // The last step's line follows its status write (the Event after the write, as
    // cert-manager's): Ready can be seen a moment before the line is written.
    let last = "The certificate has been successfully issued";
    for _ in 0..50 {
        if operator.logs().contains(last) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let log = operator.logs();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // Every step of the issuance is a line naming its object, as its Event does.
    let step = |kind: &str, reason: &str| {
        lines.iter().any(|l| {
            l["level"] == "INFO"
                && l["kind"] == kind
                && l["reason"] == reason
                && l["namespace"] == "default"
                && l["name"].as_str().is_some_and(|n| n.starts_with("logged"))
        })
    };
    for (kind, reason) in [
        ("Certificate", "Issuing"),
        ("Certificate", "Generated"),
        ("Certificate", "Requested"),
        ("CertificateRequest", "OrderCreated"),
        ("Order", "Complete"),
        ("CertificateRequest", "CertificateIssued"),
    ] {
        assert!(step(kind, reason), "no {kind} {reason} line in:\n{log}");
    }
    let issued = lines.iter().find(|l| l["reason"] == "Issuing" && l["kind"] == "Certificate");
    assert!(
        lines.iter().any(|l| l["message"] == "The certificate has been successfully issued"),
        "{issued:?}"
    );
    assert!(!log.contains("PRIVATE KEY"), "key material in the log");

    // `status` walks the chain and shows the Events on it.
    let out =
        certsmith(&[("KUBECONFIG", kube.kubeconfig().to_str().unwrap())], &["status", "logged"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for part in [
        "Certificate default/logged",
        "CertificateRequest logged-1",
        "Order logged-1-",
        "Events:",
        "Normal Requested Certificate/logged",
        "Normal Complete Order/logged-1-",
    ] {
        assert!(text.contains(part), "no '{part}' in:\n{text}");
    }
    drop(operator);

    // Text, written to a file: nothing a log collector would store as escape codes.
    let operator = Operator::start(&kube, &pebble, &[]);
    let log = operator.logs();
    assert!(log.contains("certsmith starting"), "no text log:\n{log}");
    assert!(!log.as_bytes().contains(&0x1b), "ANSI escape codes in a log that is a file:\n{log}");
}

#[tokio::test]
async fn the_cli_uses_the_kubeconfig_namespace_selects_like_cmctl_and_errs_in_one_line() {
    let kube = KubeBed::start();
    kube.install_crds();
    let cert = |ns: &str, name: &str, labels: &str| {
        let made = support::objects::certificate(name).namespace(ns).cluster_issuer("le");
        let pairs = labels.split(", ").filter_map(|l| l.split_once(": "));
        pairs.fold(made, |c, (k, v)| c.label(k, v)).yaml()
    };
    kube.kubectl_ok(&["create", "namespace", "shop"], "");
    kube.kubectl_ok(&["create", "namespace", "other"], "");
    let manifests = [
        cert("shop", "web", "team: shop"),
        cert("shop", "api", "team: shop"),
        cert("other", "db", "team: shop"),
        cert("other", "misc", ""),
    ];
    kube.kubectl_ok(&["apply", "-f", "-"], &manifests.concat());
    // A kubeconfig whose context names the namespace `shop`, as `kubens shop` leaves it.
    let shop_config = kube.kubeconfig().with_file_name("kubeconfig-shop");
    std::fs::copy(kube.kubeconfig(), &shop_config).unwrap();
    let set = Command::new(kube_bin_dir().join("kubectl"))
        .args(["config", "set-context", "--current", "--namespace=shop"])
        .arg(format!("--kubeconfig={}", shop_config.display()))
        .output()
        .unwrap();
    assert!(set.status.success(), "{set:?}");
    let shop = [("KUBECONFIG", shop_config.to_str().unwrap())];
    let bed_config = kube.kubeconfig();
    let bed = [("KUBECONFIG", bed_config.to_str().unwrap())];

    let both = format!("{}:{}", bed_config.display(), shop_config.display());
    let merged = [("KUBECONFIG", both.as_str())];
    let cases: [Case; 10] = [
        (&merged, &["status", "web", "-n", "shop"], 0, &["Certificate shop/web"], ""),
        (&shop, &["status", "web"], 0, &["Certificate shop/web"], ""),
        (
            &shop,
            &["renew", "--all"],
            0,
            &[
                "Manually triggered issuance of Certificate shop/api",
                "Manually triggered issuance of Certificate shop/web",
            ],
            "",
        ),
        (
            &bed,
            &["renew", "-A", "-l", "team=shop"],
            0,
            &[
                "Manually triggered issuance of Certificate other/db",
                "Manually triggered issuance of Certificate shop/api",
                "Manually triggered issuance of Certificate shop/web",
            ],
            "",
        ),
        (&bed, &["renew", "-l", "team=nobody"], 0, &["No Certificates found"], ""),
        (
            &shop,
            &["renew"],
            1,
            &[],
            "certsmith: nothing to renew: name Certificates, or select them with --all or -l",
        ),
        (
            &shop,
            &["status", "nope"],
            1,
            &[],
            "certsmith: certificates.cert-manager.io \"nope\" not found",
        ),
        (
            &[],
            &["status", "web"],
            1,
            &[],
            "certsmith: no Kubernetes credentials found: set KUBECONFIG (or --kubeconfig) to a kubeconfig file, create ~/.kube/config, or run inside a cluster",
        ),
        (&shop, &["--context", "nowhere", "status", "web"], 1, &[], "cannot be used"),
        (
            &bed,
            &["--kubeconfig", shop_config.to_str().unwrap(), "renew", "api"],
            0,
            &["Manually triggered issuance of Certificate shop/api"],
            "",
        ),
    ];
    for (env, args, code, stdout, stderr) in cases {
        let out = certsmith(env, args);
        let (got_out, got_err) =
            (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let row =
            format!("{args:?}: exit {:?}\nstdout: {got_out}\nstderr: {got_err}", out.status.code());
        assert_eq!(out.status.code(), Some(code), "{row}");
        if args[0] == "renew" {
            let mut lines: Vec<&str> = got_out.lines().collect();
            lines.sort();
            assert_eq!(lines, stdout, "{row}");
        } else {
            assert!(stdout.iter().all(|s| got_out.contains(s)), "{row}");
        }
        assert!(got_err.lines().count() <= 1 && got_err.contains(stderr), "{row}");
    }
    // Only the selected Certificates were marked.
    let marked = kube.kubectl_ok(
        &[
            "get",
            "certificates",
            "-A",
            "-o",
            "custom-columns=N:.metadata.name,I:.status.conditions[0].reason",
            "--no-headers",
        ],
        "",
    );
    let marked = marked
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>();
    assert_eq!(
        marked,
        ["db ManuallyTriggered", "misc <none>", "api ManuallyTriggered", "web ManuallyTriggered"]
    );

    // A closed pipe ends the output quietly and successfully.
    let piped = Command::new("bash")
        .args([
            "-c",
            &format!("set -o pipefail; '{}' crds | head -1", env!("CARGO_BIN_EXE_certsmith")),
        ])
        .output()
        .unwrap();
    assert!(piped.status.success() && piped.stderr.is_empty(), "{piped:?}");
}

/// A CONNECT proxy on 127.0.0.1, as a corporate egress proxy: it tunnels each connection and
/// remembers where to.
async fn connect_proxy() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut client = BufReader::new(client);
                let mut line = String::new();
                client.read_line(&mut line).await.ok()?;
                let target = line.strip_prefix("CONNECT ")?.split(' ').next()?.to_string();
                loop {
                    let mut header = String::new();
                    client.read_line(&mut header).await.ok()?;
                    if header == "\r\n" || header.is_empty() {
                        break;
                    }
                }
                let mut upstream = tokio::net::TcpStream::connect(&target).await.ok()?;
                log.lock().unwrap().push(target);
                let mut client = client.into_inner();
                client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.ok()?;
                tokio::io::copy_bidirectional(&mut client, &mut upstream).await.ok()
            });
        }
    });
    (port, seen)
}

// The proxy runs on this runtime's workers while the test thread waits on the operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuance_works_through_an_https_proxy_which_sees_the_acme_traffic() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let (port, seen) = connect_proxy().await;
    let proxy = format!("http://127.0.0.1:{port}");
    let operator = Operator::start_with_env(
        None,
        &kube.kubeconfig(),
        &pebble,
        &[],
        // Everything goes through it here, the API server too (a cluster's no_proxy would
        // usually keep that direct).
        &[("HTTPS_PROXY", &proxy)],
    );
    kube.kubectl_ok(&["apply", "-f", "-"], &support::objects::certificate("proxied").yaml());
    let certs = kube::Api::namespaced(kube.client().await, "default");
    support::acme::ready(&certs, "proxied", 1, &operator).await;
    let ca =
        pebble.directory_url.trim_start_matches("https://").split('/').next().unwrap().to_string();
    let tunnels = seen.lock().unwrap().clone();
    assert!(tunnels.contains(&ca), "the proxy saw no tunnel to the CA {ca}: {tunnels:?}");
}
