//! The WASI 0.3 rows of `bench`: `bench-guest-p3` (`bench-guest`'s workloads in a WASI 0.3
//! command, built with its `sockets` feature) runs every workload on grpc-wasi's WASI 0.3
//! transports, `Transport::Sockets` over `wasi:sockets@0.3.0` in the sockets column and
//! `Transport::WasiHttp` over `wasi:http@0.3.0` in the wasi:http column, each figure in a row of
//! its own ("… over WASI 0.3, …") with the native client's figure beside it, so it reads against
//! the WASI 0.2 row above it.

/// The row label of the WASI 0.3 guest's figure for `label` ("unary 1 KiB, p50 µs/call" gives
/// "unary 1 KiB over WASI 0.3, p50 µs/call").
pub(crate) fn label(label: &str) -> String {
    match label.split_once(", ") {
        Some((what, unit)) => format!("{what} over WASI 0.3, {unit}"),
        None => format!("{label} over WASI 0.3"),
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn the_label_says_wasi_0_3_before_the_unit() {
        assert_eq!(
            label("unary 1 KiB, p50 µs/call"),
            "unary 1 KiB over WASI 0.3, p50 µs/call"
        );
        assert_eq!(label("cold"), "cold over WASI 0.3");
    }
}
