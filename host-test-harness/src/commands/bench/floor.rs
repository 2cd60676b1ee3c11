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

use anyhow::{Context as _, bail};
use grpc_wasi_host::Runner;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wasmtime::component::Component;

use super::measure::{Latencies, Row, Workload, guest, guest_args, run_native};
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
    // The native side of the unary floor is native tonic's own unary workload.
    let workload = |name, size| Workload {
        name,
        count,
        size,
        figures: &[],
    };
    let (tcp, http, unary) = (
        workload("floor-tcp-ping-pong", TCP_SIZE),
        workload("floor-http-unary", 1024),
        workload("unary", 1024),
    );
    // The floor workloads pick their own interface: the guest's transport argument is not read.
    let tcp_uri = tcp_server.uri();
    // [tcp, unary][client]: p50 over rounds.
    let mut p50: [[Vec<f64>; 3]; 2] = Default::default();
    for _ in 0..rounds {
        p50[0][0].push(run_native(runner, native_tcp(tcp_addr, count))?);
        let args = guest_args(&tcp_uri, "sockets", &tcp);
        p50[0][1].push(p50_of(guest(runner, component, tcp_addr, args)?.0)?);
        let figures = run_native(runner, native::run(echo_uri.to_owned(), unary.clone()))?;
        p50[1][0].push(p50_of(figures)?);
        let args = guest_args(echo_uri, "wasi-http", &http);
        p50[1][2].push(p50_of(guest(runner, component, echo_addr, args)?.0)?);
    }
    let [tcp, unary] = p50;
    Ok(vec![
        Row::median("floor: TCP round trip 100 B, no SDK, p50 µs", tcp, true),
        Row::median(
            "floor: unary 1 KiB, wstd over wasi:http, no SDK, p50 µs",
            unary,
            true,
        ),
    ])
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
        let round_trip = async {
            tcp.write_all(&message).await?;
            let mut echoed = 0;
            while echoed < TCP_SIZE {
                match tcp.read(&mut buffer).await? {
                    0 => bail!("the TCP echo server closed the connection"),
                    n => echoed += n,
                }
            }
            Ok(())
        };
        latencies.time(round_trip).await?;
    }
    Ok(latencies.p50())
}
