//! `grpc-wasi-harness bench [--quick]`: the guest against the native tonic client, on the same
//! tonic echo server, in the same run.
//!
//! Clients: native tonic (this process), the `bench-guest` over sockets + HTTP/2, and over
//! wasi:http (this harness's HTTP/2 host). Every workload runs for each client in turn, round
//! after round, so machine noise hits all alike; each figure is the median over the rounds.
//! Prints a table (figure, each client, guest/native ratios) and writes the same as
//! `target/bench/results.json` and a chart of the ratios, `target/bench/ratios.svg`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::echo_server;
use crate::guest;
use crate::proto::EchoRequest;
use crate::proto::echo_client::EchoClient;
use crate::runner::{RunOptions, Runner};

/// The clients compared, in table order.
const CLIENTS: [&str; 3] = ["native tonic", "guest sockets", "guest wasi:http"];

/// One workload: what the guest runs (`bench-guest` arguments) and the figures it yields.
pub(crate) struct Workload {
    pub(crate) name: &'static str,
    pub(crate) count: usize,
    pub(crate) size: usize,
    /// (key printed by the guest, figure label).
    pub(crate) figures: &'static [(&'static str, &'static str)],
}

fn workloads(quick: bool) -> Vec<Workload> {
    let n = |full: usize| if quick { (full / 20).max(10) } else { full };
    vec![
        Workload {
            name: "unary",
            count: n(2000),
            size: 1024,
            figures: &[
                ("p50_us", "unary 1 KiB, p50 µs/call"),
                ("p99_us", "unary 1 KiB, p99 µs/call"),
            ],
        },
        Workload {
            name: "unary",
            count: n(2000),
            size: 64 * 1024,
            figures: &[("p50_us", "unary 64 KiB, p50 µs/call")],
        },
        Workload {
            name: "concurrent",
            count: n(20_000),
            size: 1024,
            figures: &[("calls_per_s", "64 concurrent unary, calls/s")],
        },
        Workload {
            name: "server-streaming",
            count: n(20_000),
            size: 1024,
            figures: &[("mb_per_s", "server streaming 1 KiB, MB/s")],
        },
        Workload {
            name: "server-streaming",
            count: n(2_000),
            size: 64 * 1024,
            figures: &[("mb_per_s", "server streaming 64 KiB, MB/s")],
        },
        Workload {
            name: "client-streaming",
            count: n(20_000),
            size: 1024,
            figures: &[("mb_per_s", "client streaming 1 KiB, MB/s")],
        },
        Workload {
            name: "client-streaming",
            count: n(2_000),
            size: 64 * 1024,
            figures: &[("mb_per_s", "client streaming 64 KiB, MB/s")],
        },
        Workload {
            name: "client-streaming-calls",
            count: n(2000),
            size: 100,
            figures: &[("p50_us", "client streaming, 3 × 100 B, p50 µs/call")],
        },
        Workload {
            name: "client-streaming-paced",
            count: n(200),
            size: 100,
            figures: &[(
                "p50_us",
                "client streaming, 3 × 100 B 1 ms apart, p50 µs/call",
            )],
        },
        Workload {
            name: "ping-pong",
            count: n(2000),
            size: 1024,
            figures: &[("p50_us", "bidi ping-pong, p50 µs/round trip")],
        },
        Workload {
            name: "ping-pong",
            count: n(2000),
            size: 64 * 1024,
            figures: &[("p99_us", "bidi ping-pong 64 KiB, p99 µs/round trip")],
        },
    ]
}

/// Parses `key=value key=value`.
fn parse_figures(line: &str) -> BTreeMap<String, f64> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

pub(crate) fn percentile(mut samples: Vec<f64>, p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or(0.0)
}

