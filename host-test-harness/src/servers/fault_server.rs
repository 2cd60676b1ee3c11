//! A deliberately broken gRPC server, on the `h2` crate's server side, for testing how clients
//! fail. Each call's method name picks the fault (`/fault.Fault/NAME`):
//!
//! | NAME | what the server does |
//! |---|---|
//! | `ok` | a correct response: one `EchoResponse` "ok", `grpc-status: 0` |
//! | `silent` | accepts the call and does not answer for 60 s |
//! | `reset-N` | answers the request with RST_STREAM, error code `N` |
//! | `reset-after-message-N` | sends the response headers and one message, then RST_STREAM with error code `N` |
//! | `goaway` | sends GOAWAY (`NO_ERROR`) and closes the connection |
//! | `drop-connection` | sends one message, then closes the TCP connection mid-stream |
//! | `freeze` | stops serving the connection for 60 s, keeping it open: no answers, not even to PING |
//! | `truncated` | a body that ends inside a message, then `grpc-status: 0` |
//! | `no-status` | a message, then trailers without `grpc-status` |
//! | `no-trailers` | a message, then the end of the stream without trailers |
//! | `http-N` | HTTP status `N`, no gRPC headers |
//! | `content-type` | HTTP 200 with `content-type: text/html` |
//! | `bad-utf8` | `grpc-status: 3` with `grpc-message: bad %FF byte` (not UTF-8 once decoded) |
//! | `bad-percent` | `grpc-status: 3` with `grpc-message: 50%ZZ off` (an invalid escape) |
//! | `huge-length` | a Length-Prefixed-Message header claiming 4 GiB − 1 bytes |
//! | `gzip` | `grpc-encoding: gzip` and a gzip-compressed message "ok", whatever the client accepts |
//! | `pings` | once the request has ended, one message `pings=N`: the PINGs (not ACKs) the client has sent on this connection so far |
//! | `push` | tries to push a response (PUSH_PROMISE) and answers `push=sent`, or `push=refused` when the client's SETTINGS_ENABLE_PUSH is 0 |
//! | `unread` | answers `ok` at once, without reading the request body, and keeps the request side of the stream open for 60 s |
//! | `stall` | stops serving the connection for 60 s at once, without reading the request: what the client writes backs up into TCP once the server's windows ([`Windows`]) allow it |
//! | `refuse-first` | the first such call on a connection: RST_STREAM `REFUSED_STREAM` at once (the server never processed it); the next ones answer as `ok` |
//!
//! Anything else answers `grpc-status: 12` (Unimplemented). Every fault but `unread` and
//! `stall` reads the whole request first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use futures_lite::StreamExt;
use h2::server::SendResponse;
use h2::{Reason, RecvStream};
use http::{HeaderMap, HeaderValue, Response};
use prost::Message;
use tokio::sync::mpsc;

use crate::proto::EchoResponse;
use crate::servers::ping_counter::PingCounter;
use crate::servers::test_server::{Incoming, Serve, ServerIo, Shutdown, TestServer};
use crate::servers::tls::ServerTls;

/// What a fault asks of its whole connection.
enum ConnectionAction {
    GoAway,
    Drop,
    Freeze,
}

/// The receive windows the fault server advertises, in bytes (RFC 9113 §6.9.2): how much
/// request body a client may send before the server reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// SETTINGS_INITIAL_WINDOW_SIZE: each stream's window (0 to 2^31 − 1).
    pub stream: u32,
    /// The connection's window (65,535 to 2^31 − 1; larger than 65,535 by a WINDOW_UPDATE).
    pub connection: u32,
}

impl Windows {
    /// HTTP/2's initial windows, 65,535 bytes each.
    pub const DEFAULT: Windows = Windows {
        stream: 65_535,
        connection: 65_535,
    };
    /// No request body at all until the server reads (SETTINGS_INITIAL_WINDOW_SIZE = 0).
    pub const ZERO: Windows = Windows {
        stream: 0,
        connection: 65_535,
    };
    /// The largest windows: a client's writes are bounded by TCP alone.
    pub const WIDEST: Windows = Windows {
        stream: (1 << 31) - 1,
        connection: (1 << 31) - 1,
    };
}

/// Starts the fault server on `addr` (port 0 picks a free one), on its own thread and
/// runtime, bound before it returns; it stops when the returned server is dropped.
///
/// Errors: the address cannot be bound, or the runtime cannot start.
pub fn start(addr: SocketAddr) -> anyhow::Result<TestServer> {
    start_with(addr, Config::DEFAULT)
}

/// How a fault server behaves beyond each call's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The receive windows it advertises.
    pub windows: Windows,
    /// The fault of every call, whatever its method names: for clients whose method cannot
    /// be chosen (the gateway calls `Echo/UnaryEcho`). `None`: the method's last segment.
    pub every_call: Option<&'static str>,
}

