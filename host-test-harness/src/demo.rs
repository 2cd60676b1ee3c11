//! `grpc-wasi-harness demo`: builds the echo-client guest, starts the tonic echo server, runs
//! the guest with only the server's address allowed, and prints one line per RPC kind.

use std::time::Instant;

use crate::echo_server::EchoServer;
use crate::guest;
use crate::runner::{RunOptions, Runner};

/// The RPC kinds the echo-client guest reports, as it names them in its output.
const KINDS: [&str; 4] = [
    "unary",
    "server-streaming",
    "client-streaming",
    "bidirectional-streaming",
];

/// Runs the demo and prints its report on stdout. Returns whether every RPC kind succeeded.
///
/// Errors: the guest cannot be built, the server cannot start, or the guest traps.
pub fn run() -> anyhow::Result<bool> {
    let started = Instant::now();
    println!("building examples/echo-client for wasm32-wasip2 ...");
    let wasm = guest::build("echo-client")?;
    let server = EchoServer::start("127.0.0.1:0".parse()?)?;
    println!("tonic echo server listening on {}", server.uri());
    let runner = Runner::new()?;
    let component = runner.load(&wasm)?;
    let mut options = RunOptions {
        args: vec![server.uri()],
        ..RunOptions::default()
    };
    options.network.allow(&server.addr().to_string())?;
    println!(
        "running {} (allowed: {} only)",
        wasm.display(),
        server.addr()
    );
    let output = runner.run_blocking(&component, &options)?;
    let ok = output.exit_code == 0 && report(&output.stdout, &output.stderr);
    if !output.stderr.is_empty() {
        eprint!("{}", output.stderr);
    }
    println!(
        "{} (guest exit code {}, {:.2} s)",
        if ok { "all RPC kinds OK" } else { "FAILED" },
        output.exit_code,
        started.elapsed().as_secs_f64()
    );
    Ok(ok)
}

/// Prints one line per RPC kind from the guest's output; returns whether all four succeeded.
fn report(stdout: &str, stderr: &str) -> bool {
    let mut all_ok = true;
    for kind in KINDS {
        let prefix = format!("{kind}: ");
        let replies: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect();
        let error = stderr.lines().find_map(|l| l.strip_prefix(&prefix));
        match error {
            None if !replies.is_empty() => {
                println!("  {kind:<24} ok      {}", replies.join(" | "));
            }
            _ => {
                all_ok = false;
                println!("  {kind:<24} FAILED  {}", error.unwrap_or("no reply"));
            }
        }
    }
    all_ok
}
