//! Retries per gRFC A6 against the tonic echo server's `fail:` hooks (a server that fails a
//! tag's first N calls on purpose, with a code and a pushback of its choice, and reports the
//! calls and `grpc-previous-rpc-attempts` it saw), with the policy in the channel's service
//! config; and the connection backoff and wait-for-ready calls against a server that is not
//! up.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use grpc_wasi_e2e::{Mode, echo_server_later, run_scenario};
use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_harness::servers::test_server::TestServer;

const MODES: [Mode; 3] = [Mode::Sockets, Mode::WasiHttp, Mode::GrpcWeb];

/// A service config retrying UNAVAILABLE for every method, up to `attempts` attempts, 10 ms
/// to 50 ms apart; `extra` goes in the method config (`, "timeout": "1s"`, say) and `root`
/// at the top (`, "retryThrottling": …`).
fn config(attempts: u32, extra: &str, root: &str) -> String {
    format!(
        r#"{{"methodConfig": [{{"name": [{{}}]{extra}, "retryPolicy": {{
            "maxAttempts": {attempts}, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
            "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}}}]{root}}}"#
    )
}

/// Runs the guest's `scenario` in `mode` against `server` with `env`.
fn run(server: &TestServer, mode: Mode, scenario: &str, env: &[(&str, &str)]) -> String {
    run_scenario(
        mode,
        &[&server.uri(), scenario],
        env,
        mode.grant(server.addr()),
    )
}

/// How many calls `tag` has seen at `server`.
fn calls(server: &TestServer, tag: &str) -> String {
    let message = format!("calls?:{tag}");
    run(server, Mode::Sockets, "say", &[("MESSAGE", &message)])
}

fn server() -> TestServer {
    echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap()
}

