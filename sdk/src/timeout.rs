//! The `grpc-timeout` header: PROTOCOL-HTTP2, "Timeout" → `TimeoutValue TimeoutUnit`, where
//! `TimeoutValue` is a positive integer of at most 8 ASCII digits and `TimeoutUnit` is one of
//! `H` (hours), `M` (minutes), `S` (seconds), `m` (milliseconds), `u` (microseconds),
//! `n` (nanoseconds).

use std::time::Duration;

/// The most a `TimeoutValue` may be: 8 digits.
const MAX_VALUE: u128 = 99_999_999;

/// Encodes `timeout` with the finest unit whose value fits in 8 digits, rounding up so the
/// server never sees a shorter deadline than the client's. Timeouts beyond 99,999,999 hours are
/// sent as that.
pub fn encode(timeout: Duration) -> String {
    let nanos = timeout.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (size, unit) in units {
        let value = nanos.div_ceil(size);
        if value <= MAX_VALUE {
            return format!("{value}{unit}");
        }
    }
    format!("{MAX_VALUE}H")
}

/// Parses a `grpc-timeout` value; `None` if it is not 1 to 8 digits and a unit.
pub fn decode(value: &str) -> Option<Duration> {
    let unit = value.chars().last()?;
    let digits = &value[..value.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(n * 3600),
        'M' => Duration::from_secs(n * 60),
        'S' => Duration::from_secs(n),
        'm' => Duration::from_millis(n),
        'u' => Duration::from_micros(n),
        'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finest_unit_that_fits_eight_digits() {
        assert_eq!(encode(Duration::from_nanos(1)), "1n");
        assert_eq!(encode(Duration::from_nanos(99_999_999)), "99999999n");
        assert_eq!(encode(Duration::from_millis(100)), "100000u");
        assert_eq!(encode(Duration::from_millis(1500)), "1500000u");
        assert_eq!(encode(Duration::from_secs(100)), "100000m");
        assert_eq!(encode(Duration::from_secs(100_000)), "100000S");
        assert_eq!(encode(Duration::from_secs(3600 * 100_000)), "6000000M");
        assert_eq!(encode(Duration::MAX), "99999999H");
        assert_eq!(encode(Duration::ZERO), "0n");
    }

    #[test]
    fn rounds_up_never_down() {
        // 100 s + 1 ns needs 11 digits of ns, 8 of µs: 100000001 is 9 digits, so ms, rounded up.
        assert_eq!(encode(Duration::new(100, 1)), "100001m");
    }

    #[test]
    fn decodes_every_unit_and_refuses_bad_values() {
        for d in [1, 999, 1_500_000, 86_400_000_000] {
            let d = Duration::from_micros(d);
            let back = decode(&encode(d)).unwrap();
            assert!(
                back >= d && back - d < Duration::from_millis(1) + d / 1_000_000,
                "{d:?}"
            );
        }
        assert_eq!(decode("2H"), Some(Duration::from_secs(7200)));
        // "1é" and "ü" were found by the `status` fuzz target (a multi-byte last character).
        for bad in ["", "S", "123456789S", "1x", "-1S", "1.5S", "1é", "ü", "é1S"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}
