//! # grpc-wasi
//!
//! A gRPC client for WebAssembly components (`wasm32-wasip2`): call gRPC services from a guest
//! as you would with a native tonic client.
//!
//! ```no_run
//! // Stubs generated from `echo.proto` by grpc-wasi-codegen (build.rs or protoc plugin):
//! mod echo {
//! #   #![allow(missing_docs)]
//! #   #[derive(Clone, PartialEq, prost::Message)]
//! #   pub struct EchoRequest { #[prost(string, tag = "1")] pub message: String }
//! #   #[derive(Clone, PartialEq, prost::Message)]
//! #   pub struct EchoResponse { #[prost(string, tag = "1")] pub message: String }
//! #   pub mod echo_client {
//! #       use super::*;
//! #       pub struct EchoClient { inner: grpc_wasi::client::Grpc }
//! #       impl EchoClient {
//! #           pub fn new(channel: grpc_wasi::Channel) -> Self { Self { inner: grpc_wasi::client::Grpc::new(channel) } }
//! #           pub async fn unary_echo(&mut self, request: impl grpc_wasi::IntoRequest<EchoRequest>)
//! #               -> Result<grpc_wasi::Response<EchoResponse>, grpc_wasi::Status> {
//! #               let path = grpc_wasi::codegen::PathAndQuery::from_static("/grpc.examples.echo.Echo/UnaryEcho");
//! #               self.inner.unary(request.into_request(), path).await
//! #           }
//! #           pub async fn server_streaming_echo(&mut self, request: impl grpc_wasi::IntoRequest<EchoRequest>)
//! #               -> Result<grpc_wasi::Response<grpc_wasi::Streaming<EchoResponse>>, grpc_wasi::Status> {
//! #               let path = grpc_wasi::codegen::PathAndQuery::from_static("/grpc.examples.echo.Echo/ServerStreamingEcho");
//! #               self.inner.server_streaming(request.into_request(), path).await
//! #           }
//! #       }
//! #   }
//! }
//! use echo::{EchoRequest, echo_client::EchoClient};
//!
//! fn main() -> Result<(), grpc_wasi::Status> {
//!     grpc_wasi::block_on(async {
//!         let channel = grpc_wasi::Channel::from_static("http://127.0.0.1:50051")
//!             .connect()
//!             .await?;
//!         let mut client = EchoClient::new(channel);
//!
//!         let reply = client.unary_echo(EchoRequest { message: "hi".into() }).await?;
//!         println!("{}", reply.into_inner().message);
//!
//!         let request = EchoRequest { message: "stream".into() };
//!         let mut stream = client.server_streaming_echo(request).await?.into_inner();
//!         while let Some(reply) = stream.message().await? {
//!             println!("{}", reply.message);
//!         }
//!         Ok(())
//!     })
//! }
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2` and run it with
//! `wasmtime run -S inherit-network -S allow-ip-name-lookup guest.wasm`.
//!
//! ## What is here
//!
//! | feature | status |
//! |---|---|
//! | unary, server-, client-, bidirectional streaming (full duplex) | yes |
//! | [`Transport::Sockets`] (feature `sockets`, default): HTTP/2 (h2c) over `wasi:sockets` TCP, IPv4 and IPv6 | yes |
//! | [`Transport::WasiHttp`] (feature `wasi-http`): gRPC over `wasi:http/outgoing-handler`, TLS by the host | yes |
//! | [`Transport::GrpcWeb`] (feature `wasi-http`): gRPC-Web over `wasi:http`, for HTTP/1.1-only hosts | yes |
//! | WASI 0.3 (feature `wasip3`, experimental): `WasiHttp` and `GrpcWeb` over `wasi:http@0.3.0`, `Sockets` (with feature `sockets`) over `wasi:sockets@0.3.0`, timers and tasks on the Component Model's async, inside `grpc_wasi::wasip3::run` in an async export | yes, on wasmtime 48's WASIp3 |
//! | metadata (ASCII and `-bin`), initial and trailing | yes |
//! | `Status`/`Code`, Trailers-Only responses, HTTP→gRPC code mapping | yes |
//! | message size limits (decode 4 MiB default, encode unlimited) | yes |
//! | deadlines (`grpc-timeout` + local enforcement), cancellation on drop | yes |
//! | compression: gzip, deflate (features `gzip`, `deflate`; pure-Rust flate2), zstd (feature `zstd`; ruzstd) | yes |
//! | per-message compression: [`StreamMessage::uncompressed`] in a request stream, [`Streaming::message_compressed`] for received messages | yes |
//! | interceptors ([`client::Interceptor`]: `FnMut` closures or types, [`client::Grpc::with_interceptor`]) | yes |
//! | tonic's client API where tonic has it: [`transport::Channel`], [`transport::Endpoint::new`], [`metadata::MetadataValue`], generated `connect(dst)`, `Client<Channel>` (README, "Coming from tonic") | yes |
//! | service config ([`transport::Endpoint::service_config`]: per-method timeouts, size limits, `waitForReady`, retry and hedging policies), retries and hedging per gRFC A6 (backoff, pushback, throttling, replayed request streams) | yes |
//! | connection backoff (gRPC's connection-backoff document), wait-for-ready calls ([`Request::set_wait_for_ready`]) | yes (sockets) |
//! | what tonic users take from tokio: [`time`] (`sleep`, `interval`, `timeout`), [`spawn`], `#[grpc_wasi::main]` | yes |
//! | rich error details: `google.rpc.Status` and `error_details.proto` (feature `rich-status`) | yes |
//! | name resolution (`dns:///NAME:PORT`), `pick_first` and `round_robin` over a name's addresses, [`Channel::balance_list`] | yes (sockets) |
//! | health checking (feature `health`): the `grpc.health.v1` client, client-side health checking (gRFC A17) | yes |
//! | server reflection (feature `reflection`): `grpc.reflection.v1`, falling back to `v1alpha` | yes |
//! | TLS on the sockets transport (feature `tls`): `https://`, rustls in the guest, `ClientTlsConfig` as tonic's, mTLS, ALPN `h2`; `tls-no-roots` without Mozilla's roots, `tls-ring` with ring's cryptography (needs clang) | yes |
//!
//! Each transport feature brings its WASI imports into the component: enable only the ones
//! your runtime grants (the stock `wasmtime run` refuses a component that imports `wasi:http`
//! unless given `-S http`).
//!
//! ## The executor
//! Every wait in a WASI 0.2 guest is a wait on a `wasi:io/poll` pollable, so grpc-wasi runs on
//! `wstd`'s reactor rather than bringing its own: a plain `fn main` guest calls [`block_on`], a
//! `#[wstd::main]` guest just awaits.

