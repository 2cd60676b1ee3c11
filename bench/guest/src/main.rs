//! bench-guest: the guest side of `grpc-wasi-harness bench`.
//!
//! Usage: `bench-guest URI TRANSPORT WORKLOAD COUNT SIZE` (TRANSPORT `sockets` or
//! `wasi-http`). Connects, runs the workload, and prints one line of `key=value` figures,
//! timed on the monotonic clock from after the connection is open:
//!
//! | WORKLOAD | does | prints |
//! |---|---|---|
//! | `unary` | COUNT sequential unary calls of SIZE bytes | `p50_us`, `p99_us` |
//! | `concurrent` | COUNT unary calls of SIZE bytes, 64 in flight at once | `calls_per_s` |
//! | `server-streaming` | one call streaming COUNT messages of SIZE bytes | `mb_per_s` |
//! | `client-streaming` | one call sending COUNT messages of SIZE bytes | `mb_per_s` |
//! | `client-streaming-calls` | COUNT sequential client-streaming calls of 3 messages of SIZE bytes | `p50_us`, `p99_us` |
//! | `client-streaming-paced` | the same, with the messages produced 1 ms apart | `p50_us`, `p99_us` |
//! | `ping-pong` | COUNT bidi round trips of SIZE bytes on one call | `p50_us`, `p99_us` |
//! | `memory` | COUNT sequential unary calls | `memory_bytes_start`, `memory_bytes_end` (linear memory) |
//! | `cold` | one unary call | (nothing: the host times the whole run) |
//! | `deadline` | one unary call the server answers after 10 s, with a deadline of SIZE ms | `code` (the status code's number), `elapsed_ms`, `server_cancelled` (1 once the server saw the call cancelled) |
//! | `cancel-stream` | a client-streaming call that sends one message and then waits, under a deadline of SIZE ms | `code`, `server_cancelled` (1 once the server saw the request stream aborted) |
//! | `status` | one unary call the server fails with code COUNT | `code` |
//! | `floor-tcp-ping-pong` | COUNT round trips of SIZE bytes on a TCP connection to the URI's `host:port`, an echo server (no SDK: `wstd`'s `wasi:sockets` stream; TRANSPORT ignored) | `p50_us`, `p99_us` |
//! | `floor-http-unary` | COUNT unary calls of SIZE bytes to the URI's echo service, each one `wasi:http` POST through `wstd`'s client (no SDK; TRANSPORT ignored) | `p50_us`, `p99_us` |
//! | `fault-NAME` | one unary call to the harness's fault server's `/fault.Fault/NAME`, with a deadline of SIZE ms if not 0 | `code`, then `message=` and the status's message |
//!
//! Built with the `tls` feature, an `https://` URI over sockets trusts the CA in the environment
//! variable `TLS_CA` (PEM).
//!
//! Exits 1 with the status on stderr if a call fails.

use std::process::ExitCode;

mod floor;
mod workloads;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, uri, transport, workload, count, size] = args.as_slice() else {
        eprintln!("usage: bench-guest URI TRANSPORT WORKLOAD COUNT SIZE");
        return ExitCode::from(2);
    };
    let count = count.parse().unwrap_or(1).max(1);
    let size = size.parse().unwrap_or(0);
    let ran = match workload.strip_prefix("floor-") {
        Some(floor) => grpc_wasi::block_on(floor::run(uri, floor, count, size)),
        None => {
            let endpoint = match workloads::endpoint(uri, transport) {
                Ok(endpoint) => endpoint,
                Err(status) => {
                    eprintln!("{status}");
                    return ExitCode::from(2);
                }
            };
            grpc_wasi::block_on(workloads::run(endpoint, workload, count, size))
                .map_err(|status| status.to_string())
        }
    };
    match ran {
        Ok(figures) => {
            println!("{figures}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{workload}: {e}");
            ExitCode::FAILURE
        }
    }
}
