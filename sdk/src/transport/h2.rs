//! gRPC calls over one HTTP/2 connection, with the `h2` crate: h2c (prior knowledge) over
//! TCP, or HTTP/2 over TLS negotiated by ALPN (feature `tls`).
//!
//! The h2 `Connection` runs as a task spawned on the reactor. Once nothing can use the
//! connection any more (the channel's handle and every call are dropped), h2 ends it, sending
//! GOAWAY; and if it has not ended within [`CLOSE_GRACE`] (its writes are blocked on a peer that
//! stopped reading, or request DATA waits for a flow-control window that will never open), the
//! task drops it, closing the socket. So background work never outlives its users, and a
//! guest whose calls ended exits: `wstd`'s `block_on` returns only when no task waits on a
//! pollable. A streaming request body is sent by its own task, so the response can be read
//! while the request is still being written (full duplex).

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use h2::{Ping, PingPong, Reason, RecvStream, SendStream};
use http::HeaderMap;

use super::RequestBody;
use super::bursts::Bursts;
use super::coalesce::poll_connection;
use super::keepalive::{self, KeepAlive};
use super::stream::{ConnectionIo, FirstRead};
use crate::runtime::{Task, spawn, spawn_unless_ready};
use crate::status::{Code, Status};

/// Per-stream receive window: 8 MiB. The HTTP/2 default (64 KiB), and even 1 MiB, leave a
/// streaming server waiting for WINDOW_UPDATE frames, which the guest's socket (Nagle on, no
/// TCP_NODELAY in wasi:sockets) may delay. Credit is returned as the application reads, so this
/// is also the most a stream buffers when the application reads slowly.
const STREAM_WINDOW: u32 = 8 * 1024 * 1024;
/// Connection-wide receive window: 16 MiB.
const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

/// How long the connection task lets h2 close a connection nothing uses any more before it
/// drops the connection: 100 ms. A connection to a peer that reads closes at once (GOAWAY,
/// then the socket); this bounds only a peer that stopped reading, or request DATA that waits
/// for a flow-control window the peer never opens.
const CLOSE_GRACE: Duration = Duration::from_millis(100);

/// An open HTTP/2 connection: the handle that opens streams on it, its [`ConnectionState`],
/// and a [`User`] of it.
#[derive(Clone)]
pub(crate) struct H2Connection {
    send_request: SendRequest<Bytes>,
    state: Rc<ConnectionState>,
    user: Rc<User>,
}

