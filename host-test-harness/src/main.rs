//! `grpc-wasi-harness`: run grpc-wasi guests in wasmtime against real gRPC servers.
//!
//! ```text
//! grpc-wasi-harness echo-server [--addr 127.0.0.1:50051]
//! grpc-wasi-harness run GUEST.wasm --allow 127.0.0.1:50051 [-- ARGS...]
//! grpc-wasi-harness demo
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use grpc_wasi_harness::echo_server::EchoServer;
use grpc_wasi_harness::runner::{RunOptions, Runner};

#[derive(Parser)]
#[command(
    version,
    about = "Run grpc-wasi guests in wasmtime against real gRPC servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve grpc.examples.echo.Echo (tonic) until interrupted.
    EchoServer {
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: std::net::SocketAddr,
    },
    /// Run a wasm32-wasip2 command component; exits with the guest's exit code.
    Run {
        /// The component (.wasm).
        guest: PathBuf,
        /// Allow TCP connections to HOST:PORT (repeatable); everything else is denied.
        #[arg(long = "allow", value_name = "HOST:PORT")]
        allow: Vec<String>,
        /// Environment variable for the guest, KEY=VALUE (repeatable).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// Arguments for the guest.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Build the echo guest, start the echo server, run one call of each RPC kind.
    Demo,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::EchoServer { addr } => {
            let server = EchoServer::start(addr)?;
            println!("echo server listening on {}", server.uri());
            tokio::runtime::Runtime::new()?.block_on(tokio::signal::ctrl_c())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            guest,
            allow,
            env,
            args,
        } => {
            let mut options = RunOptions {
                args,
                inherit_stdio: true,
                ..RunOptions::default()
            };
            for spec in &allow {
                options.network.allow(spec)?;
            }
            for kv in env {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--env {kv:?}: expected KEY=VALUE"))?;
                options.env.push((k.to_owned(), v.to_owned()));
            }
            let runner = Runner::new()?;
            let component = runner.load(&guest)?;
            let output = runner.run_blocking(&component, &options)?;
            Ok(ExitCode::from(u8::try_from(output.exit_code).unwrap_or(1)))
        }
        Cmd::Demo => Ok(if grpc_wasi_harness::demo::run()? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
    }
}
