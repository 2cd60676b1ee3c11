//! The guest over wasi:sockets TCP + HTTP/2 against the real tonic echo server.

#![allow(clippy::unwrap_used)]

use grpc_wasi_e2e::run_scenario;
use grpc_wasi_harness::echo_server::EchoServer;

fn server() -> EchoServer {
    EchoServer::start("127.0.0.1:0".parse().unwrap()).unwrap()
}

/// Runs a scenario against `server`, allowing only its address.
fn run(server: &EchoServer, scenario: &[&str]) -> String {
    let uri = server.uri();
    let mut args = vec![uri.as_str()];
    args.extend_from_slice(scenario);
    run_scenario(&args, &[], &[server.addr().to_string()])
}

/// The code of a `status: CODE MESSAGE` verdict.
fn code_of(verdict: &str) -> Option<&str> {
    verdict.strip_prefix("status: ")?.split(' ').next()
}

#[test]
fn unary() {
    assert_eq!(run(&server(), &["unary"]), r#"ok: reply "hello""#);
}

#[test]
fn server_streaming_many_messages() {
    assert_eq!(
        run(&server(), &["server-streaming", "1000"]),
        "ok: 1000 messages in order"
    );
}

#[test]
fn client_streaming_many_messages() {
    assert_eq!(
        run(&server(), &["client-streaming", "1000"]),
        "ok: server received 1000 messages in order"
    );
}

#[test]
fn bidirectional_streaming_many_messages() {
    assert_eq!(
        run(&server(), &["bidi", "1000"]),
        "ok: 1000 replies in order"
    );
}

#[test]
fn bidirectional_ping_pong_is_full_duplex() {
    assert_eq!(run(&server(), &["ping-pong", "100"]), "ok: 100 round trips");
}

#[test]
fn hundred_sequential_calls_on_one_channel() {
    assert_eq!(
        run(&server(), &["sequential", "100"]),
        "ok: 100 sequential calls"
    );
}

#[test]
fn twenty_concurrent_calls_on_one_connection() {
    assert_eq!(
        run(&server(), &["concurrent", "20"]),
        "ok: 20 calls in flight at once on 1 connection"
    );
}

#[test]
fn ipv6() {
    let server = EchoServer::start("[::1]:0".parse().unwrap()).unwrap();
    assert!(server.uri().starts_with("http://[::1]:"));
    assert_eq!(run(&server, &["unary"]), r#"ok: reply "hello""#);
}

#[test]
fn status_with_non_ascii_message_is_exact() {
    let server = server();
    let message = "naïve café ✓ 日本語 100% \"quoted\" done";
    let uri = server.uri();
    let out = run_scenario(
        &[&uri, "status", "9"],
        &[("STATUS_MESSAGE", message)],
        &[server.addr().to_string()],
    );
    assert_eq!(out, format!("status: 9 {message}"));
}

#[test]
fn unknown_method_is_unimplemented() {
    let out = run(&server(), &["unimplemented"]);
    assert_eq!(code_of(&out), Some("12"), "{out}");
}

#[test]
fn nothing_listening_is_unavailable() {
    // Bind a port, then free it: nothing listens there any more.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let uri = format!("http://{addr}");
    let out = run_scenario(&[&uri, "unary"], &[], &[addr.to_string()]);
    assert_eq!(code_of(&out), Some("14"), "{out}");
    assert!(out.contains("refused"), "{out}");
}

#[test]
fn address_not_allowed_is_a_clear_denial() {
    let server = server();
    let uri = server.uri();
    let out = run_scenario(&[&uri, "unary"], &[], &[]);
    let addr = server.addr();
    assert_eq!(
        out,
        format!(
            "status: 7 the host did not grant access to {addr}: wasi:sockets denied the \
             connection (wasmtime: -S inherit-network; grpc-wasi-harness: --allow {addr})"
        )
    );
}
