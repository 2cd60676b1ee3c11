//! bench-guest-p3: gRPC over `wasi:http@0.3.0` (WASI 0.3) for `grpc-wasi-harness bench`.
//!
//! Usage: `bench-guest-p3 URI WORKLOAD COUNT SIZE`, a WASI 0.3 command (it exports
//! `wasi:cli/run@0.3.0`). It makes Echo calls with the SDK's framing
//! ([`grpc_wasi::codec::framing`]) and [`Status`], over `wasi:http/client@0.3.0`'s `send`, with
//! request and response bodies as WASI 0.3 `stream<u8>`s and trailers as a `future`, and prints
//! one line of `key=value` figures, as `bench-guest` does:
//!
//! | WORKLOAD | does | prints |
//! |---|---|---|
//! | `unary` | COUNT sequential unary calls of SIZE bytes | `p50_us`, `p99_us` |
//! | `concurrent` | COUNT unary calls of SIZE bytes, 64 in flight at once | `calls_per_s` |
//! | `ping-pong` | COUNT bidi round trips of SIZE bytes on one call | `p50_us`, `p99_us` |
//!
//! Exits 1 with the status on stderr if a call fails.

use std::time::Instant;

use bytes::BytesMut;
use futures::StreamExt;
use grpc_wasi::codec::framing::{DEFAULT_MAX_DECODING_MESSAGE_SIZE, Decoder, encode_frame};
use grpc_wasi::{Code, Status};
use prost::Message;
use wasip3::http::types::{ErrorCode, Fields, Method, Request, Response, Scheme, Trailers};
use wasip3::wit_bindgen::{FutureReader, FutureWriter, StreamReader, StreamResult, StreamWriter};
use wasip3::{wit_future, wit_stream};

#[path = "../../guest/src/latencies.rs"]
mod latencies;

use latencies::latencies;

/// Calls in flight at once in the `concurrent` workload.
const CONCURRENCY: usize = 64;

/// Bytes asked of a response body stream per read.
const READ_SIZE: usize = 64 * 1024;

/// `grpc.examples.echo.EchoRequest` and `EchoResponse` (the same shape).
#[derive(Clone, PartialEq, prost::Message)]
struct Echo {
    #[prost(string, tag = "1")]
    message: String,
}

struct BenchGuest;

wasip3::cli::command::export!(BenchGuest);

impl wasip3::exports::cli::run::Guest for BenchGuest {
    async fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().collect();
        let [_, uri, workload, count, size] = args.as_slice() else {
            eprintln!("usage: bench-guest-p3 URI WORKLOAD COUNT SIZE");
            return Err(());
        };
        let count = count.parse().unwrap_or(1).max(1);
        let size = size.parse().unwrap_or(0);
        match run(uri, workload, count, size).await {
            Ok(figures) => {
                println!("{figures}");
                Ok(())
            }
            Err(status) => {
                eprintln!("{workload}: {status}");
                Err(())
            }
        }
    }
}

async fn run(uri: &str, workload: &str, count: usize, size: usize) -> Result<String, Status> {
    let uri: http::Uri = uri
        .parse()
        .map_err(|e| Status::invalid_argument(format!("bad URI {uri:?}: {e}")))?;
    let authority = uri
        .authority()
        .ok_or_else(|| Status::invalid_argument("the URI has no authority"))?
        .to_string();
    let message = Echo {
        message: "x".repeat(size),
    };
    match workload {
        "unary" => {
            let mut samples = Vec::with_capacity(count);
            for _ in 0..count {
                let start = Instant::now();
                unary(&authority, &message).await?;
                samples.push(start.elapsed().as_secs_f64() * 1e6);
            }
            Ok(latencies(samples))
        }
        "concurrent" => {
            let start = Instant::now();
            let calls = futures::stream::iter(0..count)
                .map(|_| unary(&authority, &message))
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await;
            calls.into_iter().collect::<Result<Vec<()>, _>>()?;
            let seconds = start.elapsed().as_secs_f64();
            Ok(format!("calls_per_s={:.0}", count as f64 / seconds))
        }
        "ping-pong" => ping_pong(&authority, &message, count).await,
        other => Err(Status::invalid_argument(format!(
            "unknown workload {other:?}"
        ))),
    }
}

/// One Length-Prefixed Message holding `message`.
fn frame(message: &Echo) -> Result<Vec<u8>, Status> {
    let mut dst = BytesMut::new();
    encode_frame(&message.encode_to_vec(), usize::MAX, &mut dst)?;
    Ok(dst.to_vec())
}

fn http_error(e: ErrorCode) -> Status {
    Status::unavailable(format!("wasi:http@0.3 request failed: {e:?}"))
}

/// A body's trailers, as `wasi:http@0.3.0` hands them over.
type TrailersReader = FutureReader<Result<Option<Trailers>, ErrorCode>>;

/// A call's request (headers, the body stream's writer, the trailers' writer), sent with
/// `wasi:http/client.send` by the caller.
struct Call {
    request: Request,
    body: StreamWriter<u8>,
    trailers: FutureWriter<Result<Option<Trailers>, ErrorCode>>,
}

