//! The Order step's rate-limit safety: how many orders one ACME account may open, shared by
//! every Certificate of its issuer. Let's Encrypt allows 300 new orders per account per 3 hours
//! (1,500 on its staging server); a mass renewal of 1,000 Certificates must queue for that
//! budget, not burn it and fail. Other ACME servers (step-ca, Pebble, a corporate CA) have
//! limits of their own or none, so they are held back only when configured: the issuer's
//! `acme.certsmith.io/order-budget` annotation, else `--acme-order-budget` for every server,
//! else Let's Encrypt's limit for Let's Encrypt's servers and none for the rest.
//!
//! The ledger of one issuer starts from the Orders stored in the cluster (so a restarted
//! operator knows what it opened before) and then records every order it opens. The decision
//! itself is pure and takes the clock.

use crate::api::Order;
use crate::api::order::State;
use jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};

/// The issuer annotation (certsmith's own: cert-manager's schema has no field for it) that
/// sets the issuer's order budget: `<orders>/<window>` (`100/1h`), or `unlimited`.
pub const ANN_ORDER_BUDGET: &str = "acme.certsmith.io/order-budget";
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
const THREE_HOURS: Duration = Duration::from_secs(3 * 3600);

/// How many new orders one account may open, and who said so.
#[derive(Clone, Debug, PartialEq)]
pub enum Budget {
    /// No count holds orders back (the CA's own `rateLimited` still pauses them).
    Unlimited,
    /// `orders` per `window`; `from` names the setting, for the waiting orders' message.
    Per { orders: usize, window: Duration, from: &'static str },
    /// The issuer's annotation cannot be read: no order opens until it is fixed, as a typo
    /// must neither spend a CA's limit nor lift one silently. The message says what is wrong.
    Invalid(String),
}

/// The limits of one account.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    pub budget: Budget,
    /// Orders open at the CA at once (created, not yet valid or failed), on every server: it
    /// bounds the operator's and the cluster's work in flight, not a CA's quota.
    pub concurrent: usize,
}

/// The budget of an issuer whose ACME server is `server`: its `annotation` when it has one,
/// else the flag (`--acme-order-budget`, `0` for none, with its window) on every server, else
/// Let's Encrypt's new-orders limit on Let's Encrypt's servers and none elsewhere. Pure.
pub fn budget_for(
    server: &str,
    flag: Option<(usize, Duration)>,
    annotation: Option<&str>,
) -> Budget {
    if let Some(value) = annotation {
        return parse_annotation(value);
    }
    let per = |orders, window, from| match orders {
        0 => Budget::Unlimited,
        orders => Budget::Per { orders, window, from },
    };
    if let Some((orders, window)) = flag {
        return per(orders, window, "--acme-order-budget");
    }
    // Let's Encrypt's "New Orders per Account" (letsencrypt.org/docs/rate-limits and
    // /staging-environment); its servers are named by their directory URLs exactly.
    match server.trim_end_matches('/').to_ascii_lowercase() {
        s if s == LETS_ENCRYPT => per(300, THREE_HOURS, "Let's Encrypt's limit"),
        s if s == LETS_ENCRYPT_STAGING => per(1500, THREE_HOURS, "Let's Encrypt staging's limit"),
        _ => Budget::Unlimited,
    }
}

fn parse_annotation(value: &str) -> Budget {
    let value = value.trim();
    if value == "unlimited" {
        return Budget::Unlimited;
    }
    let parsed = value.split_once('/').and_then(|(orders, window)| {
        let orders = orders.trim().parse::<usize>().ok().filter(|n| *n > 0)?;
        let window = crate::validation::names::parse_duration(window.trim()).ok()?;
        Some((orders, window)).filter(|(_, w)| !w.is_zero())
    });
    match parsed {
        Some((orders, window)) => Budget::Per { orders, window, from: ANN_ORDER_BUDGET },
        None => Budget::Invalid(format!(
            "the issuer's {ANN_ORDER_BUDGET} annotation is {value:?}, not <orders>/<window> \
             (such as 100/1h) nor \"unlimited\": no new order opens until it is fixed"
        )),
    }
}

/// The issuer's [`ANN_ORDER_BUDGET`] of `order`, from the cache.
pub fn issuer_annotation(ctx: &crate::context::Context, order: &Order) -> Option<String> {
    let r = &order.spec.issuer_ref;
    let annotations = match crate::issuer::referenced_kind(r)? {
        "ClusterIssuer" => {
            ctx.cache.cluster_issuers.get(&ObjectRef::new(&r.name))?.annotations().clone()
        }
        _ => {
            let namespace = order.namespace().unwrap_or_default();
            let at = ObjectRef::new(&r.name).within(&namespace);
            ctx.cache.issuers.get(&at)?.annotations().clone()
        }
    };
    annotations.get(ANN_ORDER_BUDGET).cloned()
}

