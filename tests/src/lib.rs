//! Helpers for the end-to-end tests in `tests/`: the e2e guest (built for `wasm32-wasip2` once
//! a test process, compiled by wasmtime once), run against a real server with exactly the
//! addresses a test allows.

// Test support: a panic here is how a failing step fails the calling test.
#![allow(clippy::panic)]

use std::sync::OnceLock;
use std::time::Duration;

use grpc_wasi_harness::fault_server::FaultServer;
use grpc_wasi_harness::guest;
use grpc_wasi_harness::outgoing_http::HttpVersion;
use grpc_wasi_harness::runner::{NetworkPolicy, RunOptions, Runner};
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

/// Starts a [`FaultServer`] on the test runner's runtime.
pub fn fault_server() -> FaultServer {
    let addr = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
    FaultServer::start(e2e_guest().runner.runtime(), addr).unwrap_or_else(|e| panic!("{e:#}"))
}

/// How the guest reaches the server in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `Transport::Sockets`, with TCP access to the server's address.
    Sockets,
    /// `Transport::WasiHttp`, with `wasi:http` access to the server (HTTP/2 host).
    WasiHttp,
    /// `Transport::GrpcWeb`, with `wasi:http` access to the server (HTTP/1.1 host).
    GrpcWeb,
}

impl Mode {
    /// The guest's `TRANSPORT` value.
    pub fn transport(self) -> &'static str {
        match self {
            Mode::Sockets => "sockets",
            Mode::WasiHttp => "wasi-http",
            Mode::GrpcWeb => "grpc-web",
        }
    }

    /// The permissions that let this mode reach `addr`, and nothing else.
    pub fn grant(self, addr: std::net::SocketAddr) -> NetworkPolicy {
        let mut policy = NetworkPolicy::deny_all();
        let granted = match self {
            Mode::Sockets => policy.allow(&addr.to_string()).map(|_| ()),
            Mode::WasiHttp | Mode::GrpcWeb => policy.allow_http(&addr.to_string()).map(|_| ()),
        };
        granted.unwrap_or_else(|e| panic!("{e:#}"));
        policy
    }

    /// The HTTP version of the host's `wasi:http` in this mode.
    pub fn http_version(self) -> HttpVersion {
        match self {
            Mode::GrpcWeb => HttpVersion::Http1,
            _ => HttpVersion::Http2,
        }
    }
}

/// Runs `e2e-guest ARGS...` in `mode` with exactly `network` granted; returns its one-line
/// verdict (`ok: …`, `status: CODE MESSAGE` or `check failed: …`).
///
/// Panics (failing the test) if the guest traps, exits non-zero, or runs past
/// [`RUN_TIMEOUT`].
pub fn run_scenario(
    mode: Mode,
    args: &[&str],
    env: &[(&str, &str)],
    network: NetworkPolicy,
) -> String {
    let guest = e2e_guest();
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("TRANSPORT".into(), mode.transport().into()));
    let options = RunOptions {
        args: args.iter().map(|a| a.to_string()).collect(),
        env,
        network,
        http_version: mode.http_version(),
        ..RunOptions::default()
    };
    let output = guest
        .runner
        .run_blocking(&guest.component, &options, Some(RUN_TIMEOUT))
        .unwrap_or_else(|e| panic!("guest {args:?}: {e:#}"));
    assert_eq!(
        output.exit_code, 0,
        "guest {args:?} exited with {}\nstdout:\n{}\nstderr:\n{}",
        output.exit_code, output.stdout, output.stderr
    );
    output.stdout.trim_end().to_owned()
}
