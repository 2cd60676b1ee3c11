//! [`Channel`]: a connection to one gRPC server, shared by every call made on it.
//!
//! Today a channel carries calls over `wasi:sockets` TCP with HTTP/2 (h2c, prior knowledge:
//! `http://` URIs). Runtimes that grant sockets: `wasmtime run -S inherit-network -S
//! allow-ip-name-lookup`, `grpc-wasi-harness run --allow HOST:PORT`, Spin with `tcp://`
//! entries in `allowed_outbound_hosts`.

mod h2;
mod tcp;

use std::fmt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use ::h2::client::SendRequest;
use bytes::Bytes;
use futures_core::Stream;
use http::uri::{PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue, Uri};

use crate::status::Status;

/// A stream of encoded Length-Prefixed-Messages, or the error that stopped producing them.
pub(crate) type MessageStream = Pin<Box<dyn Stream<Item = Result<Bytes, Status>>>>;

/// The request body of a call.
pub(crate) enum RequestBody {
    /// One message, known up front (unary and server-streaming calls).
    Once(Bytes),
    /// Messages sent as they are produced (client- and bidirectional-streaming calls).
    Stream(MessageStream),
}

/// The body of a response: DATA frames, then trailers.
pub(crate) struct ResponseBody(h2::H2Body);

impl ResponseBody {
    /// The next chunk of the body, `None` at its end.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        self.0.poll_data(cx)
    }

    /// The trailers (after the body ended); `None` if the server sent none.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        self.0.poll_trailers(cx)
    }
}

/// The `user-agent` sent with every call.
const USER_AGENT: &str = concat!("grpc-wasi/", env!("CARGO_PKG_VERSION"));

/// Where and how to connect: made by [`Channel::from_static`], [`Channel::from_shared`] or
/// [`Channel::builder`]; [`Endpoint::connect`] opens the [`Channel`].
#[derive(Clone, Debug)]
pub struct Endpoint {
    uri: Result<Uri, Status>,
}

impl Endpoint {
    /// The URI this endpoint connects to, if it is valid.
    pub fn uri(&self) -> Option<&Uri> {
        self.uri.as_ref().ok()
    }

    /// Resolves the host, opens a TCP connection and performs the HTTP/2 handshake.
    ///
    /// Errors: `InvalidArgument` for a URI that is not `http://HOST[:PORT]` (port 80 when
    /// absent; `https` is not supported yet: TLS is not implemented); `Unavailable` when the
    /// name does not resolve or the server cannot be reached; `PermissionDenied` (its message
    /// names the address) when the host did not grant the guest access to it.
    pub async fn connect(&self) -> Result<Channel, Status> {
        let uri = self.uri.clone()?;
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let authority = http::uri::Authority::try_from(format!("{host}:{port}").as_str())
            .map_err(|e| Status::invalid_argument(format!("invalid authority: {e}")))?;
        let io = tcp::connect(&host, port).await?;
        let send_request = h2::handshake(io).await?;
        Ok(Channel {
            inner: Rc::new(Inner {
                authority,
                send_request,
            }),
        })
    }
}

/// Parses `uri` and checks it names an `http://` server.
fn parse_str(uri: &str) -> Result<Uri, Status> {
    let parsed = Uri::try_from(uri)
        .map_err(|e| Status::invalid_argument(format!("invalid server URI {uri:?}: {e}")))?;
    parse_uri(parsed)
}

fn parse_uri(uri: Uri) -> Result<Uri, Status> {
    let invalid = |why: &str| Status::invalid_argument(format!("invalid server URI {uri}: {why}"));
    match uri.scheme() {
        Some(s) if *s == Scheme::HTTP => {}
        Some(s) if *s == Scheme::HTTPS => {
            return Err(invalid("https (TLS) is not supported yet; use http://"));
        }
        _ => return Err(invalid("expected http://HOST[:PORT]")),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(uri),
        _ => Err(invalid("no host")),
    }
}

/// A connection to one gRPC server: one HTTP/2 connection shared by every call, concurrent
/// calls multiplexed as HTTP/2 streams.
///
/// Cheap to clone (clones share the connection). The connection closes when the last clone
/// and the last call on it are dropped. Not `Send`: guests are single-threaded.
///
/// ```no_run
/// # async fn f() -> Result<(), grpc_wasi::Status> {
/// let channel = grpc_wasi::Channel::from_static("http://127.0.0.1:50051").connect().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Channel {
    inner: Rc<Inner>,
}

struct Inner {
    authority: http::uri::Authority,
    send_request: SendRequest<Bytes>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("authority", &self.inner.authority)
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// An [`Endpoint`] for `uri`, such as `"http://127.0.0.1:50051"` or `"http://[::1]:50051"`.
    ///
    /// Never panics: an invalid URI makes [`Endpoint::connect`] fail with `InvalidArgument`.
    pub fn from_static(uri: &'static str) -> Endpoint {
        Endpoint {
            uri: parse_str(uri),
        }
    }

    /// An [`Endpoint`] for a URI given at run time.
    ///
    /// Errors: `InvalidArgument` if `uri` does not parse or is not `http://HOST[:PORT]`.
    pub fn from_shared(uri: impl Into<String>) -> Result<Endpoint, Status> {
        let uri = parse_str(&uri.into())?;
        Ok(Endpoint { uri: Ok(uri) })
    }

    /// An [`Endpoint`] for a parsed URI.
    pub fn builder(uri: Uri) -> Endpoint {
        Endpoint {
            uri: parse_uri(uri),
        }
    }

    /// Sends one call: the request headers (`metadata` plus the protocol headers of
    /// PROTOCOL-HTTP2 "Requests") and `body`, and returns the response head and body.
    pub(crate) async fn call(
        &self,
        path: &PathAndQuery,
        metadata: HeaderMap,
        body: RequestBody,
    ) -> Result<(http::response::Parts, ResponseBody), Status> {
        let uri = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.inner.authority.clone())
            .path_and_query(path.clone())
            .build()
            .map_err(|e| Status::internal(format!("invalid method path {path}: {e}")))?;
        let mut request = http::Request::new(());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        *headers = metadata;
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("user-agent", HeaderValue::from_static(USER_AGENT));
        let send_request = self.inner.send_request.clone();
        let (parts, body) = h2::call(send_request, request, body).await?;
        Ok((parts, ResponseBody(body)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Code;

    #[test]
    fn uris_are_checked() {
        assert!(
            Channel::from_static("http://127.0.0.1:50051")
                .uri()
                .is_some()
        );
        assert!(Channel::from_static("http://[::1]:50051").uri().is_some());
        assert!(Channel::from_static("http://example.com").uri().is_some());
        for bad in [
            "https://x:1",
            "127.0.0.1:50051",
            "not a uri",
            "unix:///tmp/s",
        ] {
            let err = Channel::from_shared(bad).unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
        }
    }
}
