//! The client for `http://` requests over HTTP/2 (h2c, prior knowledge), straight on the `h2`
//! crate: one connection per authority, shared by all guests, opened on first use and
//! again after it fails.
//!
//! Why not hyper's client, as for `https://`: a guest writes a unary request's body and
//! finishes it before it waits for the response, so by the time the host sends the request the
//! whole body is there. This client queues the HEADERS and all the DATA at once, so they leave
//! in one write, with no task to pipe the body and no connection pool in between. Only a body
//! that is not complete yet gets a task that pipes the rest, with flow control.

use std::collections::HashMap;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt as _;
use h2::RecvStream;
use h2::client::SendRequest;
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use wasmtime_wasi_http::{Error, WasiBody};

/// HTTP/2 flow-control windows, in bytes: hyper's client defaults, as before this client.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;

/// The h2c connections of an [`OutgoingHttp2`](crate::OutgoingHttp2), by server: (host
/// lower-cased, without IPv6 brackets; port as a number), so every spelling of one server
/// (`127.0.0.1:080`, `LOCALHOST:80`) shares one connection. Each is behind its own lock, held while it is opened, so calls made at once
/// share one connection and a slow connect to one server does not hold up calls to another.
/// At most [`MAX_CONNECTIONS`] are kept: past that, one not in use is dropped.
#[derive(Clone, Default)]
pub(crate) struct H2c {
    connections: Arc<Mutex<HashMap<Server, Slot>>>,
}

/// A server as the cache and the connect see it: (host, port).
type Server = (String, u16);

/// The most servers the cache keeps a connection to.
const MAX_CONNECTIONS: usize = 64;

/// One authority's connection, if opened.
type Slot = Arc<tokio::sync::Mutex<Option<SendRequest<Bytes>>>>;

impl H2c {
    /// Sends `request` (an absolute `http://` URI) and waits for the response head, at most
    /// `first_byte_timeout` if given. Errors: the connection cannot be opened (within
    /// `connect_timeout`), fails, or the server resets the stream.
    pub(crate) async fn send(
        &self,
        request: http::Request<WasiBody>,
        connect_timeout: Option<Duration>,
        first_byte_timeout: Option<Duration>,
    ) -> Result<http::Response<WasiBody>, Error> {
        let server = server_of(request.uri()).ok_or(Error::HttpRequestUriInvalid)?;
        let sender = self.connection(server, connect_timeout).await?;
        let response = start(sender, request)?;
        let response = within(first_byte_timeout, Error::HttpResponseTimeout, response)
            .await?
            .map_err(h2_error)?;
        Ok(response.map(|body| ResponseBody(body).boxed_unsync()))
    }

    /// A ready handle on the connection to `server`, opening one if there is none or the last
    /// one failed.
    async fn connection(
        &self,
        server: Server,
        connect_timeout: Option<Duration>,
    ) -> Result<SendRequest<Bytes>, Error> {
        let slot = {
            let mut connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
            if !connections.contains_key(&server) && connections.len() >= MAX_CONNECTIONS {
                // Drop one that no call holds (its lock is free); its connection closes.
                let idle = connections
                    .iter()
                    .find(|(_, slot)| slot.try_lock().is_ok())
                    .map(|(server, _)| server.clone());
                if let Some(idle) = idle {
                    connections.remove(&idle);
                }
            }
            connections.entry(server.clone()).or_default().clone()
        };
        let cached = slot.lock().await.clone();
        if let Some(sender) = cached
            && let Ok(ready) = sender.ready().await
        {
            return Ok(ready);
        }
        let mut slot = slot.lock().await;
        // Another call may have opened it while this one waited for the lock.
        if let Some(sender) = slot.clone()
            && let Ok(ready) = sender.ready().await
        {
            return Ok(ready);
        }
        let connect = tokio::net::TcpStream::connect((server.0.as_str(), server.1));
        let tcp = within(connect_timeout, Error::ConnectionTimeout, connect)
            .await?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
                std::io::ErrorKind::TimedOut => Error::ConnectionTimeout,
                _ => Error::DestinationUnavailable,
            })?;
        // Nagle's algorithm would hold a request's DATA until the HEADERS are ACKed.
        tcp.set_nodelay(true)
            .map_err(|_| Error::ConnectionTerminated)?;
        let (sender, connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .enable_push(false)
            .handshake(tcp)
            .await
            .map_err(h2_error)?;
        tokio::spawn(async move {
            // The connection ends when the server closes it or every handle is dropped; its
            // streams see the error.
            let _ = connection.await;
        });
        *slot = Some(sender.clone());
        sender.ready().await.map_err(h2_error)
    }
}

/// The server `uri` names: its host lower-cased and without IPv6 brackets, and its port (80
/// if none). `None` without a host, or with userinfo (`user@host`), which the policy refuses
/// too.
pub(crate) fn server_of(uri: &http::Uri) -> Option<Server> {
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((
        host.to_ascii_lowercase(),
        authority.port_u16().unwrap_or(80),
    ))
}

/// Queues the request's HEADERS and every body frame already written, then leaves the rest of
/// the body (if any) to a task. Returns the response future.
fn start(
    mut sender: SendRequest<Bytes>,
    request: http::Request<WasiBody>,
) -> Result<h2::client::ResponseFuture, Error> {
    let (head, mut body) = request.into_parts();
    let end = body.is_end_stream();
    let (response, mut stream) = sender
        .send_request(http::Request::from_parts(head, ()), end)
        .map_err(h2_error)?;
    if !end {
        loop {
            let Some(frame) = body.frame().now_or_never() else {
                tokio::spawn(pipe(body, stream));
                break;
            };
            if !forward(&mut stream, frame).map_err(h2_error)? {
                break;
            }
        }
    }
    Ok(response)
}

