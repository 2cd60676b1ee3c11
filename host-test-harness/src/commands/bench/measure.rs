//! What the benchmark measures and how: the workloads, running the guest on one and reading
//! its figures, the rows of the report.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::bail;
use grpc_wasi_host::{RunOptions, Runner};

/// The clients compared, in table order.
pub(crate) const CLIENTS: [&str; 3] = ["native tonic", "guest sockets", "guest wasi:http"];

/// One workload: what the guest runs (`bench-guest` arguments) and the figures it yields.
#[derive(Clone)]
pub(crate) struct Workload {
    pub(crate) name: &'static str,
    pub(crate) count: usize,
    pub(crate) size: usize,
    /// (key printed by the guest, figure label).
    pub(crate) figures: &'static [(&'static str, &'static str)],
}

pub(crate) fn workloads(quick: bool) -> Vec<Workload> {
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

/// The `p` quantile (0 to 1) of `samples`, nearest rank; 0 for no samples.
pub(crate) fn percentile(mut samples: Vec<f64>, p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or(0.0)
}

/// Runs `client` (native tonic's side of a workload) to its end as a task on the runner's
/// runtime, as [`Runner::run_blocking`] runs a guest, so both are woken on a worker thread
/// alike. Errors: `client`'s, or the task panicked.
pub(crate) fn run_native<T: Send + 'static>(
    runner: &Runner,
    client: impl Future<Output = anyhow::Result<T>> + Send + 'static,
) -> anyhow::Result<T> {
    runner.runtime().block_on(runner.runtime().spawn(client))?
}

/// The times of calls made one after the other, in µs.
pub(crate) struct Latencies(Vec<f64>);

impl Latencies {
    /// Room for `count` calls.
    pub(crate) fn with_capacity(count: usize) -> Self {
        Latencies(Vec::with_capacity(count))
    }

    /// Awaits `call` and records how long it took. Errors: `call`'s.
    pub(crate) async fn time<T>(
        &mut self,
        call: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let start = Instant::now();
        let out = call.await?;
        self.0.push(start.elapsed().as_secs_f64() * 1e6);
        Ok(out)
    }

    /// The median, in µs (0 with none recorded).
    pub(crate) fn p50(&self) -> f64 {
        percentile(self.0.clone(), 0.5)
    }

    /// `p50_us` and `p99_us`.
    pub(crate) fn figures(self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("p99_us".into(), percentile(self.0.clone(), 0.99)),
            ("p50_us".into(), percentile(self.0, 0.5)),
        ])
    }
}

/// Runs a guest (`bench-guest`, or the shrunk echo-client) with `args`, allowed to reach
/// `server` over sockets and wasi:http; returns the figures it printed and the run's wall
/// time. Errors: the run fails or the guest exits with a code other than 0.
pub(crate) fn guest(
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

impl Row {
    /// The row `label` of the medians of `samples` (per client, in [`CLIENTS`] order, a value
    /// per round; none: no figure for that client).
    pub(crate) fn median(label: &str, samples: [Vec<f64>; 3], lower_is_better: bool) -> Row {
        Row {
            label: label.to_owned(),
            values: samples.map(|v| (!v.is_empty()).then(|| percentile(v, 0.5))),
            lower_is_better,
        }
    }
}

/// The guest's arguments for a cold start: one unary call over `transport`.
pub(crate) fn cold_args(uri: &str, transport: &str) -> Vec<String> {
    [uri, transport, "cold", "1", "1"]
        .map(str::to_owned)
        .to_vec()
}

/// The guest's arguments for `workload` over `transport`.
pub(crate) fn guest_args(uri: &str, transport: &str, workload: &Workload) -> Vec<String> {
    vec![
        uri.to_owned(),
        transport.to_owned(),
        workload.name.to_owned(),
        workload.count.to_string(),
        workload.size.to_string(),
    ]
}

/// A row with a figure of the guest only (a size, memory).
pub(crate) fn guest_only_row(label: &str, value: f64) -> Row {
    Row {
        label: label.to_owned(),
        values: [None, Some(value), None],
        lower_is_better: true,
    }
}

/// The guest/native ratio of `row` for `client` (1 or 2), if both have the figure.
pub(crate) fn ratio(row: &Row, client: usize) -> Option<f64> {
    Some(row.values[client]? / row.values[0]?)
}