/// Times `count` calls of `call`, one after the other: `p50_us` and `p99_us`. Errors: the first
/// failed call's.
pub(crate) async fn sequential(
    count: usize,
    mut call: impl AsyncFnMut() -> anyhow::Result<()>,
) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        call().await?;
        samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    Ok(BTreeMap::from([
        ("p99_us".into(), percentile(samples.clone(), 0.99)),
        ("p50_us".into(), percentile(samples, 0.5)),
    ]))
}

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
async fn native(uri: &str, workload: &Workload) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut client = EchoClient::connect(uri.to_owned())
        .await?
        .max_decoding_message_size(64 * 1024 * 1024);
    let payload = "x".repeat(workload.size);
    let count = workload.count;
    let request = |m: String| EchoRequest { message: m };
    let micros = |from: Instant| from.elapsed().as_secs_f64() * 1e6;
    let mut out = BTreeMap::new();
    match workload.name {
        "unary" => {
            out = sequential(count, async || {
                client.unary_echo(request(payload.clone())).await?;
                Ok(())
            })
            .await?;
        }
        "client-streaming-calls" | "client-streaming-paced" => {
            let pause = match workload.name {
                "client-streaming-paced" => Duration::from_millis(1),
                _ => Duration::ZERO,
            };
            out = sequential(count, async || {
                let messages = three(request(payload.clone()), pause);
                client.client_streaming_echo(messages).await?;
                Ok(())
            })
            .await?;
        }
        "ping-pong" => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let rx = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
            let mut replies = client.bidirectional_streaming_echo(rx).await?.into_inner();
            out = sequential(count, async || {
                tx.send(request(payload.clone()))?;
                replies.message().await?;
                Ok(())
            })
            .await?;
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

/// Runs a guest (`bench-guest`, or the shrunk echo-client) with `args`, allowed to reach
/// `server` over sockets and wasi:http; returns the figures it printed and the run's wall
/// time. Errors: the run fails or the guest exits with a code other than 0.
fn guest(
    runner: &Runner,
    component: &wasmtime::component::Component,
    server: SocketAddr,
    args: Vec<String>,
) -> anyhow::Result<(BTreeMap<String, f64>, Duration)> {
    guest_with_env(runner, component, server, args, vec![])
}

/// [`guest`], with the environment variables `env`.
pub(crate) fn guest_with_env(
    runner: &Runner,
    component: &wasmtime::component::Component,
    server: SocketAddr,
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> anyhow::Result<(BTreeMap<String, f64>, Duration)> {
    let mut options = RunOptions {
        args,
        env,
        ..RunOptions::default()
    };
    options.network.allow(&server.to_string())?;
    options.network.allow_http(&server.to_string())?;
    let start = Instant::now();
    let output = runner.run_blocking(component, &options, Some(Duration::from_secs(600)))?;
    let elapsed = start.elapsed();
    if output.exit_code != 0 {
        bail!(
            "guest {:?} failed (exit code {}):\n{}{}",
            options.args,
            output.exit_code,
            output.stdout,
            output.stderr
        );
    }
    Ok((parse_figures(&output.stdout), elapsed))
}

/// One row of the report.
pub(crate) struct Row {
    pub(crate) label: String,
    /// Median per client, in [`CLIENTS`] order; `None` where a client has no such figure.
    pub(crate) values: [Option<f64>; 3],
    pub(crate) lower_is_better: bool,
}

/// Runs the benchmark and prints/writes its report. Errors: a guest or native run fails, or
/// the report cannot be written.
pub fn run(quick: bool) -> anyhow::Result<()> {
    let rounds = if quick { 1 } else { 3 };
    println!("building guests (profile guest) ...");
    let bench_wasm = guest::build("bench-guest")?;
    let echo_wasm = guest::build("echo-client")?;
    let server = echo_server::start("127.0.0.1:0".parse()?)?;
    let uri = server.uri();
    let runner = Runner::new()?;
    let component = runner.load(&bench_wasm)?;
    let workloads = workloads(quick);

    // samples[label][client] = values over rounds
    let mut samples: BTreeMap<String, [Vec<f64>; 3]> = BTreeMap::new();
    let mut order: Vec<(String, bool)> = Vec::new();
    let mut record = |label: &str, client: usize, value: f64, lower_is_better: bool| {
        if !order.iter().any(|(l, _)| l == label) {
            order.push((label.to_owned(), lower_is_better));
        }
        samples.entry(label.to_owned()).or_default()[client].push(value);
    };
    for round in 1..=rounds {
        println!("round {round}/{rounds} ...");
        for workload in &workloads {
            let figures = [
                runner.runtime().block_on(native(&uri, workload))?,
                guest(
                    &runner,
                    &component,
                    server.addr(),
                    guest_args(&uri, "sockets", workload),
                )?
                .0,
                guest(
                    &runner,
                    &component,
                    server.addr(),
                    guest_args(&uri, "wasi-http", workload),
                )?
                .0,
            ];
            for (client, figures) in figures.iter().enumerate() {
                for (key, label) in workload.figures {
                    let value = *figures
                        .get(*key)
                        .with_context(|| format!("{} gave no {key}", CLIENTS[client]))?;
                    record(label, client, value, key.ends_with("_us"));
                }
            }
        }
        // Cold start: instantiate (component already compiled) + connect + first call.
        let start = Instant::now();
        runner.runtime().block_on(async {
            let mut client = EchoClient::connect(uri.clone()).await?;
            client
                .unary_echo(EchoRequest {
                    message: "x".into(),
                })
                .await?;
            anyhow::Ok(())
        })?;
        record(
            "cold start, ms",
            0,
            start.elapsed().as_secs_f64() * 1e3,
            true,
        );
        for (client, transport) in [(1, "sockets"), (2, "wasi-http")] {
            let args = cold_args(&uri, transport);
            let (_, elapsed) = guest(&runner, &component, server.addr(), args)?;
            record("cold start, ms", client, elapsed.as_secs_f64() * 1e3, true);
        }
    }
    let mut rows: Vec<Row> = order
        .into_iter()
        .map(|(label, lower_is_better)| {
            let values = samples[&label]
                .clone()
                .map(|v| (!v.is_empty()).then(|| percentile(v, 0.5)));
            Row {
                label,
                values,
                lower_is_better,
            }
        })
        .collect();

    // Size, and memory after many calls (guest only).
    let (size, gzipped) = file_sizes(&echo_wasm)?;
    rows.push(guest_only_row("echo-client.wasm, bytes", size));
    rows.push(guest_only_row("echo-client.wasm gzipped, bytes", gzipped));
    match shrunk_echo_client(&runner, &uri, server.addr())? {
        Some((size, gzipped)) => {
            rows.push(guest_only_row(
                "echo-client.wasm, wasm-opt -Oz, bytes",
                size,
            ));
            rows.push(guest_only_row(
                "echo-client.wasm, wasm-opt -Oz, gzipped, bytes",
                gzipped,
            ));
        }
        None => println!("wasm-opt not found: no row for the shrunk echo-client"),
    }
    let calls = if quick { 2_000 } else { 100_000 };
    let args = vec![
        uri.clone(),
        "sockets".into(),
        "memory".into(),
        calls.to_string(),
        "1024".into(),
    ];
    let (memory, _) = guest(&runner, &component, server.addr(), args)?;
    let start = memory.get("memory_bytes_start").copied().unwrap_or(0.0);
    let end = memory.get("memory_bytes_end").copied().unwrap_or(0.0);
    rows.push(guest_only_row("linear memory after 1 call, bytes", start));
    rows.push(guest_only_row(
        &format!("linear memory after {calls} calls, bytes"),
        end,
    ));

    rows.extend(crate::bench_tls::rows(quick, rounds)?);
    let (size, gzipped) = file_sizes(&guest::build_with_features("echo-client", &["tls"])?)?;
    rows.push(guest_only_row("echo-client.wasm with tls, bytes", size));
    rows.push(guest_only_row(
        "echo-client.wasm with tls, gzipped, bytes",
        gzipped,
    ));
    // A quick run (CI's) leaves out the guests built only for their size.
    if !quick {
        let no_roots = guest::build_with_features("echo-client", &["tls-no-roots"])?;
        rows.push(guest_only_row(
            "echo-client.wasm with tls-no-roots, bytes",
            file_sizes(&no_roots)?.0,
        ));
    }
    if !quick && crate::bench_tls::clang_installed() {
        let ring = guest::build_with_features("echo-client", &["tls-ring"])?;
        rows.push(guest_only_row(
            "echo-client.wasm with tls-ring, bytes",
            file_sizes(&ring)?.0,
        ));
    }

    print_table(&rows);
    write_reports(&rows, quick)?;
    Ok(())
}

/// The size of the file at `path` in bytes, and gzipped (best compression).
fn file_sizes(path: &Path) -> anyhow::Result<(f64, f64)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)?;
    Ok((bytes.len() as f64, gz.finish()?.len() as f64))
}

