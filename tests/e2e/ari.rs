//! ACME Renewal Information (RFC 9773) against a server that serves it (acme2certifier from
//! PyPI, whose windows a test can set): the window is recorded and the renewal time falls
//! inside it; a server that says "renew now" to every certificate, the fresh one included,
//! gets no renewal storm (one order per Certificate, the hold said in a condition and an
//! Event); a renewal order names what it replaces.

use crate::support;

use crate::support::a2c::A2c;
use crate::support::acme::{Operator, eventually};
use crate::support::faults::Row;
use certsmith::api::Certificate;
use certsmith::certificate::ari::{RENEW_NOW_HELD, cert_id};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether the renewal time lies in acme2certifier's window for the current certificate
/// (from 85% of its life to its end) and, where the CRD keeps it, in the recorded window.
fn in_window(c: &Certificate) -> bool {
    let Some(status) = c.status.as_ref() else { return false };
    let (Some(nb), Some(na), Some(at)) =
        (&status.not_before, &status.not_after, &status.renewal_time)
    else {
        return false;
    };
    let life = na.0.duration_since(nb.0);
    let start = nb.0 + life.mul_f64(0.85) - jiff::SignedDuration::from_mins(1);
    let by_server = start <= at.0 && at.0 <= na.0;
    let recorded = status.acme.as_ref().and_then(|a| a.ari.as_ref());
    let by_status = match recorded
        .and_then(|a| Some((a.last_checked.as_ref()?, a.suggested_window.as_ref()?)))
    {
        Some((checked, w)) => checked.0 >= nb.0 && w.start.0 <= at.0 && at.0 <= w.end.0,
        None => support::on_cert_manager_crds(),
    };
    by_server && by_status
}

fn revision(c: &Certificate) -> i64 {
    let ready = c.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
        cs.iter().any(|c| c.type_ == "Ready" && c.reason.as_deref() == Some("Ready"))
    });
    if ready { c.status.as_ref().and_then(|s| s.revision).unwrap_or(0) } else { 0 }
}

