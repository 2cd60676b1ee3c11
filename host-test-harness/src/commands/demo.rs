//! `grpc-wasi-harness demo [--transport sockets|wasi-http|grpc-web] [--tls]`: builds the
//! echo-client guest, starts the tonic echo server, runs the guest with only the server's
//! address allowed (as a TCP address for `sockets`, as a wasi:http authority otherwise;
//! `grpc-web` on an HTTP/1.1 host), and prints one line per RPC kind.
//!
//! With `--tls` the server speaks TLS with a certificate from a throw-away CA (made with
//! rcgen, written to `target/demo-tls/ca.pem`): over `sockets` the guest (built with its `tls`
//! feature) makes the TLS connection itself and trusts that CA (`--ca-file`, read through
//! wasi:filesystem); over `wasi-http` and `grpc-web` the host's HTTP client trusts it.

use std::time::Instant;

use crate::guest;
use crate::servers::echo_server;
use crate::servers::tls::{ServerTls, TestPki};
use grpc_wasi_host::HttpVersion;
use grpc_wasi_host::{RunOptions, Runner};

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
/// `transport` is the echo-client's `--transport` value.
/// `tls` runs it over TLS (see the module docs).
pub fn run(transport: &str, tls: bool) -> anyhow::Result<bool> {
    let started = Instant::now();
    println!("building examples/echo-client for wasm32-wasip2 ...");
    let features: &[&str] = match (transport, tls) {
        ("sockets", false) => &[],
        ("sockets", true) => &["tls"],
        _ => &["wasi-http"],
    };
    let wasm = guest::build_with_features("echo-client", features)?;
    let addr = "127.0.0.1:0".parse()?;
    let mut args = vec!["--transport".to_owned(), transport.to_owned()];
    let mut options = RunOptions::default();
    let (server, runner) = if tls {
        let pki = TestPki::generate()?;
        let dir = guest::workspace_root().join("target/demo-tls");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("ca.pem"), &pki.ca_pem)?;
        if transport == "sockets" {
            options.dirs.push((dir, "/certs".to_owned()));
            args.extend(["--ca-file".to_owned(), "/certs/ca.pem".to_owned()]);
        }
        let server = echo_server::start_tls(addr, &ServerTls::new(&pki.server))?;
        (server, Runner::trusting(&[pki.ca_pem.into_bytes()])?)
    } else {
        (echo_server::start(addr)?, Runner::new()?)
    };
    println!("tonic echo server listening on {}", server.uri());
    let component = runner.load(&wasm)?;
    args.push(server.uri());
    options.args = args;
    let addr = server.addr().to_string();
    match transport {
        "sockets" => options.network.allow(&addr)?,
        "wasi-http" => options.network.allow_http(&addr)?,
        "grpc-web" => {
            options.http_version = HttpVersion::Http1;
            options.network.allow_http(&addr)?
        }
        other => anyhow::bail!("unknown transport {other:?}: use sockets, wasi-http or grpc-web"),
    };
    println!(
        "running {} over {transport} (allowed: {addr} only)",
        wasm.display()
    );
    let output = runner.run_blocking(&component, &options, None)?;
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