/// Builds echo-client shrunk by `wasm-opt -Oz` ([`guest::build_shrunk`]), checks that it
/// still makes its four calls against the server (echo-client exits 1 if one fails), and
/// returns its size and gzipped size in bytes; `None` without `wasm-opt`. Errors: the build
/// fails, or the shrunk guest fails a call.
fn shrunk_echo_client(
    runner: &Runner,
    uri: &str,
    server: SocketAddr,
) -> anyhow::Result<Option<(f64, f64)>> {
    let Some(path) = guest::build_shrunk("echo-client")? else {
        return Ok(None);
    };
    guest(runner, &runner.load(&path)?, server, vec![uri.to_owned()])?;
    file_sizes(&path).map(Some)
}

/// The guest's arguments for a cold start: one unary call over `transport`.
pub(crate) fn cold_args(uri: &str, transport: &str) -> Vec<String> {
    [uri, transport, "cold", "1", "1"]
        .map(str::to_owned)
        .to_vec()
}

pub(crate) fn guest_args(uri: &str, transport: &str, workload: &Workload) -> Vec<String> {
    vec![
        uri.to_owned(),
        transport.to_owned(),
        workload.name.to_owned(),
        workload.count.to_string(),
        workload.size.to_string(),
    ]
}

fn guest_only_row(label: &str, value: f64) -> Row {
    Row {
        label: label.to_owned(),
        values: [None, Some(value), None],
        lower_is_better: true,
    }
}