impl Config {
    /// HTTP/2's default windows; each method names its fault.
    pub const DEFAULT: Config = Config {
        windows: Windows::DEFAULT,
        every_call: None,
    };
}

/// [`start`], configured by `config`.
///
/// Errors: as [`start`].
pub fn start_with(addr: SocketAddr, config: Config) -> anyhow::Result<TestServer> {
    TestServer::start(addr, "fault-server", move |incoming, stop| {
        serve(incoming, stop, config)
    })
}

/// Starts the fault server speaking TLS as `tls` says (its URI is `https://`); otherwise as
/// [`start`]. Errors: also a TLS configuration rustls cannot use.
pub fn start_tls(addr: SocketAddr, tls: &ServerTls) -> anyhow::Result<TestServer> {
    TestServer::start_tls(addr, "fault-server", tls, |incoming, stop| {
        serve(incoming, stop, Config::DEFAULT)
    })
}

fn serve(mut incoming: Incoming, stop: Shutdown, config: Config) -> Serve {
    Box::pin(async move {
        let accept = async {
            while let Some(Ok(socket)) = incoming.next().await {
                tokio::spawn(serve_connection(socket, config));
            }
        };
        tokio::select! {
            _ = accept => {}
            _ = stop => {}
        }
        Ok(())
    })
}

async fn serve_connection(socket: ServerIo, config: Config) {
    let windows = config.windows;
    let pings = Arc::new(AtomicUsize::new(0));
    let socket = PingCounter::new(socket, pings.clone());
    let handshake = h2::server::Builder::new()
        .initial_window_size(windows.stream)
        .initial_connection_window_size(windows.connection)
        .handshake(socket);
    let Ok(mut connection) = handshake.await else {
        return;
    };
    let (actions, mut requested) = mpsc::unbounded_channel();
    let mut refused = false;
    loop {
        tokio::select! {
            accepted = connection.accept() => match accepted {
                Some(Ok((request, mut respond))) => {
                    let actions = actions.clone();
                    let pings = pings.clone();
                    let named = request.uri().path().rsplit('/').next().unwrap_or("");
                    let mut fault = config.every_call.unwrap_or(named).to_owned();
                    if fault == "refuse-first" {
                        if !refused {
                            refused = true;
                            respond.send_reset(Reason::REFUSED_STREAM);
                            continue;
                        }
                        fault = "ok".to_owned();
                    }
                    tokio::spawn(async move {
                        answer(&fault, request.into_body(), respond, actions, &pings).await;
                    });
                }
                _ => return,
            },
            action = requested.recv() => match action {
                Some(ConnectionAction::GoAway) => {
                    connection.abrupt_shutdown(Reason::NO_ERROR);
                    // Drive the connection until the GOAWAY is out and it closes.
                    while let Some(Ok(_)) = connection.accept().await {}
                    return;
                }
                Some(ConnectionAction::Freeze) => {
                    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                    return;
                }
                Some(ConnectionAction::Drop) | None => return,
            },
        }
    }
}

fn grpc_head(content_type: &'static str) -> Response<()> {
    let mut response = Response::new(());
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    response
}

fn trailers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.insert(*k, HeaderValue::from_static(v));
    }
    map
}

fn message(text: &str) -> Bytes {
    let encoded = EchoResponse {
        message: text.to_owned(),
    }
    .encode_to_vec();
    let mut buf = BytesMut::new();
    buf.put_u8(0);
    buf.put_u32(u32::try_from(encoded.len()).unwrap_or(u32::MAX));
    buf.put_slice(&encoded);
    buf.freeze()
}

/// A Length-Prefixed-Message with the Compressed-Flag set, gzip-compressed.
fn gzip_message(text: &str) -> Bytes {
    use std::io::Write;
    let encoded = EchoResponse {
        message: text.to_owned(),
    }
    .encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = gz
        .write_all(&encoded)
        .and_then(|()| gz.finish())
        .unwrap_or_default();
    let mut buf = BytesMut::new();
    buf.put_u8(1);
    buf.put_u32(u32::try_from(compressed.len()).unwrap_or(u32::MAX));
    buf.put_slice(&compressed);
    buf.freeze()
}

/// How long a call that broke its connection keeps its stream handles: dropping them earlier
/// would reset the stream (CANCEL) before the connection-level fault reaches the client.
const HOLD: std::time::Duration = std::time::Duration::from_secs(5);

