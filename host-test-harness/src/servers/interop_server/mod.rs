//! A tonic server for the gRPC interop tests (`grpc.testing.TestService`), following the
//! server requirements of the interop spec (`doc/interop-test-descriptions.md`, "Server"):
//!
//! - payloads are `response_size` zero bytes; `response_status` makes a call end with that
//!   code and message (in `FullDuplexCall`, at the request that carries it);
//! - `StreamingOutputCall` sleeps `interval_us` before each response;
//! - metadata `x-grpc-test-echo-initial` is echoed as initial metadata and
//!   `x-grpc-test-echo-trailing-bin` as trailing metadata;
//! - each request message's `Compressed-Flag` is checked against its `expect_compressed`
//!   (`true` on an uncompressed message, or `false` on a compressed one, fails with
//!   `INVALID_ARGUMENT`), and each response message is gzip-compressed exactly when its
//!   `response_compressed` (unary) or `compressed` (streaming `ResponseParameters`) says so
//!   and the client accepts gzip, as the C++ reference server does: [`message_flags`] shows
//!   and sets the per-message flags tonic's API does not;
//! - `UnimplementedCall` and the whole `UnimplementedService` answer `UNIMPLEMENTED`.

mod message_flags;

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::{Stream, StreamExt};
use http_body_util::BodyExt;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status, Streaming};

use crate::servers::test_server::{Incoming, Serve, Shutdown, TestServer};
use crate::servers::tls::ServerTls;
use crate::testing_proto::test_service_server::{TestService, TestServiceServer};
use crate::testing_proto::{
    EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};
use message_flags::{MessageFlags, MessageFlagsLayer};

const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";

/// Starts the interop server on `addr` (port 0 picks a free one), on its own thread.
///
/// Errors: the address cannot be bound, or the runtime cannot start.
pub fn start(addr: SocketAddr) -> anyhow::Result<TestServer> {
    TestServer::start(addr, "interop-server", serve)
}

/// Starts the interop server speaking TLS as `tls` says (its URI is `https://`); otherwise as
/// [`start`]. Errors: also a TLS configuration rustls cannot use.
pub fn start_tls(addr: SocketAddr, tls: &ServerTls) -> anyhow::Result<TestServer> {
    TestServer::start_tls(addr, "interop-server", tls, serve)
}

fn serve(incoming: Incoming, stop: Shutdown) -> Serve {
    // Response compression is MessageFlagsLayer's, message by message.
    let service = TestServiceServer::new(Interop).accept_compressed(CompressionEncoding::Gzip);
    Box::pin(
        tonic::transport::Server::builder()
            .accept_http1(true)
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(tower::layer::layer_fn(EchoMetadata))
            .layer(tower::layer::layer_fn(MessageFlagsLayer))
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, stop),
    )
}

struct Interop;

fn payload(size: i32) -> Option<Payload> {
    Some(Payload {
        r#type: 0,
        body: vec![0; usize::try_from(size).unwrap_or(0)],
    })
}

fn status_of(echo: Option<&EchoStatus>) -> Option<Status> {
    echo.filter(|s| s.code != 0)
        .map(|s| Status::new(tonic::Code::from_i32(s.code), s.message.clone()))
}

/// The call's per-message flags (set by [`MessageFlagsLayer`], always there beneath it).
fn flags<T>(request: &Request<T>) -> MessageFlags {
    request
        .extensions()
        .get::<MessageFlags>()
        .cloned()
        .unwrap_or_default()
}

/// Checks a request message's `Compressed-Flag` against its `expect_compressed`.
fn check_expect_compressed(expect: Option<bool>, compressed: bool) -> Result<(), Status> {
    match (expect.unwrap_or(false), compressed) {
        (true, false) => Err(Status::invalid_argument(
            "expected a compressed request message, got an uncompressed one",
        )),
        (false, true) => Err(Status::invalid_argument(
            "expected an uncompressed request message, got a compressed one",
        )),
        _ => Ok(()),
    }
}

type OutputStream = Pin<Box<dyn Stream<Item = Result<StreamingOutputCallResponse, Status>> + Send>>;

