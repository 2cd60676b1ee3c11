//! grpcurl as a WebAssembly command component: what grpcurl does, with grpcurl's command line,
//! from inside the sandbox. It learns the server's services by server reflection
//! (`grpc.reflection.v1`, or `v1alpha`), so it needs no proto files:
//!
//! ```text
//! grpcurl -plaintext HOST:PORT list [SERVICE]
//! grpcurl -plaintext HOST:PORT describe [SYMBOL]
//! grpcurl -plaintext -d '{"message": "hi"}' HOST:PORT grpc.examples.echo.Echo/UnaryEcho
//! grpcurl -plaintext -d @ HOST:PORT grpc.examples.echo.Echo/BidirectionalStreamingEcho < msgs.json
//! grpcurl -cacert ca.pem HOST:PORT list          # TLS (in the guest)
//! ```
//!
//! Exit codes, as grpcurl's: 0; 2 for a bad command line; 1 when connecting, reflection or the
//! request data fails; 64 + the gRPC code when the call fails (the status on stderr as
//! `ERROR:` / `Code:` / `Message:`). Codes other than 0 and 1 go through `wasi:cli/exit`'s
//! `exit-with-code` (WASI 0.2.12; wasmtime 48 and later); see the `exit-with-code` feature.

mod args;
mod describe;
mod invoke;
mod raw;

use std::process::ExitCode;

use grpc_wasi::reflection::ReflectionClient;
use grpc_wasi::{Certificate, Channel, ClientTlsConfig, Endpoint, MetadataMap, Status};
use prost_reflect::DescriptorPool;

use args::{Args, Command};

/// How a run failed.
pub enum Failure {
    /// A call's status: printed as grpcurl prints it, exit code 64 + code.
    Rpc(Status),
    /// Anything else: the message, exit code 1.
    Other(String),
}

