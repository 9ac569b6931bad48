//! The account's order budget against a real Pebble: a mass issuance queues for it instead of
//! opening every order at once, and the Certificates that wait say so. Pebble is no Let's
//! Encrypt server, so only a budget set by the flag or by the issuer's annotation holds it
//! back (that none does by default is `budget_for`'s table test).

use crate::support;
use crate::support::KubeBed;
use crate::support::acme::{Operator, PebbleBed, eventually, issuing_bed};
use crate::support::faults::Row;
use certsmith::api::Certificate;
use certsmith::order::budget::ANN_ORDER_BUDGET;
use kube::api::{Api, ListParams};

fn certificates(count: usize) -> String {
    support::objects::certificates("mass", count, |c| c)
}

fn messages(c: &Certificate) -> Vec<String> {
    let conditions = c.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    conditions.into_iter().filter_map(|c| c.message).collect()
}

fn ready(c: &Certificate) -> bool {
    let conditions = c.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|cs| {
        cs.iter().any(|c| c.type_ == "Ready" && c.reason.as_deref() == Some("Ready"))
    })
}

/// A budget of 10 orders per 20 s and 30 Certificates at once: the CA never opens more than 10
/// orders in any 20 s, the Certificates that wait name the budget, who set it and when the next
/// order may open, and all of them turn Ready.
async fn queues(kube: &KubeBed, pebble: &PebbleBed, operator: &Operator, from: &str) -> String {
    let certs: Api<Certificate> = Api::namespaced(kube.client().await, "default");
    kube.kubectl_ok(&["apply", "-f", "-"], &certificates(30));
    let said = eventually(30, "a Certificate naming the budget it waits for", || async {
        let list = certs.list(&ListParams::default()).await.ok()?;
        list.items.iter().flat_map(messages).find(|m| m.contains("order budget"))
    })
    .await;
    println!("a waiting Certificate says: {said}");
    let budget = format!(
        "; waiting for the account's order budget: it opened 10 orders in the last 20s ({from})"
    );
    assert!(said.contains(&budget), "{said}");
    assert!(said.contains("the next may open at "), "{said}");
    let held = operator.metric("certsmith_acme_orders_held_total{reason=\"budget\"}");
    assert!(held >= 1.0, "no held order counted: {held}");
    eventually(180, "all 30 Certificates Ready", || async {
        let list = certs.list(&ListParams::default()).await.ok()?;
        (list.items.iter().filter(|c| ready(c)).count() == 30).then_some(())
    })
    .await;
    let opened = pebble.orders_opened_at();
    assert_eq!(opened.len(), 30, "orders opened at the CA");
    // Any 11 orders in a row span at least the window (less the log's one-second resolution).
    for run in opened.windows(11) {
        let span = run[10].duration_since(run[0]).as_secs();
        assert!(span >= 19, "11 orders within {span} s: {run:?}");
    }
    let most = opened
        .iter()
        .map(|t| opened.iter().filter(|u| *u >= t && u.duration_since(*t).as_secs() < 20).count())
        .max()
        .unwrap_or(0);
    format!("all Ready; 30 orders at the CA, at most {most} in any 20 s")
}

/// The flag holds every ACME server back, Pebble included.
#[tokio::test]
async fn a_mass_issuance_queues_for_the_account_order_budget() {
    let mut row = Row::new("30 Certificates at once, budget of 10 orders per 20 s");
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let budget = ["--acme-order-budget=10", "--acme-order-budget-window=20s"];
    let operator = Operator::start(&kube, &pebble, &budget);
    row.figure(queues(&kube, &pebble, &operator, "--acme-order-budget").await);
}

/// The issuer's own budget, no flag: one issuer of a CA that needs a limit is held back.
#[tokio::test]
async fn an_issuers_annotation_sets_its_order_budget() {
    let mut row = Row::new("30 Certificates, the issuer's annotation: 10 orders per 20 s");
    let kube = KubeBed::start();
    let pebble = issuing_bed(&kube);
    let annotation = format!("{ANN_ORDER_BUDGET}=10/20s");
    kube.kubectl_ok(&["annotate", "clusterissuer", "letsencrypt-prod", &annotation], "");
    let operator = Operator::start(&kube, &pebble, &[]);
    row.figure(queues(&kube, &pebble, &operator, ANN_ORDER_BUDGET).await);
}