/// The responses one `StreamingOutputCallRequest` asks for, each compressed as its
/// parameters say, then its status, if any.
fn responses(
    request: StreamingOutputCallRequest,
    sleep: bool,
    flags: MessageFlags,
) -> OutputStream {
    let status = status_of(request.response_status.as_ref());
    let messages = futures_lite::stream::iter(request.response_parameters).then(
        move |ResponseParameters {
                  size,
                  interval_us,
                  compressed,
              }| {
            let flags = flags.clone();
            async move {
                if sleep && interval_us > 0 {
                    let micros = interval_us.unsigned_abs().into();
                    tokio::time::sleep(Duration::from_micros(micros)).await;
                }
                flags.compress_next(compressed.is_some_and(|b| b.value));
                Ok(StreamingOutputCallResponse {
                    payload: payload(size),
                })
            }
        },
    );
    Box::pin(messages.chain(futures_lite::stream::iter(status.map(Err))))
}

#[tonic::async_trait]
impl TestService for Interop {
    async fn empty_call(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let flags = flags(&request);
        let request = request.into_inner();
        check_expect_compressed(
            request.expect_compressed.map(|b| b.value),
            flags.next_received(),
        )?;
        if let Some(status) = status_of(request.response_status.as_ref()) {
            return Err(status);
        }
        flags.compress_next(request.response_compressed.is_some_and(|b| b.value));
        Ok(Response::new(SimpleResponse {
            payload: payload(request.response_size),
            ..SimpleResponse::default()
        }))
    }

    type StreamingOutputCallStream = OutputStream;

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<OutputStream>, Status> {
        let flags = flags(&request);
        Ok(Response::new(responses(request.into_inner(), true, flags)))
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        let flags = flags(&request);
        let mut stream = request.into_inner();
        let mut total = 0usize;
        while let Some(message) = stream.next().await {
            let message = message?;
            check_expect_compressed(
                message.expect_compressed.map(|b| b.value),
                flags.next_received(),
            )?;
            total += message.payload.map_or(0, |p| p.body.len());
        }
        Ok(Response::new(StreamingInputCallResponse {
            aggregated_payload_size: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    type FullDuplexCallStream = OutputStream;

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<OutputStream>, Status> {
        let flags = flags(&request);
        let requests = request.into_inner();
        let replies = requests
            .map(move |request| match request {
                Ok(request) => responses(request, true, flags.clone()),
                Err(status) => Box::pin(futures_lite::stream::once(Err(status))) as OutputStream,
            })
            .flatten();
        Ok(Response::new(Box::pin(replies)))
    }

    type HalfDuplexCallStream = OutputStream;

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<OutputStream>, Status> {
        let flags = flags(&request);
        let requests: Vec<_> = request.into_inner().collect().await;
        let replies = futures_lite::stream::iter(requests)
            .map(move |request| match request {
                Ok(request) => responses(request, false, flags.clone()),
                Err(status) => Box::pin(futures_lite::stream::once(Err(status))) as OutputStream,
            })
            .flatten();
        Ok(Response::new(Box::pin(replies)))
    }

    async fn unimplemented_call(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        Err(Status::unimplemented(
            "UnimplementedCall is not implemented",
        ))
    }
}

/// Echoes `x-grpc-test-echo-initial` into the response headers and
/// `x-grpc-test-echo-trailing-bin` into the trailers, for every call.
#[derive(Clone)]
struct EchoMetadata<S>(S);

impl<S, B> tower::Service<http::Request<B>> for EchoMetadata<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let initial = request.headers().get(ECHO_INITIAL).cloned();
        let trailing = request.headers().get(ECHO_TRAILING).cloned();
        let response = self.0.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            if let Some(value) = initial {
                response.headers_mut().insert(ECHO_INITIAL, value);
            }
            let Some(value) = trailing else {
                return Ok(response);
            };
            if response.headers().contains_key("grpc-status") {
                // Trailers-Only: the headers are the trailers.
                response.headers_mut().insert(ECHO_TRAILING, value);
                return Ok(response);
            }
            Ok(response.map(|body| {
                tonic::body::Body::new(body.map_frame(move |frame| match frame.into_trailers() {
                    Ok(mut trailers) => {
                        trailers.insert(ECHO_TRAILING, value.clone());
                        http_body::Frame::trailers(trailers)
                    }
                    Err(frame) => frame,
                }))
            }))
        })
    }
}
