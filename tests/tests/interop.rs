//! The standard gRPC interop cases (`doc/interop-test-descriptions.md`): the interop-client
//! guest against the harness's interop server (tonic), each case on each transport, and
//! against TestService servers on two other gRPC implementations, grpcio (C-core) and
//! @grpc/grpc-js (`tests/interop-servers/`), over sockets and wasi:http. `.ci/run` installs
//! those into `target/grpcio` (pip) and `target/grpc-js` (npm); without them their tests say
//! so and pass, except in CI (`CI` set), where they fail.
//!
//! What the other servers cannot do is left out of their matrix: neither shows a server the
//! compressed flag of a request message, so neither checks `expect_compressed`
//! (client_compressed_*), and grpc-js sends no compressed responses (server_compressed_*).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::OnceLock;

use grpc_wasi_e2e::external::{ExternalServer, installed};
use grpc_wasi_e2e::{Mode, pki, pki_dir, run_guest_with_dirs};
use grpc_wasi_harness::guest::workspace_root;
use grpc_wasi_harness::servers::interop_server;
use grpc_wasi_harness::servers::test_server::TestServer;
use grpc_wasi_harness::servers::tls::ServerTls;

/// One interop server for the whole test process.
fn tonic_server() -> &'static TestServer {
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

/// Starts `program script PROTO_ROOT` with `path_var` naming the packages found by
/// [`installed`]`(env_var, default, install)`; `None` if they are not installed.
fn start_external(
    (env_var, default, install): (&str, &str, &str),
    program: &str,
    path_var: &str,
    script: &str,
) -> Option<ExternalServer> {
    let packages = installed(env_var, default, install)?;
    let mut command = Command::new(program);
    command
        .env(path_var, packages)
        .arg(workspace_root().join("tests/interop-servers").join(script))
        .arg(workspace_root().join("proto"));
    Some(ExternalServer::start(command))
}

/// The grpcio TestService server, if grpcio is installed (one for the process; it stops when
/// the process ends and its stdin closes).
fn grpcio_server() -> Option<SocketAddr> {
    static SERVER: OnceLock<Option<ExternalServer>> = OnceLock::new();
    let install = "pip install --target target/grpcio grpcio grpcio-tools";
    let tool = ("GRPC_WASI_GRPCIO", "target/grpcio", install);
    let server =
        SERVER.get_or_init(|| start_external(tool, "python3", "PYTHONPATH", "grpcio_server.py"));
    server.as_ref().map(ExternalServer::addr)
}

/// The @grpc/grpc-js TestService server, if grpc-js is installed; as [`grpcio_server`].
fn grpc_js_server() -> Option<SocketAddr> {
    static SERVER: OnceLock<Option<ExternalServer>> = OnceLock::new();
    let install = "npm install --prefix target/grpc-js @grpc/grpc-js @grpc/proto-loader";
    let tool = ("GRPC_WASI_GRPC_JS", "target/grpc-js/node_modules", install);
    let server =
        SERVER.get_or_init(|| start_external(tool, "node", "NODE_PATH", "grpc_js_server.js"));
    server.as_ref().map(ExternalServer::addr)
}

/// The interop server a case runs against.
#[derive(Clone, Copy)]
enum Server {
    /// The harness's (tonic); with TLS if `true`.
    Tonic(bool),
    Grpcio,
    GrpcJs,
}

/// Runs the interop `case` in `mode` against `server` (skipped if that server is not
/// installed); with TLS, over sockets with `--use_tls=true` and the test CA (`--ca_file`,
/// read through wasi:filesystem).
fn interop_with(server: Server, mode: Mode, case: &str) {
    let (addr, tls) = match server {
        Server::Tonic(false) => (tonic_server().addr(), false),
        Server::Tonic(true) => (tls_server().addr(), true),
        Server::Grpcio => match grpcio_server() {
            Some(addr) => (addr, false),
            None => return,
        },
        Server::GrpcJs => match grpc_js_server() {
            Some(addr) => (addr, false),
            None => return,
        },
    };
    let port = addr.port().to_string();
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
    let output = run_guest_with_dirs("interop-client", mode, &args, &[], mode.grant(addr), &dirs);
    assert_eq!(
        (output.exit_code, output.stdout.trim_end()),
        (0, format!("PASS: {case}").as_str()),
        "{mode:?} {case}\nstderr:\n{}",
        output.stderr
    );
}

macro_rules! cases {
    ($server:expr, $mode:expr; $($case:ident)*) => {
        $(
            #[test]
            fn $case() {
                super::super::interop_with($server, $mode, stringify!($case));
            }
        )*
    };
}

/// The cases every server here can serve: all but the compression ones.
macro_rules! common_cases {
    ($server:expr, $mode:expr $(; $($more:ident)*)?) => {
        cases!($server, $mode;
            empty_unary large_unary client_streaming server_streaming ping_pong empty_stream
            custom_metadata status_code_and_message special_status_message
            unimplemented_method unimplemented_service timeout_on_sleeping_server
            cancel_after_begin cancel_after_first_response $($($more)*)?
        );
    };
}

macro_rules! all_cases {
    ($server:expr, $mode:expr) => {
        common_cases!($server, $mode;
            client_compressed_unary server_compressed_unary client_compressed_streaming
            server_compressed_streaming
        );
    };
}

mod tonic {
    use super::Server::Tonic;
    use grpc_wasi_e2e::Mode;

    mod sockets {
        all_cases!(super::Tonic(false), super::Mode::Sockets);
    }

    mod wasi_http {
        all_cases!(super::Tonic(false), super::Mode::WasiHttp);
    }

    mod grpc_web {
        all_cases!(super::Tonic(false), super::Mode::GrpcWeb);
    }

    /// Over sockets with TLS in the guest.
    mod sockets_tls {
        all_cases!(super::Tonic(true), super::Mode::Sockets);
    }
}

/// grpcio (gRPC C-core): it speaks no gRPC-Web.
mod grpcio {
    use super::Server::Grpcio;
    use grpc_wasi_e2e::Mode;

    mod sockets {
        common_cases!(super::Grpcio, super::Mode::Sockets;
            server_compressed_unary server_compressed_streaming);
    }

    mod wasi_http {
        common_cases!(super::Grpcio, super::Mode::WasiHttp;
            server_compressed_unary server_compressed_streaming);
    }
}

/// @grpc/grpc-js: it speaks no gRPC-Web.
mod grpc_js {
    use super::Server::GrpcJs;
    use grpc_wasi_e2e::Mode;

    mod sockets {
        common_cases!(super::GrpcJs, super::Mode::Sockets);
    }

    mod wasi_http {
        common_cases!(super::GrpcJs, super::Mode::WasiHttp);
    }
}