#[test]
fn an_unavailable_call_is_retried_and_the_server_sees_the_attempt_count() {
    for mode in MODES {
        let server = server();
        let config = config(4, "", "");
        let env = [
            ("SERVICE_CONFIG", config.as_str()),
            ("MESSAGE", "fail:2:14:a"),
        ];
        let out = run(&server, mode, "say", &env);
        assert!(
            out.starts_with(r#"ok: reply "calls=3 previous-attempts=2 gaps-ms="#),
            "{mode:?}: {out}"
        );
    }
}

#[test]
fn without_a_retry_policy_nothing_is_retried() {
    let server = server();
    let out = run(&server, Mode::Sockets, "say", &[("MESSAGE", "fail:1:14:b")]);
    assert_eq!(out, "status: 14 failure 1");
    assert_eq!(calls(&server, "b"), r#"ok: reply "1""#);
}

#[test]
fn a_code_the_policy_does_not_list_is_not_retried() {
    let server = server();
    let config = config(4, "", "");
    let env = [
        ("SERVICE_CONFIG", config.as_str()),
        ("MESSAGE", "fail:1:3:c"),
    ];
    assert_eq!(
        run(&server, Mode::Sockets, "say", &env),
        "status: 3 failure 1"
    );
    assert_eq!(calls(&server, "c"), r#"ok: reply "1""#);
}

#[test]
fn attempts_stop_at_max_attempts() {
    let server = server();
    let config = config(3, "", "");
    let env = [
        ("SERVICE_CONFIG", config.as_str()),
        ("MESSAGE", "fail:10:14:d"),
    ];
    assert_eq!(
        run(&server, Mode::Sockets, "say", &env),
        "status: 14 failure 3"
    );
    assert_eq!(calls(&server, "d"), r#"ok: reply "3""#);
}

#[test]
fn server_pushback_sets_the_delay_or_stops_retries() {
    let server = server();
    let config = config(4, "", "");
    // 300 ms of pushback where the policy's backoff is at most 10 ms.
    let env = [
        ("SERVICE_CONFIG", config.as_str()),
        ("MESSAGE", "fail:1:14:e:300"),
    ];
    let out = run(&server, Mode::Sockets, "say", &env);
    let gap: u64 = out
        .split("gaps-ms=[")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .and_then(|gap| gap.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(out.contains("calls=2 previous-attempts=1"), "{out}");
    assert!(
        gap >= 300,
        "retried {gap} ms after the first attempt: {out}"
    );
    // A negative pushback: no retry.
    let env = [
        ("SERVICE_CONFIG", config.as_str()),
        ("MESSAGE", "fail:1:14:f:-1"),
    ];
    assert_eq!(
        run(&server, Mode::Sockets, "say", &env),
        "status: 14 failure 1"
    );
    assert_eq!(calls(&server, "f"), r#"ok: reply "1""#);
}

#[test]
fn the_deadline_covers_every_attempt() {
    let server = server();
    // 500 ms for the call; the server pushes each retry back 400 ms.
    let config = config(5, r#", "timeout": "0.5s""#, "");
    let env = [
        ("SERVICE_CONFIG", config.as_str()),
        ("MESSAGE", "fail:10:14:g:400"),
    ];
    let out = run(&server, Mode::Sockets, "say", &env);
    assert!(out.starts_with("status: 4 "), "{out}");
    assert_eq!(calls(&server, "g"), r#"ok: reply "2""#);
}

#[test]
fn throttling_stops_retries_when_tokens_run_low() {
    let server = server();
    // 2 tokens: the first failure leaves 1, not more than half, so no retry.
    let root = r#", "retryThrottling": {"maxTokens": 2, "tokenRatio": 0.1}"#;
    let config = config(4, "", root);
    let env = [
        ("SERVICE_CONFIG", config.as_str()),
        ("MESSAGE", "fail:1:14:h"),
    ];
    assert_eq!(
        run(&server, Mode::Sockets, "say", &env),
        "status: 14 failure 1"
    );
    assert_eq!(calls(&server, "h"), r#"ok: reply "1""#);
}

#[test]
fn a_response_that_has_begun_is_not_retried() {
    let server = server();
    let config = config(4, "", "");
    let env = [
        ("SERVICE_CONFIG", config.as_str()),
        ("MESSAGE", "fail-after-first:i"),
    ];
    assert_eq!(
        run(&server, Mode::Sockets, "listen", &env),
        r#"ok: replies ["first"], then Unavailable failed after the first message"#
    );
    assert_eq!(calls(&server, "i"), r#"ok: reply "1""#);
}

#[test]
fn a_request_stream_is_sent_again_in_full() {
    for mode in [Mode::Sockets, Mode::WasiHttp] {
        let server = server();
        let config = config(4, "", "");
        let env = [
            ("SERVICE_CONFIG", config.as_str()),
            ("MESSAGES", "fail:1:14:j|b|c"),
        ];
        let out = run(&server, mode, "say-stream", &env);
        assert!(
            out.starts_with(r#"ok: reply "fail:1:14:j,b,c calls=2 previous-attempts=1"#),
            "{mode:?}: {out}"
        );
    }
}

#[test]
fn a_malformed_service_config_fails_the_channel_with_the_field_named() {
    let server = server();
    let config = config(1, "", "");
    let env = [("SERVICE_CONFIG", config.as_str())];
    assert_eq!(
        run(&server, Mode::Sockets, "unary", &env),
        "status: 3 service config: methodConfig[0].retryPolicy.maxAttempts: must be an integer \
         greater than 1, got 1"
    );
}

/// A listener on a free port of 127.0.0.1 that accepts connections and closes them at once
/// (a server that is not up), recording when each came.
fn closing_listener() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<Instant>>>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            seen.lock().unwrap().push(Instant::now());
            drop(stream);
        }
    });
    (addr, accepted)
}

#[test]
fn connection_attempts_back_off_as_the_connection_backoff_protocol_says() {
    let (addr, accepted) = closing_listener();
    let uri = format!("http://{addr}");
    // A wait-for-ready call keeps trying to connect until its 5 s deadline.
    let env = [
        ("CONNECT", "lazy"),
        ("WAIT_FOR_READY", "1"),
        ("TIMEOUT_MS", "5000"),
        ("MESSAGE", "x"),
    ];
    let out = run_scenario(
        Mode::Sockets,
        &[&uri, "say"],
        &env,
        Mode::Sockets.grant(addr),
    );
    assert!(out.starts_with("status: 4 "), "{out}");
    let times = accepted.lock().unwrap().clone();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Attempts at 0 s, then 1 s, 1.6 s and 2.56 s apart, each ± 20 %, while within 5 s: two
    // or three gaps, as the jitter falls.
    assert!((2..=3).contains(&gaps.len()), "{gaps:?}");
    let within = |gap: &Duration, base: f64| {
        let secs = gap.as_secs_f64();
        secs >= base * 0.8 && secs <= base * 1.2 + 0.2
    };
    let bases = [1.0, 1.6, 2.56];
    assert!(
        gaps.iter().zip(bases).all(|(gap, base)| within(gap, base)),
        "{gaps:?}"
    );
}

#[test]
fn inside_the_backoff_a_call_fails_at_once_with_the_last_connect_error() {
    let (addr, accepted) = closing_listener();
    let uri = format!("http://{addr}");
    let env = [("CONNECT", "lazy")];
    let out = run_scenario(
        Mode::Sockets,
        &[&uri, "fail-fast"],
        &env,
        Mode::Sockets.grant(addr),
    );
    assert_eq!(out, "ok: both Some(Unavailable)");
    assert_eq!(accepted.lock().unwrap().len(), 1);
}

#[test]
fn a_wait_for_ready_call_succeeds_when_the_server_comes_up() {
    // A free port, with nothing on it for 2.5 s.
    let (addr, later) = echo_server_later(Duration::from_millis(2500));
    let uri = format!("http://{addr}");
    let env = [
        ("CONNECT", "lazy"),
        ("WAIT_FOR_READY", "1"),
        ("TIMEOUT_MS", "10000"),
        ("MESSAGE", "up"),
    ];
    let out = run_scenario(
        Mode::Sockets,
        &[&uri, "say"],
        &env,
        Mode::Sockets.grant(addr),
    );
    let _server = later.join().unwrap();
    assert_eq!(out, r#"ok: reply "up""#);
    // Without waiting for ready, the same call fails at once.
    let (addr, _) = closing_listener();
    let uri = format!("http://{addr}");
    let env = [("CONNECT", "lazy"), ("MESSAGE", "up")];
    let out = run_scenario(
        Mode::Sockets,
        &[&uri, "say"],
        &env,
        Mode::Sockets.grant(addr),
    );
    assert!(out.starts_with("status: 14 "), "{out}");
}

/// A service config hedging every method: up to `attempts` attempts, `delay` apart, the next
/// at once after an UNAVAILABLE.
fn hedging(attempts: u32, delay: &str) -> String {
    format!(
        r#"{{"methodConfig": [{{"name": [{{}}], "hedgingPolicy": {{"maxAttempts": {attempts},
            "hedgingDelay": "{delay}", "nonFatalStatusCodes": ["UNAVAILABLE"]}}}}]}}"#
    )
}

#[test]
fn a_hedged_call_takes_the_first_answer_and_cancels_the_slow_attempt() {
    for mode in MODES {
        let server = server();
        let config = hedging(3, "0.2s");
        let env = [
            ("SERVICE_CONFIG", config.as_str()),
            ("MESSAGE", "slow-first:3000:h"),
        ];
        grpc_wasi_e2e::prepare("e2e-guest");
        let started = Instant::now();
        let out = run(&server, mode, "say", &env);
        // The second attempt (sent 0.2 s in, the first still waiting) answers.
        assert_eq!(
            out, r#"ok: reply "calls=2 previous-attempts=1""#,
            "{mode:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3), "{mode:?}");
        // The second answered before a third was due.
        assert_eq!(calls(&server, "h"), r#"ok: reply "2""#, "{mode:?}");
        // The slow first attempt was cancelled when the second won.
        let cancelled = run(
            &server,
            Mode::Sockets,
            "say",
            &[("MESSAGE", "cancelled?:h")],
        );
        assert_eq!(cancelled, r#"ok: reply "yes""#, "{mode:?}");
    }
}

#[test]
fn a_non_fatal_failure_sends_the_next_hedge_at_once_and_a_fatal_one_ends_the_call() {
    let server = server();
    // A hedging delay far past the test's: only the non-fatal failures start new attempts.
    let config = hedging(4, "30s");
    let env = [
        ("SERVICE_CONFIG", config.as_str()),
        ("MESSAGE", "fail:2:14:n"),
    ];
    let out = run(&server, Mode::Sockets, "say", &env);
    assert!(
        out.starts_with(r#"ok: reply "calls=3 previous-attempts=2 gaps-ms="#),
        "{out}"
    );
    let env = [
        ("SERVICE_CONFIG", config.as_str()),
        ("MESSAGE", "fail:1:3:f"),
    ];
    assert_eq!(
        run(&server, Mode::Sockets, "say", &env),
        "status: 3 failure 1"
    );
    assert_eq!(calls(&server, "f"), r#"ok: reply "1""#);
    // Out of attempts: the last failure is the call's.
    let config = hedging(2, "30s");
    let env = [
        ("SERVICE_CONFIG", config.as_str()),
        ("MESSAGE", "fail:5:14:o"),
    ];
    assert_eq!(
        run(&server, Mode::Sockets, "say", &env),
        "status: 14 failure 2"
    );
}
