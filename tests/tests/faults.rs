//! Every way a server can break a call gives its `Code`, never a panic or a hang: the guest
//! against the deliberately broken HTTP/2 server of the harness (`fault_server.rs`), over the
//! sockets transport.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use grpc_wasi_e2e::{Mode, fault_server, run_scenario};
use grpc_wasi_harness::servers::fault_server::{Config, Windows};

/// Runs the fault `name` over sockets; returns the verdict line.
fn fault(name: &str, timeout_ms: Option<u64>) -> String {
    fault_in(Mode::Sockets, name, timeout_ms)
}

/// Runs the fault `name` over `mode`; returns the verdict line.
fn fault_in(mode: Mode, name: &str, timeout_ms: Option<u64>) -> String {
    let server = fault_server();
    let uri = server.uri();
    let timeout = timeout_ms.map(|t| t.to_string()).unwrap_or_default();
    let mut env = vec![("FAULT", name)];
    if timeout_ms.is_some() {
        env.push(("TIMEOUT_MS", timeout.as_str()));
    }
    run_scenario(mode, &[&uri, "fault"], &env, mode.grant(server.addr()))
}

fn code_of(verdict: &str) -> i32 {
    verdict
        .strip_prefix("status: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a status: {verdict}"))
}

#[test]
fn a_correct_server_is_fine() {
    assert_eq!(fault("ok", None), r#"ok: reply "ok""#);
}

#[test]
fn a_silent_server_hits_the_local_deadline() {
    let out = fault("silent", Some(300));
    assert_eq!(out, "status: 4 deadline of 300ms exceeded");
}

#[test]
fn rst_stream_codes_map_like_tonic() {
    // (HTTP/2 error code, gRPC code): PROTOCOL-HTTP2 "Errors", on both transports that see
    // the code (over wasi:http the harness's h2c names it in `internal-error`), for a reset
    // before the response and for one after its first message.
    let cases = [
        (0x0, 13), // NO_ERROR
        (0x1, 13), // PROTOCOL_ERROR
        (0x2, 13), // INTERNAL_ERROR
        (0x3, 13), // FLOW_CONTROL_ERROR
        (0x5, 13), // STREAM_CLOSED
        (0x6, 13), // FRAME_SIZE_ERROR
        (0x7, 14), // REFUSED_STREAM
        (0x8, 1),  // CANCEL
        (0x9, 13), // COMPRESSION_ERROR
        (0xa, 13), // CONNECT_ERROR
        (0xb, 8),  // ENHANCE_YOUR_CALM
        (0xc, 7),  // INADEQUATE_SECURITY
        (0xd, 2),  // HTTP_1_1_REQUIRED
    ];
    for mode in [Mode::Sockets, Mode::WasiHttp] {
        for when in ["reset-", "reset-after-message-"] {
            for (reason, code) in cases {
                let out = fault_in(mode, &format!("{when}{reason}"), None);
                assert_eq!(code_of(&out), code, "{mode:?} {when}{reason:#x}: {out}");
            }
        }
    }
}

#[test]
fn goaway_is_unavailable() {
    for mode in [Mode::Sockets, Mode::WasiHttp] {
        let out = fault_in(mode, "goaway", None);
        assert_eq!(code_of(&out), 14, "{mode:?}: {out}");
    }
}

#[test]
fn connection_dropped_mid_stream_is_unavailable() {
    let out = fault("drop-connection", None);
    assert_eq!(code_of(&out), 14, "{out}");
}

#[test]
fn after_the_server_closed_the_connection_the_next_calls_share_a_new_one() {
    // GOAWAY, or the TCP connection closed mid-call: that call is Unavailable; the 20 calls
    // made at once after it on the same channel open one new connection.
    for name in ["goaway", "drop-connection"] {
        let server = fault_server();
        let verdict = run_scenario(
            Mode::Sockets,
            &[&server.uri(), "fault-then-ok", "20"],
            &[("FAULT", name)],
            Mode::Sockets.grant(server.addr()),
        );
        assert_eq!(
            verdict, r#"ok: first status 14, then 20 replies {"ok"}"#,
            "{name}"
        );
        assert_eq!(server.connections_accepted(), 2, "{name}");
    }
}

#[test]
fn keepalive_finds_a_server_that_stopped_answering() {
    // The server stops serving the connection mid-call. With keepalive the call fails with
    // Unavailable once a PING goes unanswered; without it only the 3 s deadline ends it.
    let server = fault_server();
    let run = |keepalive: &[(&str, &str)]| {
        let mut env = vec![("FAULT", "freeze"), ("TIMEOUT_MS", "3000")];
        env.extend_from_slice(keepalive);
        run_scenario(
            Mode::Sockets,
            &[&server.uri(), "fault"],
            &env,
            Mode::Sockets.grant(server.addr()),
        )
    };
    let keepalive = [("KEEPALIVE_MS", "100"), ("KEEPALIVE_TIMEOUT_MS", "200")];
    assert_eq!(
        run(&keepalive),
        "status: 14 the server did not answer a keepalive PING within 200ms"
    );
    assert_eq!(run(&[]), "status: 4 deadline of 3s exceeded");
    // The next call on the channel opens a new connection.
    let mut env = vec![("FAULT", "freeze")];
    env.extend_from_slice(&keepalive);
    let verdict = run_scenario(
        Mode::Sockets,
        &[&server.uri(), "fault-then-ok", "1"],
        &env,
        Mode::Sockets.grant(server.addr()),
    );
    assert_eq!(verdict, r#"ok: first status 14, then 1 replies {"ok"}"#);
}

#[test]
fn keepalive_pings_an_idle_connection_only_when_asked() {
    // Keepalive every 50 ms, then 500 ms without a call: PINGs only with while_idle.
    for (idle, expect_pings) in [(false, false), (true, true)] {
        let server = fault_server();
        let mut env = vec![("KEEPALIVE_MS", "50")];
        if idle {
            env.push(("KEEPALIVE_IDLE", "1"));
        }
        let verdict = run_scenario(
            Mode::Sockets,
            &[&server.uri(), "pings-after-idle", "500"],
            &env,
            Mode::Sockets.grant(server.addr()),
        );
        let pings: usize = verdict
            .strip_prefix(r#"ok: reply "pings="#)
            .and_then(|rest| rest.strip_suffix('"'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{verdict}"));
        assert_eq!(pings >= 2, expect_pings, "while_idle {idle}: {verdict}");
        if !idle {
            assert_eq!(pings, 0, "{verdict}");
        }
    }
}

#[test]
fn body_ending_inside_a_message_is_internal() {
    let out = fault("truncated", None);
    assert_eq!(code_of(&out), 13, "{out}");
    assert!(out.contains("inside a message"), "{out}");
}

#[test]
fn missing_grpc_status_is_internal_not_ok() {
    for name in ["no-status", "no-trailers"] {
        let out = fault(name, None);
        assert_eq!(code_of(&out), 13, "{name}: {out}");
        assert!(out.contains("grpc-status"), "{name}: {out}");
    }
}

#[test]
fn non_200_statuses_map_per_the_spec_table() {
    for (http, code) in [
        (400, 13),
        (401, 16),
        (403, 7),
        (404, 12),
        (429, 14),
        (503, 14),
        (500, 2),
    ] {
        let out = fault(&format!("http-{http}"), None);
        assert_eq!(code_of(&out), code, "HTTP {http}: {out}");
    }
}

#[test]
fn wrong_content_type_is_unknown() {
    let out = fault("content-type", None);
    assert_eq!(code_of(&out), 2, "{out}");
    assert!(out.contains("text/html"), "{out}");
}

#[test]
fn bad_grpc_message_bytes_are_kept_readable() {
    assert_eq!(fault("bad-utf8", None), "status: 3 bad \u{FFFD} byte");
    assert_eq!(fault("bad-percent", None), "status: 3 50%ZZ off");
}

#[test]
fn a_4_gib_length_prefix_is_resource_exhausted_before_allocating() {
    let out = fault("huge-length", None);
    assert_eq!(code_of(&out), 8, "{out}");
    assert!(out.contains("4294967295"), "{out}");
}

#[test]
fn compressed_response_is_decoded_only_when_accepted() {
    let server = fault_server();
    let uri = server.uri();
    let grant = || Mode::Sockets.grant(server.addr());
    let accepted = run_scenario(
        Mode::Sockets,
        &[&uri, "fault"],
        &[("FAULT", "gzip"), ("ACCEPT", "gzip")],
        grant(),
    );
    assert_eq!(accepted, r#"ok: reply "ok""#);
    let accepted_by_the_call = run_scenario(
        Mode::Sockets,
        &[&uri, "fault"],
        &[("FAULT", "gzip"), ("ACCEPT_CALL", "gzip")],
        grant(),
    );
    assert_eq!(accepted_by_the_call, r#"ok: reply "ok""#);
    let refused = run_scenario(
        Mode::Sockets,
        &[&uri, "fault"],
        &[("FAULT", "gzip")],
        grant(),
    );
    assert_eq!(code_of(&refused), 13, "{refused}");
    assert!(refused.contains("\"gzip\""), "{refused}");
}

#[test]
fn a_stream_that_pauses_pings_at_most_twice_until_the_server_sends_data() {
    // Each pause in a request stream sends a PING with its last DATA, so that the server's
    // answer carries the TCP ACK Nagle's algorithm waits for; strict servers (grpc-go) close
    // the connection at the fourth PING since they last sent DATA. Five pauses, then the
    // server's only DATA: two PINGs.
    let server = fault_server();
    let uri = server.uri();
    let verdict = run_scenario(
        Mode::Sockets,
        &[&uri, "fault-paced", "6"],
        &[("FAULT", "pings")],
        Mode::Sockets.grant(server.addr()),
    );
    assert_eq!(verdict, r#"ok: reply "pings=2""#);
}

#[test]
fn the_client_turns_server_push_off() {
    // SETTINGS_ENABLE_PUSH = 0: the server's h2 refuses to send a PUSH_PROMISE.
    let server = fault_server();
    let uri = server.uri();
    let verdict = run_scenario(
        Mode::Sockets,
        &[&uri, "fault"],
        &[("FAULT", "push")],
        Mode::Sockets.grant(server.addr()),
    );
    assert_eq!(verdict, r#"ok: reply "push=refused""#);
}

#[test]
fn a_goaways_debug_data_is_cut_in_the_status_message() {
    // A raw HTTP/2 server: SETTINGS, then GOAWAY (PROTOCOL_ERROR) with a frame's worth of
    // debug data (16,376 bytes), then it closes.
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut preface = [0; 24];
        socket.read_exact(&mut preface).unwrap();
        let debug = vec![b'x'; 16_384 - 8];
        let mut frames = vec![0, 0, 0, 4, 0, 0, 0, 0, 0];
        frames.extend_from_slice(&(debug.len() as u32 + 8).to_be_bytes()[1..]);
        frames.extend([7, 0, 0, 0, 0, 0]);
        frames.extend(0u32.to_be_bytes());
        frames.extend(1u32.to_be_bytes());
        frames.extend(debug);
        socket.write_all(&frames).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
    });
    let uri = format!("http://{addr}");
    let verdict = run_scenario(
        Mode::Sockets,
        &[&uri, "unary"],
        &[("CONNECT", "lazy")],
        Mode::Sockets.grant(addr),
    );
    server.join().unwrap();
    assert!(
        verdict.starts_with("status: 13 HTTP/2 error: connection error received"),
        "{verdict}"
    );
    assert!(verdict.len() < 300, "{} bytes: {verdict}", verdict.len());
    assert!(verdict.ends_with('…'), "{verdict}");
}

#[test]
fn a_server_that_never_sends_its_preface_hits_the_connect_timeout() {
    // It accepts TCP and reads, but never sends HTTP/2's SETTINGS: the connection is not open,
    // and the connect timeout ends the wait (before, connect() succeeded and the call hung).
    let (addr, held) = grpc_wasi_e2e::silent_listener();
    let uri = format!("http://{addr}");
    let verdict = run_scenario(
        Mode::Sockets,
        &[&uri, "unary"],
        &[("CONNECT_TIMEOUT_MS", "1000")],
        Mode::Sockets.grant(addr),
    );
    assert_eq!(
        verdict,
        format!(
            "status: 14 no connection to 127.0.0.1:{} within the connect timeout (1s)",
            addr.port()
        )
    );
    drop(held.join());
}

/// Runs `e2e-guest URI SCENARIO N` against `server` with the fault `fault`; returns the
/// verdict and how long the guest ran, to its exit.
fn timed_fault_run(
    server: &grpc_wasi_harness::servers::test_server::TestServer,
    scenario: &str,
    n: &str,
    env: &[(&str, &str)],
) -> (String, std::time::Duration) {
    let uri = server.uri();
    grpc_wasi_e2e::prepare("e2e-guest");
    let started = std::time::Instant::now();
    let verdict = run_scenario(
        Mode::Sockets,
        &[&uri, scenario, n],
        env,
        Mode::Sockets.grant(server.addr()),
    );
    (verdict, started.elapsed())
}

/// Longer than a guest whose calls ended may take to exit, and far shorter than the 60 s a
/// stalled server holds its connection.
const EXIT_BOUND: std::time::Duration = std::time::Duration::from_secs(10);

#[test]
fn a_guest_exits_after_its_upload_to_a_stalled_server_hit_the_deadline() {
    // The server stops reading its socket and advertises windows so wide that the client's
    // writes back up into TCP. The call ends at its deadline; the connection task, blocked on
    // a write the peer never takes, must not keep the guest from exiting.
    let server = grpc_wasi_e2e::fault_server_with(Config {
        windows: Windows::WIDEST,
        every_call: None,
    });
    let (verdict, ran) = timed_fault_run(
        &server,
        "upload",
        "1000",
        &[("FAULT", "stall"), ("TIMEOUT_MS", "1000")],
    );
    assert_eq!(verdict, "status: 4 deadline of 1s exceeded");
    assert!(ran < EXIT_BOUND, "the guest took {ran:?} to exit");
}

#[test]
fn a_guest_exits_after_a_server_answered_without_taking_the_request() {
    // SETTINGS_INITIAL_WINDOW_SIZE = 0, and the server answers at once without reading: the
    // calls succeed while their request DATA is still queued, waiting for a window that will
    // never open. The guest must still exit.
    let server = grpc_wasi_e2e::fault_server_with(Config {
        windows: Windows::ZERO,
        every_call: None,
    });
    for scenario in ["fault", "upload"] {
        let (verdict, ran) = timed_fault_run(&server, scenario, "3", &[("FAULT", "unread")]);
        assert_eq!(verdict, r#"ok: reply "ok""#, "{scenario}");
        assert!(
            ran < EXIT_BOUND,
            "{scenario}: the guest took {ran:?} to exit"
        );
    }
}

#[test]
fn a_refused_stream_is_sent_again_once_transparently() {
    // The server refuses the first stream with REFUSED_STREAM (it never processed it): the
    // call is made again at once, without a retry policy (gRFC A6, transparent retry).
    assert_eq!(fault("refuse-first", None), r#"ok: reply "ok""#);
    // A server that refuses every stream: one transparent retry, then the refusal.
    let refused = fault("reset-7", None);
    assert_eq!(code_of(&refused), 14, "{refused}");
}