/// Answers one call with `fault`; faults of the whole connection go to `actions`.
async fn answer(
    fault: &str,
    mut body: RecvStream,
    mut respond: SendResponse<Bytes>,
    actions: mpsc::UnboundedSender<ConnectionAction>,
    pings: &AtomicUsize,
) {
    // Read the whole request first, as a unary server does (but for the faults that do not).
    if !matches!(fault, "unread" | "stall") {
        while let Some(Ok(chunk)) = body.data().await {
            let _ = body.flow_control().release_capacity(chunk.len());
        }
    }
    let head = grpc_head("application/grpc");
    let result: Result<(), h2::Error> = async {
        match fault {
            "ok" => {
                let mut stream = respond.send_response(head, false)?;
                stream.send_data(message("ok"), false)?;
                stream.send_trailers(trailers(&[("grpc-status", "0")]))?;
            }
            "unread" => {
                let mut stream = respond.send_response(head, false)?;
                stream.send_data(message("ok"), false)?;
                stream.send_trailers(trailers(&[("grpc-status", "0")]))?;
                // Keep the request side open, unread: dropping it would reset the stream,
                // which frees the client's queued DATA.
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            }
            "pings" => {
                let count = format!("pings={}", pings.load(Ordering::Relaxed));
                let mut stream = respond.send_response(head, false)?;
                stream.send_data(message(&count), false)?;
                stream.send_trailers(trailers(&[("grpc-status", "0")]))?;
            }
            "push" => {
                let mut promise = http::Request::new(());
                *promise.uri_mut() = http::Uri::from_static("http://fault.example/pushed");
                let pushed = match respond.push_request(promise) {
                    Ok(_) => "push=sent",
                    Err(_) => "push=refused",
                };
                let mut stream = respond.send_response(head, false)?;
                stream.send_data(message(pushed), false)?;
                stream.send_trailers(trailers(&[("grpc-status", "0")]))?;
            }
            "silent" => {
                // Hold the stream open without a word; the client gives up first.
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            }
            "goaway" => {
                let _ = actions.send(ConnectionAction::GoAway);
                tokio::time::sleep(HOLD).await;
            }
            "freeze" | "stall" => {
                let _ = actions.send(ConnectionAction::Freeze);
                tokio::time::sleep(HOLD).await;
            }
            "drop-connection" => {
                let mut stream = respond.send_response(head, false)?;
                stream.send_data(message("one"), false)?;
                // Let the message reach the client before the connection goes.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let _ = actions.send(ConnectionAction::Drop);
                tokio::time::sleep(HOLD).await;
            }
            "truncated" => {
                let mut stream = respond.send_response(head, false)?;
                stream.send_data(message("cut").slice(..6), false)?;
                stream.send_trailers(trailers(&[("grpc-status", "0")]))?;
            }
            "no-status" => {
                let mut stream = respond.send_response(head, false)?;
                stream.send_data(message("ok"), false)?;
                stream.send_trailers(trailers(&[("x-other", "1")]))?;
            }
            "no-trailers" => {
                let mut stream = respond.send_response(head, false)?;
                stream.send_data(message("ok"), true)?;
            }
            "content-type" => {
                let mut stream = respond.send_response(grpc_head("text/html"), false)?;
                stream.send_data(Bytes::from_static(b"<html>oops</html>"), true)?;
            }
            "bad-utf8" => {
                let mut stream = respond.send_response(head, false)?;
                stream.send_trailers(trailers(&[
                    ("grpc-status", "3"),
                    ("grpc-message", "bad %FF byte"),
                ]))?;
            }
            "bad-percent" => {
                let mut stream = respond.send_response(head, false)?;
                stream.send_trailers(trailers(&[
                    ("grpc-status", "3"),
                    ("grpc-message", "50%ZZ off"),
                ]))?;
            }
            "gzip" => {
                let mut head = head;
                head.headers_mut()
                    .insert("grpc-encoding", HeaderValue::from_static("gzip"));
                let mut stream = respond.send_response(head, false)?;
                stream.send_data(gzip_message("ok"), false)?;
                stream.send_trailers(trailers(&[("grpc-status", "0")]))?;
            }
            "huge-length" => {
                let mut stream = respond.send_response(head, false)?;
                stream.send_data(
                    Bytes::from_static(&[0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
                    false,
                )?;
                stream.send_trailers(trailers(&[("grpc-status", "0")]))?;
            }
            other => {
                if let Some(code) = other
                    .strip_prefix("reset-after-message-")
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    let mut stream = respond.send_response(head, false)?;
                    stream.send_data(message("ok"), false)?;
                    stream.send_reset(Reason::from(code));
                } else if let Some(code) = other
                    .strip_prefix("reset-")
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    respond.send_reset(Reason::from(code));
                } else if let Some(status) = other
                    .strip_prefix("http-")
                    .and_then(|n| n.parse().ok())
                    .and_then(|n| http::StatusCode::from_u16(n).ok())
                {
                    let mut response = Response::new(());
                    *response.status_mut() = status;
                    respond.send_response(response, true)?;
                } else {
                    respond
                        .send_response(head, false)?
                        .send_trailers(trailers(&[
                            ("grpc-status", "12"),
                            ("grpc-message", "no such fault"),
                        ]))?;
                }
            }
        }
        Ok(())
    }
    .await;
    // A fault that cannot be delivered (the client left) has nothing more to do.
    let _ = result;
}
