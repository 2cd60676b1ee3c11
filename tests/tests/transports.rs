//! The e2e guest against the real tonic echo server, on each transport: `sockets` (HTTP/2
//! over wasi:sockets), `wasi_http` (wasi:http, HTTP/2 host) and `grpc_web` (gRPC-Web over
//! wasi:http, HTTP/1.1 host). The same cases run on each; where a transport cannot do a thing
//! (HTTP/1.1 multiplexing), its module says so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use grpc_wasi_e2e::{Mode, run_scenario};
use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_host::NetworkPolicy;

fn server() -> TestServer {
    echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap()
}

/// Runs a scenario against `server` in `mode`, granting only the server.
fn run(mode: Mode, server: &TestServer, scenario: &[&str]) -> String {
    let uri = server.uri();
    let mut args = vec![uri.as_str()];
    args.extend_from_slice(scenario);
    run_scenario(mode, &args, &[], mode.grant(server.addr()))
}

/// The code of a `status: CODE MESSAGE` verdict.
fn code_of(verdict: &str) -> Option<&str> {
    verdict.strip_prefix("status: ")?.split(' ').next()
}

fn unary(mode: Mode) {
    assert_eq!(run(mode, &server(), &["unary"]), r#"ok: reply "hello""#);
}

fn server_streaming_many_messages(mode: Mode) {
    assert_eq!(
        run(mode, &server(), &["server-streaming", "1000"]),
        "ok: 1000 messages in order"
    );
}

fn client_streaming_many_messages(mode: Mode) {
    assert_eq!(
        run(mode, &server(), &["client-streaming", "1000"]),
        "ok: server received 1000 messages in order"
    );
}

fn bidirectional_streaming_many_messages(mode: Mode) {
    assert_eq!(
        run(mode, &server(), &["bidi", "1000"]),
        "ok: 1000 replies in order"
    );
}

fn bidirectional_ping_pong_is_full_duplex(mode: Mode) {
    assert_eq!(
        run(mode, &server(), &["ping-pong", "100"]),
        "ok: 100 round trips"
    );
}

fn hundred_sequential_calls_on_one_channel(mode: Mode) {
    assert_eq!(
        run(mode, &server(), &["sequential", "100"]),
        "ok: 100 sequential calls"
    );
}

fn twenty_concurrent_calls(mode: Mode) -> String {
    run(mode, &server(), &["concurrent", "20"])
}

fn ipv6(mode: Mode) {
    let server = echo_server::start("[::1]:0".parse().unwrap()).unwrap();
    assert!(server.uri().starts_with("http://[::1]:"));
    assert_eq!(run(mode, &server, &["unary"]), r#"ok: reply "hello""#);
}

fn status_with_non_ascii_message_is_exact(mode: Mode) {
    let server = server();
    let message = "naïve café ✓ 日本語 100% \"quoted\" done";
    let uri = server.uri();
    let out = run_scenario(
        mode,
        &[&uri, "status", "9"],
        &[("STATUS_MESSAGE", message)],
        mode.grant(server.addr()),
    );
    assert_eq!(out, format!("status: 9 {message}"));
}

fn unknown_method_is_unimplemented(mode: Mode) {
    let out = run(mode, &server(), &["unimplemented"]);
    assert_eq!(code_of(&out), Some("12"), "{out}");
}

fn nothing_listening_is_unavailable(mode: Mode) {
    nothing_listening_is_unavailable_with(mode, &[]);
}

/// A unary call, the guest's environment `env`, to a port nothing listens on: `Unavailable`,
/// naming the address.
fn nothing_listening_is_unavailable_with(mode: Mode, env: &[(&str, &str)]) {
    // Bind a port, then free it: nothing listens there any more.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let uri = format!("http://{addr}");
    let out = run_scenario(mode, &[&uri, "unary"], env, mode.grant(addr));
    assert_eq!(code_of(&out), Some("14"), "{out}");
    assert!(out.contains(&format!("{addr} refused")), "{out}");
}

/// [`grpc_wasi_e2e::connected_guest`] with no extra environment.
fn connected_guest(server: &TestServer, scenario: &[&str]) -> std::thread::JoinHandle<String> {
    grpc_wasi_e2e::connected_guest(server, scenario, &[])
}

fn denied(mode: Mode) -> (std::net::SocketAddr, String) {
    let server = server();
    let uri = server.uri();
    let out = run_scenario(mode, &[&uri, "unary"], &[], NetworkPolicy::deny_all());
    (server.addr(), out)
}

/// The cases every transport passes the same way.
macro_rules! common_cases {
    ($mode:expr) => {
        #[test]
        fn unary() {
            super::unary($mode);
        }
        #[test]
        fn server_streaming_many_messages() {
            super::server_streaming_many_messages($mode);
        }
        #[test]
        fn client_streaming_many_messages() {
            super::client_streaming_many_messages($mode);
        }
        #[test]
        fn bidirectional_streaming_many_messages() {
            super::bidirectional_streaming_many_messages($mode);
        }
        #[test]
        fn hundred_sequential_calls_on_one_channel() {
            super::hundred_sequential_calls_on_one_channel($mode);
        }
        #[test]
        fn ipv6() {
            super::ipv6($mode);
        }
        #[test]
        fn status_with_non_ascii_message_is_exact() {
            super::status_with_non_ascii_message_is_exact($mode);
        }
        #[test]
        fn unknown_method_is_unimplemented() {
            super::unknown_method_is_unimplemented($mode);
        }
        #[test]
        fn nothing_listening_is_unavailable() {
            super::nothing_listening_is_unavailable($mode);
        }
    };
}

mod sockets {
    use super::*;
    common_cases!(Mode::Sockets);

    #[test]
    fn bidirectional_ping_pong_is_full_duplex() {
        super::bidirectional_ping_pong_is_full_duplex(Mode::Sockets);
    }

    #[test]
    fn twenty_concurrent_calls_on_one_connection() {
        assert_eq!(
            twenty_concurrent_calls(Mode::Sockets),
            "ok: 20 calls in flight at once on 1 connection(s)"
        );
    }

    #[test]
    fn a_restarted_server_is_reached_on_a_new_connection() {
        // The channel's connection closes with the server; a later call on the same channel
        // opens a new one. Calls made while the server is down fail with Unavailable.
        let first = server();
        let addr = first.addr();
        let guest = connected_guest(&first, &["reconnect"]);
        // Let the guest's first call finish before the server goes.
        std::thread::sleep(Duration::from_secs(1));
        drop(first);
        std::thread::sleep(Duration::from_millis(100));
        let _second = echo_server::start(addr).unwrap();
        let verdict = guest.join().unwrap();
        assert!(
            verdict.starts_with("ok: a new connection after "),
            "{verdict}"
        );
    }

    #[test]
    fn a_call_in_flight_when_the_server_stops_gracefully_runs_to_its_end() {
        // Stopping, tonic sends GOAWAY, then waits for the calls it had accepted.
        let server = server();
        let guest = connected_guest(&server, &["in-flight", "1000"]);
        std::thread::sleep(Duration::from_millis(300));
        let stopping = std::time::Instant::now();
        drop(server);
        // The server waited for the call: it was in flight when the GOAWAY went out.
        assert!(stopping.elapsed() > Duration::from_millis(300));
        assert_eq!(guest.join().unwrap(), r#"ok: reply "in-flight""#);
    }

    #[test]
    fn a_server_that_does_not_answer_hits_the_connect_timeout() {
        // A listener whose accept queue is full drops new connections' SYNs: connecting to it
        // hangs.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let _entered = runtime.enter();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        loop {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(stream) => queued.push(stream),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) => panic!("filling the accept queue: {e}"),
            }
            assert!(queued.len() < 100, "the accept queue never filled");
        }
        let uri = format!("http://{addr}");
        let timeout = [("CONNECT_TIMEOUT_MS", "300")];
        for scenario in [&[&uri, "unary"][..], &[&uri, "no-call"]] {
            let out = run_scenario(Mode::Sockets, scenario, &timeout, Mode::Sockets.grant(addr));
            assert_eq!(
                out,
                format!("status: 14 no connection to {addr} within the connect timeout (300ms)")
            );
        }
    }

    #[test]
    fn a_lazy_channel_connects_on_its_first_call() {
        let grant = |server: &TestServer| Mode::Sockets.grant(server.addr());
        let lazy = [("CONNECT", "lazy")];
        for (env, calls, connections) in [
            (&[][..], "no-call", 1),
            (&lazy[..], "no-call", 0),
            (&lazy[..], "unary", 1),
        ] {
            let server = server();
            let out = run_scenario(Mode::Sockets, &[&server.uri(), calls], env, grant(&server));
            assert!(out.starts_with("ok: "), "{env:?} {calls}: {out}");
            // The server may accept a connection after the guest has gone.
            let start = std::time::Instant::now();
            while server.connections_accepted() < connections && start.elapsed().as_secs() < 5 {
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(100));
            assert_eq!(
                server.connections_accepted(),
                connections,
                "{env:?} {calls}"
            );
        }
        // The first call carries the connect error.
        super::nothing_listening_is_unavailable_with(Mode::Sockets, &lazy);
    }

    /// A unary call to `http://NAME:PORT` of `server`, with `--allow localhost:PORT`.
    fn unary_by_name(server: &TestServer, name: &str) -> String {
        let port = server.addr().port();
        let mut policy = NetworkPolicy::deny_all();
        policy.allow(&format!("localhost:{port}")).unwrap();
        let uri = format!("http://{name}:{port}");
        run_scenario(Mode::Sockets, &[&uri, "unary"], &[], policy)
    }

    #[test]
    fn a_granted_name_is_looked_up_however_it_is_spelled() {
        // (`localhost.` is granted too, but the system resolver may not answer it.)
        let server = server();
        for name in ["localhost", "LocalHost"] {
            assert_eq!(
                unary_by_name(&server, name),
                r#"ok: reply "hello""#,
                "{name}"
            );
        }
    }

    #[test]
    fn names_not_granted_are_not_looked_up() {
        // permanent-resolver-failure is the harness's refusal: a name that reached the
        // resolver and failed there would be name-unresolvable. `sub.localhost` resolves to
        // loopback on many systems (RFC 6761), `localhost..` and `local-host` are other
        // spellings, `example.invalid` never resolves.
        let server = server();
        for name in [
            "sub.localhost",
            "localhost..",
            "local-host",
            "example.invalid",
        ] {
            let out = unary_by_name(&server, name);
            assert!(
                out.starts_with(&format!(
                    "status: 14 name lookup of {name:?} failed: permanent-resolver-failure (error 20) \
                     (is name lookup granted?"
                )),
                "{name}: {out}"
            );
        }
    }

    #[test]
    fn ip_literals_need_no_name_grant_but_an_address_grant() {
        let server = server();
        let port = server.addr().port();
        let mut policy = NetworkPolicy::deny_all();
        policy.allow(&format!("localhost:{port}")).unwrap();
        let uri = format!("http://127.0.0.1:{port}");
        let granted = run_scenario(Mode::Sockets, &[&uri, "unary"], &[], policy);
        assert_eq!(granted, r#"ok: reply "hello""#);
        let uri = format!("http://127.0.0.2:{port}");
        let out = run_scenario(
            Mode::Sockets,
            &[&uri, "unary"],
            &[],
            NetworkPolicy::deny_all(),
        );
        assert!(
            out.starts_with("status: 7 the host did not grant access to 127.0.0.2"),
            "{out}"
        );
    }

    #[test]
    fn address_not_allowed_is_a_clear_denial() {
        let (addr, out) = denied(Mode::Sockets);
        assert_eq!(
            out,
            format!(
                "status: 7 the host did not grant access to {addr}: wasi:sockets denied the \
                 connection (wasmtime: -S inherit-network; grpc-wasi-harness: --allow {addr}; \
                 Spin: allowed_outbound_hosts tcp://{addr}; wasmCloud: allowedHosts)"
            )
        );
    }
}

mod wasi_http {
    use super::*;
    common_cases!(Mode::WasiHttp);

    #[test]
    fn a_restarted_server_is_reached_on_a_new_connection() {
        // The host keeps its HTTP/2 connection to a server from run to run; once the server
        // has gone, the next request opens a new one.
        let first = server();
        let addr = first.addr();
        assert_eq!(
            run(Mode::WasiHttp, &first, &["unary"]),
            r#"ok: reply "hello""#
        );
        drop(first);
        let second = echo_server::start(addr).unwrap();
        assert_eq!(
            run(Mode::WasiHttp, &second, &["unary"]),
            r#"ok: reply "hello""#
        );
    }

    #[test]
    fn bidirectional_ping_pong_is_full_duplex() {
        super::bidirectional_ping_pong_is_full_duplex(Mode::WasiHttp);
    }

    #[test]
    fn twenty_concurrent_calls_on_one_connection() {
        // The host multiplexes the guest's requests on one HTTP/2 connection.
        assert_eq!(
            twenty_concurrent_calls(Mode::WasiHttp),
            "ok: 20 calls in flight at once on 1 connection(s)"
        );
    }

    #[test]
    fn authority_not_allowed_is_a_clear_denial() {
        let (addr, out) = denied(Mode::WasiHttp);
        assert_eq!(
            out,
            format!(
                "status: 7 the host did not allow outgoing HTTP requests to {addr} (wasi:http \
                 HTTP-request-denied; grpc-wasi-harness: --allow-http {addr}; Spin: \
                 allowed_outbound_hosts; wasmCloud: allowedHosts)"
            )
        );
    }
}

/// gRPC-Web through a host whose wasi:http speaks HTTP/1.1.
mod grpc_web {
    use super::*;
    common_cases!(Mode::GrpcWeb);

    #[test]
    fn bidirectional_ping_pong_over_http1() {
        super::bidirectional_ping_pong_is_full_duplex(Mode::GrpcWeb);
    }

    #[test]
    fn twenty_concurrent_calls_need_twenty_connections() {
        // HTTP/1.1 carries one call at a time per connection.
        assert_eq!(
            twenty_concurrent_calls(Mode::GrpcWeb),
            "ok: 20 calls in flight at once on 20 connection(s)"
        );
    }

    #[test]
    fn authority_not_allowed_is_a_clear_denial() {
        let (addr, out) = denied(Mode::GrpcWeb);
        assert_eq!(code_of(&out), Some("7"), "{out}");
        assert!(out.contains(&format!("--allow-http {addr}")), "{out}");
    }
}