fn ratio(row: &Row, client: usize) -> Option<f64> {
    Some(row.values[client]? / row.values[0]?)
}

fn print_table(rows: &[Row]) {
    let cell = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    // Padding counts chars, so `µ` and `×` take one column each.
    let width = rows
        .iter()
        .map(|row| row.label.chars().count())
        .max()
        .unwrap_or(0);
    println!();
    println!(
        "| {:<width$} | {:>14} | {:>14} | {:>15} | {:>13} | {:>15} |",
        "figure", CLIENTS[0], CLIENTS[1], CLIENTS[2], "sockets/native", "wasi:http/native"
    );
    println!(
        "|{:-<rule$}|{:-<16}|{:-<16}|{:-<17}|{:-<15}|{:-<17}|",
        "",
        "",
        "",
        "",
        "",
        "",
        rule = width + 2
    );
    for row in rows {
        println!(
            "| {:<width$} | {:>14} | {:>14} | {:>15} | {:>14} | {:>16} |",
            row.label,
            cell(row.values[0]),
            cell(row.values[1]),
            cell(row.values[2]),
            ratio(row, 1).map_or("-".into(), |r| format!("{r:.2}×")),
            ratio(row, 2).map_or("-".into(), |r| format!("{r:.2}×")),
        );
    }
    println!("(µs and ms: lower is better; calls/s and MB/s: higher is better)");
}

fn write_reports(rows: &[Row], quick: bool) -> anyhow::Result<()> {
    let dir = guest::workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let json: Vec<_> = rows
        .iter()
        .map(|row| {
            serde_json::json!({
                "figure": row.label,
                "native": row.values[0],
                "guest_sockets": row.values[1],
                "guest_wasi_http": row.values[2],
                "ratio_sockets": ratio(row, 1),
                "ratio_wasi_http": ratio(row, 2),
                "lower_is_better": row.lower_is_better,
            })
        })
        .collect();
    let report = serde_json::json!({ "quick": quick, "figures": json });
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    chart(rows, &dir.join("ratios.svg"))?;
    println!("wrote {}", dir.join("results.json").display());
    println!("wrote {}", dir.join("ratios.svg").display());
    Ok(())
}

/// A bar chart of the guest/native ratios (1.0 = as fast as native).
fn chart(rows: &[Row], path: &std::path::Path) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let bars: Vec<(&str, f64, f64)> = rows
        .iter()
        .filter_map(|row| Some((row.label.as_str(), ratio(row, 1)?, ratio(row, 2)?)))
        .collect();
    // A log scale, bars drawn from 1.0: 2× and 0.5× look as far from native, and one row far
    // off (a 40 ms Nagle wait is 10×) does not flatten the others.
    let ratios = || bars.iter().flat_map(|(_, a, b)| [*a, *b]);
    let top = ratios().fold(2.0_f64, f64::max) * 1.1;
    let bottom = ratios().fold(0.5_f64, f64::min) / 1.1;
    let root = SVGBackend::new(path, (1000, 140 + 40 * bars.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "grpc-wasi guest / native tonic (1.0 = native, log scale)",
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(300)
        .build_cartesian_2d((bottom..top).log_scale(), 0.0..bars.len() as f64)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len())
        .y_label_formatter(&|y| {
            let i = y.floor() as usize;
            bars.get(i).map_or(String::new(), |b| b.0.to_owned())
        })
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for (i, (_, sockets, http)) in bars.iter().enumerate() {
        let y = i as f64;
        chart
            .draw_series([
                Rectangle::new([(1.0, y + 0.1), (*sockets, y + 0.45)], BLUE.filled()),
                Rectangle::new([(1.0, y + 0.55), (*http, y + 0.9)], RED.filled()),
            ])
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    chart
        .draw_series(LineSeries::new(
            [(1.0, 0.0), (1.0, bars.len() as f64)],
            &BLACK,
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
