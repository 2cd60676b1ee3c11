//! gateway: a `wasi:http/incoming-handler` component (a Wasm gRPC gateway).
//!
//! `POST /echo` with JSON `{"message": "..."}` calls `grpc.examples.echo.Echo/UnaryEcho` and
//! answers `200` with `{"message": "..."}`. A failed call answers with the HTTP status of its
//! gRPC code (the `google/rpc/code.proto` HTTP mapping: `NOT_FOUND` → 404, `UNAVAILABLE` →
//! 503, …) and the body `{"error": {"code": HTTP, "status": "NOT_FOUND", "message": "..."}}`.
//! A body that is not such JSON is a 400, any other path a 404.
//!
//! Configuration, from the environment:
//! - `GRPC_BACKEND`: the gRPC server URI (default `http://127.0.0.1:50051`);
//! - `GRPC_TRANSPORT`: `wasi-http` (default), `grpc-web` or `sockets`; another name makes
//!   every request a 400 naming the three.
//!
//! Runs in `grpc-wasi-harness serve` and in Spin (see `spin.toml` and the README).

use grpc_wasi::{Channel, Status, Transport};
use serde::{Deserialize, Serialize};
use wstd::http::{Body, Error, Method, Request, Response, StatusCode};

mod echo {
    #![allow(missing_docs)]
    grpc_wasi::include_proto!("grpc.examples.echo");
}

use echo::EchoRequest;
use echo::echo_client::EchoClient;

/// The JSON of a request and of a successful response.
#[derive(Deserialize, Serialize)]
struct EchoJson {
    message: String,
}

#[wstd::http_server]
async fn main(mut request: Request<Body>) -> Result<Response<Body>, Error> {
    if request.uri().path() != "/echo" {
        return json_error(StatusCode::NOT_FOUND.as_u16(), "NOT_FOUND", "no such route");
    }
    if request.method() != Method::POST {
        return json_error(405, "METHOD_NOT_ALLOWED", "use POST");
    }
    let input: EchoJson = match request.body_mut().json().await {
        Ok(input) => input,
        Err(e) => return json_error(400, "INVALID_ARGUMENT", &format!("invalid JSON: {e}")),
    };
    match call_echo(input.message).await {
        Ok(message) => json(200, &EchoJson { message }),
        Err(status) => json_error(
            status.code().http_status(),
            status.code().name(),
            status.message(),
        ),
    }
}

async fn call_echo(message: String) -> Result<String, Status> {
    let backend =
        std::env::var("GRPC_BACKEND").unwrap_or_else(|_| "http://127.0.0.1:50051".to_owned());
    let transport = match std::env::var("GRPC_TRANSPORT") {
        Ok(name) => name.parse()?,
        Err(_) => Transport::WasiHttp,
    };
    let channel = Channel::from_shared(backend)?
        .transport(transport)
        .connect()
        .await?;
    let reply = EchoClient::new(channel)
        .unary_echo(EchoRequest { message })
        .await?;
    Ok(reply.into_inner().message)
}

fn json(status: u16, value: &impl Serialize) -> Result<Response<Body>, Error> {
    let body = Body::from_json(value)?;
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        "content-type",
        wstd::http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn json_error(http: u16, status: &str, message: &str) -> Result<Response<Body>, Error> {
    let body = serde_json::json!({
        "error": { "code": http, "status": status, "message": message }
    });
    json(http, &body)
}
