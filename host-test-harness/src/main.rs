//! `grpc-wasi-harness`: run grpc-wasi guests in wasmtime against real gRPC servers.
//!
//! ```text
//! grpc-wasi-harness echo-server [--addr 127.0.0.1:50051] [--tls CERT KEY [--client-ca CA]]
//! grpc-wasi-harness calculator-server [--addr 127.0.0.1:50051]
//! grpc-wasi-harness user-server [--addr 127.0.0.1:50051]
//! grpc-wasi-harness config-server [--addr 127.0.0.1:50051] [--set KEY=VALUE]... [--file PATH] [--tick-ms MS]
//! grpc-wasi-harness run GUEST.wasm --allow 127.0.0.1:50051 [--allow-http HOST:PORT] [--http1] [--ca-cert PEM] [-- ARGS...]
//! grpc-wasi-harness serve COMPONENT.wasm --listen 127.0.0.1:8080 --allow-http 127.0.0.1:50051
//! grpc-wasi-harness test-certs [--out certs]
//! grpc-wasi-harness demo [--transport sockets|wasi-http|grpc-web] [--tls]
//! ```
//!
//! Logs go to stderr through `env_logger`: by default the grants the host refused (each with
//! the flag that would grant it); `RUST_LOG` chooses others (`RUST_LOG=grpc_wasi_host=debug`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use grpc_wasi_harness::servers::tls::{CertifiedKey, ServerTls, TestPki};
use grpc_wasi_harness::servers::{calculator_server, config_server, echo_server, user_server};
use grpc_wasi_host::HttpVersion;
use grpc_wasi_host::{RunOptions, Runner};

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
        /// Serve TLS (1.3 and 1.2, ALPN h2 and http/1.1) with this certificate chain and
        /// private key (PEM files).
        #[arg(long, num_args = 2, value_names = ["CERT", "KEY"])]
        tls: Option<Vec<PathBuf>>,
        /// With --tls: require client certificates signed by this CA (PEM file): mTLS.
        #[arg(long, value_name = "CA", requires = "tls")]
        client_ca: Option<PathBuf>,
    },
    /// Serve calculator.Calculator (tonic; `examples/calculator`'s server) until interrupted.
    CalculatorServer {
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: std::net::SocketAddr,
    },
    /// Serve users.UserService (tonic; `examples/user-service`'s backend), empty at start,
    /// until interrupted.
    UserServer {
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: std::net::SocketAddr,
    },
    /// Serve config.ConfigService (tonic; `examples/config-watch`'s server) until interrupted.
    ConfigServer {
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: std::net::SocketAddr,
        /// A starting value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Apply this file's KEY=VALUE lines, now and whenever the file changes (read every
        /// 100 ms).
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Set the key `tick` to 1, 2, 3, ... every MS milliseconds.
        #[arg(long, value_name = "MS")]
        tick_ms: Option<u64>,
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
    /// Write a throw-away test PKI into a folder: ca.pem, server.pem and server.key (for
    /// localhost, 127.0.0.1 and ::1), client.pem and client.key (for mTLS).
    TestCerts {
        /// The folder (made if missing).
        #[arg(long, default_value = "certs")]
        out: PathBuf,
    },
    /// Build the echo guest, start the echo server, run one call of each RPC kind.
    Demo {
        /// The guest's transport: sockets, wasi-http or grpc-web.
        #[arg(long, default_value = "sockets")]
        transport: String,
        /// Over TLS: the server gets a certificate from a throw-away CA, the guest trusts it
        /// (sockets: in the guest; wasi-http and grpc-web: the host's HTTP client).
        #[arg(long)]
        tls: bool,
    },
}

/// What a guest may reach, and its environment.
#[derive(clap::Args)]
struct Grants {
    /// Allow TCP connections to HOST:PORT (repeatable); everything else is denied. A HOST that
    /// is a name is resolved here, and the guest may look up that name (any case, trailing
    /// dot or not) and no other: lookups of other names fail with permanent-resolver-failure
    /// and never reach a resolver.
    #[arg(long = "allow", value_name = "HOST:PORT")]
    allow: Vec<String>,
    /// Give NAME a fixed answer, as curl's --resolve (repeatable; grants nothing: an --allow
    /// NAME:PORT grants the name and these addresses at PORT): the guest's lookups of NAME
    /// return these addresses, in this order, and no query leaves the host.
    #[arg(long = "resolve", value_name = "NAME=IP[,IP...]")]
    resolve: Vec<String>,
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
    /// Trust this CA (PEM file, repeatable) for wasi:http `https://` requests, over HTTP/2
    /// and HTTP/1.1, besides Mozilla's roots.
    #[arg(long = "ca-cert", value_name = "PEM")]
    ca_cert: Vec<PathBuf>,
    /// Give the guest this process's stdin (default: an empty stdin).
    #[arg(long)]
    stdin: bool,
    /// Let the guest read the host folder HOST at GUEST (default: the same path), read-only
    /// (repeatable), as `wasmtime run --dir HOST::GUEST`.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dir: Vec<String>,
}

