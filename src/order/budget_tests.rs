//! The Order step's budget, as tables: each server's default, the precedence of flag and
//! annotation, and the ledger over time.

use super::*;
use crate::api::OrderStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn limits(orders: usize, window_secs: u64, concurrent: usize) -> Limits {
    let window = Duration::from_secs(window_secs);
    Limits { budget: Budget::Per { orders, window, from: "--acme-order-budget" }, concurrent }
}

fn per(orders: usize, hours: u64, from: &'static str) -> Budget {
    Budget::Per { orders, window: Duration::from_secs(hours * 3600), from }
}

#[test]
fn only_lets_encrypt_is_budgeted_by_default_and_flags_and_annotations_win() {
    let pebble = "https://pebble.test:14000/dir";
    let flag = Some((10, Duration::from_secs(20)));
    let invalid = |b: &Budget| matches!(b, Budget::Invalid(_));
    type Flag = Option<(usize, Duration)>;
    let table: [(&str, Flag, Option<&str>, Budget); 11] = [
        // (server, --acme-order-budget with its window, annotation, budget)
        (LETS_ENCRYPT, None, None, per(300, 3, "Let's Encrypt's limit")),
        (
            "https://ACME-v02.api.letsencrypt.org/directory/",
            None,
            None,
            per(300, 3, "Let's Encrypt's limit"),
        ),
        (LETS_ENCRYPT_STAGING, None, None, per(1500, 3, "Let's Encrypt staging's limit")),
        // Pebble, step-ca, a corporate CA: not held back unless configured.
        (pebble, None, None, Budget::Unlimited),
        ("https://ca.internal/acme/acme/directory", None, None, Budget::Unlimited),
        // The flag holds on every server, Let's Encrypt's included; 0 is none at all.
        (
            pebble,
            flag,
            None,
            Budget::Per {
                orders: 10,
                window: Duration::from_secs(20),
                from: "--acme-order-budget",
            },
        ),
        (LETS_ENCRYPT, Some((0, Duration::from_secs(60))), None, Budget::Unlimited),
        // The issuer's annotation wins over both.
        (pebble, flag, Some("100/1h"), per(100, 1, ANN_ORDER_BUDGET)),
        (LETS_ENCRYPT, None, Some(" unlimited "), Budget::Unlimited),
        (pebble, None, Some("100"), Budget::Invalid(String::new())),
        (pebble, None, Some("0/1h"), Budget::Invalid(String::new())),
    ];
    for (i, (server, flag, annotation, want)) in table.into_iter().enumerate() {
        let got = budget_for(server, flag, annotation);
        match invalid(&want) {
            true => assert!(invalid(&got), "row {i}: {got:?}"),
            false => assert_eq!(got, want, "row {i}"),
        }
    }
}

#[test]
fn no_budget_opens_any_number_and_an_unreadable_one_opens_none() {
    let now = t("2026-01-01T03:00:00Z");
    let opened: VecDeque<_> = (0..1000).map(|_| now).collect();
    let unlimited = Limits { budget: Budget::Unlimited, concurrent: 50 };
    assert_eq!(admit(&opened, 0, None, now, &unlimited), Verdict::Open);
    // The bound on orders open at once holds without a budget.
    assert!(matches!(admit(&opened, 50, None, now, &unlimited), Verdict::Wait { .. }));
    let budget = budget_for(LETS_ENCRYPT, None, Some("ten per hour"));
    let Verdict::Wait { retry, why } =
        admit(&VecDeque::new(), 0, None, now, &Limits { budget, concurrent: 50 })
    else {
        panic!("an unreadable annotation opened an order");
    };
    assert_eq!(retry.as_secs(), 60);
    assert!(why.contains("acme.certsmith.io/order-budget annotation is \"ten per hour\""), "{why}");
}

#[test]
fn orders_open_within_the_budget_and_wait_for_the_oldest_to_leave_the_window() {
    let now = t("2026-01-01T03:00:00Z");
    let opened = |times: &[&str]| times.iter().map(|s| t(s)).collect::<VecDeque<_>>();
    let three_hours = 3 * 3600;
    let table = [
        // (opened, open now, paused until, limits, verdict's retry in s (None = open))
        (opened(&[]), 0, None, limits(2, three_hours, 5), None),
        (opened(&["2026-01-01T01:00:00Z"]), 0, None, limits(2, three_hours, 5), None),
        // Two in the window: the first leaves it at 04:00, an hour from now.
        (
            opened(&["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"]),
            0,
            None,
            limits(2, three_hours, 5),
            Some(3600),
        ),
        // One of the two is older than the window: open.
        (
            opened(&["2025-12-31T23:59:00Z", "2026-01-01T02:00:00Z"]),
            0,
            None,
            limits(2, three_hours, 5),
            None,
        ),
        // As many open at the CA as allowed at once: wait for one to finish.
        (opened(&[]), 5, None, limits(300, three_hours, 5), Some(30)),
        (opened(&[]), 4, None, limits(300, three_hours, 5), None),
        // The CA said rateLimited until 03:30.
        (opened(&[]), 0, Some(t("2026-01-01T03:30:00Z")), limits(300, three_hours, 5), Some(1800)),
        (opened(&[]), 0, Some(t("2026-01-01T02:30:00Z")), limits(300, three_hours, 5), None),
    ];
    for (i, (opened, open_now, paused, limits, want)) in table.into_iter().enumerate() {
        let got = match admit(&opened, open_now, paused, now, &limits) {
            Verdict::Open => None,
            Verdict::Wait { retry, .. } => Some(retry.as_secs()),
            Verdict::Stale => panic!("the pure decision never says stale"),
        };
        assert_eq!(got, want, "row {i}");
    }
}

