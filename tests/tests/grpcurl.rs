//! `examples/grpcurl` against tonic servers with reflection (tonic-reflection): `list`,
//! `describe`, each RPC kind with JSON in and out, `-d @` from stdin, `-H`, `-max-time`, TLS
//! with `-cacert`, a server with only `grpc.reflection.v1alpha`, and grpcurl's exit codes.

#![allow(clippy::unwrap_used)]

use grpc_wasi_e2e::{Mode, pki, pki_dir, run_guest_options};
use grpc_wasi_harness::servers::echo_server::{self, Reflection};
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_harness::servers::tls::ServerTls;
use grpc_wasi_host::{NetworkPolicy, RunOptions, RunOutput};

fn server(reflection: Reflection) -> TestServer {
    echo_server::start_with("127.0.0.1:0".parse().unwrap(), reflection).unwrap()
}

/// `grpcurl ARGS` (the server's address where `ADDR` is), given `stdin`.
fn grpcurl_stdin(server: &TestServer, args: &[&str], stdin: &str) -> RunOutput {
    grpcurl_granted(server, args, stdin, Mode::Sockets.grant(server.addr()))
}

/// [`grpcurl_stdin`] with `network` granted.
fn grpcurl_granted(
    server: &TestServer,
    args: &[&str],
    stdin: &str,
    network: NetworkPolicy,
) -> RunOutput {
    let addr = server.addr().to_string();
    let args = args
        .iter()
        .map(|a| {
            if *a == "ADDR" {
                addr.clone()
            } else {
                a.to_string()
            }
        })
        .collect();
    let options = RunOptions {
        args,
        network,
        stdin: stdin.as_bytes().to_vec(),
        dirs: vec![(pki_dir().to_path_buf(), "/pki".to_owned())],
        ..RunOptions::default()
    };
    run_guest_options("grpcurl", &options)
}

fn grpcurl(server: &TestServer, args: &[&str]) -> RunOutput {
    grpcurl_stdin(server, args, "")
}

/// `grpcurl -plaintext FLAGS -d DATA ADDR grpc.examples.echo.Echo/UnaryEcho`.
fn unary_run(server: &TestServer, flags: &[&str], data: &str) -> RunOutput {
    let mut args = vec!["-plaintext"];
    args.extend_from_slice(flags);
    args.extend(["-d", data, "ADDR", "grpc.examples.echo.Echo/UnaryEcho"]);
    grpcurl(server, &args)
}

/// [`unary_run`] without flags: its output, which must succeed.
#[track_caller]
fn unary_echo(server: &TestServer, data: &str) -> String {
    ok(unary_run(server, &[], data))
}

/// `grpcurl -plaintext -d @ ADDR grpc.examples.echo.Echo/METHOD` with `stdin`: its output,
/// which must succeed.
#[track_caller]
fn from_stdin(server: &TestServer, method: &str, stdin: &str) -> String {
    let method = format!("grpc.examples.echo.Echo/{method}");
    ok(grpcurl_stdin(
        server,
        &["-plaintext", "-d", "@", "ADDR", &method],
        stdin,
    ))
}

/// The output of a run that must succeed.
#[track_caller]
fn ok(out: RunOutput) -> String {
    assert_eq!(out.exit_code, 0, "{out:?}");
    out.stdout
}

const SERVICES: &str = "grpc.examples.echo.Echo
grpc.health.v1.Health
grpc.reflection.v1.ServerReflection
";

#[test]
fn list_and_describe() {
    let s = server(Reflection::Both);
    let services = ok(grpcurl(&s, &["-plaintext", "ADDR", "list"]));
    assert_eq!(services, SERVICES);
    let methods = ok(grpcurl(
        &s,
        &["-plaintext", "ADDR", "list", "grpc.examples.echo.Echo"],
    ));
    assert_eq!(
        methods,
        "grpc.examples.echo.Echo.BidirectionalStreamingEcho
grpc.examples.echo.Echo.ClientStreamingEcho
grpc.examples.echo.Echo.ServerStreamingEcho
grpc.examples.echo.Echo.UnaryEcho
"
    );
    let service = ok(grpcurl(
        &s,
        &["-plaintext", "ADDR", "describe", "grpc.examples.echo.Echo"],
    ));
    assert!(
        service.starts_with("grpc.examples.echo.Echo is a service:\nservice Echo {\n"),
        "{service}"
    );
    assert!(
        service.contains(
            "  rpc BidirectionalStreamingEcho ( stream .grpc.examples.echo.EchoRequest ) returns \
             ( stream .grpc.examples.echo.EchoResponse );\n"
        ),
        "{service}"
    );
    let message = ok(grpcurl(
        &s,
        &[
            "-plaintext",
            "ADDR",
            "describe",
            ".grpc.examples.echo.EchoRequest",
        ],
    ));
    assert_eq!(
        message,
        "grpc.examples.echo.EchoRequest is a message:\nmessage EchoRequest {\n  string message = 1;\n}\n"
    );
    let method = ok(grpcurl(
        &s,
        &[
            "-plaintext",
            "ADDR",
            "describe",
            "grpc.examples.echo.Echo.UnaryEcho",
        ],
    ));
    assert!(
        method.starts_with("grpc.examples.echo.Echo.UnaryEcho is a method:\nrpc UnaryEcho ("),
        "{method}"
    );
    let missing = grpcurl(&s, &["-plaintext", "ADDR", "describe", "no.Such"]);
    assert_eq!(missing.exit_code, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("Failed to resolve symbol \"no.Such\""),
        "{missing:?}"
    );
}

