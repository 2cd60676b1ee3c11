//! The WASI 0.3 rows of `bench`: `bench-guest-p3` (`bench-guest`'s workloads in a WASI 0.3
//! command, on grpc-wasi's `wasip3` transport over `wasi:http@0.3.0`) runs every workload, each
//! figure in a row of its own ("… over wasi:http 0.3, …") with the native client's figure
//! beside it, in the wasi:http column, so it reads against the WASI 0.2 wasi:http row above it.

/// The row label of the WASI 0.3 guest's figure for `label` ("unary 1 KiB, p50 µs/call" gives
/// "unary 1 KiB over wasi:http 0.3, p50 µs/call").
pub(crate) fn label(label: &str) -> String {
    match label.split_once(", ") {
        Some((what, unit)) => format!("{what} over wasi:http 0.3, {unit}"),
        None => format!("{label} over wasi:http 0.3"),
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn the_label_says_wasi_http_0_3_before_the_unit() {
        assert_eq!(
            label("unary 1 KiB, p50 µs/call"),
            "unary 1 KiB over wasi:http 0.3, p50 µs/call"
        );
        assert_eq!(label("cold"), "cold over wasi:http 0.3");
    }
}
