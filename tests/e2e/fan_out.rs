//! What many objects cost: an issuer's annotation or label change wakes no Certificate; a spec
//! change wakes them all and writes nothing when nothing changed (audit log); a deleted Secret
//! still wakes its Certificate; reconciles run at most `--concurrent-workers` at once per
//! controller.

use crate::support;
use crate::support::KubeBed;
use crate::support::acme::{Operator, eventually, issuing_bed};

fn certificates(prefix: &str, n: usize) -> String {
    support::objects::certificates(prefix, n, |c| c.unnamespaced())
}

async fn all_ready(kube: &KubeBed, n: usize) {
    eventually(180, "every Certificate Ready", || async {
        let out = kube.kubectl_ok(
            &[
                "get",
                "certificates",
                "-o",
                "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}",
            ],
            "",
        );
        (out.split_whitespace().filter(|s| *s == "True").count() == n).then_some(())
    })
    .await;
}

const SYNCS: &str = "certmanager_controller_sync_call_count{controller=";

#[tokio::test(flavor = "multi_thread")]
async fn only_issuer_changes_that_matter_wake_certificates_and_unchanged_ones_write_nothing() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let operator = Operator::start(&kube, &pebble, &[]);
    kube.kubectl_ok(&["apply", "-f", "-"], &certificates("fan", 10));
    all_ready(&kube, 10).await;
    let syncs = |c: &str| operator.metric(&format!("{SYNCS}\"{c}\"}}"));
    // Settled: the last status writes have come back through the watch.
    let mut before = syncs("certificates");
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let now = syncs("certificates");
        if now == before {
            break;
        }
        before = now;
    }
    let issuer_syncs = syncs("clusterissuers");

    kube.kubectl_ok(
        &["annotate", "clusterissuer", "letsencrypt-prod", "example.com/owner=ops"],
        "",
    );
    kube.kubectl_ok(&["label", "clusterissuer", "letsencrypt-prod", "team=platform"], "");
    // The issuer controller saw both changes (through the same watch the Certificates use) ...
    eventually(30, "the ClusterIssuer controller to see the changes", || async {
        (syncs("clusterissuers") >= issuer_syncs + 2.0).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    // ... and no Certificate was reconciled for them.
    assert_eq!(syncs("certificates"), before, "an annotation or label woke Certificates");

    // A spec change may matter to every Certificate of the issuer: each is looked at again,
    // and, being up to date, nothing of theirs is written.
    let writes = |kube: &KubeBed| -> Vec<String> {
        let theirs = |w: &String| !w.contains("/leases") && !w.contains("/clusterissuers");
        kube.writes_by("certsmith/").into_iter().filter(theirs).collect()
    };
    let written = writes(&kube).len();
    kube.kubectl_ok(
        &[
            "patch",
            "clusterissuer",
            "letsencrypt-prod",
            "--type=merge",
            "-p",
            r#"{"spec":{"acme":{"email":"ops@example.com"}}}"#,
        ],
        "",
    );
    eventually(30, "each Certificate reconciled after the spec change", || async {
        (syncs("certificates") >= before + 10.0).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let new = &writes(&kube)[written..];
    assert!(new.is_empty(), "up-to-date Certificates caused writes: {new:?}");

    // A deleted TLS Secret reaches its Certificate through the same shared watch: put back at
    // once, not at the next periodic look (hours away).
    kube.kubectl_ok(&["delete", "secret", "fan-3-tls"], "");
    eventually(60, "the deleted Secret issued again", || async {
        kube.kubectl(&["get", "secret", "fan-3-tls"], "").status.success().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reconciles_run_at_most_concurrent_workers_at_once() {
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let operator = Operator::start(&kube, &pebble, &["--concurrent-workers=2"]);
    kube.kubectl_ok(&["apply", "-f", "-"], &certificates("burst", 40));
    let controllers = ["certificates", "certificaterequests", "orders", "challenges"];
    let mut most = [0.0f64; 4];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let body = operator.get("/metrics").unwrap_or_default();
        for (i, c) in controllers.iter().enumerate() {
            let line = format!("certsmith_controller_reconciles_in_flight{{controller=\"{c}\"}} ");
            let value = body.lines().find_map(|l| l.strip_prefix(&line)?.parse::<f64>().ok());
            most[i] = most[i].max(value.unwrap_or(0.0));
        }
        let ready = kube.kubectl_ok(
            &[
                "get",
                "certificates",
                "-o",
                "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}",
            ],
            "",
        );
        if ready.split_whitespace().filter(|s| *s == "True").count() == 40 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "40 Certificates not Ready in 180 s");
    }
    for (c, m) in controllers.iter().zip(most) {
        assert!(m <= 2.0, "{c}: {m} reconciles at once with --concurrent-workers=2");
    }
    // The gauge is read while they run: the burst kept the Certificate controller busy.
    assert!(most[0] >= 1.0, "never saw a Certificate reconcile running: {most:?}");
}
