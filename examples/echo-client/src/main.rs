//! echo-client: a grpc-wasi guest that makes one call of each RPC kind to
//! `grpc.examples.echo.Echo` and prints every response message.
//!
//! ```text
//! cargo build -p echo-client --target wasm32-wasip2 --release
//! wasmtime run -S inherit-network -S allow-ip-name-lookup \
//!     target/wasm32-wasip2/release/echo-client.wasm http://127.0.0.1:50051
//! ```
//!
//! Arguments: `[--transport sockets|wasi-http|grpc-web] [URI]`; the URI defaults to
//! `http://127.0.0.1:50051`, the transport to `sockets`. In the stock wasmtime CLI, `sockets`
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

async fn run(uri: String, transport: Transport) -> Result<bool, Status> {
    let channel = Channel::from_shared(uri)?
        .transport(transport)
        .connect()
        .await?;
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

/// Parses `[--transport T] [URI]`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(String, Transport), String> {
    let mut uri = None;
    let mut transport = Transport::Sockets;
    while let Some(arg) = args.next() {
        if arg == "--transport" {
            transport = match args.next().as_deref() {
                Some("sockets") => Transport::Sockets,
                Some("wasi-http") => Transport::WasiHttp,
                Some("grpc-web") => Transport::GrpcWeb,
                other => {
                    return Err(format!(
                        "--transport {other:?}: use sockets, wasi-http or grpc-web"
                    ));
                }
            };
        } else if uri.is_none() {
            uri = Some(arg);
        } else {
            return Err(format!("unexpected argument {arg:?}"));
        }
    }
    let uri = uri.unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    Ok((uri, transport))
}

fn main() -> ExitCode {
    let (uri, transport) = match parse_args(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("usage: echo-client [--transport sockets|wasi-http|grpc-web] [URI]: {e}");
            return ExitCode::from(2);
        }
    };
    match grpc_wasi::block_on(run(uri, transport)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(status) => {
            eprintln!("connect: error: {status}");
            ExitCode::FAILURE
        }
    }
}
