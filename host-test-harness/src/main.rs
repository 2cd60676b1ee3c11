//! `grpc-wasi-harness`: run grpc-wasi guests in wasmtime against real gRPC servers.
//!
//! ```text
//! grpc-wasi-harness echo-server [--addr 127.0.0.1:50051]
//! grpc-wasi-harness run GUEST.wasm --allow 127.0.0.1:50051 [--allow-http HOST:PORT] [--http1] [-- ARGS...]
//! grpc-wasi-harness serve COMPONENT.wasm --listen 127.0.0.1:8080 --allow-http 127.0.0.1:50051
//! grpc-wasi-harness demo
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use grpc_wasi_harness::echo_server;
use grpc_wasi_harness::outgoing_http::HttpVersion;
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
        #[command(flatten)]
        grants: Grants,
        /// Arguments for the guest.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Host a wasi:http/incoming-handler component (like `wasmtime serve`).
    Serve {
        /// The component (.wasm).
        component: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        grants: Grants,
    },
    /// Benchmark the guest against the native tonic client; prints a table, writes
    /// target/bench/results.json and target/bench/ratios.svg.
    Bench {
        /// A short run that proves the command works (figures too noisy to compare).
        #[arg(long)]
        quick: bool,
    },
    /// Build the echo guest, start the echo server, run one call of each RPC kind.
    Demo {
        /// The guest's transport: sockets, wasi-http or grpc-web.
        #[arg(long, default_value = "sockets")]
        transport: String,
    },
}

/// What a guest may reach, and its environment.
#[derive(clap::Args)]
struct Grants {
    /// Allow TCP connections to HOST:PORT (repeatable); everything else is denied.
    #[arg(long = "allow", value_name = "HOST:PORT")]
    allow: Vec<String>,
    /// Allow wasi:http requests to the authority HOST:PORT (repeatable); others are denied.
    #[arg(long = "allow-http", value_name = "HOST:PORT")]
    allow_http: Vec<String>,
    /// Speak HTTP/1.1 for wasi:http requests, as stock `wasmtime run -S http` does (default:
    /// HTTP/2).
    #[arg(long)]
    http1: bool,
    /// Environment variable for the guest, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
}

impl Grants {
    fn options(self) -> anyhow::Result<RunOptions> {
        let mut options = RunOptions {
            inherit_stdio: true,
            ..RunOptions::default()
        };
        for spec in &self.allow {
            options.network.allow(spec)?;
        }
        for authority in &self.allow_http {
            options.network.allow_http(authority)?;
        }
        if self.http1 {
            options.http_version = HttpVersion::Http1;
        }
        for kv in self.env {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--env {kv:?}: expected KEY=VALUE"))?;
            options.env.push((k.to_owned(), v.to_owned()));
        }
        Ok(options)
    }
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
            let server = echo_server::start(addr)?;
            println!("echo server listening on {}", server.uri());
            tokio::runtime::Runtime::new()?.block_on(tokio::signal::ctrl_c())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            guest,
            grants,
            args,
        } => {
            let options = RunOptions {
                args,
                ..grants.options()?
            };
            let runner = Runner::new()?;
            let component = runner.load(&guest)?;
            let output = runner.run_blocking(&component, &options, None)?;
            Ok(ExitCode::from(u8::try_from(output.exit_code).unwrap_or(1)))
        }
        Cmd::Serve {
            component,
            listen,
            grants,
        } => {
            let runner = Runner::new()?;
            let loaded = runner.load(&component)?;
            let serving =
                grpc_wasi_harness::serve::start(&runner, &loaded, listen, grants.options()?)?;
            println!(
                "serving {} on http://{}",
                component.display(),
                serving.addr()
            );
            serving.wait_for_ctrl_c(&runner)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Bench { quick } => {
            grpc_wasi_harness::bench::run(quick)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Demo { transport } => Ok(if grpc_wasi_harness::demo::run(&transport)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
    }
}