/// Whether anything can still use a connection: shared by its [`User`]s and its task.
#[derive(Default)]
struct Users {
    gone: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Users {
    /// Ready once the last [`User`] was dropped.
    fn poll_gone(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.gone.get() {
            return Poll::Ready(());
        }
        self.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

/// A use of a connection: each [`H2Connection`] (the channel's, and each call's while it
/// opens) and each open call hold one, shared. When the last is dropped, the connection task
/// starts closing the connection.
struct User(Rc<Users>);

impl Drop for User {
    fn drop(&mut self) {
        self.0.gone.set(true);
        if let Some(waker) = self.0.waker.take() {
            waker.wake();
        }
    }
}

/// What the calls on a connection and its task share.
pub(crate) struct ConnectionState {
    pub(crate) pings: Pings,
    /// Calls whose response body has not been dropped yet.
    open_calls: Cell<usize>,
    /// Why the connection closed, when this client knows better than h2's error: it closed
    /// it (keepalive), or TLS failed (shared with the `ConnectionIo`). Given to the calls
    /// that ended.
    closed: Rc<RefCell<Option<Status>>>,
}

impl ConnectionState {
    /// Whether any call is open on the connection.
    pub(crate) fn has_open_calls(&self) -> bool {
        self.open_calls.get() > 0
    }
}

/// Performs the HTTP/2 handshake over `io` and spawns the connection task, which also sends
/// the `keepalive` PINGs, if any, and closes the connection if they go unanswered. Returns
/// once the server's preface (its SETTINGS, RFC 9113 §3.4) has arrived: a server that accepts
/// TCP but never speaks HTTP/2 keeps this waiting (the caller bounds it with the connect
/// timeout).
///
/// Errors: `Unavailable` if the preface cannot be written, or the connection ends before the
/// server's preface (with TLS's reason when TLS ended it: a refused client certificate).
///
/// `peer` is the server's address and whether the connection is TLS, for the log line of the
/// connection's end.
pub(crate) async fn handshake(
    io: ConnectionIo,
    keepalive: Option<KeepAlive>,
    peer: (std::net::SocketAddr, bool),
) -> Result<H2Connection, Status> {
    let put_off = io.put_off();
    let received = io.received();
    let closed = io.failure();
    let first_read = io.first_read();
    let (send_request, mut connection) = h2::client::Builder::new()
        // gRPC has no use for server push: SETTINGS_ENABLE_PUSH = 0 (RFC 9113 §6.5.2), as
        // gRPC's own clients send.
        .enable_push(false)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(status_from_h2)?;
    let state = Rc::new(ConnectionState {
        pings: Pings {
            ping_pong: RefCell::new(connection.ping_pong()),
            unanswered: Cell::new(0),
        },
        open_calls: Cell::new(0),
        closed,
    });
    let task_state = state.clone();
    let task_first_read = first_read.clone();
    let users = Rc::new(Users::default());
    let user = Rc::new(User(users.clone()));
    spawn(async move {
        let _ended = EndsOnDrop(task_first_read);
        let mut connection = std::pin::pin!(connection);
        // A connection error reaches every open stream as that stream's error.
        let run = async {
            let ended = poll_fn(|cx| poll_connection(connection.as_mut(), &put_off, cx)).await;
            Closed::Connection(ended)
        };
        // h2 closes a connection nothing uses by itself; the grace bounds how long it may try.
        let unused = async {
            poll_fn(|cx| users.poll_gone(cx)).await;
            crate::time::sleep(CLOSE_GRACE).await;
            Closed::Unused
        };
        let closed = match keepalive {
            None => futures_lite::future::or(run, unused).await,
            Some(keepalive) => {
                let watch = async {
                    let status = keepalive::watch(keepalive, &task_state, &received).await;
                    // Dropping the connection ends its streams; their calls get this status.
                    *task_state.closed.borrow_mut() = Some(status);
                    Closed::KeepAlive
                };
                futures_lite::future::or(run, futures_lite::future::or(unused, watch)).await
            }
        };
        let (address, tls) = peer;
        let transport = if tls { "TLS" } else { "h2c" };
        info!("connection to {address} ({transport}) closed: {closed}");
    })
    .detach();
    if !poll_fn(|cx| first_read.poll(cx)).await {
        let closed = state.closed.borrow().clone();
        return Err(closed.unwrap_or_else(|| {
            Status::unavailable(
                "the server closed the connection before its HTTP/2 preface (SETTINGS) arrived",
            )
        }));
    }
    Ok(H2Connection {
        send_request,
        state,
        user,
    })
}

/// Why a connection task stopped.
enum Closed {
    /// h2's connection ended: cleanly, or with this error (a GOAWAY, a lost connection).
    Connection(Result<(), h2::Error>),
    /// No channel used it for [`CLOSE_GRACE`].
    Unused,
    /// A keepalive PING went unanswered.
    KeepAlive,
}

/// The reason, for the log.
impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Closed::Connection(Ok(())) => f.write_str("the connection ended"),
            Closed::Connection(Err(e)) if e.is_go_away() && e.is_remote() => {
                write!(f, "the server sent GOAWAY ({e})")
            }
            Closed::Connection(Err(e)) => write!(f, "{e}"),
            Closed::Unused => f.write_str("no channel uses it any more"),
            Closed::KeepAlive => f.write_str("a keepalive PING went unanswered"),
        }
    }
}

/// Marks the connection ended when the connection task stops, however it stops.
struct EndsOnDrop(Rc<FirstRead>);

