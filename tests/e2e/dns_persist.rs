//! dns-persist-01 against Pebble's own implementation, through Debian's BIND: an Issuer opted in
//! with `acme.certsmith.io/dns-persist-01` names the standing record in its condition; a wildcard
//! Certificate waits (saying why) while the record names another account, and issues once the
//! DNS team writes the record the condition names; no `_acme-challenge` record is ever written.

use crate::support;
use crate::support::acme::{Operator, eventually, issuing_bed_with, ready};
use crate::support::{KubeBed, issued_names, start, state_var, txt};
use certsmith::api::{Certificate, Challenge, Issuer};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::io::Write;
use std::process::{Command, Stdio};

/// Writes (`add`) or removes the TXT `value` at `name` in BIND's example.test, as a DNS team
/// would by hand, with the bed's TSIG key.
fn nsupdate(bind: &std::path::Path, port: &str, name: &str, value: &str, add: bool) {
    let key = format!("hmac-md5:certsmith-md5:{}", state_var(bind, "TSIG_MD5_SECRET"));
    let verb = if add { "add" } else { "delete" };
    let script = format!(
        "server 127.0.0.1 {port}\nzone example.test\nupdate {verb} {name} 60 TXT \"{value}\"\nsend\n"
    );
    let mut child =
        Command::new("nsupdate").args(["-y", &key]).stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "nsupdate {verb} {name}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wildcard_through_a_standing_record_the_issuer_names() {
    let bind = start("start-bind.sh", &[]);
    let port = state_var(&bind, "DNS_PORT");
    let kube = KubeBed::start();
    let pebble = issuing_bed_with(&kube, &[("PEBBLE_DNS_SERVER", &format!("127.0.0.1:{port}"))]);
    let recursive = format!("127.0.0.1:{port}");
    let operator = Operator::start(
        &kube,
        &pebble,
        &["--dns01-recursive-nameservers", &recursive, "--dns01-recursive-nameservers-only"],
    );
    // A DNS-01 solver with no provider: nothing to write with, and nothing needed.
    let base = pebble.issuer_yaml("Issuer", "persist", Some("default"));
    let head = &base[..base.find("    solvers:\n").unwrap()];
    let issuer = format!("{head}    solvers:\n    - dns01: {{}}\n").replace(
        "metadata:\n  name: persist\n",
        "metadata:\n  name: persist\n  annotations: {acme.certsmith.io/dns-persist-01: \"true\"}\n",
    );
    kube.kubectl_ok(&["apply", "-f", "-"], &issuer);
    let client = kube.client().await;
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), "default");
    let (account, said) = eventually(60, "the record on the Issuer", || async {
        let status = issuers.get("persist").await.ok()?.status?;
        let uri = status.acme?.uri?;
        let c =
            status.conditions?.into_iter().find(|c| c.type_ == "certsmith.io/DNSPersistRecord")?;
        Some((uri, c.message?))
    })
    .await;
    // Pebble's directory names it pebble.letsencrypt.org (its caaIdentities).
    let value = format!("pebble.letsencrypt.org; accounturi={account}");
    assert!(said.contains(&format!("_validation-persist.<name> TXT \"{value}\"")), "{said}");

    // Another account's record authorizes nothing: the Challenge says so, and what to write.
    let record = "_validation-persist.example.test";
    let other =
        "pebble.letsencrypt.org; accounturi=https://elsewhere.example/acct/1; policy=wildcard";
    nsupdate(&bind, &port, record, other, true);
    kube.kubectl_ok(
        &["apply", "-f", "-"],
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: wild, namespace: default}\n\
         spec:\n  secretName: wild-tls\n  dnsNames: [\"*.example.test\", example.test]\n  \
         issuerRef: {name: persist}\n",
    );
    let challenges: Api<Challenge> = Api::namespaced(client.clone(), "default");
    let wildcard = format!("{value}; policy=wildcard");
    let reason = eventually(90, "the wildcard's Challenge waiting for the record", || async {
        let list = challenges.list(&Default::default()).await.ok()?;
        let ch = list.items.into_iter().find(|c| c.spec.wildcard == Some(true))?;
        ch.status?.reason.filter(|r| r.contains("create once"))
    })
    .await;
    assert!(reason.contains("names the account https://elsewhere.example/acct/1"), "{reason}");
    assert!(reason.contains(&format!("create once: {record}. TXT \"{wildcard}\"")), "{reason}");
    // The same words reach the Certificate, through its Order and request.
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    eventually(30, "the missing record on the Certificate", || async {
        let c = certs.get("wild").await.ok()?;
        let issuing = c.status?.conditions?.into_iter().find(|c| c.type_ == "Issuing")?;
        issuing.message.filter(|m| m.contains("create once")).map(|_| ())
    })
    .await;
    let status = Command::new(env!("CARGO_BIN_EXE_certsmith"))
        .args(["status", "wild", "-n", "default"])
        .env("KUBECONFIG", kube.kubeconfig())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(shown.contains(&format!("{record}. TXT \"{wildcard}\"")), "{shown}");

    // The DNS team writes what the Issuer named, with the policy a wildcard needs.
    nsupdate(&bind, &port, record, &wildcard, true);
    ready(&certs, "wild", 1, &operator).await;
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let names = issued_names(&secrets, "wild-tls", &pebble.root_pem()).await;
    assert!(names.contains(&"*.example.test".to_string()), "{names:?}");
    // Nothing was written per issuance, and the standing record stays as the team wrote it.
    assert_eq!(txt(&port, "_acme-challenge.example.test"), "");
    let standing = txt(&port, record);
    assert!(standing.contains(&wildcard) && standing.contains(other), "{standing}");
    drop(operator);
    let _ = Command::new(support::testbed_script("stop-bind.sh")).arg(&bind).status();
}
