//! Renewal for real: Pebble issues 90-second certificates, and 10 Certificates renew by
//! themselves, cycle after cycle, with no Secret ever holding an expired certificate.

use crate::support;
use crate::support::KubeBed;
use crate::support::acme::{Operator, issuing_bed_with};
use crate::support::faults::Row;
use certsmith::api::Certificate;
use certsmith::pki::inspect::parse_chain;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const COUNT: usize = 10;
const CYCLES: i64 = 3;

#[tokio::test]
async fn short_lived_certificates_renew_by_themselves_and_never_expire_in_their_secret() {
    let mut row = Row::new(format!("{COUNT} Certificates of 90 s renewing by themselves"));
    let kube = KubeBed::start();
    let pebble = issuing_bed_with(&kube, &[("CERT_VALIDITY", "90")]);
    let _operator = Operator::start(&kube, &pebble, &[]);
    let client = kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let manifests = support::objects::certificates("short", COUNT, |c| c);
    kube.kubectl_ok(&["apply", "-f", "-"], &manifests);
    // Every second: each Secret's certificate is still valid, and the serials seen are counted.
    let mut serials: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60 + 90 * CYCLES as u64 + 60);
    loop {
        let now = jiff::Timestamp::now();
        for s in secrets.list(&ListParams::default()).await.unwrap().items {
            let Some(pem) = s.data.as_ref().and_then(|d| d.get("tls.crt")) else { continue };
            let issued = parse_chain(&String::from_utf8_lossy(&pem.0)).expect("a readable chain");
            let name = s.metadata.name.clone().unwrap();
            assert!(
                issued.not_after > now,
                "{name} holds a certificate that expired at {}",
                issued.not_after
            );
            let seen = serials.entry(name).or_default();
            if seen.last() != Some(&issued.serial) {
                seen.push(issued.serial.clone());
            }
        }
        let revisions: Vec<i64> = certs
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|c| c.status.as_ref().and_then(|s| s.revision).unwrap_or(0))
            .collect();
        if revisions.len() == COUNT && revisions.iter().all(|r| *r > CYCLES) {
            break;
        }
        assert!(Instant::now() < deadline, "revisions after the deadline: {revisions:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let fewest = serials.values().map(Vec::len).min().unwrap_or(0);
    assert!(fewest > CYCLES as usize, "certificates seen per Secret: {serials:?}");
    row.figure(format!("every Secret held {fewest}+ certificates in turn, none ever expired"));
}