impl Drop for EndsOnDrop {
    fn drop(&mut self) {
        self.0.ended();
    }
}

impl H2Connection {
    /// This connection, once it may open a stream (h2 waits while the server's limit of
    /// concurrent streams is reached): what [`call`] takes.
    ///
    /// Errors: the connection can take no new stream (it closed, or the server sent GOAWAY).
    pub(crate) fn ready(&self) -> impl Future<Output = Result<H2Connection, h2::Error>> + use<> {
        let ready = self.send_request.clone().ready();
        let state = self.state.clone();
        let user = self.user.clone();
        async move {
            Ok(H2Connection {
                send_request: ready.await?,
                state,
                user,
            })
        }
    }
}

/// The PINGs this client sends: keepalive PINGs (see `keepalive.rs`), and PINGs that make the
/// server acknowledge a request stream's DATA at once.
///
/// When a request stream's producer pauses, its last DATA can sit unacknowledged: a server
/// that sends nothing back delays its TCP ACK (about 40 ms on Linux), and Nagle's algorithm,
/// which the guest's socket cannot turn off (wasi:sockets 0.2 has no TCP_NODELAY), holds the
/// producer's next small write until that ACK comes. Measured: three 100-byte messages 1 ms
/// apart took 44 ms a call. A PING queued with the DATA leaves in the same write; the server
/// answers it at once (RFC 9113 §6.7, PING), and the answer carries the TCP ACK, so the next
/// message is not held.
///
/// At most [`MAX_UNANSWERED_PINGS`] go out until the server next sends DATA: servers count
/// PINGs they did not expect (grpc-go closes the connection with ENHANCE_YOUR_CALM
/// "too_many_pings" at the fourth after its last DATA or HEADERS).
pub(crate) struct Pings {
    /// `None` if h2 gave none (it gives it once, at the handshake).
    ping_pong: RefCell<Option<PingPong>>,
    /// PINGs sent since the server last sent DATA.
    unanswered: Cell<u8>,
}

/// See [`Pings`]: grpc-go's server tolerates three (it counts a strike from the second).
const MAX_UNANSWERED_PINGS: u8 = 2;

impl Pings {
    /// Queues a PING after a request stream's producer went idle, unless one is in flight (its
    /// answer will do) or the server has not sent DATA since the last [`MAX_UNANSWERED_PINGS`].
    fn after_idle_burst(&self) {
        if self.unanswered.get() < MAX_UNANSWERED_PINGS {
            self.send();
        }
    }

    /// Queues a PING, unless one is in flight (its answer will do).
    pub(crate) fn send(&self) {
        let mut ping_pong = self.ping_pong.borrow_mut();
        let Some(ping_pong) = ping_pong.as_mut() else {
            return;
        };
        // h2 allows one PING in flight; taking the last one's answer, if it came, ends it.
        let _ = ping_pong.poll_pong(&mut Context::from_waker(Waker::noop()));
        if ping_pong.send_ping(Ping::opaque()).is_ok() {
            self.unanswered.set(self.unanswered.get() + 1);
        }
    }

    /// The server sent DATA.
    fn data_received(&self) {
        self.unanswered.set(0);
    }
}

/// A call open on a connection, counted in its [`ConnectionState`] and a [`User`] of the
/// connection until dropped.
struct OpenCall(
    Rc<ConnectionState>,
    #[allow(dead_code, reason = "held, not read")] Rc<User>,
);

impl OpenCall {
    fn new(state: Rc<ConnectionState>, user: Rc<User>) -> OpenCall {
        state.open_calls.set(state.open_calls.get() + 1);
        OpenCall(state, user)
    }

    /// The state of the call's connection.
    fn state(&self) -> &Rc<ConnectionState> {
        &self.0
    }

