//! The floor rows of `bench`: what the host's interfaces cost a guest with no SDK in between,
//! against the same done natively, so the table shows how much of a guest's time is the SDK's.
//!
//! - A raw TCP round trip of 100 B (no HTTP/2, no gRPC) against a TCP echo server: native
//!   tokio against the bench guest's `floor-tcp-ping-pong` (`wstd`'s `wasi:sockets` stream),
//!   in the sockets column.
//! - A unary 1 KiB echo call: native tonic against the bench guest's `floor-http-unary` (one
//!   `wasi:http` POST through `wstd`'s client, the gRPC message framed by hand), in the
//!   wasi:http column.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Context as _, bail};
use grpc_wasi_host::Runner;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wasmtime::component::Component;

use super::measure::{Latencies, Row, Workload, guest, percentile, run_native};
use super::native;
use crate::servers::tcp_echo;

/// Bytes a raw TCP round trip carries each way.
const TCP_SIZE: usize = 100;

/// The floor rows, each figure the median of `rounds` rounds against the bench's gRPC echo
/// server (`echo_uri`, at `echo_addr`) and a TCP echo server of its own; `component` is the
/// bench guest. Errors: a server cannot start, or a run fails.
pub(crate) fn rows(
    runner: &Runner,
    component: &Component,
    (echo_uri, echo_addr): (&str, SocketAddr),
    quick: bool,
    rounds: usize,
) -> anyhow::Result<Vec<Row>> {
    let tcp_server = tcp_echo::start("127.0.0.1:0".parse()?)?;
    let tcp_addr = tcp_server.addr();
    let count = if quick { 100 } else { 2000 };
    let unary = Workload {
        name: "unary",
        count,
        size: 1024,
        figures: &[],
    };
    // [tcp, unary][client]: p50 over rounds.
    let mut p50: [[Vec<f64>; 3]; 2] = Default::default();
    for _ in 0..rounds {
        p50[0][0].push(run_native(runner, native_tcp(tcp_addr, count))?);
        let args = floor_args(&tcp_server.uri(), "floor-tcp-ping-pong", count, TCP_SIZE);
        p50[0][1].push(p50_of(guest(runner, component, tcp_addr, args)?.0)?);
        let figures = run_native(runner, native::run(echo_uri.to_owned(), unary.clone()))?;
        p50[1][0].push(p50_of(figures)?);
        let args = floor_args(echo_uri, "floor-http-unary", count, unary.size);
        p50[1][2].push(p50_of(guest(runner, component, echo_addr, args)?.0)?);
    }
    let row = |label: &str, values: [Vec<f64>; 3]| Row {
        label: label.to_owned(),
        values: values.map(|v| (!v.is_empty()).then(|| percentile(v, 0.5))),
        lower_is_better: true,
    };
    let [tcp, unary] = p50;
    Ok(vec![
        row("floor: TCP round trip 100 B, no SDK, p50 µs", tcp),
        row(
            "floor: unary 1 KiB, wstd over wasi:http, no SDK, p50 µs",
            unary,
        ),
    ])
}

/// The bench guest's arguments for the floor workload `workload` against `uri`.
fn floor_args(uri: &str, workload: &str, count: usize, size: usize) -> Vec<String> {
    // The floor workloads pick their own interface: the transport argument is not read.
    vec![
        uri.to_owned(),
        "sockets".to_owned(),
        workload.to_owned(),
        count.to_string(),
        size.to_string(),
    ]
}

/// The `p50_us` of a run's figures. Errors: it has none.
fn p50_of(figures: std::collections::BTreeMap<String, f64>) -> anyhow::Result<f64> {
    figures.get("p50_us").copied().context("no p50_us")
}

/// `count` native round trips of [`TCP_SIZE`] bytes to the TCP echo server at `addr`, with
/// Nagle's algorithm on as in the guest's socket: the p50 in µs. Errors: the connection fails
/// or closes.
async fn native_tcp(addr: SocketAddr, count: usize) -> anyhow::Result<f64> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    let message = [b'x'; TCP_SIZE];
    let mut buffer = vec![0; 64 * 1024];
    let mut latencies = Latencies::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        tcp.write_all(&message).await?;
        let mut echoed = 0;
        while echoed < TCP_SIZE {
            match tcp.read(&mut buffer).await? {
                0 => bail!("the TCP echo server closed the connection"),
                n => echoed += n,
            }
        }
        latencies.record(start);
    }
    p50_of(latencies.figures())
}
