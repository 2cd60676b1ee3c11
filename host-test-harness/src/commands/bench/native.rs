//! The native tonic client's side of each workload: the same calls the guest makes, timed the
//! same way.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::measure::{Latencies, Workload};
use crate::proto::EchoRequest;
use crate::proto::echo_client::EchoClient;

/// Three copies of `message`, produced `pause` apart (all ready at once when it is zero), as
/// the guest's `client-streaming-calls` and `client-streaming-paced` workloads send them.
fn three(
    message: EchoRequest,
    pause: Duration,
) -> impl futures::Stream<Item = EchoRequest> + Send + 'static {
    use futures::StreamExt as _;
    futures::stream::iter(0..3).then(move |i| {
        let message = message.clone();
        async move {
            if i > 0 && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            message
        }
    })
}

/// The native tonic client running `workload`; the same figures as the guest prints.
pub(crate) async fn run(uri: String, workload: Workload) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut client = EchoClient::connect(uri)
        .await?
        .max_decoding_message_size(64 * 1024 * 1024);
    let payload = "x".repeat(workload.size);
    let count = workload.count;
    let request = |m: String| EchoRequest { message: m };
    let micros = |from: Instant| from.elapsed().as_secs_f64() * 1e6;
    let mut out = BTreeMap::new();
    match workload.name {
        "unary" => {
            let mut latencies = Latencies::with_capacity(count);
            for _ in 0..count {
                let call = async { Ok(client.unary_echo(request(payload.clone())).await?) };
                latencies.time(call).await?;
            }
            out = latencies.figures();
        }
        "client-streaming-calls" | "client-streaming-paced" => {
            let pause = match workload.name {
                "client-streaming-paced" => Duration::from_millis(1),
                _ => Duration::ZERO,
            };
            let mut latencies = Latencies::with_capacity(count);
            for _ in 0..count {
                let call = async {
                    let messages = three(request(payload.clone()), pause);
                    Ok(client.client_streaming_echo(messages).await?)
                };
                latencies.time(call).await?;
            }
            out = latencies.figures();
        }
        "ping-pong" => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let rx = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
            let mut replies = client.bidirectional_streaming_echo(rx).await?.into_inner();
            let mut latencies = Latencies::with_capacity(count);
            for _ in 0..count {
                let round_trip = async {
                    tx.send(request(payload.clone()))?;
                    Ok(replies.message().await?)
                };
                latencies.time(round_trip).await?;
            }
            out = latencies.figures();
        }
        "concurrent" => {
            use futures::StreamExt as _;
            let start = Instant::now();
            // tonic multiplexes on one connection; 64 calls in flight at once, as the guest.
            let results: Vec<_> = futures::stream::iter(0..count)
                .map(|_| {
                    let mut client = client.clone();
                    let message = payload.clone();
                    async move { client.unary_echo(request(message)).await.map(drop) }
                })
                .buffer_unordered(64)
                .collect()
                .await;
            for result in results {
                result?;
            }
            out.insert(
                "calls_per_s".into(),
                count as f64 / start.elapsed().as_secs_f64(),
            );
        }
        "server-streaming" => {
            let start = Instant::now();
            let message = format!("repeat:{count}:{payload}");
            let mut stream = client
                .server_streaming_echo(request(message))
                .await?
                .into_inner();
            let mut bytes = 0;
            while let Some(reply) = stream.message().await? {
                bytes += reply.message.len();
            }
            out.insert("mb_per_s".into(), bytes as f64 / micros(start));
        }
        "client-streaming" => {
            let start = Instant::now();
            let first = format!("sum:{}", &payload[4.min(payload.len())..]);
            let messages = std::iter::once(first).chain(std::iter::repeat_n(payload, count - 1));
            let reply = client
                .client_streaming_echo(tokio_stream::iter(messages.map(request)))
                .await?;
            let bytes: f64 = reply.into_inner().message.parse().unwrap_or(0.0);
            out.insert("mb_per_s".into(), bytes / micros(start));
        }
        other => bail!("no native workload {other}"),
    }
    Ok(out)
}
