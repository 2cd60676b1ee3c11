//! WASI 0.3: `bench-guest-p3`, a WASI 0.3 command (`wasi:cli/run@0.3.0`) on grpc-wasi's
//! `wasip3` runtime (calls inside `grpc_wasi::wasip3::run`), makes its calls over
//! `wasi:http@0.3.0` through the harness's `wasi:http`, and (built with its `sockets` feature)
//! over `Transport::Sockets`, HTTP/2 over `wasi:sockets@0.3.0` (`tcp-socket.connect`, `send`
//! and `receive` streams, `ip-name-lookup.resolve-addresses`), against the tonic echo server
//! and the fault server, under the same network policy as WASI 0.2 guests (granted addresses
//! and names).

#![allow(clippy::unwrap_used, clippy::panic)]

use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_harness::servers::tls::ServerTls;
use grpc_wasi_host::{HttpVersion, NetworkPolicy, RunOptions, RunOutput};

fn run_p3(args: &[String], network: NetworkPolicy, http_version: HttpVersion) -> RunOutput {
    run_p3_built(&[], args, network, http_version, &[])
}

/// [`run_p3`] with the guest built with `features` and given the environment `env`.
fn run_p3_built(
    features: &[&str],
    args: &[String],
    network: NetworkPolicy,
    http_version: HttpVersion,
    env: &[(&str, &str)],
) -> RunOutput {
    let options = RunOptions {
        args: args.to_vec(),
        network,
        http_version,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..RunOptions::default()
    };
    grpc_wasi_e2e::run_guest_with_features("bench-guest-p3", features, &options)
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
fn http_grant(server: &TestServer) -> NetworkPolicy {
    let mut network = NetworkPolicy::deny_all();
    network.allow_http(&server.addr().to_string()).unwrap();
    network
}

/// A policy granting TCP connections to `server` only.
fn tcp_grant(server: &TestServer) -> NetworkPolicy {
    let mut network = NetworkPolicy::deny_all();
    network.allow(&server.addr().to_string()).unwrap();
    network
}

/// A WASI 0.3 transport of `bench-guest-p3`: `wasi:http@0.3.0` (the guest as it is, the
/// harness's HTTP/2 `wasi:http`), or `wasi:sockets@0.3.0` (the guest built with `sockets`).
#[derive(Clone, Copy, Debug)]
enum Over {
    WasiHttp,
    Sockets,
}

impl Over {
    /// Runs `workload` (COUNT, SIZE) against `uri` with `network` granted.
    fn run(
        self,
        uri: &str,
        workload: &str,
        count: usize,
        size: usize,
        network: NetworkPolicy,
    ) -> RunOutput {
        let (features, transport): (&[&str], _) = match self {
            Over::WasiHttp => (&[], "wasi-http"),
            Over::Sockets => (&["sockets"], "sockets"),
        };
        let args = args(uri, transport, workload, count, size);
        run_p3_built(features, &args, network, HttpVersion::Http2, &[])
    }

    /// What grants this transport access to `server`.
    fn grant(self, server: &TestServer) -> NetworkPolicy {
        match self {
            Over::WasiHttp => http_grant(server),
            Over::Sockets => tcp_grant(server),
        }
    }
}

/// Each call shape (workload, COUNT, SIZE, the figure it prints) against the echo server.
fn call_shapes(over: Over) {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    for (workload, count, size, key) in [
        ("unary", 20, 1024, "p50_us"),
        // Several HTTP/2 DATA frames a message, both ways.
        ("unary", 3, 200 * 1024, "p50_us"),
        ("concurrent", 200, 1024, "calls_per_s"),
        // 10 MiB, past the 8 MiB stream window: WINDOW_UPDATEs go out as the response comes.
        ("server-streaming", 10_000, 1024, "mb_per_s"),
        ("client-streaming", 500, 1024, "mb_per_s"),
        ("client-streaming-calls", 10, 100, "p50_us"),
        // Messages produced 1 ms apart: the SDK's timers on wasi:clocks@0.3.0.
        ("client-streaming-paced", 5, 100, "p50_us"),
        ("ping-pong", 50, 1024, "p50_us"),
        ("ping-pong", 5, 100 * 1024, "p50_us"),
    ] {
        let out = over.run(&server.uri(), workload, count, size, over.grant(&server));
        assert_eq!(
            out.exit_code, 0,
            "{over:?} {workload} {size}: {}",
            out.stderr
        );
        assert!(
            figure(&out.stdout, key) > 0.0,
            "{over:?} {workload}: {}",
            out.stdout
        );
    }
}

#[test]
fn the_four_call_shapes_run_over_wasi_http_0_3() {
    call_shapes(Over::WasiHttp);
}

#[test]
fn the_four_call_shapes_run_over_wasi_sockets_0_3() {
    call_shapes(Over::Sockets);
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

/// A deadline that passes ends the call with DEADLINE_EXCEEDED (and the server sees the call
/// cancelled), and the server's status codes come through.
fn deadlines_and_statuses(over: Over) {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let uri = server.uri();
    // The server answers after 10 s; the deadline is 200 ms.
    let out = over.run(&uri, "deadline", 1, 200, over.grant(&server));
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
    // DEADLINE_EXCEEDED, and the server sees the stream aborted, not ended.
    let out = over.run(&uri, "cancel-stream", 1, 200, over.grant(&server));
    assert_eq!(figure(&out.stdout, "code"), 4.0, "{}", out.stderr);
    assert_eq!(
        figure(&out.stdout, "server_cancelled"),
        1.0,
        "the server saw the request stream aborted"
    );
    for code in [5, 9, 14] {
        let out = over.run(&uri, "status", code, 0, over.grant(&server));
        assert_eq!(figure(&out.stdout, "code"), code as f64, "{}", out.stderr);
    }
}

#[test]
fn a_deadline_cancels_a_wasi_0_3_call_and_the_servers_status_comes_through() {
    deadlines_and_statuses(Over::WasiHttp);
}

#[test]
fn a_deadline_cancels_a_wasi_0_3_sockets_call_and_the_servers_status_comes_through() {
    deadlines_and_statuses(Over::Sockets);
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
    network.allow(&addr.to_string()).unwrap();
    network.allow_http(&addr.to_string()).unwrap();
    for over in [Over::WasiHttp, Over::Sockets] {
        let out = over.run(&format!("http://{addr}"), "unary", 1, 10, network.clone());
        assert_eq!(out.exit_code, 1, "{over:?}: {}", out.stdout);
        assert!(
            out.stderr.contains("Unavailable"),
            "{over:?}: {}",
            out.stderr
        );
    }
}

/// Each way the fault server breaks a call (fault, deadline ms, the code it gives: as over
/// WASI 0.2, faults.rs).
fn faults(over: Over) {
    let server = grpc_wasi_e2e::fault_server();
    for (name, timeout_ms, code) in [
        ("ok", 0, 0),
        ("silent", 300, 4),
        ("reset-7", 0, 14),
        ("reset-8", 0, 1),
        ("reset-after-message-11", 0, 8),
        ("goaway", 0, 14),
        // The TCP connection closed after one message of a response.
        ("drop-connection", 0, 14),
        ("truncated", 0, 13),
        ("no-status", 0, 13),
        ("no-trailers", 0, 13),
        ("http-404", 0, 12),
        ("http-503", 0, 14),
        ("content-type", 0, 2),
        ("huge-length", 0, 8),
    ] {
        let workload = format!("fault-{name}");
        let out = over.run(&server.uri(), &workload, 1, timeout_ms, over.grant(&server));
        assert_eq!(out.exit_code, 0, "{over:?} {name}: {}", out.stderr);
        assert_eq!(
            figure(&out.stdout, "code"),
            f64::from(code),
            "{over:?} {name}: {}",
            out.stdout
        );
    }
}

#[test]
fn every_way_the_fault_server_breaks_a_wasi_0_3_call_gives_its_code() {
    faults(Over::WasiHttp);
}

#[test]
fn every_way_the_fault_server_breaks_a_wasi_0_3_sockets_call_gives_its_code() {
    faults(Over::Sockets);
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
        let out = run_p3_built(
            &["tls"],
            &args(&uri, "sockets", workload, count, size),
            network.clone(),
            HttpVersion::Http2,
            &trusted,
        );
        assert_eq!(out.exit_code, 0, "{workload}: {}", out.stderr);
        assert!(figure(&out.stdout, key) > 0.0, "{workload}: {}", out.stdout);
    }
    // A CA the guest does not trust: the handshake fails with Unavailable, naming why.
    let untrusted = [("TLS_CA", pki.other_ca_pem.as_str())];
    let out = run_p3_built(
        &["tls"],
        &args(&uri, "sockets", "unary", 1, 10),
        network,
        HttpVersion::Http2,
        &untrusted,
    );
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
        let out = Over::Sockets.run(
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
    let out = Over::Sockets.run(
        &format!("http://backend.test:{port}"),
        "unary",
        3,
        10,
        network,
    );
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    // The address granted but not the name: no lookup is made.
    let out = Over::Sockets.run(
        &format!("http://localhost:{port}"),
        "unary",
        1,
        10,
        tcp_grant(&server),
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
        let out = Over::Sockets.run(&uri, "unary", 1, 10, network.clone());
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
    let out = Over::Sockets.run(&uri, "unary", 1, 10, tcp_grant(&server));
    assert_eq!(out.exit_code, 1, "{uri}: {}", out.stdout);
    assert!(
        out.stderr.contains("Unavailable") && out.stderr.contains("InvalidArgument"),
        "{uri}: {}",
        out.stderr
    );
}
