//! # grpc-wasi-harness
//!
//! Real gRPC servers for grpc-wasi guests to be tested against, and the commands that run
//! guests against them; the wasmtime host itself is the `grpc-wasi-host` crate.
//!
//! - [`servers`]: tonic servers (echo, calculator, route guide, interop, config, and the fault
//!   server that misbehaves on purpose), over TLS too ([`servers::tls`]: a throw-away test
//!   PKI and the servers' TLS settings);
//! - [`guest`]: builds the workspace's guests for `wasm32-wasip2`;
//! - [`commands`]: `demo` (the echo guest against the echo server) and `bench` (guests
//!   against native tonic).
//!
//! ```no_run
//! use grpc_wasi_harness::{guest, servers::echo_server};
//! use grpc_wasi_host::{RunOptions, Runner};
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

pub mod commands;
pub mod guest;
pub mod servers;

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

/// The config-watch example's service (`examples/config-watch`), generated from
/// `proto/config.proto`.
#[allow(missing_docs, clippy::all)]
pub mod config_proto {
    tonic::include_proto!("config");
}

/// The user-service example's backend (`examples/user-service`), generated from
/// `proto/users.proto`.
#[allow(missing_docs, clippy::all)]
pub mod users_proto {
    tonic::include_proto!("users");
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
