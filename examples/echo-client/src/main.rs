//! echo-client: a grpc-wasi guest that makes one call of each RPC kind to
//! `grpc.examples.echo.Echo` and prints every response message.
//!
//! ```text
//! cargo build -p echo-client --target wasm32-wasip2 --release
//! wasmtime run -S inherit-network -S allow-ip-name-lookup \
//!     target/wasm32-wasip2/release/echo-client.wasm http://127.0.0.1:50051
//! ```
//!
//! Argument: the server URI (default `http://127.0.0.1:50051`). Output: one line per response
//! message, `KIND: MESSAGE`; a failed call prints `KIND: error: STATUS` on stderr. Exits with
//! status 1 if any call failed.

use std::process::ExitCode;

use futures_lite::stream;
use grpc_wasi::{Channel, Status};

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

async fn run(uri: String) -> Result<bool, Status> {
    let channel = Channel::from_shared(uri)?.connect().await?;
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

fn main() -> ExitCode {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    match grpc_wasi::block_on(run(uri)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(status) => {
            eprintln!("connect: error: {status}");
            ExitCode::FAILURE
        }
    }
}
