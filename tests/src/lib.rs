//! Helpers for the end-to-end tests in `tests/`: the e2e guest (built for `wasm32-wasip2` once
//! a test process, compiled by wasmtime once), run against a real server with exactly the
//! addresses a test allows.

// Test support: a panic here is how a failing step fails the calling test.
#![allow(clippy::panic)]

use std::sync::OnceLock;
use std::time::Duration;

use grpc_wasi_harness::guest;
use grpc_wasi_harness::runner::{RunOptions, RunOutput, Runner};
use wasmtime::component::Component;

/// A guest run that takes longer than this is a failure (a hang is a bug, never a wait).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

struct Guest {
    runner: Runner,
    component: Component,
}

fn e2e_guest() -> &'static Guest {
    static GUEST: OnceLock<Guest> = OnceLock::new();
    GUEST.get_or_init(|| {
        let build = || -> anyhow::Result<Guest> {
            let wasm = guest::build("e2e-guest")?;
            let runner = Runner::new()?;
            let component = runner.load(&wasm)?;
            Ok(Guest { runner, component })
        };
        build().unwrap_or_else(|e| panic!("preparing the e2e guest: {e:#}"))
    })
}

/// Runs `e2e-guest ARGS...` with TCP access to `allow` only; returns its one-line verdict
/// (`ok: …`, `status: CODE MESSAGE` or `check failed: …`).
///
/// Panics (failing the test) if the guest traps, exits non-zero, or runs past
/// [`RUN_TIMEOUT`].
pub fn run_scenario(args: &[&str], env: &[(&str, &str)], allow: &[String]) -> String {
    let guest = e2e_guest();
    let mut options = RunOptions {
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..RunOptions::default()
    };
    for spec in allow {
        options
            .network
            .allow(spec)
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let output: RunOutput = runtime
        .block_on(async {
            tokio::time::timeout(RUN_TIMEOUT, guest.runner.run(&guest.component, &options)).await
        })
        .unwrap_or_else(|_| panic!("guest {args:?} did not finish within {RUN_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("guest {args:?} failed: {e:#}"));
    assert_eq!(
        output.exit_code, 0,
        "guest {args:?} exited with {}\nstdout:\n{}\nstderr:\n{}",
        output.exit_code, output.stdout, output.stderr
    );
    output.stdout.trim_end().to_owned()
}
