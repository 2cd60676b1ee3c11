//! WASI 0.3 sockets: `bench-guest-p3` built with its `sockets` feature makes its calls inside
//! `grpc_wasi::wasip3::run` over `Transport::Sockets`, which is HTTP/2 (h2) over
//! `wasi:sockets@0.3.0` there (`tcp-socket.connect`, `send` and `receive` streams,
//! `ip-name-lookup.resolve-addresses`), against the tonic echo server and the fault server,
//! under the harness's network policy (granted addresses and names, as over WASI 0.2).

#![allow(clippy::unwrap_used, clippy::panic)]

use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_harness::servers::tls::ServerTls;
use grpc_wasi_host::{NetworkPolicy, RunOptions, RunOutput};

fn run(uri: &str, workload: &str, count: usize, size: usize, network: NetworkPolicy) -> RunOutput {
    run_with(&["sockets"], &[], uri, workload, count, size, network)
}

/// [`run`] with the guest built with `features` and given the environment `env`.
fn run_with(
    features: &[&str],
    env: &[(&str, &str)],
    uri: &str,
    workload: &str,
    count: usize,
    size: usize,
    network: NetworkPolicy,
) -> RunOutput {
    let options = RunOptions {
        args: vec![
            uri.to_owned(),
            "sockets".to_owned(),
            workload.to_owned(),
            count.to_string(),
            size.to_string(),
        ],
        network,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..RunOptions::default()
    };
    grpc_wasi_e2e::run_guest_with_features("bench-guest-p3", features, &options)
}

/// The figure `key` the guest printed.
fn figure(stdout: &str, key: &str) -> f64 {
    stdout
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {stdout:?}"))
}

/// A policy granting TCP connections to `server` only.
fn grant(server: &TestServer) -> NetworkPolicy {
    let mut network = NetworkPolicy::deny_all();
    network.allow(&server.addr().to_string()).unwrap();
    network
}

#[test]
fn the_four_call_shapes_run_over_wasi_sockets_0_3() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let uri = server.uri();
    for (workload, count, size, key) in [
        ("unary", 20, 1024, "p50_us"),
        // Several HTTP/2 DATA frames a message, both ways.
        ("unary", 3, 200 * 1024, "p50_us"),
        ("concurrent", 200, 1024, "calls_per_s"),
        // Past the 8 MiB stream window: WINDOW_UPDATEs go out while the response comes in.
        ("server-streaming", 10_000, 1024, "mb_per_s"),
        ("client-streaming", 500, 1024, "mb_per_s"),
        ("client-streaming-calls", 10, 100, "p50_us"),
        ("client-streaming-paced", 5, 100, "p50_us"),
        ("ping-pong", 50, 1024, "p50_us"),
        ("ping-pong", 5, 100 * 1024, "p50_us"),
    ] {
        let out = run(&uri, workload, count, size, grant(&server));
        assert_eq!(out.exit_code, 0, "{workload} {size}: {}", out.stderr);
        assert!(figure(&out.stdout, key) > 0.0, "{workload}: {}", out.stdout);
    }
}

