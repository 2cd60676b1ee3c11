//! The workloads of both bench guests (`bench-guest`, WASI 0.2, and `bench-guest-p3`, WASI 0.3,
//! which includes this file by path): what each does and prints is in `main.rs`'s table.
use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use grpc_wasi::{Channel, Endpoint, Status, Transport};
use std::time::Instant;

pub(crate) mod echo {
    #![allow(missing_docs)]
    grpc_wasi::include_proto!("grpc.examples.echo");
}

use echo::EchoRequest;
use echo::echo_client::EchoClient;

/// The endpoint for `uri` over the transport named `transport`; built with `tls`, an
/// `https://` URI over sockets trusts the CA in the environment variable `TLS_CA` (PEM).
/// Errors: `InvalidArgument` for an unknown transport, a URI that does not parse, or a CA
/// that cannot be used.
pub fn endpoint(uri: &str, transport: &str) -> Result<Endpoint, Status> {
    let transport: Transport = transport.parse()?;
    let endpoint = Channel::from_shared(uri.to_owned())?.transport(transport);
    #[cfg(feature = "tls")]
    if let Ok(ca) = std::env::var("TLS_CA")
        && transport == Transport::Sockets
    {
        let ca = grpc_wasi::Certificate::from_pem(ca);
        return endpoint.tls_config(grpc_wasi::ClientTlsConfig::new().ca_certificate(ca));
    }
    Ok(endpoint)
}

/// Calls in flight at once in the `concurrent` workload.
const CONCURRENCY: usize = 64;

fn request(message: String) -> EchoRequest {
    EchoRequest { message }
}

pub(crate) fn micros(from: Instant) -> f64 {
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
                grpc_wasi::time::sleep(pause).await;
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

/// Connects to `endpoint` and runs `workload`: its figures, one line of `key=value`. Errors:
/// the first failed call's status, or `InvalidArgument` for an unknown workload.
pub(crate) async fn run(
    endpoint: Endpoint,
    workload: &str,
    count: usize,
    size: usize,
) -> Result<String, Status> {
    let channel = endpoint.connect().await?;
    if let Some(fault) = workload.strip_prefix("fault-") {
        return call_fault(channel, fault, size).await;
    }
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
        "deadline" => {
            // The echo server answers "sleep:MS:TAG" after MS ms; the call's deadline is SIZE ms.
            let mut call = grpc_wasi::Request::new(request("sleep:10000:deadline".into()));
            call.set_timeout(Duration::from_millis(size as u64));
            let start = Instant::now();
            let code = match client.unary_echo(call).await {
                Ok(_) => 0,
                Err(status) => status.code().as_i32(),
            };
            let elapsed_ms = micros(start) / 1e3;
            let cancelled = server_saw_cancelled(&mut client, "deadline").await?;
            format!("code={code} elapsed_ms={elapsed_ms:.0} server_cancelled={cancelled}")
        }
        "cancel-stream" => {
            // A client stream that sends `track:cancel-stream` and then waits for ever, under a
            // deadline of SIZE ms; then whether the server saw its request stream aborted.
            let messages = futures::stream::once(async { request("track:cancel-stream".into()) })
                .chain(futures::stream::pending());
            let mut call = grpc_wasi::Request::new(messages);
            call.set_timeout(Duration::from_millis(size as u64));
            let code = match client.client_streaming_echo(call).await {
                Ok(_) => 0,
                Err(status) => status.code().as_i32(),
            };
            let cancelled = server_saw_cancelled(&mut client, "cancel-stream").await?;
            format!("code={code} server_cancelled={cancelled}")
        }
        "status" => {
            // The echo server fails "status:CODE:TEXT" with CODE; COUNT is the code.
            match client
                .unary_echo(request(format!("status:{count}:asked")))
                .await
            {
                Ok(_) => "code=0".to_owned(),
                Err(status) => format!("code={}", status.code().as_i32()),
            }
        }
        other => {
            return Err(Status::invalid_argument(format!(
                "unknown workload {other:?}"
            )));
        }
    })
}

/// The `p` quantile (0 to 1) of `sorted`, nearest rank; 0 for no samples.
/// 1 once the echo server says a call tagged `tag` was cancelled (asked until it does, for up to
/// 5 s: it learns of the cancel on its own time), else 0.
async fn server_saw_cancelled(
    client: &mut EchoClient<grpc_wasi::Channel>,
    tag: &str,
) -> Result<u8, Status> {
    for _ in 0..250 {
        let asked = client
            .unary_echo(request(format!("cancelled?:{tag}")))
            .await?;
        if asked.into_inner().message == "yes" {
            return Ok(1);
        }
        grpc_wasi::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(0)
}

/// One unary call to the harness's fault server's method `fault` (`/fault.Fault/NAME`), with a
/// deadline of `timeout_ms` if not 0: `code=N message=…` (0 and the reply for an answer).
async fn call_fault(
    channel: grpc_wasi::Channel,
    fault: &str,
    timeout_ms: usize,
) -> Result<String, Status> {
    let path = format!("/fault.Fault/{fault}")
        .parse()
        .map_err(|e| Status::invalid_argument(format!("bad fault {fault:?}: {e}")))?;
    let mut call = grpc_wasi::Request::new(request("x".into()));
    if timeout_ms > 0 {
        call.set_timeout(Duration::from_millis(timeout_ms as u64));
    }
    let answer: Result<grpc_wasi::Response<echo::EchoResponse>, Status> =
        grpc_wasi::client::Grpc::new(channel)
            .unary(call, path)
            .await;
    Ok(match answer {
        Ok(reply) => format!("code=0 message={}", reply.into_inner().message),
        Err(status) => format!(
            "code={} message={}",
            status.code().as_i32(),
            status.message()
        ),
    })
}

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
