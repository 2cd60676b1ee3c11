//! echo-client: a grpc-wasi guest that makes one call of each RPC kind to
//! `grpc.examples.echo.Echo` and prints every response message.
//!
//! ```text
//! cargo build -p echo-client --target wasm32-wasip2 --release
//! wasmtime run -S inherit-network -S allow-ip-name-lookup \
//!     target/wasm32-wasip2/release/echo-client.wasm http://127.0.0.1:50051
//! ```
//!
//! Arguments: `[--transport sockets|wasi-http|grpc-web] [--ca-file PEM] [--cert-file PEM
//! --key-file PEM] [--domain NAME] [URI]`; the URI defaults to `http://127.0.0.1:50051`, the
//! transport to `sockets`. Built with the `tls` feature, an `https://` URI over sockets makes
//! the TLS connection in the guest: `--ca-file` trusts that CA (instead of Mozilla's roots),
//! `--cert-file` and `--key-file` present a client identity (mTLS), `--domain` checks the
//! server's certificate for that name; the files are read through wasi:filesystem, so grant
//! their folder (`wasmtime run --dir DIR`):
//!
//! ```text
//! cargo build -p echo-client --features tls --target wasm32-wasip2 --release
//! wasmtime run -S inherit-network -S allow-ip-name-lookup --dir certs \
//!     target/wasm32-wasip2/release/echo-client.wasm --ca-file certs/ca.pem https://localhost:50051
//! ```
//! In the stock wasmtime CLI, `sockets`
//! runs with `-S inherit-network -S allow-ip-name-lookup` and `grpc-web` with `-S http` (its
//! wasi:http speaks HTTP/1.1); `wasi-http` needs a host whose wasi:http speaks HTTP/2, such as
//! `grpc-wasi-harness run --allow-http HOST:PORT`.
//!
//! Output: one line per response message, `KIND: MESSAGE`; a failed call prints
//! `KIND: error: STATUS` on stderr. Exits with status 1 if any call failed, 2 for bad
//! arguments.

use std::process::ExitCode;

use futures_lite::stream;
use grpc_wasi::{Channel, Status, Transport};

mod echo {
    #![allow(missing_docs)]
    grpc_wasi::include_proto!("grpc.examples.echo");
}

use echo::EchoRequest;
use echo::echo_client::EchoClient;

fn request(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
    }
}

async fn unary(client: &mut EchoClient) -> Result<(), Status> {
    let reply = client.unary_echo(request("hello")).await?;
    println!("unary: {}", reply.into_inner().message);
    Ok(())
}

async fn server_streaming(client: &mut EchoClient) -> Result<(), Status> {
    let mut replies = client
        .server_streaming_echo(request("stream"))
        .await?
        .into_inner();
    while let Some(reply) = replies.message().await? {
        println!("server-streaming: {}", reply.message);
    }
    Ok(())
}

async fn client_streaming(client: &mut EchoClient) -> Result<(), Status> {
    let requests = stream::iter(["one", "two", "three"].map(request));
    let reply = client.client_streaming_echo(requests).await?;
    println!("client-streaming: {}", reply.into_inner().message);
    Ok(())
}

async fn bidirectional_streaming(client: &mut EchoClient) -> Result<(), Status> {
    let requests = stream::iter(["ping", "pong", "done"].map(request));
    let mut replies = client
        .bidirectional_streaming_echo(requests)
        .await?
        .into_inner();
    while let Some(reply) = replies.message().await? {
        println!("bidirectional-streaming: {}", reply.message);
    }
    Ok(())
}

/// The command line.
#[derive(Default)]
struct Args {
    uri: Option<String>,
    transport: Transport,
    /// `--ca-file`, `--cert-file`, `--key-file`, `--domain`.
    ca_file: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    domain: Option<String>,
}

/// The endpoint `args` describe: its TLS settings from the files they name.
fn endpoint(args: &Args, uri: String) -> Result<grpc_wasi::Endpoint, Status> {
    let endpoint = Channel::from_shared(uri)?.transport(args.transport);
    #[cfg(feature = "tls-no-roots")]
    if args.ca_file.is_some() || args.cert_file.is_some() || args.domain.is_some() {
        let read = |path: &str| {
            std::fs::read(path).map_err(|e| Status::invalid_argument(format!("{path}: {e}")))
        };
        let mut tls = grpc_wasi::ClientTlsConfig::new();
        if let Some(ca) = &args.ca_file {
            tls = tls.ca_certificate(grpc_wasi::Certificate::from_pem(read(ca)?));
        }
        match (&args.cert_file, &args.key_file) {
            (Some(cert), Some(key)) => {
                tls = tls.identity(grpc_wasi::Identity::from_pem(read(cert)?, read(key)?));
            }
            (None, None) => {}
            _ => {
                return Err(Status::invalid_argument(
                    "--cert-file and --key-file go together",
                ));
            }
        }
        if let Some(domain) = &args.domain {
            tls = tls.domain_name(domain);
        }
        return endpoint.tls_config(tls);
    }
    #[cfg(not(feature = "tls-no-roots"))]
    if args.ca_file.is_some() || args.cert_file.is_some() || args.domain.is_some() {
        return Err(Status::unimplemented(
            "TLS options need echo-client built with the `tls` feature",
        ));
    }
    Ok(endpoint)
}

async fn run(args: Args) -> Result<bool, Status> {
    let uri = args
        .uri
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let channel = endpoint(&args, uri)?.connect().await?;
    let mut client = EchoClient::new(channel);
    let mut ok = true;
    let mut report = |kind: &str, result: Result<(), Status>| {
        if let Err(status) = result {
            eprintln!("{kind}: error: {status}");
            ok = false;
        }
    };
    report("unary", unary(&mut client).await);
    report("server-streaming", server_streaming(&mut client).await);
    report("client-streaming", client_streaming(&mut client).await);
    report(
        "bidirectional-streaming",
        bidirectional_streaming(&mut client).await,
    );
    Ok(ok)
}

/// Parses the command line (see the crate docs).
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args::default();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--ca-file" => parsed.ca_file = Some(value()?),
            "--cert-file" => parsed.cert_file = Some(value()?),
            "--key-file" => parsed.key_file = Some(value()?),
            "--domain" => parsed.domain = Some(value()?),
            "--transport" => parsed.transport = transport(&value()?)?,
            _ if parsed.uri.is_none() => parsed.uri = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(parsed)
}

/// The transport named `name`.
fn transport(name: &str) -> Result<Transport, String> {
    name.parse()
        .map_err(|status: Status| format!("--transport: {}", status.message()))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!(
                "usage: echo-client [--transport sockets|wasi-http|grpc-web] [--ca-file PEM] \
                 [--cert-file PEM --key-file PEM] [--domain NAME] [URI]: {e}"
            );
            return ExitCode::from(2);
        }
    };
    match grpc_wasi::block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(status) => {
            eprintln!("connect: error: {status}");
            ExitCode::FAILURE
        }
    }
}
