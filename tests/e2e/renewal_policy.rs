//! cert-manager v1.21's `spec.renewal` on the bed: a Certificate due at once renews only when
//! its window opens (every even minute, for 20 s), and one under `policy: Disabled` is never
//! renewed for its age and has no renewal time.

use crate::support;

use crate::support::acme::eventually;
use certsmith::api::Certificate;
use certsmith::pki::inspect::parse_chain;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

fn objects(ns: &str) -> String {
    // Due a second after issuance (renewBefore one second short of the duration).
    let certificate = |name: &str, renewal: &str| {
        format!(
            "---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: {name}, namespace: {ns}}}\n\
             spec:\n  secretName: {name}\n  commonName: {name}.renewal.example\n  duration: 1h\n  renewBefore: 59m59s\n  \
             issuerRef: {{name: selfsigned}}\n  renewal: {renewal}\n"
        )
    };
    format!(
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {{name: selfsigned, namespace: {ns}}}\nspec: {{selfSigned: {{}}}}\n{}{}",
        certificate(
            "windowed",
            "{policy: RenewBefore, windows: [{cron: '*/2 * * * *', windowDuration: 20s}]}"
        ),
        certificate("disabled", "{policy: Disabled}"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renewal_waits_for_its_window_and_a_disabled_policy_never_renews() {
    let bed = support::shared::issuing();
    let ns = "renewal-policy";
    bed.kube.kubectl_ok(&["create", "namespace", ns], "");
    bed.kube.kubectl_ok(&["apply", "-f", "-"], &objects(ns));
    let client = bed.kube.client().await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(client, ns);
    let first = ready(&certs, "windowed", 1).await;
    let disabled = ready(&certs, "disabled", 1).await;
    assert_eq!(disabled.status.unwrap().renewal_time, None, "Disabled: no renewal time");

    // Due a second after it was issued, the renewal waits for the next even minute.
    let issued_at = first.status.as_ref().unwrap().not_before.clone().unwrap().0;
    let scheduled = first.status.as_ref().unwrap().renewal_time.clone().expect("a renewal time").0;
    let at = scheduled.to_zoned(jiff::tz::TimeZone::UTC);
    assert!(at.minute() % 2 == 0 && at.second() == 0, "a window's start: {scheduled}");
    assert!(scheduled > issued_at + jiff::SignedDuration::from_secs(1), "{scheduled}");
    assert!(scheduled <= issued_at + jiff::SignedDuration::from_secs(121), "{scheduled}");
    let renewed = ready(&certs, "windowed", 2).await;
    let secret = secrets.get("windowed").await.unwrap();
    let pem = String::from_utf8(secret.data.unwrap()["tls.crt"].0.clone()).unwrap();
    let second = parse_chain(&pem).unwrap();
    assert!(second.not_before >= scheduled, "renewed at {} before the window", second.not_before);
    let opened = second.not_before.duration_since(scheduled);
    assert!(opened < jiff::SignedDuration::from_secs(20), "renewed {opened} into a 20 s window");
    let next = renewed.status.unwrap().renewal_time.unwrap().0;
    assert!(next > second.not_before, "the next renewal waits for a later window: {next}");

    // Meanwhile the Disabled one, due for as long, was not renewed.
    let disabled =
        eventually(5, "the disabled Certificate", || async { certs.get("disabled").await.ok() })
            .await;
    assert_eq!(disabled.status.unwrap().revision, Some(1), "Disabled renews nothing for its age");
}

/// The Certificate once Ready at `revision` (a window may be two minutes away).
async fn ready(api: &Api<Certificate>, name: &str, revision: i64) -> Certificate {
    eventually(180, &format!("{name} Ready at revision {revision}"), || async {
        let c = api.get(name).await.ok()?;
        let status = c.status.as_ref()?;
        let is_ready =
            status.conditions.iter().flatten().any(|c| {
                c.type_ == "Ready" && c.status == certsmith::api::meta::ConditionStatus::True
            });
        (is_ready && status.revision == Some(revision)).then_some(c.clone())
    })
    .await
}
