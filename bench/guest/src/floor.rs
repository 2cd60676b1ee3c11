//! The floor workloads (`floor-…`): the same round trips with no SDK, straight on `wstd`'s
//! `wasi:sockets` TCP stream and its `wasi:http` client, so `bench` shows what the host's
//! interfaces cost on their own, and so how much of a guest's time is the SDK's.

use std::time::Instant;

use prost::Message as _;
use wstd::io::{AsyncRead as _, AsyncWrite as _};

use crate::workloads::{echo, latencies, micros};

/// Runs the floor workload `name` (after `floor-`) against `uri`: its figures, one line of
/// `key=value`. Errors: a failed connect, read, write or request, a reply that is not the
/// one sent, or an unknown workload; each as text.
pub(crate) async fn run(
    uri: &str,
    name: &str,
    count: usize,
    size: usize,
) -> Result<String, String> {
    match name {
        "tcp-ping-pong" => tcp_ping_pong(&authority(uri)?, count, size).await,
        "http-unary" => http_unary(uri, count, size).await,
        other => Err(format!("no workload floor-{other}")),
    }
}

/// `host:port` of `uri` (`http://host:port/…`), as the SDK reads an endpoint's URI. Errors:
/// a URI the SDK does not take.
fn authority(uri: &str) -> Result<String, String> {
    let endpoint = grpc_wasi::Channel::from_shared(uri.to_owned()).map_err(|s| s.to_string())?;
    let authority = endpoint.uri().and_then(|uri| uri.authority());
    authority
        .map(|authority| authority.to_string())
        .ok_or_else(|| format!("{uri} names no host:port"))
}

/// COUNT round trips of SIZE bytes on one TCP connection to an echo server: write them, read
/// until as many came back. `p50_us`, `p99_us`.
async fn tcp_ping_pong(authority: &str, count: usize, size: usize) -> Result<String, String> {
    let text = |e: std::io::Error| format!("TCP to {authority}: {e}");
    let mut tcp = wstd::net::TcpStream::connect(authority)
        .await
        .map_err(text)?;
    let message = vec![b'x'; size];
    let mut buffer = vec![0; 64 * 1024];
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        tcp.write_all(&message).await.map_err(text)?;
        let mut echoed = 0;
        while echoed < size {
            match tcp.read(&mut buffer).await.map_err(text)? {
                0 => return Err(format!("TCP to {authority}: closed mid-reply")),
                n => echoed += n,
            }
        }
        samples.push(micros(start));
    }
    Ok(latencies(samples))
}

/// COUNT unary `Echo/UnaryEcho` calls of SIZE bytes, each a `wasi:http` POST of one
/// Length-Prefixed Message (gRPC over HTTP/2, PROTOCOL-HTTP2) through `wstd`'s client, its
/// reply read to the end and checked. `p50_us`, `p99_us`.
async fn http_unary(uri: &str, count: usize, size: usize) -> Result<String, String> {
    let message = echo::EchoRequest {
        message: "x".repeat(size),
    }
    .encode_to_vec();
    let mut body = Vec::with_capacity(5 + message.len());
    body.push(0); // not compressed
    body.extend((message.len() as u32).to_be_bytes());
    body.extend(message);
    let url = format!("{uri}/grpc.examples.echo.Echo/UnaryEcho");
    let client = wstd::http::Client::new();
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        let request = wstd::http::Request::post(&url)
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(body.clone())
            .map_err(|e| format!("request: {e}"))?;
        let mut response = client
            .send(request)
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let reply = response
            .body_mut()
            .contents()
            .await
            .map_err(|e| format!("POST {url}: the reply: {e}"))?;
        let echoed = reply
            .get(5..)
            .and_then(|message| echo::EchoResponse::decode(message).ok());
        if echoed.is_none_or(|echoed| echoed.message.len() != size) {
            return Err(format!("POST {url}: not the echo of the request"));
        }
        samples.push(micros(start));
    }
    Ok(latencies(samples))
}
