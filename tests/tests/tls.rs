//! `https://` against tonic servers that speak TLS with certificates from a throw-away CA
//! (`grpc_wasi_harness::servers::tls`): over sockets the guest makes the TLS connection itself (rustls
//! in the guest, its CA given as `TLS_CA`); over wasi:http (HTTP/2) and gRPC-Web (HTTP/1.1) the
//! harness's HTTP client does, trusting the same CA. Then what goes wrong with TLS: mTLS
//! refusals, the wrong CA or name, an expired certificate, ALPN without `h2`, a TLS 1.2-only
//! server, a server that stalls mid handshake, a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use grpc_wasi_e2e::{Mode, connected_guest, fault_server_tls, pki, run_scenario};
use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_harness::servers::tls::{CertifiedKey, ServerTls};
use grpc_wasi_host::NetworkPolicy;

/// An echo server speaking TLS as `tls` says, on a free port of 127.0.0.1.
fn server_with(tls: &ServerTls) -> TestServer {
    echo_server::start_tls("127.0.0.1:0".parse().unwrap(), tls).unwrap()
}

/// An echo server with the CA's server certificate, TLS 1.3 and 1.2, ALPN h2 and http/1.1.
fn server() -> TestServer {
    server_with(&ServerTls::new(&pki().server))
}

/// The guest's environment that trusts the test CA.
fn trusting() -> Vec<(&'static str, &'static str)> {
    vec![("TLS_CA", pki().ca_pem.as_str())]
}

/// Runs `scenario` against `server` in `mode` with `env`, granting only the server.
fn run_env(mode: Mode, server: &TestServer, scenario: &[&str], env: &[(&str, &str)]) -> String {
    let uri = server.uri();
    assert!(uri.starts_with("https://"), "{uri}");
    let mut args = vec![uri.as_str()];
    args.extend_from_slice(scenario);
    run_scenario(mode, &args, env, mode.grant(server.addr()))
}

/// Runs `scenario` over sockets against `server`, trusting the test CA.
fn run(server: &TestServer, scenario: &[&str]) -> String {
    run_env(Mode::Sockets, server, scenario, &trusting())
}

/// The code of a `status: CODE MESSAGE` verdict.
fn code_of(verdict: &str) -> Option<&str> {
    verdict.strip_prefix("status: ")?.split(' ').next()
}

/// Asserts `verdict` is `Unavailable` with `reason` in its message.
fn assert_unavailable(verdict: &str, reason: &str) {
    assert_eq!(code_of(verdict), Some("14"), "{verdict}");
    assert!(
        verdict.contains(reason),
        "expected {reason:?} in: {verdict}"
    );
}