#[test]
fn each_rpc_kind_with_json_in_and_out() {
    let s = server(Reflection::Both);
    let unary = unary_echo(&s, r#"{"message": "hi"}"#);
    assert_eq!(unary, "{\n  \"message\": \"hi\"\n}\n");
    let server_streaming = ok(grpcurl(
        &s,
        &[
            "-plaintext",
            "-d",
            r#"{"message": "s"}"#,
            "ADDR",
            "grpc.examples.echo.Echo.ServerStreamingEcho",
        ],
    ));
    assert_eq!(
        server_streaming,
        "{\n  \"message\": \"s 0\"\n}\n{\n  \"message\": \"s 1\"\n}\n{\n  \"message\": \"s 2\"\n}\n"
    );
    let stdin = "{\"message\": \"a\"}\n{\"message\": \"b\"}\n";
    let client_streaming = from_stdin(&s, "ClientStreamingEcho", stdin);
    assert_eq!(client_streaming, "{\n  \"message\": \"a,b\"\n}\n");
    let bidi = from_stdin(&s, "BidirectionalStreamingEcho", stdin);
    assert_eq!(
        bidi,
        "{\n  \"message\": \"a\"\n}\n{\n  \"message\": \"b\"\n}\n"
    );
    // No -d: one empty message (which prints as `{}`: no field has a value).
    let empty = ok(grpcurl(
        &s,
        &["-plaintext", "ADDR", "grpc.examples.echo.Echo/UnaryEcho"],
    ));
    assert_eq!(empty, "{}\n");
    let defaults = ok(grpcurl(
        &s,
        &[
            "-plaintext",
            "-emit-defaults",
            "ADDR",
            "grpc.examples.echo.Echo/UnaryEcho",
        ],
    ));
    assert_eq!(defaults, "{\n  \"message\": \"\"\n}\n");
}

#[test]
fn headers_errors_and_max_time() {
    let s = server(Reflection::Both);
    let header = unary_run(
        &s,
        &["-H", "X-Test: yes"],
        r#"{"message": "header?:x-test"}"#,
    );
    assert_eq!(ok(header), "{\n  \"message\": \"yes\"\n}\n");
    let failed = unary_run(&s, &[], r#"{"message": "status:5:nope"}"#);
    assert_eq!(failed.exit_code, 64 + 5, "{failed:?}");
    assert_eq!(failed.stderr, "ERROR:\n  Code: NotFound\n  Message: nope\n");
    let slow = unary_run(&s, &["-max-time", "0.5"], r#"{"message": "sleep:5000:t"}"#);
    assert_eq!(slow.exit_code, 64 + 4, "{slow:?}");
    assert!(slow.stderr.contains("Code: DeadlineExceeded"), "{slow:?}");
    let bad_json = unary_run(&s, &[], r#"{"nope": 1}"#);
    assert_eq!(bad_json.exit_code, 1, "{bad_json:?}");
    assert!(
        bad_json.stderr.contains("error getting request data"),
        "{bad_json:?}"
    );
    let two_for_unary = unary_run(&s, &[], "{} {}");
    assert_eq!(two_for_unary.exit_code, 1, "{two_for_unary:?}");
    assert!(
        two_for_unary.stderr.contains("contained 2 messages"),
        "{two_for_unary:?}"
    );
    let usage = grpcurl(&s, &["-bogus", "ADDR", "list"]);
    assert_eq!(usage.exit_code, 2, "{usage:?}");
    assert!(
        usage
            .stderr
            .starts_with("flag provided but not defined: -bogus\nUsage:"),
        "{usage:?}"
    );
}

#[test]
fn a_server_with_only_v1alpha_reflection() {
    let s = server(Reflection::V1AlphaOnly);
    let services = ok(grpcurl(&s, &["-plaintext", "ADDR", "list"]));
    assert!(services.contains("grpc.examples.echo.Echo\n"), "{services}");
    let unary = unary_echo(&s, r#"{"message": "old"}"#);
    assert_eq!(unary, "{\n  \"message\": \"old\"\n}\n");
}

#[test]
fn tls_with_cacert() {
    let s = echo_server::start_tls(
        "127.0.0.1:0".parse().unwrap(),
        &ServerTls::new(&pki().server),
    )
    .unwrap();
    let port = s.addr().port().to_string();
    let addr = format!("localhost:{port}");
    let granted = || {
        let mut policy = NetworkPolicy::deny_all();
        policy.allow(&addr).unwrap();
        policy
    };
    let out = grpcurl_granted(
        &s,
        &["-cacert", "/pki/ca.pem", &addr, "list"],
        "",
        granted(),
    );
    assert_eq!(ok(out), SERVICES);
    // Without the CA the server's certificate is not trusted.
    let untrusted = grpcurl_granted(&s, &[&addr, "list"], "", granted());
    assert_eq!(untrusted.exit_code, 1, "{untrusted:?}");
    assert!(
        untrusted.stderr.contains("Failed to dial target host"),
        "{untrusted:?}"
    );
}
