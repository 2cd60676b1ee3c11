//! The standard gRPC interop cases (`doc/interop-test-descriptions.md`): the interop-client
//! guest against the harness's interop server, each case on each transport.

#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use grpc_wasi_e2e::{Mode, run_guest};
use grpc_wasi_harness::interop_server;
use grpc_wasi_harness::test_server::TestServer;

/// One interop server for the whole test process.
fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| interop_server::start("127.0.0.1:0".parse().unwrap()).unwrap())
}

fn interop(mode: Mode, case: &str) {
    let server = server();
    let port = server.addr().port().to_string();
    let args = [
        "--server_host=127.0.0.1".to_owned(),
        format!("--server_port={port}"),
        format!("--test_case={case}"),
        format!("--transport={}", mode.transport()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_guest(
        "interop-client",
        mode,
        &args,
        &[],
        mode.grant(server.addr()),
    );
    assert_eq!(
        (output.exit_code, output.stdout.trim_end()),
        (0, format!("PASS: {case}").as_str()),
        "{mode:?} {case}\nstderr:\n{}",
        output.stderr
    );
}

macro_rules! cases {
    ($mode:expr; $($case:ident)*) => {
        $(
            #[test]
            fn $case() {
                super::interop($mode, stringify!($case));
            }
        )*
    };
}

macro_rules! all_cases {
    ($mode:expr) => {
        cases!($mode;
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