#[tokio::test]
async fn the_cas_window_is_honoured_and_renew_now_for_every_certificate_is_no_storm() {
    let mut row = Row::new("ARI (acme2certifier): window honoured, renew-now held, replaces");
    let began = Instant::now();
    let (a2c, kube, pebble) = A2c::issuing_bed();
    let _operator = Operator::start(&kube, &pebble, &[]);
    let certs: Api<Certificate> = Api::namespaced(kube.client().await, "default");
    let cert = support::objects::certificate("web").cluster_issuer("ari").yaml();
    kube.kubectl_ok(&["apply", "-f", "-"], &cert);
    // Issued, and renewing inside the CA's window (recorded in status.acme.ari, unless
    // cert-manager's older CRD prunes it).
    let c = eventually(60, "the Certificate Ready, renewing in its ARI window", || async {
        let c = certs.get("web").await.ok()?;
        (revision(&c) == 1 && in_window(&c)).then_some(c)
    })
    .await;
    let status = c.status.unwrap();
    let renewal = status.renewal_time.unwrap().0;
    row.figure(format!("renewal at {renewal}, inside the window (85%..100% of the life)"));

    // The CA now says "renew now" to every certificate, this fresh one included (as
    // acme2certifier's renewal_force: a window from a year before the end to the end). On the
    // window alone a certificate is renewed no sooner than a third of its life (at most a day):
    // the Certificate says so, and no order is opened, however often the window is fetched.
    let secrets: Api<Secret> = Api::namespaced(kube.client().await, "default");
    let replaced = cert_id(&secrets.get("web-tls").await.unwrap().into()).unwrap();
    let orders = || a2c.orders();
    assert_eq!(orders(), 1, "orders before the CA said renew now");
    a2c.restart(true);
    let said = Instant::now();
    let held = eventually(60, "the CA's renew now held, in the condition", || async {
        let c = certs.get("web").await.ok()?;
        let conditions = c.status.as_ref()?.conditions.clone()?;
        conditions.into_iter().find(|c| c.type_ == RENEW_NOW_HELD)
    })
    .await;
    assert_eq!(held.reason.as_deref(), Some("YoungerThanFloor"), "{held:?}");
    let columns = "custom-columns=R:.reason,O:.regarding.name";
    let events = kube.kubectl_ok(&["get", "events.events.k8s.io", "-o", columns], "");
    let event = |l: &str| l.starts_with("RenewNowHeld") && l.ends_with(" web");
    assert!(events.lines().any(event), "no RenewNowHeld Event on web:\n{events}");
    // Six of the CA's Retry-Afters (10 s) more: the window fetched again, still nothing ordered.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let c = certs.get("web").await.unwrap();
    let status = c.status.as_ref().unwrap();
    let (issued_at, renewal) = (&status.not_before.as_ref().unwrap().0, &status.renewal_time);
    let renewal = renewal.as_ref().unwrap().0;
    assert_eq!(revision(&c), 1, "renewed on the CA's renew now alone");
    assert_eq!(renewal.duration_since(*issued_at).as_hours(), 24, "renewal at {renewal}");
    let storm = orders();
    assert_eq!(storm, 1, "orders for the one Certificate");
    row.figure(format!(
        "a CA saying renew now to every certificate: {storm} order per Certificate in {:.0} s; \
         renewal held until {renewal} (issued + 24 h); condition {RENEW_NOW_HELD}={}",
        said.elapsed().as_secs_f64(),
        held.reason.unwrap_or_default()
    ));

    // A renewal asked for by hand is not held, and its order names what it replaces.
    let out = Command::new(env!("CARGO_BIN_EXE_certsmith"))
        .args(["renew", "web", "-n", "default"])
        .env("KUBECONFIG", kube.kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = Instant::now();
    eventually(60, "a renewal asked for by hand", || async {
        (revision(&certs.get("web").await.ok()?) >= 2).then_some(())
    })
    .await;
    let took = said.elapsed().as_secs_f64();
    // Made while the CA's window was open: its request names the window, which then renews
    // nothing again for the replacement (a window renews once).
    let requests: Api<certsmith::api::CertificateRequest> =
        Api::namespaced(kube.client().await, "default");
    let second = requests.get("web-2").await.unwrap();
    let window = second.annotations().get(certsmith::certificate::ari::ANN_RENEWED_IN);
    assert!(
        window.is_some() || support::on_old_cert_manager_crds(),
        "the renewal's request names the open window: {:?}",
        second.annotations()
    );
    a2c.restart(false);
    let sent = format!("\"replaces\":\"{replaced}\"");
    assert!(a2c.log().contains(&sent), "no order named the certificate it replaces ({sent})");
    // Back to an ordinary window: the new certificate's own, the renewal inside it.
    // (A renewal while the CA restarted finds it away: its window is asked for within a minute.)
    let c = eventually(120, "the renewed certificate renewing in its own window", || async {
        let c = certs.get("web").await.ok()?;
        let later = c.status.as_ref()?.renewal_time.as_ref()?.0 > jiff::Timestamp::now();
        (revision(&c) >= 2 && later && in_window(&c)).then_some(c)
    })
    .await;
    // The window is asked for when the CA's Retry-After (10 s) says, never in a loop (also
    // where the CRD prunes what was recorded).
    let asked = a2c.log().lines().filter(|l| l.contains("\"GET /acme/renewal-info/")).count();
    let most = began.elapsed().as_secs() / 10 + 10;
    assert!(asked as u64 <= most, "{asked} renewal-info requests, more than {most}");
    row.figure(format!(
        "renewed by hand in {took:.0} s, the order naming {replaced}; revision {} then; \
         {asked} renewal-info requests in all",
        revision(&c)
    ));
}