/// The four RPC kinds, and full duplex, in `mode` over TLS (sockets: the guest trusts the CA;
/// wasi:http: the host does).
fn rpc_kinds(mode: Mode) {
    let server = server();
    let env = if mode == Mode::Sockets {
        trusting()
    } else {
        vec![]
    };
    let cases: [(&[&str], &str); 5] = [
        (&["unary"], r#"ok: reply "hello""#),
        (&["server-streaming", "300"], "ok: 300 messages in order"),
        (
            &["client-streaming", "300"],
            "ok: server received 300 messages in order",
        ),
        (&["bidi", "300"], "ok: 300 replies in order"),
        (&["ping-pong", "50"], "ok: 50 round trips"),
    ];
    for (scenario, expected) in cases {
        assert_eq!(
            run_env(mode, &server, scenario, &env),
            expected,
            "{mode:?} {scenario:?}"
        );
    }
}

#[test]
fn the_four_rpc_kinds_over_sockets_tls() {
    rpc_kinds(Mode::Sockets);
}

#[test]
fn the_four_rpc_kinds_over_wasi_http_tls() {
    rpc_kinds(Mode::WasiHttp);
}

#[test]
fn the_four_rpc_kinds_over_grpc_web_tls() {
    rpc_kinds(Mode::GrpcWeb);
}

#[test]
fn a_name_is_checked_against_the_dns_san_and_ipv6_against_the_ip_san() {
    // https://localhost:PORT: SNI and the DNS SAN; https://[::1]:PORT: the IP SAN.
    let v4 = server();
    let authority = format!("localhost:{}", v4.addr().port());
    let mut grant = NetworkPolicy::deny_all();
    grant.allow(&authority).unwrap();
    let uri = format!("https://{authority}");
    let verdict = run_scenario(Mode::Sockets, &[&uri, "unary"], &trusting(), grant);
    assert_eq!(verdict, r#"ok: reply "hello""#);
    let v6 =
        echo_server::start_tls("[::1]:0".parse().unwrap(), &ServerTls::new(&pki().server)).unwrap();
    assert_eq!(run(&v6, &["unary"]), r#"ok: reply "hello""#);
}

/// An echo server that requires client certificates signed by the test CA.
fn mtls_server() -> TestServer {
    let mut tls = ServerTls::new(&pki().server);
    tls.client_ca_pem = Some(pki().ca_pem.clone());
    server_with(&tls)
}

/// The guest's environment that trusts the test CA and presents `identity`.
fn presenting(identity: &'static CertifiedKey) -> Vec<(&'static str, &'static str)> {
    let mut env = trusting();
    env.extend([
        ("TLS_CERT", identity.cert_pem.as_str()),
        ("TLS_KEY", identity.key_pem.as_str()),
    ]);
    env
}

#[test]
fn mtls_accepts_the_guests_identity() {
    let server = mtls_server();
    assert_eq!(
        run_env(
            Mode::Sockets,
            &server,
            &["unary"],
            &presenting(&pki().client)
        ),
        r#"ok: reply "hello""#
    );
}

#[test]
fn mtls_refuses_a_guest_without_an_identity_or_with_an_untrusted_one() {
    let server = mtls_server();
    let without = run(&server, &["unary"]);
    assert_unavailable(&without, "the server refused the client certificate");
    assert!(without.contains("CertificateRequired"), "{without}");

    let env = presenting(&pki().untrusted_client);
    let refused = run_env(Mode::Sockets, &server, &["unary"], &env);
    assert_unavailable(&refused, "the server refused the client certificate");
}

#[test]
fn a_server_signed_by_another_ca_is_refused() {
    let server = server();
    let wrong_ca = [("TLS_CA", pki().other_ca_pem.as_str())];
    let verdict = run_env(Mode::Sockets, &server, &["unary"], &wrong_ca);
    assert_unavailable(&verdict, "UnknownIssuer");
    assert!(
        verdict.contains("TLS handshake with 127.0.0.1:"),
        "{verdict}"
    );
    // With no CA given the guest trusts Mozilla's roots, which did not sign the test CA.
    let default_roots = run_env(Mode::Sockets, &server, &["unary"], &[]);
    assert_unavailable(&default_roots, "UnknownIssuer");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let server = server();
    let mut env = trusting();
    env.push(("TLS_DOMAIN", "wrong.example"));
    let verdict = run_env(Mode::Sockets, &server, &["unary"], &env);
    assert_unavailable(&verdict, "not valid for name");
}

#[test]
fn an_expired_certificate_is_refused() {
    let server = server_with(&ServerTls::new(&pki().expired_server));
    let verdict = run(&server, &["unary"]);
    assert_unavailable(&verdict, "expired");
}

#[test]
fn a_server_whose_alpn_offers_only_http1_is_refused() {
    let mut tls = ServerTls::new(&pki().server);
    tls.alpn = vec![b"http/1.1".to_vec()];
    let verdict = run(&server_with(&tls), &["unary"]);
    assert_unavailable(&verdict, "HTTP/2");
}

#[test]
fn a_server_that_selects_no_alpn_protocol_needs_assume_http2() {
    let mut tls = ServerTls::new(&pki().server);
    tls.alpn = vec![];
    let server = server_with(&tls);
    let refused = run(&server, &["unary"]);
    assert_unavailable(
        &refused,
        "did not select HTTP/2 (ALPN h2), it selected no protocol",
    );
    let mut env = trusting();
    env.push(("TLS_ASSUME_H2", "1"));
    assert_eq!(
        run_env(Mode::Sockets, &server, &["unary"], &env),
        r#"ok: reply "hello""#
    );
}

#[test]
fn a_tls12_only_server_is_reached() {
    let mut tls = ServerTls::new(&pki().server);
    tls.tls12_only = true;
    let server = server_with(&tls);
    assert_eq!(run(&server, &["unary"]), r#"ok: reply "hello""#);
    assert_eq!(run(&server, &["bidi", "100"]), "ok: 100 replies in order");
}

#[test]
fn a_server_that_stalls_mid_handshake_hits_the_connect_timeout() {
    // It accepts TCP and reads the ClientHello, but never answers.
    let (addr, held) = grpc_wasi_e2e::silent_listener();
    let uri = format!("https://{addr}");
    let mut env = trusting();
    env.push(("CONNECT_TIMEOUT_MS", "1000"));
    let verdict = run_scenario(
        Mode::Sockets,
        &[&uri, "unary"],
        &env,
        Mode::Sockets.grant(addr),
    );
    assert_unavailable(&verdict, "within the connect timeout");
    drop(held.join());
}

#[test]
fn a_restarted_tls_server_is_reached_on_a_new_connection() {
    let first = server();
    let addr = first.addr();
    let guest = connected_guest(&first, &["reconnect"], &trusting());
    std::thread::sleep(Duration::from_secs(1));
    drop(first);
    std::thread::sleep(Duration::from_millis(100));
    let _second = server_with_addr(addr);
    let verdict = guest.join().unwrap();
    assert!(
        verdict.starts_with("ok: a new connection after "),
        "{verdict}"
    );
}

fn server_with_addr(addr: std::net::SocketAddr) -> TestServer {
    echo_server::start_tls(addr, &ServerTls::new(&pki().server)).unwrap()
}

#[test]
fn deadlines_and_cancellation_work_over_tls() {
    let server = server();
    let deadline = run(&server, &["deadline", "200"]);
    assert_eq!(code_of(&deadline), Some("4"), "{deadline}");
    assert_eq!(
        run(&server, &["cancel-stream"]),
        "ok: the server observed the cancel"
    );
    assert_eq!(
        run(&server, &["cancel-unary"]),
        "ok: the server observed the cancel"
    );
}

#[test]
fn a_paused_request_stream_pings_over_tls_too() {
    // As over plain TCP (faults.rs): five pauses, then the server's only DATA: two PINGs,
    // counted by the fault server inside the TLS connection.
    let server = fault_server_tls();
    let mut env = trusting();
    env.push(("FAULT", "pings"));
    assert_eq!(
        run_env(Mode::Sockets, &server, &["fault-paced", "6"], &env),
        r#"ok: reply "pings=2""#
    );
}

#[test]
fn keepalive_finds_a_tls_server_that_stopped_answering() {
    // As over plain TCP (faults.rs): the server stops serving the connection mid-call, the
    // unanswered PING closes it, and the next call opens a new TLS connection.
    let server = fault_server_tls();
    let mut env = trusting();
    env.extend([
        ("FAULT", "freeze"),
        ("KEEPALIVE_MS", "100"),
        ("KEEPALIVE_TIMEOUT_MS", "200"),
    ]);
    let verdict = run_env(Mode::Sockets, &server, &["fault-then-ok", "1"], &env);
    assert_eq!(verdict, r#"ok: first status 14, then 1 replies {"ok"}"#);
}