impl Grants {
    /// The runner these grants need: one trusting the `--ca-cert` CAs.
    fn runner(&self) -> anyhow::Result<Runner> {
        let pems = self
            .ca_cert
            .iter()
            .map(|path| {
                std::fs::read(path).with_context(|| format!("--ca-cert {}", path.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Runner::trusting(&pems)
    }

    fn options(self) -> anyhow::Result<RunOptions> {
        let mut options = RunOptions {
            inherit_stdio: true,
            inherit_stdin: self.stdin,
            ..RunOptions::default()
        };
        for spec in &self.resolve {
            options.network.resolve(spec)?;
        }
        for spec in &self.allow {
            options.network.allow(spec)?;
        }
        for authority in &self.allow_http {
            options.network.allow_http(authority)?;
        }
        if self.http1 {
            options.http_version = HttpVersion::Http1;
        }
        for dir in &self.dir {
            let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
            options.dirs.push((PathBuf::from(host), guest.to_owned()));
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
    // Every grant the host refused is logged (target `grpc_wasi_host`, level warn).
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("grpc_wasi_host=warn"),
    )
    .init();
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
        Cmd::EchoServer {
            addr,
            tls,
            client_ca,
        } => {
            let server = match tls.as_deref() {
                None => echo_server::start(addr)?,
                Some([cert, key]) => {
                    let read = |path: &PathBuf| {
                        std::fs::read_to_string(path)
                            .with_context(|| format!("--tls: {}", path.display()))
                    };
                    let mut tls = ServerTls::new(&CertifiedKey {
                        cert_pem: read(cert)?,
                        key_pem: read(key)?,
                    });
                    tls.client_ca_pem = client_ca.as_ref().map(read).transpose()?;
                    echo_server::start_tls(addr, &tls)?
                }
                Some(_) => anyhow::bail!("--tls takes CERT and KEY"),
            };
            println!("echo server listening on {}", server.uri());
            tokio::runtime::Runtime::new()?.block_on(tokio::signal::ctrl_c())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CalculatorServer { addr } => {
            let server = calculator_server::start(addr)?;
            println!("calculator server listening on {}", server.uri());
            tokio::runtime::Runtime::new()?.block_on(tokio::signal::ctrl_c())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::UserServer { addr } => {
            let server = user_server::start(addr, &[])?;
            println!("user server listening on {}", server.uri());
            tokio::runtime::Runtime::new()?.block_on(tokio::signal::ctrl_c())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::ConfigServer {
            addr,
            set,
            file,
            tick_ms,
        } => {
            let initial = set
                .iter()
                .map(|kv| {
                    kv.split_once('=')
                        .ok_or_else(|| anyhow::anyhow!("--set {kv:?}: expected KEY=VALUE"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let server = config_server::ConfigServer::start(addr, &initial)?;
            if let Some(file) = file {
                server.follow_file(file, std::time::Duration::from_millis(100));
            }
            if let Some(ms) = tick_ms {
                server.tick("tick", std::time::Duration::from_millis(ms));
            }
            println!("config server listening on {}", server.uri());
            tokio::runtime::Runtime::new()?.block_on(tokio::signal::ctrl_c())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            guest,
            grants,
            args,
        } => {
            let runner = grants.runner()?;
            let options = RunOptions {
                args,
                ..grants.options()?
            };
            let component = runner.load(&guest)?;
            let output = runner.run_blocking(&component, &options, None)?;
            Ok(ExitCode::from(u8::try_from(output.exit_code).unwrap_or(1)))
        }
        Cmd::Serve {
            component,
            listen,
            grants,
        } => {
            let runner = grants.runner()?;
            let loaded = runner.load(&component)?;
            let serving =
                grpc_wasi_host::proxy::start(&runner, &loaded, listen, grants.options()?)?;
            println!(
                "serving {} on http://{}",
                component.display(),
                serving.addr()
            );
            serving.wait_for_ctrl_c(&runner)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Bench { quick } => {
            grpc_wasi_harness::commands::bench::run(quick)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::TestCerts { out } => {
            let pki = TestPki::generate()?;
            std::fs::create_dir_all(&out)?;
            for (name, pem) in [
                ("ca.pem", &pki.ca_pem),
                ("server.pem", &pki.server.cert_pem),
                ("server.key", &pki.server.key_pem),
                ("client.pem", &pki.client.cert_pem),
                ("client.key", &pki.client.key_pem),
            ] {
                let path = out.join(name);
                std::fs::write(&path, pem).with_context(|| format!("{}", path.display()))?;
            }
            println!("wrote a test CA and its certificates to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Demo { transport, tls } => Ok(
            if grpc_wasi_harness::commands::demo::run(&transport, tls)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            },
        ),
    }
}
