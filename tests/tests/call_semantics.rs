//! Deadlines and cancellation against the real tonic echo server, on every transport.

#![allow(clippy::unwrap_used)]

use grpc_wasi_e2e::{Mode, run_scenario};
use grpc_wasi_harness::servers::echo_server;

const MODES: [Mode; 3] = [Mode::Sockets, Mode::WasiHttp, Mode::GrpcWeb];

fn run(mode: Mode, scenario: &[&str]) -> String {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let uri = server.uri();
    let mut args = vec![uri.as_str()];
    args.extend_from_slice(scenario);
    run_scenario(mode, &args, &[], mode.grant(server.addr()))
}

#[test]
fn timeout_is_sent_as_grpc_timeout() {
    for mode in MODES {
        assert_eq!(
            run(mode, &["grpc-timeout", "1500"]),
            r#"ok: server saw grpc-timeout "1500000u""#,
            "{mode:?}"
        );
    }
}

#[test]
fn interceptors_add_metadata_or_refuse_calls() {
    for mode in MODES {
        let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let uri = server.uri();
        let out = run_scenario(
            mode,
            &[&uri, "interceptor"],
            &[("TOKEN", "t0k3n")],
            mode.grant(server.addr()),
        );
        assert_eq!(
            out,
            r#"ok: server saw authorization "Bearer t0k3n", x-call "2"; refused call: Err((Unauthenticated, "no credentials"))"#,
            "{mode:?}"
        );
    }
}

#[test]
fn metadata_reaches_the_server_with_every_value() {
    for mode in MODES {
        assert_eq!(
            run(mode, &["metadata"]),
            r#"ok: x-multi "one,two", x-trace-bin "AJ//""#,
            "{mode:?}"
        );
    }
}

#[test]
fn deadline_ends_a_call_the_server_has_not_answered() {
    for mode in MODES {
        let out = run(mode, &["deadline", "200"]);
        assert!(out.starts_with("status: 4 "), "{mode:?}: {out}");
    }
}

/// Runs the cancelling `scenario` over sockets and wasi:http: the server must observe the cancel.
fn server_observes_the_cancel(scenario: &str) {
    for mode in [Mode::Sockets, Mode::WasiHttp] {
        assert_eq!(
            run(mode, &[scenario]),
            "ok: the server observed the cancel",
            "{mode:?}"
        );
    }
}

#[test]
fn dropping_a_streaming_response_cancels_the_call() {
    server_observes_the_cancel("cancel-stream");
}

#[test]
fn dropping_a_call_future_cancels_the_call() {
    server_observes_the_cancel("cancel-unary");
}

#[test]
fn dropping_a_call_whose_request_stream_is_open_aborts_the_stream() {
    server_observes_the_cancel("cancel-request-stream");
}

#[test]
fn compressed_messages_both_ways_with_each_encoding() {
    for mode in MODES {
        for encoding in ["gzip", "deflate", "zstd"] {
            let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
            let uri = server.uri();
            let out = run_scenario(
                mode,
                &[&uri, "compression", "100000"],
                &[("ENCODING", encoding)],
                mode.grant(server.addr()),
            );
            assert_eq!(
                out,
                format!(
                    "ok: 100000 bytes round trip; server saw grpc-encoding {encoding:?}, \
                     grpc-accept-encoding {encoding:?}"
                ),
                "{mode:?} {encoding}"
            );
        }
    }
}

#[test]
fn message_size_limits_are_resource_exhausted() {
    for mode in MODES {
        assert_eq!(
            run(mode, &["limits"]),
            "ok: decode: Err((ResourceExhausted, \"received message of 2003 bytes, larger than \
             the decoding limit of 1000 bytes\")); encode: Err((ResourceExhausted, \"message of \
             2003 bytes is larger than the encoding limit of 1000 bytes\"))",
            "{mode:?}"
        );
    }
}

#[test]
fn rich_error_details_are_decoded() {
    for mode in MODES {
        assert_eq!(
            run(mode, &["rich"]),
            // In the order tonic-types writes them.
            "ok: ResourceExhausted \"slow down\" [RetryInfo(RetryInfo { retry_delay: \
             Some(Duration { seconds: 2, nanos: 500000000 }) }), ErrorInfo(ErrorInfo { reason: \
             \"QUOTA\", domain: \"echo.example\", metadata: {\"limit\": \"10\"} }), \
             BadRequest(BadRequest { field_violations: [FieldViolation { field: \"message\", \
             description: \"too long\" }] })]",
            "{mode:?}"
        );
    }
}

#[test]
fn a_task_sends_while_another_reads_and_detached_tasks_end_with_the_guest() {
    for mode in MODES {
        assert_eq!(
            run(mode, &["tasks"]),
            r#"ok: replies ["note 0", "note 1", "note 2"], sender Ok("sent 3"), aborted task: Some("task was cancelled")"#,
            "{mode:?}"
        );
    }
}

#[test]
fn timers_behave_as_tokios() {
    for mode in MODES {
        assert_eq!(
            run(mode, &["timers"]),
            r#"ok: ticks 50 ms apart, slept >= 30 ms, timeout: Err((DeadlineExceeded, "deadline has elapsed")), call: "in time""#,
            "{mode:?}"
        );
    }
}

#[test]
fn a_call_from_a_tokio_runtime_fails_with_a_status_that_says_what_to_use() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let uri = server.uri();
    let out = run_scenario(
        Mode::Sockets,
        &[&uri, "unary"],
        &[("RUNTIME", "tokio")],
        Mode::Sockets.grant(server.addr()),
    );
    assert_eq!(
        out,
        "status: 9 grpc-wasi was called from a tokio runtime, which cannot run in a WASI 0.2 \
         guest: run the calls inside grpc_wasi::block_on, or make main #[grpc_wasi::main] (or \
         #[wstd::main]) instead of #[tokio::main]"
    );
}
