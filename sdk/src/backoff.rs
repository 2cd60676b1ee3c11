//! The exponential backoff of gRPC's "Connection Backoff Protocol"
//! (`doc/connection-backoff.md`): 1 s after the first failure, then 1.6 times longer each time
//! up to 120 s, each wait with ±20 % jitter. Reconnecting uses it, and so does client-side
//! health checking's `Watch` (gRFC A17 backs off as connection attempts do).

use std::time::Duration;

use crate::runtime::random_unit;

/// The backoff after the first failure (`INITIAL_BACKOFF`).
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// How much longer each next backoff is (`MULTIPLIER`).
const MULTIPLIER: f64 = 1.6;
/// The random share of a backoff, either way (`JITTER`).
const JITTER: f64 = 0.2;
/// The longest backoff, before jitter (`MAX_BACKOFF`).
const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// The backoff after one more failure, before jitter: [`INITIAL_BACKOFF`] after the first
/// (`previous` is `None`), else `previous` × [`MULTIPLIER`], at most [`MAX_BACKOFF`].
pub(crate) fn next(previous: Option<Duration>) -> Duration {
    match previous {
        None => INITIAL_BACKOFF,
        Some(previous) => previous.mul_f64(MULTIPLIER).min(MAX_BACKOFF),
    }
}

/// The wait for `backoff`: `backoff` ± [`JITTER`], uniformly at random.
pub(crate) fn jittered(backoff: Duration) -> Duration {
    backoff.mul_f64(1.0 + (random_unit() * 2.0 - 1.0) * JITTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_the_multiplier_up_to_the_maximum() {
        let mut backoff = next(None);
        assert_eq!(backoff, Duration::from_secs(1));
        backoff = next(Some(backoff));
        assert_eq!(backoff, Duration::from_millis(1600));
        for _ in 0..20 {
            backoff = next(Some(backoff));
        }
        assert_eq!(backoff, MAX_BACKOFF);
    }
}