/// Includes the code grpc-wasi-codegen generated in `OUT_DIR` for a proto package:
/// `mod echo { grpc_wasi::include_proto!("grpc.examples.echo"); }` includes
/// `$OUT_DIR/grpc.examples.echo.rs`.
#[macro_export]
macro_rules! include_proto {
    ($package:tt) => {
        include!(concat!(env!("OUT_DIR"), concat!("/", $package, ".rs")));
    };
}

// The generated clients the SDK ships (health, reflection) name the crate as users do.
extern crate self as grpc_wasi;

#[macro_use]
mod logging;
#[cfg(any(feature = "sockets", feature = "health"))]
mod backoff;
pub mod client;
pub mod codec;
#[doc(hidden)]
pub mod codegen;
#[cfg(feature = "health")]
pub mod health;
#[cfg(feature = "log")]
pub mod log;
pub mod metadata;
mod reactor;
mod readiness;
#[cfg(feature = "reflection")]
pub mod reflection;
mod request;
mod response;
#[cfg(feature = "rich-status")]
pub mod rich_status;
mod runtime;
pub mod service_config;
mod status;
pub mod task;
pub mod time;
pub mod timeout;
pub mod transport;
#[cfg(feature = "wasip3")]
pub mod wasip3;

/// Where tonic has `tonic::service::Interceptor`: the same trait as
/// [`client::Interceptor`].
pub mod service {
    pub use crate::client::Interceptor;
}

/// `#[grpc_wasi::main]`: `async fn main` on grpc-wasi's reactor, for guests moving from
/// `#[tokio::main]` (whose runtime cannot run in a guest).
///
/// ```no_run
/// #[grpc_wasi::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let channel = grpc_wasi::transport::Endpoint::new("http://[::1]:10000")?
///         .connect()
///         .await?;
///     # let _ = channel;
///     Ok(())
/// }
/// ```
pub use grpc_wasi_macros::main;

pub use client::Streaming;
pub use codec::compression::CompressionEncoding;
pub use metadata::MetadataMap;
pub use request::{IntoRequest, IntoStreamMessage, IntoStreamingRequest, Request, StreamMessage};
pub use response::Response;
pub use runtime::block_on;
pub use status::{Code, Status};
pub use task::spawn;
#[cfg(feature = "tls-no-roots")]
pub use transport::{Certificate, ClientTlsConfig, Identity};
pub use transport::{Channel, Endpoint, Transport};