/// Whether an order may be opened now.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Open,
    /// This very order was admitted moments ago and the cache has not caught up: look again
    /// shortly, writing nothing.
    Stale,
    /// Not now: ask again after `retry`; `why` is for the Order's and the Certificate's status.
    Wait {
        retry: Duration,
        why: String,
    },
}

/// Pure: may one more order open at `now`, given when the account opened its recent orders,
/// how many are open at the CA, and until when the CA said to stop (`rateLimited`)?
pub fn admit(
    opened: &VecDeque<Timestamp>,
    open_now: usize,
    paused_until: Option<Timestamp>,
    now: Timestamp,
    limits: &Limits,
) -> Verdict {
    if let Some(until) = paused_until.filter(|u| *u > now) {
        return Verdict::Wait {
            retry: wait(now, until),
            why: format!(
                "waiting for the ACME server's rate limit to lift: no new order before {}",
                until.round(jiff::Unit::Second).unwrap_or(until)
            ),
        };
    }
    if open_now >= limits.concurrent {
        return Verdict::Wait {
            // The order that waited longest is woken when one finishes (Budgets::finished);
            // this is the fallback should that order have gone meanwhile.
            retry: Duration::from_secs(30),
            why: format!(
                "waiting for one of the account's orders to finish: {} are open at the ACME \
                 server, the most certsmith keeps open at once (--acme-max-concurrent-orders)",
                limits.concurrent
            ),
        };
    }
    let (orders, window, from) = match &limits.budget {
        Budget::Unlimited => return Verdict::Open,
        // Looked at again a minute later, when the annotation may have been fixed.
        Budget::Invalid(why) => {
            return Verdict::Wait { retry: Duration::from_secs(60), why: why.clone() };
        }
        Budget::Per { orders, window, from } => (*orders, *window, *from),
    };
    let span = SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX);
    let start = now.checked_sub(span).unwrap_or(Timestamp::MIN);
    let recent: Vec<&Timestamp> = opened.iter().filter(|t| **t > start).collect();
    if recent.len() >= orders {
        // The slot frees when the oldest order in the window leaves it.
        let oldest = recent.iter().min().copied().copied().unwrap_or(now);
        let free_at = oldest.checked_add(span).unwrap_or(Timestamp::MAX);
        return Verdict::Wait {
            retry: wait(now, free_at),
            why: format!(
                "waiting for the account's order budget: it opened {orders} orders in the last \
                 {} ({from}); the next may open at {}",
                humanize(window),
                free_at.round(jiff::Unit::Second).unwrap_or(free_at)
            ),
        };
    }
    Verdict::Open
}

fn wait(now: Timestamp, until: Timestamp) -> Duration {
    let d = until.duration_since(now).unsigned_abs();
    d.max(Duration::from_secs(1))
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (h, 0, 0) if h > 0 => format!("{h}h"),
        (0, m, 0) if m > 0 => format!("{m}m"),
        _ => format!("{s}s"),
    }
}

/// The ledger an Order's budget is kept in: its issuer's (one issuer, one ACME account).
pub fn ledger_key(order: &Order) -> String {
    let r = &order.spec.issuer_ref;
    match crate::issuer::referenced_kind(r) {
        Some("ClusterIssuer") => format!("ClusterIssuer/{}", r.name),
        _ => format!("Issuer/{}/{}", order.namespace().unwrap_or_default(), r.name),
    }
}

/// When each stored Order of an issuer was opened at the CA, as the cluster tells it: a
/// finished order at its creation; an order still open counts as opened now (it may have waited
/// before it was opened, and counting it late never overspends).
pub fn seed(orders: &[Arc<Order>], now: Timestamp) -> VecDeque<Timestamp> {
    let mut opened: Vec<Timestamp> = orders
        .iter()
        .filter(|o| o.status.as_ref().is_some_and(|s| s.url.is_some()))
        .map(|o| match (o.state().is_some_and(State::is_final), o.creation_timestamp()) {
            (true, Some(t)) => t.0,
            _ => now,
        })
        .collect();
    opened.sort();
    opened.into()
}

/// An issuer's ledger: when its orders opened, which are open, which wait, and a CA's
/// rate-limit pause.
#[derive(Default)]
struct Ledger {
    opened: VecDeque<Timestamp>,
    /// Orders admitted by this process and not yet seen finished (by uid), and when.
    open: BTreeMap<String, Timestamp>,
    /// Orders told to wait, the longest-waiting first.
    waiting: VecDeque<ObjectRef<Order>>,
    paused_until: Option<Timestamp>,
}

/// Every issuer's ledger, behind one lock: admitting and recording an order is one step, so
/// concurrent reconciles never both take the last slot.
pub struct Budgets {
    ledgers: Mutex<HashMap<String, Ledger>>,
    wake: mpsc::UnboundedSender<ObjectRef<Order>>,
    woken: std::sync::Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<Order>>>>,
}

