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
//!
//! Built with the `tls` feature, an `https://` URI over sockets trusts the CA in the environment
//! variable `TLS_CA` (PEM).
//!
//! Exits 1 with the status on stderr if a call fails.

use std::process::ExitCode;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use grpc_wasi::{Channel, Status, Transport};
use wstd::time::Instant;

mod latencies;

use latencies::latencies;

mod echo {
    #![allow(missing_docs)]
    grpc_wasi::include_proto!("grpc.examples.echo");
}

use echo::EchoRequest;
use echo::echo_client::EchoClient;

/// Calls in flight at once in the `concurrent` workload.
const CONCURRENCY: usize = 64;

fn request(message: String) -> EchoRequest {
    EchoRequest { message }
}

fn micros(from: Instant) -> f64 {
    Instant::now().duration_since(from).as_micros() as f64
}

/// Times `count` calls of `call`, one after the other: `p50_us=… p99_us=…`. Errors: the first
/// failed call's status.
async fn sequential(
    count: usize,
    mut call: impl AsyncFnMut() -> Result<(), Status>,
) -> Result<String, Status> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        call().await?;
        samples.push(micros(start));
    }
    Ok(latencies(samples))
}

/// Three copies of `message`, produced `pause` apart (all ready at once when it is zero).
fn three(message: EchoRequest, pause: Duration) -> impl futures::Stream<Item = EchoRequest> {
    futures::stream::iter(0..3).then(move |i| {
        let message = message.clone();
        async move {
            if i > 0 && !pause.is_zero() {
                wstd::task::sleep(pause.into()).await;
            }
            message
        }
    })
}

/// Bytes of linear memory (memory 0).
fn memory_bytes() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

async fn run(
    uri: String,
    transport: Transport,
    workload: &str,
    count: usize,
    size: usize,
) -> Result<String, Status> {
    let endpoint = Channel::from_shared(uri)?.transport(transport);
    // Built with `tls`: trust the CA in TLS_CA for an https:// URI over sockets.
    #[cfg(feature = "tls")]
    let endpoint = match std::env::var("TLS_CA") {
        Ok(ca) if transport == Transport::Sockets => endpoint.tls_config(
            grpc_wasi::ClientTlsConfig::new().ca_certificate(grpc_wasi::Certificate::from_pem(ca)),
        )?,
        _ => endpoint,
    };
    let channel = endpoint.connect().await?;
    let mut client = EchoClient::new(channel).max_decoding_message_size(64 * 1024 * 1024);
    let payload = "x".repeat(size);
    Ok(match workload {
        "unary" => {
            sequential(count, async || {
                client.unary_echo(request(payload.clone())).await.map(drop)
            })
            .await?
        }
        "concurrent" => {
            let start = Instant::now();
            let calls = futures::stream::iter(0..count)
                .map(|_| {
                    let mut client = client.clone();
                    let message = payload.clone();
                    async move { client.unary_echo(request(message)).await.map(drop) }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await;
            calls.into_iter().collect::<Result<Vec<()>, _>>()?;
            format!("calls_per_s={:.0}", count as f64 / (micros(start) / 1e6))
        }
        "server-streaming" => {
            let start = Instant::now();
            let mut stream = client
                .server_streaming_echo(request(format!("repeat:{count}:{payload}")))
                .await?
                .into_inner();
            let mut bytes = 0;
            while let Some(reply) = stream.message().await? {
                bytes += reply.message.len();
            }
            format!("mb_per_s={:.1}", bytes as f64 / micros(start))
        }
        "client-streaming" => {
            let start = Instant::now();
            let first = format!("sum:{}", &payload[4.min(payload.len())..]);
            let messages = std::iter::once(first).chain(std::iter::repeat_n(payload, count - 1));
            let reply = client
                .client_streaming_echo(futures::stream::iter(messages.map(request)))
                .await?;
            let bytes: usize = reply.into_inner().message.parse().unwrap_or(0);
            format!("mb_per_s={:.1}", bytes as f64 / micros(start))
        }
        "client-streaming-calls" | "client-streaming-paced" => {
            let pause = match workload {
                "client-streaming-paced" => Duration::from_millis(1),
                _ => Duration::ZERO,
            };
            sequential(count, async || {
                let messages = three(request(payload.clone()), pause);
                client.client_streaming_echo(messages).await.map(drop)
            })
            .await?
        }
        "ping-pong" => {
            let (mut tx, rx) = mpsc::unbounded();
            let mut replies = client.bidirectional_streaming_echo(rx).await?.into_inner();
            sequential(count, async || {
                let _ = tx.send(request(payload.clone())).await;
                replies.message().await.map(drop)
            })
            .await?
        }
        "memory" => {
            client.unary_echo(request(payload.clone())).await?;
            let start = memory_bytes();
            for _ in 1..count {
                client.unary_echo(request(payload.clone())).await?;
            }
            format!(
                "memory_bytes_start={start} memory_bytes_end={}",
                memory_bytes()
            )
        }
        "cold" => {
            client.unary_echo(request(payload)).await?;
            String::new()
        }
        other => {
            return Err(Status::invalid_argument(format!(
                "unknown workload {other:?}"
            )));
        }
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, uri, transport, workload, count, size] = args.as_slice() else {
        eprintln!("usage: bench-guest URI TRANSPORT WORKLOAD COUNT SIZE");
        return ExitCode::from(2);
    };
    let transport = if transport == "wasi-http" {
        Transport::WasiHttp
    } else {
        Transport::Sockets
    };
    let count = count.parse().unwrap_or(1).max(1);
    let size = size.parse().unwrap_or(0);
    match grpc_wasi::block_on(run(uri.clone(), transport, workload, count, size)) {
        Ok(figures) => {
            println!("{figures}");
            ExitCode::SUCCESS
        }
        Err(status) => {
            eprintln!("{workload}: {status}");
            ExitCode::FAILURE
        }
    }
}