#[test]
fn a_wait_names_the_budget_and_when_the_next_order_may_open() {
    let now = t("2026-01-01T03:00:00Z");
    let opened: VecDeque<_> = [t("2026-01-01T01:00:00Z")].into();
    let Verdict::Wait { why, .. } = admit(&opened, 0, None, now, &limits(1, 3 * 3600, 5)) else {
        panic!("admitted");
    };
    assert_eq!(
        why,
        "waiting for the account's order budget: it opened 1 orders in the last 3h \
         (--acme-order-budget); the next may open at 2026-01-01T04:00:00Z"
    );
}

fn order(uid: &str, created: &str, url: bool, state: Option<State>) -> Arc<Order> {
    let mut o = Order {
        metadata: Default::default(),
        spec: Default::default(),
        status: Some(OrderStatus {
            url: url.then(|| format!("https://ca/order/{uid}")),
            state,
            ..Default::default()
        }),
    };
    o.metadata.uid = Some(uid.into());
    o.metadata.name = Some(format!("order-{uid}"));
    o.metadata.namespace = Some("ci".into());
    o.metadata.creation_timestamp = Some(Time(t(created)));
    Arc::new(o)
}

#[test]
fn the_cluster_seeds_the_ledger() {
    let now = t("2026-01-01T03:00:00Z");
    let stored = [
        order("a", "2026-01-01T01:00:00Z", true, Some(State::Valid)),
        order("b", "2025-12-31T01:00:00Z", true, Some(State::Pending)),
        order("c", "2026-01-01T02:00:00Z", false, None),
    ];
    // The finished order at its creation, the open one as if opened now, the unopened not.
    assert_eq!(seed(&stored, now), VecDeque::from([t("2026-01-01T01:00:00Z"), now]));
}

#[tokio::test]
async fn admitted_orders_count_until_they_finish_and_refunds_give_the_slot_back() {
    let budgets = Budgets::default();
    let now = t("2026-01-01T03:00:00Z");
    let l = limits(3, 3600, 2);
    let a = order("a", "2026-01-01T03:00:00Z", false, None);
    let b = order("b", "2026-01-01T03:00:00Z", false, None);
    let c = order("c", "2026-01-01T03:00:00Z", false, None);
    let stored = vec![a.clone(), b.clone(), c.clone()];
    assert_eq!(budgets.admit("ci", &a, &stored, now, &l).await, Verdict::Open);
    assert_eq!(budgets.admit("ci", &b, &stored, now, &l).await, Verdict::Open);
    // b again, its URL not yet in the cache: a stale read, never a second order at the CA.
    assert_eq!(budgets.admit("ci", &b, &stored, now, &l).await, Verdict::Stale);
    // Two admitted, neither stored with its URL yet: the third waits (at most 2 at once).
    assert!(matches!(budgets.admit("ci", &c, &stored, now, &l).await, Verdict::Wait { .. }));
    // Another issuer's ledger is its own.
    assert_eq!(budgets.admit("other", &c, &stored, now, &l).await, Verdict::Open);
    // An order of "ci" finishing wakes the one that waited (c), once.
    let mut woken = Box::pin(budgets.woken());
    budgets.finished("ci").await;
    budgets.finished("ci").await;
    let next = futures::StreamExt::next(&mut woken).await.unwrap();
    assert_eq!((next.name.as_str(), next.namespace.as_deref()), ("order-c", Some("ci")));
    let none = futures::FutureExt::now_or_never(futures::StreamExt::next(&mut woken));
    assert!(none.is_none(), "woken twice");
    // a finished: c opens; that is 3 of 3 in the hour.
    let done = order("a", "2026-01-01T03:00:00Z", true, Some(State::Valid));
    let stored = vec![done, b.clone(), c.clone()];
    assert_eq!(budgets.admit("ci", &c, &stored, now, &l).await, Verdict::Open);
    budgets.refund("ci", &c).await;
    assert_eq!(budgets.admit("ci", &c, &stored, now, &l).await, Verdict::Open);
    let d = order("d", "2026-01-01T03:00:00Z", false, None);
    let later = t("2026-01-01T03:10:00Z");
    let stored: Vec<_> =
        stored.into_iter().filter(|o| o.uid() != b.uid()).chain([d.clone()]).collect();
    match budgets.admit("ci", &d, &stored, later, &l).await {
        Verdict::Wait { retry, .. } => assert_eq!(retry.as_secs(), 50 * 60),
        other => panic!("over the budget: {other:?}"),
    }
    budgets.pause("ci", t("2026-01-01T05:00:00Z")).await;
    match budgets.admit("ci", &d, &stored, t("2026-01-01T04:30:00Z"), &l).await {
        Verdict::Wait { why, .. } => assert!(why.contains("rate limit to lift"), "{why}"),
        other => panic!("paused: {other:?}"),
    }
}

#[tokio::test]
async fn a_budget_set_later_counts_the_orders_opened_without_one() {
    let budgets = Budgets::default();
    let now = t("2026-01-01T03:00:00Z");
    let unlimited = Limits { budget: Budget::Unlimited, concurrent: 50 };
    let stored: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|uid| order(uid, "2026-01-01T03:00:00Z", false, None))
        .collect();
    for o in &stored[..3] {
        assert_eq!(budgets.admit("ci", o, &stored, now, &unlimited).await, Verdict::Open);
    }
    // The issuer is annotated 3 per hour half an hour later: the three opened count.
    let later = t("2026-01-01T03:30:00Z");
    match budgets.admit("ci", &stored[3], &stored, later, &limits(3, 3600, 50)).await {
        Verdict::Wait { retry, .. } => assert_eq!(retry.as_secs(), 30 * 60),
        other => panic!("over the budget set later: {other:?}"),
    }
}