impl Default for Budgets {
    fn default() -> Budgets {
        let (wake, woken) = mpsc::unbounded_channel();
        Budgets { ledgers: Mutex::default(), wake, woken: std::sync::Mutex::new(Some(woken)) }
    }
}

impl Budgets {
    /// The waiting orders to reconcile now, one per finished order (for the Order controller;
    /// taken once).
    pub fn woken(&self) -> impl futures::Stream<Item = ObjectRef<Order>> + Send + 'static {
        let rx = self.woken.lock().ok().and_then(|mut w| w.take());
        futures::stream::unfold(rx, |rx| async move {
            let mut rx = rx?;
            let next = rx.recv().await?;
            Some((next, Some(rx)))
        })
    }

    /// An order of the issuer `key` finished: its slot is free, so the order that has waited
    /// longest is reconciled now, not at its next retry. (A finished order reconciled again
    /// wakes one more, which looks and waits again: harmless.)
    pub async fn finished(&self, key: &str) {
        let next = self.ledgers.lock().await.get_mut(key).and_then(|l| l.waiting.pop_front());
        if let Some(next) = next {
            let _ = self.wake.send(next);
        }
    }

    /// Admits `order` (of the issuer `key`) or says how long to wait. `stored` is every Order of
    /// that issuer in the cluster; it seeds the ledger the first time the issuer is seen.
    pub async fn admit(
        &self,
        key: &str,
        order: &Order,
        stored: &[Arc<Order>],
        now: Timestamp,
        limits: &Limits,
    ) -> Verdict {
        let mut ledgers = self.ledgers.lock().await;
        let ledger = ledgers
            .entry(key.to_string())
            .or_insert_with(|| Ledger { opened: seed(stored, now), ..Ledger::default() });
        // Open at the CA: stored with a URL and not finished, or admitted here and not yet
        // stored with its URL.
        let open_in_cluster: BTreeSet<String> = stored
            .iter()
            .filter(|o| o.status.as_ref().is_some_and(|s| s.url.is_some()))
            .filter(|o| !o.state().is_some_and(State::is_final))
            .filter_map(|o| o.uid())
            .collect();
        // Admitted orders that finished, or were deleted, are open no more.
        let unfinished: BTreeSet<String> = stored
            .iter()
            .filter(|o| !o.state().is_some_and(State::is_final))
            .filter_map(|o| o.uid())
            .collect();
        ledger.open.retain(|uid, _| unfinished.contains(uid));
        // Admitted moments ago and not stored with its URL: this is a reconcile that started
        // before its own write reached the cache (something else woke it). Opening again would
        // open a second order at the CA; should that write have failed, a minute later it may.
        let admitted = order.uid().and_then(|uid| ledger.open.get(&uid).copied());
        let url = order.status.as_ref().is_some_and(|s| s.url.is_some());
        if admitted.is_some_and(|at| !url && now.duration_since(at) < SignedDuration::from_mins(1))
        {
            return Verdict::Stale;
        }
        let admitted_here: BTreeSet<String> = ledger.open.keys().cloned().collect();
        let open_now = open_in_cluster.union(&admitted_here).count();
        // Orders older than the window count no more. Without a budget they are kept for
        // Let's Encrypt's 3 h all the same, so a budget set later (an issuer's annotation)
        // counts what was opened just before.
        let window = match &limits.budget {
            Budget::Per { window, .. } => *window,
            _ => THREE_HOURS,
        };
        let window = SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX);
        let start = now.checked_sub(window).unwrap_or(Timestamp::MIN);
        while ledger.opened.front().is_some_and(|t| *t <= start) {
            ledger.opened.pop_front();
        }
        let verdict = admit(&ledger.opened, open_now, ledger.paused_until, now, limits);
        let me = ObjectRef::from_obj(order);
        if verdict == Verdict::Open {
            ledger.opened.push_back(now);
            ledger.open.extend(order.uid().map(|uid| (uid, now)));
            ledger.waiting.retain(|w| *w != me);
        } else if !ledger.waiting.contains(&me) {
            ledger.waiting.push_back(me);
        }
        verdict
    }

    /// The CA refused to open the admitted `order`: nothing was opened, its slot is given back.
    pub async fn refund(&self, key: &str, order: &Order) {
        if let Some(ledger) = self.ledgers.lock().await.get_mut(key) {
            ledger.opened.pop_back();
            if let Some(uid) = order.uid() {
                ledger.open.remove(&uid);
            }
        }
    }

    /// The CA said `rateLimited`: no order of this account opens before `until`.
    pub async fn pause(&self, key: &str, until: Timestamp) {
        let mut ledgers = self.ledgers.lock().await;
        let ledger = ledgers.entry(key.to_string()).or_default();
        ledger.paused_until = ledger.paused_until.max(Some(until));
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