impl From<Status> for Failure {
    fn from(status: Status) -> Failure {
        Failure::Rpc(status)
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match args::parse(&argv) {
        Ok(args) if args.command.is_some() => args,
        Ok(_) => return usage("too few arguments: expected list, describe or a method"),
        Err(message) => return usage(&message),
    };
    let max_time = args.max_time;
    let outcome = grpc_wasi::block_on(async move {
        match max_time {
            Some(limit) => grpc_wasi::time::timeout(limit, run(args))
                .await
                .unwrap_or_else(|_| {
                    Err(Failure::Rpc(Status::deadline_exceeded(format!(
                        "the operation did not finish within -max-time ({limit:?})"
                    ))))
                }),
            None => run(args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Other(message)) => {
            eprintln!("{message}");
            ExitCode::from(1)
        }
        Err(Failure::Rpc(status)) => {
            eprintln!(
                "ERROR:\n  Code: {:?}\n  Message: {}",
                status.code(),
                status.message()
            );
            exit(64 + status.code() as u8)
        }
    }
}

/// Exits with `code`, as grpcurl does (feature `exit-with-code`); without the feature, WASI
/// 0.2's `exit` says only failure, 1.
fn exit(code: u8) -> ExitCode {
    #[cfg(all(feature = "exit-with-code", target_os = "wasi"))]
    wasip2::cli::exit::exit_with_code(code);
    let _ = code;
    ExitCode::FAILURE
}

fn usage(message: &str) -> ExitCode {
    if !message.is_empty() {
        eprintln!("{message}");
    }
    eprint!("{}", args::USAGE);
    exit(2)
}

async fn run(args: Args) -> Result<(), Failure> {
    let channel = connect(&args).await?;
    let mut reflection = ReflectionClient::new(channel.clone());
    match args.command.as_ref() {
        Some(Command::List(None)) => {
            let mut services = reflection
                .list_services()
                .await
                .map_err(|s| other("Failed to list services", s))?;
            services.sort();
            if services.is_empty() {
                println!("(No services)");
            }
            for service in services {
                println!("{service}");
            }
        }
        Some(Command::List(Some(service))) => {
            let pool = pool(&mut reflection, service).await;
            let found = pool.ok().and_then(|p| p.get_service_by_name(service));
            let Some(found) = found else {
                return Err(Failure::Other(format!(
                    "Failed to list methods for service {service:?}: Service not found: {service}"
                )));
            };
            let mut methods: Vec<String> =
                found.methods().map(|m| m.full_name().to_owned()).collect();
            methods.sort();
            for method in methods {
                println!("{method}");
            }
        }
        Some(Command::Describe(symbol)) => {
            let symbols = match symbol {
                Some(symbol) => vec![symbol.clone()],
                None => reflection
                    .list_services()
                    .await
                    .map_err(|s| other("Failed to list services", s))?,
            };
            for symbol in symbols {
                let pool = pool(&mut reflection, &symbol).await;
                let found = pool.ok().and_then(|p| describe::find(&p, &symbol));
                let Some(found) = found else {
                    return Err(Failure::Other(format!(
                        "Failed to resolve symbol {symbol:?}: Symbol not found: {symbol}"
                    )));
                };
                println!("{}", describe::describe(&found));
            }
        }
        Some(Command::Invoke(full)) => {
            let split = full.rfind('/').or_else(|| full.rfind('.'));
            let Some(at) = split else {
                return Err(Failure::Other(format!(
                    "given method name {full:?} is not in expected format: \
                     'service/method' or 'service.method'"
                )));
            };
            let (service, method) = (&full[..at], &full[at + 1..]);
            let pool = pool(&mut reflection, service)
                .await
                .map_err(|s| other(&format!("Failed to resolve symbol {service:?}"), s))?;
            let found = pool
                .get_service_by_name(service)
                .and_then(|s| s.methods().find(|m| m.name() == method));
            let Some(found) = found else {
                return Err(Failure::Other(format!(
                    "Error invoking method {full:?}: target server does not expose service \
                     or method {full:?}"
                )));
            };
            let data = match args.data.as_deref() {
                Some("@") => Some(read_stdin()?),
                other => other.map(str::to_owned),
            };
            let metadata = metadata(&args.headers)?;
            invoke::invoke(
                channel,
                &found,
                data.as_deref(),
                metadata,
                args.emit_defaults,
            )
            .await?;
        }
        None => {}
    }
    Ok(())
}

/// The channel to the address: plain text with `-plaintext`, else TLS in the guest (with
/// `-cacert`'s CA besides Mozilla's roots, and `-servername`).
async fn connect(args: &Args) -> Result<Channel, Failure> {
    let address = &args.address;
    let dial = |status: Status| other(&format!("Failed to dial target host {address:?}"), status);
    let scheme = if args.plaintext { "http" } else { "https" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}")).map_err(dial)?;
    if !args.plaintext {
        let mut tls = ClientTlsConfig::new().with_webpki_roots();
        if let Some(file) = &args.cacert {
            let pem = std::fs::read(file)
                .map_err(|e| Failure::Other(format!("Failed to read -cacert {file:?}: {e}")))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        if let Some(name) = &args.servername {
            tls = tls.domain_name(name.clone());
        }
        endpoint = endpoint.tls_config(tls).map_err(dial)?;
    }
    if let Some(timeout) = args.connect_timeout {
        endpoint = endpoint.connect_timeout(timeout);
    }
    endpoint.connect().await.map_err(dial)
}

/// The descriptors of the file defining `symbol`, with its imports.
async fn pool(reflection: &mut ReflectionClient, symbol: &str) -> Result<DescriptorPool, Status> {
    let files = reflection.file_containing_symbol(symbol).await?;
    DescriptorPool::from_file_descriptor_set(files)
        .map_err(|e| Status::internal(format!("the server's descriptors do not link: {e}")))
}

/// `-H` headers as metadata (`-bin` values are base64, as grpcurl takes them).
fn metadata(headers: &[(String, String)]) -> Result<MetadataMap, Failure> {
    use base64::Engine;
    let mut metadata = MetadataMap::new();
    for (name, value) in headers {
        let added = if name.ends_with("-bin") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|e| Failure::Other(format!("-H {name}: not base64: {e}")))?;
            metadata.append_bin(name, bytes)
        } else {
            metadata.append(name, value.as_str())
        };
        added.map_err(|e| Failure::Other(format!("-H {name}: {e}")))?;
    }
    Ok(metadata)
}

fn read_stdin() -> Result<String, Failure> {
    std::io::read_to_string(std::io::stdin())
        .map_err(|e| Failure::Other(format!("error getting request data: stdin: {e}")))
}

/// A failure that is not a call's: `what: the status's message`.
fn other(what: &str, status: Status) -> Failure {
    Failure::Other(format!("{what}: {}", status.message()))
}