/// Sends the rest of a request body as the guest writes it, one frame at a time once the
/// stream has send capacity (as hyper does).
async fn pipe(mut body: WasiBody, mut stream: h2::SendStream<Bytes>) {
    loop {
        stream.reserve_capacity(1);
        match poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(Ok(_)) => {}
            // The stream is closed or reset: the response says why.
            Some(Err(_)) | None => return,
        }
        if !matches!(forward(&mut stream, body.frame().await), Ok(true)) {
            return;
        }
    }
}

/// Queues one request body frame on `stream`: DATA, trailers, or, at the end of the body
/// (`None`), an empty DATA frame with END_STREAM; a failed body resets the stream (CANCEL).
/// Returns whether more frames may follow.
fn forward(
    stream: &mut h2::SendStream<Bytes>,
    frame: Option<Result<Frame<Bytes>, Error>>,
) -> Result<bool, h2::Error> {
    match frame {
        Some(Ok(frame)) => match frame.into_data() {
            Ok(data) => stream.send_data(data, false).map(|()| true),
            Err(frame) => match frame.into_trailers() {
                Ok(trailers) => stream.send_trailers(trailers).map(|()| false),
                Err(_) => Ok(true),
            },
        },
        Some(Err(_)) => {
            stream.send_reset(h2::Reason::CANCEL);
            Ok(false)
        }
        None => stream.send_data(Bytes::new(), true).map(|()| false),
    }
}

/// A response body: DATA (returning its flow-control capacity as it is read), then trailers.
struct ResponseBody(RecvStream);

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let stream = &mut self.get_mut().0;
        if let Some(data) = std::task::ready!(stream.poll_data(cx)) {
            let data = data.map_err(h2_error)?;
            let _ = stream.flow_control().release_capacity(data.len());
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        match std::task::ready!(stream.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(h2_error(e)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }
}

/// The `wasi:http` error code for an HTTP/2 error: `connection-terminated` when the
/// connection's I/O failed; when the server reset the stream or went away, `internal-error`
/// naming the frame and its error code (`HTTP/2 RST_STREAM error code 0x7 (REFUSED_STREAM)
/// from the server`), which the SDK maps to a gRPC code by PROTOCOL-HTTP2's table, as it
/// does on the sockets transport (`wasi:http` 0.2's `error-code` has no case for it);
/// `HTTP-protocol-error` for anything else (the server broke the protocol).
fn h2_error(e: h2::Error) -> Error {
    if e.is_io() {
        return Error::ConnectionTerminated;
    }
    match e.reason() {
        Some(reason) if e.is_remote() => {
            let frame = if e.is_go_away() {
                "GOAWAY"
            } else {
                "RST_STREAM"
            };
            Error::InternalError(Some(format!(
                "HTTP/2 {frame} error code {:#x} ({reason:?}) from the server",
                u32::from(reason)
            )))
        }
        _ => Error::HttpProtocolError,
    }
}

/// Awaits `future` for at most `limit` (if given). Errors: `expired` when the limit runs out.
pub(crate) async fn within<T>(
    limit: Option<Duration>,
    expired: Error,
    future: impl Future<Output = T>,
) -> Result<T, Error> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, future)
            .await
            .map_err(|_| expired),
        None => Ok(future.await),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_spelling_of_a_server_is_one_server() {
        let server = |uri: &str| server_of(&uri.parse().unwrap());
        let plain = Some(("127.0.0.1".to_owned(), 50051));
        for uri in [
            "http://127.0.0.1:50051/x",
            "http://127.0.0.1:050051/x",
            "http://127.0.0.1:0050051/x",
        ] {
            assert_eq!(server(uri), plain, "{uri}");
        }
        assert_eq!(
            server("http://LocalHost:80/"),
            Some(("localhost".to_owned(), 80))
        );
        assert_eq!(
            server("http://localhost/"),
            Some(("localhost".to_owned(), 80))
        );
        assert_eq!(server("http://[::1]:8080/"), Some(("::1".to_owned(), 8080)));
        assert_eq!(server("http://user@127.0.0.1:50051/"), None);
    }

    /// An h2c server that answers every request with an empty 200 and counts connections.
    async fn counting_server() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut connection = h2::server::handshake(tcp).await.unwrap();
                    while let Some(Ok((_, mut respond))) = connection.accept().await {
                        let _ = respond.send_response(http::Response::new(()), true);
                    }
                });
            }
        });
        (port, accepted)
    }

    #[tokio::test]
    async fn spellings_of_one_server_share_one_connection() {
        let (port, accepted) = counting_server().await;
        let h2c = H2c::default();
        for spelling in [format!("{port}"), format!("0{port}"), format!("00{port}")] {
            let body = http_body_util::Empty::<Bytes>::new()
                .map_err(|never| match never {})
                .boxed_unsync();
            let mut request = http::Request::new(body);
            *request.method_mut() = http::Method::POST;
            *request.uri_mut() = format!("http://127.0.0.1:{spelling}/x").parse().unwrap();
            h2c.send(request, None, None).await.unwrap();
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