fn call(authority: &str, method: &str) -> Result<Call, Status> {
    let headers = Fields::from_list(&[
        ("content-type".into(), b"application/grpc".to_vec()),
        ("te".into(), b"trailers".to_vec()),
    ])
    .map_err(|e| Status::internal(format!("request headers: {e:?}")))?;
    let (body, contents) = wit_stream::new::<u8>();
    let (trailers, trailers_reader) = wit_future::new(|| Ok(None));
    let (request, _sent) = Request::new(headers, Some(contents), trailers_reader, None);
    let path = format!("/grpc.examples.echo.Echo/{method}");
    let set = [
        request.set_method(&Method::Post),
        request.set_scheme(Some(&Scheme::Http)),
        request.set_authority(Some(authority)),
        request.set_path_with_query(Some(&path)),
    ];
    if set.iter().any(Result::is_err) {
        return Err(Status::internal(
            "the host refused the request's method, scheme, authority or path",
        ));
    }
    Ok(Call {
        request,
        body,
        trailers,
    })
}

/// The response's body reader and trailers, once its status is known to be 200.
fn open_response(response: Response) -> Result<(StreamReader<u8>, TrailersReader), Status> {
    let status = response.get_status_code();
    if status != 200 {
        return Err(Status::unknown(format!("HTTP status {status}")));
    }
    let (_done, done) = wit_future::new(|| Ok(()));
    Ok(Response::consume_body(response, done))
}

/// The call's status from its trailers (`grpc-status`, `grpc-message`).
async fn finish(trailers: FutureReader<Result<Option<Trailers>, ErrorCode>>) -> Result<(), Status> {
    let trailers = trailers.await.map_err(http_error)?;
    let mut map = http::HeaderMap::new();
    for (name, value) in trailers.map(|t| t.copy_all()).unwrap_or_default() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(value.as_slice()),
        ) {
            map.append(name, value);
        }
    }
    match Status::from_header_map(&map) {
        Some(status) if status.code() == Code::Ok => Ok(()),
        Some(status) => Err(status),
        None => Err(Status::internal("the response had no grpc-status")),
    }
}

/// The next response message, reading the body as needed; `None` at its end.
async fn next_message(
    body: &mut StreamReader<u8>,
    decoder: &mut Decoder,
) -> Result<Option<Echo>, Status> {
    loop {
        if let Some(frame) = decoder.decode()? {
            return Echo::decode(frame.data)
                .map(Some)
                .map_err(|e| Status::internal(format!("bad response message: {e}")));
        }
        let (result, chunk) = body.read(Vec::with_capacity(READ_SIZE)).await;
        if chunk.is_empty() && !matches!(result, StreamResult::Complete(_)) {
            return Ok(None);
        }
        decoder.push(&chunk);
    }
}

async fn unary(authority: &str, message: &Echo) -> Result<(), Status> {
    let Call {
        request,
        mut body,
        trailers,
    } = call(authority, "UnaryEcho")?;
    let frame = frame(message)?;
    let write = async move {
        body.write_all(frame).await;
        drop(body);
        let _ = trailers.write(Ok(None)).await;
    };
    let (response, ()) = futures::join!(wasip3::http::client::send(request), write);
    let (mut body, trailers) = open_response(response.map_err(http_error)?)?;
    let mut decoder = Decoder::new(DEFAULT_MAX_DECODING_MESSAGE_SIZE);
    let reply = next_message(&mut body, &mut decoder).await?;
    while next_message(&mut body, &mut decoder).await?.is_some() {}
    drop(body);
    finish(trailers).await?;
    reply
        .map(drop)
        .ok_or_else(|| Status::internal("the response held no message"))
}

async fn ping_pong(authority: &str, message: &Echo, count: usize) -> Result<String, Status> {
    let Call {
        request,
        mut body,
        trailers,
    } = call(authority, "BidirectionalStreamingEcho")?;
    let frame = frame(message)?;
    // The first request goes with the call: servers may send the response headers only with
    // the first response message.
    let (response, _) = futures::join!(
        wasip3::http::client::send(request),
        body.write_all(frame.clone())
    );
    let (mut replies, response_trailers) = open_response(response.map_err(http_error)?)?;
    let mut decoder = Decoder::new(DEFAULT_MAX_DECODING_MESSAGE_SIZE);
    next_message(&mut replies, &mut decoder)
        .await?
        .ok_or_else(|| Status::internal("the stream ended early"))?;
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        body.write_all(frame.clone()).await;
        next_message(&mut replies, &mut decoder)
            .await?
            .ok_or_else(|| Status::internal("the stream ended early"))?;
        samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    drop(body);
    let _ = trailers.write(Ok(None)).await;
    while next_message(&mut replies, &mut decoder).await?.is_some() {}
    drop(replies);
    finish(response_trailers).await?;
    Ok(latencies(samples))
}
