//! The CA's `Retry-After` (RFC 8555 §6.6, §7.4), remembered per URL: instant-acme reads it but
//! keeps it to itself, so the HTTP client certsmith gives it records it on the way through, and
//! the Order and Challenge controllers requeue no earlier than the CA asked.

use http::header::RETRY_AFTER;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{LazyLock, Mutex};

/// URL → the earliest time the CA wants to be asked again. Entries go when a later answer for
/// the URL carries no Retry-After, or when they are past (pruned on every insert).
static AFTER: LazyLock<Mutex<HashMap<String, Timestamp>>> = LazyLock::new(Default::default);

/// Wraps the HTTP client of an ACME account, recording every response's Retry-After.
pub struct Recording(pub Box<dyn HttpClient>);

impl HttpClient for Recording {
    fn request(
        &self,
        req: http::Request<BodyWrapper<bytes::Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let url = req.uri().to_string();
        let response = self.0.request(req);
        Box::pin(async move {
            let response = response.await?;
            let header = response.parts.headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok());
            record(&url, header.and_then(|h| parse(h, Timestamp::now())), Timestamp::now());
            Ok(response)
        })
    }
}

/// A Retry-After value, as delay-seconds or an HTTP-date, as an instant.
pub fn parse(value: &str, now: Timestamp) -> Option<Timestamp> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<i64>() {
        return now.checked_add(SignedDuration::from_secs(secs.max(0))).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Timestamp::try_from(at).ok()
}

fn record(url: &str, at: Option<Timestamp>, now: Timestamp) {
    let mut after = AFTER.lock().unwrap_or_else(|e| e.into_inner());
    match at {
        Some(at) => {
            after.retain(|_, t| *t > now);
            after.insert(url.to_string(), at);
        }
        None => {
            after.remove(url);
        }
    }
}

/// How long the CA asked certsmith to wait before asking `url` again, from `now`.
pub fn wait(url: &str, now: Timestamp) -> Option<std::time::Duration> {
    let after = AFTER.lock().unwrap_or_else(|e| e.into_inner());
    let at = *after.get(url)?;
    (at > now).then(|| at.duration_since(now).unsigned_abs())
}

/// URL → how often certsmith has polled it while waiting on the CA (pacing only: a restart
/// just starts the backoff over).
static POLLS: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(Default::default);

/// How long to wait before polling `url` again while the CA works: its Retry-After when it gave
/// one, else 50 ms doubling with each poll, to 10 s. A CA like Pebble answers in milliseconds,
/// one like Let's Encrypt in seconds; neither is asked more often than it needs.
pub fn next_poll(url: &str, now: Timestamp) -> std::time::Duration {
    if let Some(wait) = wait(url, now) {
        return wait;
    }
    let mut polls = POLLS.lock().unwrap_or_else(|e| e.into_inner());
    // Entries go with `forget`; a bound keeps a failure path that skips it from growing this.
    if polls.len() > 10_000 {
        polls.clear();
    }
    let n = polls.entry(url.to_string()).or_insert(0);
    let delay = std::time::Duration::from_millis(50).saturating_mul(1 << (*n).min(8));
    *n += 1;
    delay.min(std::time::Duration::from_secs(10))
}

/// The CA finished with `url`: its pacing is forgotten.
pub fn forget(url: &str) {
    POLLS.lock().unwrap_or_else(|e| e.into_inner()).remove(url);
    AFTER.lock().unwrap_or_else(|e| e.into_inner()).remove(url);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_dates_are_read_and_answers_without_it_forget_it() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        assert_eq!(parse("30", now), Some("2026-11-26T12:00:30Z".parse().unwrap()));
        assert_eq!(
            parse("Thu, 26 Nov 2026 12:01:00 GMT", now),
            Some("2026-11-26T12:01:00Z".parse().unwrap())
        );
        assert_eq!(parse("soon", now), None);
        let url = "https://ca.test/order/retry-after-test";
        record(url, parse("10", now), now);
        assert_eq!(wait(url, now), Some(std::time::Duration::from_secs(10)));
        assert_eq!(wait(url, now + SignedDuration::from_secs(11)), None, "past is no wait");
        record(url, None, now);
        assert_eq!(wait(url, now), None);
        let ms = |n| std::time::Duration::from_millis(n);
        let polls: Vec<_> = (0..10).map(|_| next_poll(url, now)).collect();
        assert_eq!(&polls[..4], [ms(50), ms(100), ms(200), ms(400)]);
        assert_eq!(polls[9], ms(10_000), "capped");
        record(url, parse("3", now), now);
        assert_eq!(next_poll(url, now), ms(3000), "the CA's word first");
        forget(url);
        assert_eq!(next_poll(url, now), ms(50));
    }
}
