//! How every watch comes back: after an API server outage or a `410 Gone` it lists again within
//! seconds. kube-runtime's default backoff grows to 30 s per watch, so after a long outage each
//! controller could sit out up to half a minute after the API server answered again.

use kube::runtime::watcher::ExponentialBackoff;
use std::time::Duration;

/// 250 ms doubling to 5 s, jittered so that many watches do not retry in step; reset by the
/// first event that arrives. At most one list per watch every 5 s while the API server is away.
pub fn backoff() -> ExponentialBackoff {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(5))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .into()
}
