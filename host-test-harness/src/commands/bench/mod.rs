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
use std::time::Instant;

use anyhow::Context as _;
use grpc_wasi_host::Runner;

use crate::guest;
use crate::proto::EchoRequest;
use crate::proto::echo_client::EchoClient;
use crate::servers::echo_server;

use measure::{CLIENTS, Row, cold_args, guest, guest_args, guest_only_row, run_native, workloads};

mod chart;
mod floor;
mod measure;
mod native;
mod p3;
mod report;
mod tls;

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
    let p3_component = runner.load(&guest::build_with_features("bench-guest-p3", &["sockets"])?)?;
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
                run_native(&runner, native::run(uri.clone(), workload.clone()))?,
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
            // The same workload on WASI 0.3 (bench-guest-p3), in rows of its own.
            let labels: Vec<(&str, String)> = (workload.figures.iter())
                .map(|(key, label)| (*key, p3::label(label)))
                .collect();
            for (key, label) in &labels {
                record(label, 0, figures[0][*key], key.ends_with("_us"));
            }
            for (client, transport) in [(1, "sockets"), (2, "wasi-http")] {
                let args = guest_args(&uri, transport, workload);
                let (p3_figures, _) = guest(&runner, &p3_component, server.addr(), args)?;
                for (key, label) in &labels {
                    let value = *p3_figures.get(*key).with_context(|| {
                        format!("bench-guest-p3 over {transport} gave no {key}")
                    })?;
                    record(label, client, value, key.ends_with("_us"));
                }
            }
        }
        // Cold start: instantiate (component already compiled) + connect + first call.
        let start = Instant::now();
        let cold_uri = uri.clone();
        run_native(&runner, async move {
            let mut client = EchoClient::connect(cold_uri).await?;
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
            Row::median(&label, samples[&label].clone(), lower_is_better)
        })
        .collect();

    rows.extend(floor::rows(
        &runner,
        &component,
        (&uri, server.addr()),
        quick,
        rounds,
    )?);

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

    rows.extend(tls::rows(quick, rounds)?);
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
    if !quick && tls::clang_installed() {
        let ring = guest::build_with_features("echo-client", &["tls-ring"])?;
        rows.push(guest_only_row(
            "echo-client.wasm with tls-ring, bytes",
            file_sizes(&ring)?.0,
        ));
    }

    report::print_table(&rows);
    report::write(&rows, quick)?;
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
