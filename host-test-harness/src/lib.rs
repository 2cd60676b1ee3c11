//! # grpc-wasi-harness
//!
//! A wasmtime embedder for grpc-wasi guests and the real gRPC servers they are tested against.
//!
//! - [`runner`]: runs `wasm32-wasip2` command components (wasmtime 48, WASI 0.2) with args,
//!   env and captured output, granting exactly the TCP addresses allowed;
//! - [`echo_server`]: a tonic server for `grpc.examples.echo.Echo`, over TLS too ([`tls`]:
//!   a throw-away test PKI and the servers' TLS settings);
//! - [`guest`]: builds the workspace's guests for `wasm32-wasip2`;
//! - [`demo`]: the `demo` command: the echo guest against the echo server.
//!
//! ```no_run
//! use grpc_wasi_harness::{echo_server, guest, runner::{Runner, RunOptions}};
//!
//! let server = echo_server::start("127.0.0.1:0".parse()?)?;
//! let runner = Runner::new()?;
//! let component = runner.load(&guest::build("echo-client")?)?;
//! let mut options = RunOptions { args: vec![server.uri()], ..Default::default() };
//! options.network.allow(&server.addr().to_string())?;
//! let output = runner.run_blocking(&component, &options, None)?;
//! assert_eq!(output.exit_code, 0, "{}", output.stderr);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod bench;
mod bench_tls;
pub mod calculator_server;
pub mod demo;
pub mod echo_server;
pub mod fault_server;
pub mod guest;
mod h2c;
pub mod interop_server;
mod name_lookup;
pub mod outgoing_http;
mod ping_counter;
pub mod route_guide_server;
pub mod runner;
pub mod serve;
pub mod test_server;
pub mod tls;

/// The echo service's messages, server and (native tonic) client, generated from
/// `proto/echo.proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("grpc.examples.echo");

    /// `echo.proto`'s file descriptor set (for the echo server's reflection services).
    pub const ECHO_DESCRIPTORS: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/echo_descriptors.bin"));
}

/// The calculator example's service (`examples/calculator`), generated from
/// `proto/calculator.proto`.
#[allow(missing_docs, clippy::all)]
pub mod calculator_proto {
    tonic::include_proto!("calculator");
}

/// gRPC's RouteGuide example service, generated from `proto/routeguide/route_guide.proto`.
#[allow(missing_docs, clippy::all)]
pub mod route_guide_proto {
    tonic::include_proto!("routeguide");
}

/// The interop test services (`grpc.testing`), generated from `proto/grpc/testing/test.proto`.
#[allow(missing_docs, clippy::all)]
pub mod testing_proto {
    tonic::include_proto!("grpc.testing");
}
