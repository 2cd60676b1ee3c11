//! WASI 0.3 in the harness: `bench-guest-p3`, a WASI 0.3 command (`wasi:cli/run@0.3.0`) making
//! gRPC calls over `wasi:http@0.3.0`, runs against the tonic echo server through the harness's
//! HTTP/2 `wasi:http`, under the same network policy as WASI 0.2 guests.

#![allow(clippy::unwrap_used, clippy::panic)]

use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_host::{NetworkPolicy, RunOptions, RunOutput};

fn run_p3(args: &[String], network: NetworkPolicy) -> RunOutput {
    let options = RunOptions {
        args: args.to_vec(),
        network,
        ..RunOptions::default()
    };
    grpc_wasi_e2e::run_guest_options("bench-guest-p3", &options)
}

fn args(uri: &str, workload: &str, count: usize, size: usize) -> Vec<String> {
    vec![
        uri.to_owned(),
        workload.to_owned(),
        count.to_string(),
        size.to_string(),
    ]
}

/// The figure `key` the guest printed.
fn figure(stdout: &str, key: &str) -> f64 {
    stdout
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {stdout:?}"))
}

#[test]
fn a_wasi_0_3_guest_makes_unary_concurrent_and_bidi_calls_over_wasi_http_0_3() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let uri = server.uri();
    let mut network = NetworkPolicy::deny_all();
    network.allow_http(&server.addr().to_string()).unwrap();
    for (workload, count, size, key) in [
        ("unary", 20, 1024, "p50_us"),
        ("unary", 3, 200 * 1024, "p50_us"),
        ("concurrent", 200, 1024, "calls_per_s"),
        ("ping-pong", 50, 1024, "p50_us"),
        ("ping-pong", 5, 100 * 1024, "p50_us"),
    ] {
        let out = run_p3(&args(&uri, workload, count, size), network.clone());
        assert_eq!(out.exit_code, 0, "{workload} {size}: {}", out.stderr);
        assert!(figure(&out.stdout, key) > 0.0, "{workload}: {}", out.stdout);
    }
}

#[test]
fn a_wasi_0_3_request_to_an_authority_not_granted_is_refused() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    // Granted over sockets only, and another port over wasi:http.
    let mut network = NetworkPolicy::deny_all();
    network.allow(&server.addr().to_string()).unwrap();
    network.allow_http("127.0.0.1:1").unwrap();
    for uri in [
        server.uri(),
        format!("http://localhost:{}", server.addr().port()),
    ] {
        let out = run_p3(&args(&uri, "unary", 1, 10), network.clone());
        assert_eq!(out.exit_code, 1, "{uri}: {}", out.stdout);
        assert!(
            out.stderr.contains("HttpRequestDenied"),
            "{uri}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_wasi_0_3_call_to_a_server_that_is_not_there_fails_with_unavailable() {
    let (listener, addr) = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        (l, a)
    };
    drop(listener);
    let mut network = NetworkPolicy::deny_all();
    network.allow_http(&addr.to_string()).unwrap();
    let out = run_p3(&args(&format!("http://{addr}"), "unary", 1, 10), network);
    assert_eq!(out.exit_code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("Unavailable"), "{}", out.stderr);
}
