//! WASI 0.3: `bench-guest-p3`, a WASI 0.3 command (`wasi:cli/run@0.3.0`) on grpc-wasi's
//! `wasip3` runtime (calls inside `grpc_wasi::wasip3::run`), makes its calls over
//! `wasi:http@0.3.0` against the tonic echo server, through the harness's `wasi:http` and
//! under the same network policy as WASI 0.2 guests.

#![allow(clippy::unwrap_used, clippy::panic)]

use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_host::{HttpVersion, NetworkPolicy, RunOptions, RunOutput};

fn run_p3(args: &[String], network: NetworkPolicy, http_version: HttpVersion) -> RunOutput {
    let options = RunOptions {
        args: args.to_vec(),
        network,
        http_version,
        ..RunOptions::default()
    };
    grpc_wasi_e2e::run_guest_options("bench-guest-p3", &options)
}

fn args(uri: &str, transport: &str, workload: &str, count: usize, size: usize) -> Vec<String> {
    vec![
        uri.to_owned(),
        transport.to_owned(),
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

/// A policy granting `wasi:http` requests to `server` only.
fn http_grant(server: &grpc_wasi_harness::servers::test_server::TestServer) -> NetworkPolicy {
    let mut network = NetworkPolicy::deny_all();
    network.allow_http(&server.addr().to_string()).unwrap();
    network
}

#[test]
fn the_four_call_shapes_run_over_wasi_http_0_3() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let uri = server.uri();
    for (workload, count, size, key) in [
        ("unary", 20, 1024, "p50_us"),
        ("unary", 3, 200 * 1024, "p50_us"),
        ("concurrent", 200, 1024, "calls_per_s"),
        ("server-streaming", 500, 1024, "mb_per_s"),
        ("client-streaming", 500, 1024, "mb_per_s"),
        ("client-streaming-calls", 10, 100, "p50_us"),
        // Messages produced 1 ms apart: the SDK's timers on wasi:clocks@0.3.0.
        ("client-streaming-paced", 5, 100, "p50_us"),
        ("ping-pong", 50, 1024, "p50_us"),
        ("ping-pong", 5, 100 * 1024, "p50_us"),
    ] {
        let out = run_p3(
            &args(&uri, "wasi-http", workload, count, size),
            http_grant(&server),
            HttpVersion::Http2,
        );
        assert_eq!(out.exit_code, 0, "{workload} {size}: {}", out.stderr);
        assert!(figure(&out.stdout, key) > 0.0, "{workload}: {}", out.stdout);
    }
}

#[test]
fn grpc_web_runs_over_wasi_http_0_3_on_http_1_1() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    for (workload, count) in [("unary", 20), ("server-streaming", 100)] {
        let out = run_p3(
            &args(&server.uri(), "grpc-web", workload, count, 1024),
            http_grant(&server),
            HttpVersion::Http1,
        );
        assert_eq!(out.exit_code, 0, "{workload}: {}", out.stderr);
    }
}

#[test]
fn a_deadline_cancels_a_wasi_0_3_call_and_the_servers_status_comes_through() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let uri = server.uri();
    // The server answers after 10 s; the deadline is 200 ms.
    let out = run_p3(
        &args(&uri, "wasi-http", "deadline", 1, 200),
        http_grant(&server),
        HttpVersion::Http2,
    );
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    assert_eq!(figure(&out.stdout, "code"), 4.0, "DEADLINE_EXCEEDED");
    let elapsed = figure(&out.stdout, "elapsed_ms");
    assert!((190.0..5000.0).contains(&elapsed), "{elapsed} ms");
    assert_eq!(
        figure(&out.stdout, "server_cancelled"),
        1.0,
        "the server saw the call cancelled"
    );
    // A request stream still open when its deadline passes ends the call with
    // DEADLINE_EXCEEDED. (Whether the server sees the stream aborted or ended is wasmtime 48's
    // to decide: its WASI 0.3 request body ends cleanly when its side of the trailers future
    // is gone, whatever the guest wrote there, which happens in runs on a loaded machine.)
    let out = run_p3(
        &args(&uri, "wasi-http", "cancel-stream", 1, 200),
        http_grant(&server),
        HttpVersion::Http2,
    );
    assert_eq!(figure(&out.stdout, "code"), 4.0, "{}", out.stderr);
    for code in [5, 9, 14] {
        let out = run_p3(
            &args(&uri, "wasi-http", "status", code, 0),
            http_grant(&server),
            HttpVersion::Http2,
        );
        assert_eq!(figure(&out.stdout, "code"), code as f64, "{}", out.stderr);
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
        let out = run_p3(
            &args(&uri, "wasi-http", "unary", 1, 10),
            network.clone(),
            HttpVersion::Http2,
        );
        assert_eq!(out.exit_code, 1, "{uri}: {}", out.stdout);
        assert!(
            out.stderr.contains("PermissionDenied") && out.stderr.contains("HTTP-request-denied"),
            "{uri}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_wasi_0_3_call_to_a_server_that_is_not_there_fails_with_unavailable() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut network = NetworkPolicy::deny_all();
    network.allow_http(&addr.to_string()).unwrap();
    let out = run_p3(
        &args(&format!("http://{addr}"), "wasi-http", "unary", 1, 10),
        network,
        HttpVersion::Http2,
    );
    assert_eq!(out.exit_code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("Unavailable"), "{}", out.stderr);
}

/// The WASI 0.3 guest's verdict on the fault server's fault `name` (deadline `timeout_ms`, 0
/// for none): the status code and message.
fn p3_fault(
    server: &grpc_wasi_harness::servers::test_server::TestServer,
    name: &str,
    timeout_ms: usize,
) -> (i32, String) {
    let out = run_p3(
        &args(
            &server.uri(),
            "wasi-http",
            &format!("fault-{name}"),
            1,
            timeout_ms,
        ),
        http_grant(server),
        HttpVersion::Http2,
    );
    assert_eq!(out.exit_code, 0, "{name}: {}", out.stderr);
    let message = out
        .stdout
        .split_once("message=")
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_default();
    (figure(&out.stdout, "code") as i32, message)
}

#[test]
fn every_way_the_fault_server_breaks_a_wasi_0_3_call_gives_its_code() {
    let server = grpc_wasi_e2e::fault_server();
    // (fault, deadline ms, code): as over WASI 0.2's wasi:http (faults.rs).
    for (name, timeout_ms, code) in [
        ("ok", 0, 0),
        ("silent", 300, 4),
        ("reset-7", 0, 14),
        ("reset-8", 0, 1),
        ("reset-after-message-11", 0, 8),
        ("goaway", 0, 14),
        ("truncated", 0, 13),
        ("no-status", 0, 13),
        ("no-trailers", 0, 13),
        ("http-404", 0, 12),
        ("http-503", 0, 14),
        ("content-type", 0, 2),
        ("huge-length", 0, 8),
    ] {
        let (got, message) = p3_fault(&server, name, timeout_ms);
        assert_eq!(got, code, "{name}: {message}");
    }
}