    /// The status of a call that failed with `e`: the request body's own error if producing it
    /// failed first (`send_error`), else why this client closed the connection, if it did,
    /// else `e`'s (see [`status_from_h2`]).
    fn error(&self, send_error: &RefCell<Option<Status>>, e: h2::Error) -> Status {
        send_error
            .take()
            .or_else(|| self.0.closed.borrow().clone())
            .unwrap_or_else(|| status_from_h2(e))
    }
}

impl Drop for OpenCall {
    fn drop(&mut self) {
        self.0.open_calls.set(self.0.open_calls.get() - 1);
    }
}

/// The receiving half of a call, and the task still sending its request body, if any.
pub(crate) struct H2Body {
    recv: RecvStream,
    call: OpenCall,
    /// The request body sender; dropping it (with this body) cancels it.
    _sender: Option<Task<()>>,
    /// An error the sender hit while producing the request (it resets the stream after).
    send_error: Rc<RefCell<Option<Status>>>,
}

/// Starts a call on `connection` (ready: from [`H2Connection::ready`]): sends the request head
/// and body on a new stream and waits for the response head.
///
/// Errors: the status of the HTTP/2 failure (see [`status_from_h2`]), or the error of the
/// request body stream if producing the request failed first.
pub(crate) async fn call(
    connection: H2Connection,
    request: http::Request<()>,
    body: RequestBody,
) -> Result<(http::response::Parts, H2Body), Status> {
    let H2Connection {
        mut send_request,
        state,
        user,
    } = connection;
    let call = OpenCall::new(state, user);
    let send_error = Rc::new(RefCell::new(None));
    let (response, sender) = match body {
        RequestBody::Once(bytes) => {
            let (response, mut send) = send_request
                .send_request(request, false)
                .map_err(status_from_h2)?;
            // Queued with the HEADERS frame: both go out in the same flush.
            send.send_data(bytes, true).map_err(status_from_h2)?;
            (response, None)
        }
        RequestBody::Stream(messages) => {
            let (response, send) = send_request
                .send_request(request, false)
                .map_err(status_from_h2)?;
            // Messages ready at once are queued with the HEADERS frame, in this poll.
            let state = call.state().clone();
            let sender = spawn_unless_ready(send_stream(send, messages, state, send_error.clone()));
            (response, sender.await)
        }
    };
    let response = match response.await {
        Ok(response) => response,
        Err(e) => return Err(call.error(&send_error, e)),
    };
    let (parts, recv) = response.into_parts();
    Ok((
        parts,
        H2Body {
            recv,
            call,
            _sender: sender,
            send_error,
        },
    ))
}

/// Request bytes queued without waiting for flow-control capacity while the messages come
/// ready at once: at most 65,535, HTTP/2's initial stream window (RFC 9113 §6.9.2).
const EAGER_SEND_LIMIT: usize = 65_535;

/// Messages are gathered into DATA of about 32 KiB (as tonic does).
const BURST_SIZE: usize = 32 * 1024;

/// Sends the messages of `messages` as they are produced, gathered into [`Bursts`], then ends
/// the stream. A burst after which the producer is idle goes with a PING ([`Pings`]).
///
/// Until a message has to be waited for, bursts (up to [`EAGER_SEND_LIMIT`] bytes) are queued
/// at once, without waiting for capacity, which a stream that is not open yet does not have.
/// So a request whose messages are all ready leaves with its HEADERS, END_STREAM included, in
/// one write. Split into a write for the HEADERS and one for the rest, it took about 44 ms: the
/// guest's socket has Nagle's algorithm on (wasi:sockets 0.2 cannot set TCP_NODELAY), so the
/// second small segment waited for the server's delayed ACK.
async fn send_stream(
    mut send: SendStream<Bytes>,
    messages: super::MessageStream,
    state: Rc<ConnectionState>,
    error: Rc<RefCell<Option<Status>>>,
) {
    let mut bursts = Bursts::new(messages, BURST_SIZE);
    let mut eager = 0;
    while let Some(burst) = bursts.next().await {
        let sent = match burst {
            Ok(burst) => {
                let bytes = burst.bytes;
                let sent = if eager + bytes.len() <= EAGER_SEND_LIMIT {
                    eager += bytes.len();
                    send.send_data(bytes, false)
                } else {
                    eager = EAGER_SEND_LIMIT;
                    send_with_capacity(&mut send, bytes).await
                };
                if burst.idle {
                    eager = EAGER_SEND_LIMIT;
                    state.pings.after_idle_burst();
                }
                sent
            }
            Err(status) => {
                *error.borrow_mut() = Some(status);
                send.send_reset(Reason::CANCEL);
                return;
            }
        };
        if sent.is_err() {
            // The stream is gone (reset, or the response ended): the receiver reports it.
            return;
        }
    }
    let _ = send.send_data(Bytes::new(), true);
}

