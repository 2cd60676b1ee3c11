//! The standard gRPC interop cases (`doc/interop-test-descriptions.md`): the interop-client
//! guest against the harness's interop server, each case on each transport.

#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use grpc_wasi_e2e::{Mode, pki, pki_dir, run_guest_with_dirs};
use grpc_wasi_harness::interop_server;
use grpc_wasi_harness::test_server::TestServer;
use grpc_wasi_harness::tls::ServerTls;

/// One interop server for the whole test process.
fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| interop_server::start("127.0.0.1:0".parse().unwrap()).unwrap())
}

/// One interop server speaking TLS (the test PKI's server certificate) for the process.
fn tls_server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let tls = ServerTls::new(&pki().server);
        interop_server::start_tls("127.0.0.1:0".parse().unwrap(), &tls).unwrap()
    })
}

/// Runs the interop `case` in `mode`; over sockets with `tls`, against the TLS server with
/// `--use_tls=true` and the test CA (`--ca_file`, read through wasi:filesystem).
fn interop_with(mode: Mode, case: &str, tls: bool) {
    let server = if tls { tls_server() } else { server() };
    let port = server.addr().port().to_string();
    let mut args = vec![
        "--server_host=127.0.0.1".to_owned(),
        format!("--server_port={port}"),
        format!("--test_case={case}"),
        format!("--transport={}", mode.transport()),
    ];
    let mut dirs = vec![];
    if tls {
        args.extend([
            "--use_tls=true".to_owned(),
            "--ca_file=/pki/ca.pem".to_owned(),
        ]);
        dirs.push((pki_dir().to_path_buf(), "/pki".to_owned()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_guest_with_dirs(
        "interop-client",
        mode,
        &args,
        &[],
        mode.grant(server.addr()),
        &dirs,
    );
    assert_eq!(
        (output.exit_code, output.stdout.trim_end()),
        (0, format!("PASS: {case}").as_str()),
        "{mode:?} {case}\nstderr:\n{}",
        output.stderr
    );
}

macro_rules! cases {
    ($mode:expr, $tls:expr; $($case:ident)*) => {
        $(
            #[test]
            fn $case() {
                super::interop_with($mode, stringify!($case), $tls);
            }
        )*
    };
}

macro_rules! all_cases {
    ($mode:expr) => {
        all_cases!($mode, false);
    };
    ($mode:expr, $tls:expr) => {
        cases!($mode, $tls;
            empty_unary large_unary client_streaming server_streaming ping_pong empty_stream
            custom_metadata status_code_and_message special_status_message
            unimplemented_method unimplemented_service timeout_on_sleeping_server
            cancel_after_begin cancel_after_first_response client_compressed_unary
            server_compressed_unary client_compressed_streaming server_compressed_streaming
        );
    };
}

mod sockets {
    all_cases!(grpc_wasi_e2e::Mode::Sockets);
}

mod wasi_http {
    all_cases!(grpc_wasi_e2e::Mode::WasiHttp);
}

mod grpc_web {
    all_cases!(grpc_wasi_e2e::Mode::GrpcWeb);
}

/// Over sockets with TLS in the guest.
mod sockets_tls {
    all_cases!(grpc_wasi_e2e::Mode::Sockets, true);
}
