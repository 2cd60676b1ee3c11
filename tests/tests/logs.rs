//! The SDK's logs (crate feature `log`): with `GRPC_WASI_LOG` set, the echo guest's stderr says
//! what its channel did (the name lookup, the connection and its address, each call's method,
//! status, duration and bytes, a failed connect and its backoff); without it, nothing.

#![allow(clippy::unwrap_used)]

use grpc_wasi_harness::servers::echo_server;
use grpc_wasi_host::{NetworkPolicy, RunOptions, RunOutput};

/// The echo guest, built with the `log` feature, run with `args`, `env` and `network`.
fn echo_client_logging(args: &[String], env: &[(&str, &str)], network: NetworkPolicy) -> RunOutput {
    let options = RunOptions {
        args: args.to_vec(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        network,
        ..RunOptions::default()
    };
    grpc_wasi_e2e::run_guest_with_features("echo-client", &["log"], &options)
}

/// The SDK's lines of `stderr`.
fn sdk_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("[grpc-wasi +"))
        .collect()
}

#[test]
fn grpc_wasi_log_debug_says_what_the_channel_did() {
    let server = echo_server::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = server.addr().port();
    let mut network = NetworkPolicy::deny_all();
    network.allow(&format!("localhost:{port}")).unwrap();
    let uri = format!("http://localhost:{port}");
    let out = echo_client_logging(
        std::slice::from_ref(&uri),
        &[("GRPC_WASI_LOG", "debug")],
        network.clone(),
    );
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    let lines = sdk_lines(&out.stderr);
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(
        has(r#"DEBUG transport::tcp] name "localhost" resolved to ["#),
        "{lines:#?}"
    );
    assert!(
        has(&format!(
            "INFO transport::reconnect] connected to localhost:{port} ("
        )),
        "{lines:#?}"
    );
    assert!(has(&format!(":{port}, h2c)")), "{lines:#?}");
    // Each call's line: method, status, duration, bytes.
    let unary = lines
        .iter()
        .find(|l| l.contains("/grpc.examples.echo.Echo/UnaryEcho: OK in "))
        .unwrap_or_else(|| panic!("no unary call line: {lines:#?}"));
    assert!(unary.contains(" ms; sent 1 message, "), "{unary}");
    assert!(unary.contains("received 1 message(s), "), "{unary}");
    for method in [
        "ServerStreamingEcho",
        "ClientStreamingEcho",
        "BidirectionalStreamingEcho",
    ] {
        assert!(
            has(&format!("/grpc.examples.echo.Echo/{method}: OK in ")),
            "{method}: {lines:#?}"
        );
    }
    assert!(
        has("ClientStreamingEcho: OK in ") && has("sent a stream"),
        "{lines:#?}"
    );

    // At `info`, the connection but not the calls; unset, nothing at all.
    let info = echo_client_logging(
        std::slice::from_ref(&uri),
        &[("GRPC_WASI_LOG", "info")],
        network.clone(),
    );
    let info_lines = sdk_lines(&info.stderr);
    assert!(
        info_lines.iter().any(|l| l.contains("connected to")),
        "{info_lines:#?}"
    );
    assert!(
        !info_lines.iter().any(|l| l.contains("DEBUG")),
        "{info_lines:#?}"
    );
    let quiet = echo_client_logging(std::slice::from_ref(&uri), &[], network);
    assert_eq!(quiet.exit_code, 0, "{}", quiet.stderr);
    assert_eq!(sdk_lines(&quiet.stderr), Vec::<&str>::new());
}

#[test]
fn a_failed_connect_is_logged_with_its_reason_and_backoff() {
    // A port with nothing on it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut network = NetworkPolicy::deny_all();
    network.allow(&addr.to_string()).unwrap();
    let out = echo_client_logging(
        &[format!("http://{addr}")],
        &[("GRPC_WASI_LOG", "debug")],
        network,
    );
    assert_ne!(out.exit_code, 0);
    let lines = sdk_lines(&out.stderr);
    assert!(
        lines.iter().any(
            |l| l.contains(&format!("TCP connect to {addr} failed: ")) && l.contains("refused")
        ),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l
            .contains(&format!("connecting to 127.0.0.1:{} failed: ", addr.port()))
            && l.contains("next attempt in ")
            && l.contains("(connection backoff)")),
        "{lines:#?}"
    );
}