/// Sends `data`, waiting for flow-control capacity so a fast producer cannot queue without
/// bound.
async fn send_with_capacity(
    send: &mut SendStream<Bytes>,
    mut data: Bytes,
) -> Result<(), h2::Error> {
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let granted = match poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(granted) => granted?,
            None => return Err(h2::Error::from(Reason::STREAM_CLOSED)),
        };
        if granted == 0 {
            continue;
        }
        let chunk = data.split_to(granted.min(data.len()));
        send.send_data(chunk, false)?;
    }
    Ok(())
}

impl H2Body {
    /// The next piece of response body; releases its flow-control credit to the server.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        match ready!(self.recv.poll_data(cx)) {
            Some(Ok(bytes)) => {
                self.call.state().pings.data_received();
                // Releasing never fails for bytes just received on an open stream.
                let _ = self.recv.flow_control().release_capacity(bytes.len());
                Poll::Ready(Some(Ok(bytes)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(self.error(e)))),
            None => Poll::Ready(None),
        }
    }

    /// The trailers, once the body has ended.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        let trailers = ready!(self.recv.poll_trailers(cx));
        Poll::Ready(trailers.map_err(|e| self.error(e)))
    }

    fn error(&self, e: h2::Error) -> Status {
        self.call.error(&self.send_error, e)
    }
}

/// Maps an HTTP/2 failure to a [`Status`], as PROTOCOL-HTTP2 "Errors" and tonic do.
///
/// A RST_STREAM or GOAWAY error code → [`Code::from_http2_error_code`]'s table, except a
/// GOAWAY with `NO_ERROR` (the server is shutting down) → `Unavailable`. I/O failures
/// (connection reset or closed) → `Unavailable`. The h2 error is the status's source; the
/// message is at most 256 bytes (a GOAWAY's debug data is cut to fit).
pub(crate) fn status_from_h2(e: h2::Error) -> Status {
    let code = match e.reason() {
        _ if e.is_io() => Code::Unavailable,
        Some(reason) => Code::from_http2_frame(reason.into(), e.is_go_away()),
        None if e.is_go_away() || e.is_remote() => Code::Unavailable,
        None => Code::Internal,
    };
    let mut message = format!("HTTP/2 error: {e}");
    cap_message(&mut message, MAX_H2_ERROR_MESSAGE);
    Status::new(code, message).with_source(e)
}

/// The longest message [`status_from_h2`] gives, in bytes: a GOAWAY's debug data (up to a
/// frame, 16 KiB, chosen by the server) is cut to fit, so a peer cannot fill logs and error
/// strings with it. The whole h2 error stays in the status's source.
const MAX_H2_ERROR_MESSAGE: usize = 256;

/// Cuts `message` to at most `max` bytes, on a char boundary, ending it with `…` when cut.
fn cap_message(message: &mut String, max: usize) {
    if message.len() <= max {
        return;
    }
    let mut end = max - '…'.len_utf8();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push('…');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let mut short = "short".to_owned();
        cap_message(&mut short, 10);
        assert_eq!(short, "short");
        let mut long = "é".repeat(200);
        cap_message(&mut long, 256);
        assert!(long.len() <= 256, "{}", long.len());
        assert!(long.ends_with('…'));
    }
}