#[test]
fn tls_in_the_guest_runs_over_wasi_sockets_0_3() {
    let pki = grpc_wasi_e2e::pki();
    let server =
        echo_server::start_tls("127.0.0.1:0".parse().unwrap(), &ServerTls::new(&pki.server))
            .unwrap();
    let uri = format!("https://localhost:{}", server.addr().port());
    let mut network = NetworkPolicy::deny_all();
    network
        .allow(&format!("localhost:{}", server.addr().port()))
        .unwrap();
    let trusted = [("TLS_CA", pki.ca_pem.as_str())];
    for (workload, count, size, key) in [
        ("unary", 20, 1024, "p50_us"),
        ("server-streaming", 2_000, 1024, "mb_per_s"),
        ("ping-pong", 20, 64 * 1024, "p50_us"),
    ] {
        let out = run_with(
            &["tls"],
            &trusted,
            &uri,
            workload,
            count,
            size,
            network.clone(),
        );
        assert_eq!(out.exit_code, 0, "{workload}: {}", out.stderr);
        assert!(figure(&out.stdout, key) > 0.0, "{workload}: {}", out.stdout);
    }
    // A CA the guest does not trust: the handshake fails with Unavailable, naming why.
    let untrusted = [("TLS_CA", pki.other_ca_pem.as_str())];
    let out = run_with(&["tls"], &untrusted, &uri, "unary", 1, 10, network);
    assert_eq!(out.exit_code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("Unavailable") && out.stderr.contains("certificate"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_granted_name_resolves_over_wasi_0_3_and_others_are_refused() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = server.addr().port();
    // The name granted: wasmtime's resolver answers, and the connection is to its address.
    let mut network = NetworkPolicy::deny_all();
    network.allow(&format!("localhost:{port}")).unwrap();
    for name in ["localhost", "LocalHost"] {
        let out = run(
            &format!("http://{name}:{port}"),
            "unary",
            3,
            10,
            network.clone(),
        );
        assert_eq!(out.exit_code, 0, "{name}: {}", out.stderr);
    }
    // A fixed answer (`--resolve`) is what WASI 0.3's lookup gets too.
    let mut network = NetworkPolicy::deny_all();
    network.resolve("backend.test=127.0.0.1").unwrap();
    network.allow(&format!("backend.test:{port}")).unwrap();
    let out = run(
        &format!("http://backend.test:{port}"),
        "unary",
        3,
        10,
        network,
    );
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    // The address granted but not the name: no lookup is made.
    let out = run(
        &format!("http://localhost:{port}"),
        "unary",
        1,
        10,
        grant(&server),
    );
    assert_eq!(out.exit_code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("Unavailable")
            && out.stderr.contains("name lookup of")
            && out.stderr.contains("localhost")
            && out.stderr.contains("is name lookup granted?"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_wasi_0_3_connection_to_an_address_not_granted_is_refused() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = server.addr().port();
    // Another port granted, and the same port over wasi:http only.
    let mut network = NetworkPolicy::deny_all();
    network.allow("127.0.0.1:1").unwrap();
    network.allow_http(&server.addr().to_string()).unwrap();
    for uri in [server.uri(), format!("http://127.0.0.2:{port}")] {
        let out = run(&uri, "unary", 1, 10, network.clone());
        assert_eq!(out.exit_code, 1, "{uri}: {}", out.stdout);
        assert!(
            out.stderr.contains("PermissionDenied")
                && out.stderr.contains("the host did not grant access to"),
            "{uri}: {}",
            out.stderr
        );
    }
    // The IPv4-mapped spelling of the server's address: wasi:sockets refuses such addresses
    // outright (`invalid-argument`), before any grant is looked at.
    let uri = format!("http://[::ffff:127.0.0.1]:{port}");
    let out = run(&uri, "unary", 1, 10, grant(&server));
    assert_eq!(out.exit_code, 1, "{uri}: {}", out.stdout);
    assert!(
        out.stderr.contains("Unavailable") && out.stderr.contains("InvalidArgument"),
        "{uri}: {}",
        out.stderr
    );
}

#[test]
fn a_wasi_0_3_connection_to_a_server_that_is_not_there_fails_with_unavailable() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut network = NetworkPolicy::deny_all();
    network.allow(&addr.to_string()).unwrap();
    let out = run(&format!("http://{addr}"), "unary", 1, 10, network);
    assert_eq!(out.exit_code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("Unavailable") && out.stderr.contains("refused"),
        "{}",
        out.stderr
    );
}

#[test]
fn deadlines_and_statuses_over_wasi_sockets_0_3() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let uri = server.uri();
    // The server answers after 10 s; the deadline is 200 ms.
    let out = run(&uri, "deadline", 1, 200, grant(&server));
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    assert_eq!(figure(&out.stdout, "code"), 4.0, "DEADLINE_EXCEEDED");
    let elapsed = figure(&out.stdout, "elapsed_ms");
    assert!((190.0..5000.0).contains(&elapsed), "{elapsed} ms");
    assert_eq!(
        figure(&out.stdout, "server_cancelled"),
        1.0,
        "the server saw the call cancelled (RST_STREAM)"
    );
    for code in [5, 9, 14] {
        let out = run(&uri, "status", code, 0, grant(&server));
        assert_eq!(figure(&out.stdout, "code"), code as f64, "{}", out.stderr);
    }
}

#[test]
fn every_way_the_fault_server_breaks_a_wasi_0_3_sockets_call_gives_its_code() {
    let server = grpc_wasi_e2e::fault_server();
    // (fault, deadline ms, code): as over WASI 0.2's sockets (faults.rs).
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
        let out = run(
            &server.uri(),
            &format!("fault-{name}"),
            1,
            timeout_ms,
            grant(&server),
        );
        assert_eq!(out.exit_code, 0, "{name}: {}", out.stderr);
        assert_eq!(
            figure(&out.stdout, "code"),
            code as f64,
            "{name}: {}",
            out.stdout
        );
    }
}
