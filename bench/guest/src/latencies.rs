//! The latency line both bench guests print (`bench-guest` and `bench-guest-p3`, which
//! includes this file by path).

/// The `p` quantile (0 to 1) of `sorted`, nearest rank; 0 for no samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0.0)
}

/// `p50_us=… p99_us=…` of `samples` (µs).
pub(crate) fn latencies(mut samples: Vec<f64>) -> String {
    samples.sort_by(f64::total_cmp);
    format!(
        "p50_us={:.1} p99_us={:.1}",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99)
    )
}
