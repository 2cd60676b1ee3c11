//! TCP over `wasi:sockets@0.3.0` (WASI 0.3, feature `wasip3`), for [`TcpIo`](super::tcp::TcpIo)
//! inside [`crate::wasip3::run`]: `ip-name-lookup.resolve-addresses`, `tcp-socket.connect`,
//! then the connection's bytes as two `stream<u8>`s: `receive`'s, which the guest reads, and
//! the one the guest writes and hands to `send`.
//!
//! A write is handed to the host and left to finish while h2 goes on (as a kernel's send
//! buffer would take it); the next write, a shutdown, and every read first see the last write
//! through, so a write the host took only in part is carried on by the connection task,
//! whichever way it is polled next.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use wasip3::sockets::ip_name_lookup;
use wasip3::sockets::types::{ErrorCode, TcpSocket};
use wasip3::wit_bindgen::{StreamReader, StreamResult, StreamWriter};
use wasip3::wit_stream;

use super::tcp::{HostStreams, connect_failed, lookup_failed, socket_address_fns};
use super::wasi_io::ReadSize;
use crate::status::Status;

socket_address_fns!(wasip3::sockets::types);

/// A read of `receive`'s stream in progress: it owns the reader and gives it back.
type Read = Pin<Box<dyn Future<Output = (StreamReader<u8>, StreamResult, Vec<u8>)>>>;

/// A write to `send`'s stream in progress: it owns the writer and gives it back with what the
/// host did not take (the host dropped its end).
type Write = Pin<Box<dyn Future<Output = (StreamWriter<u8>, Vec<u8>)>>>;

/// How a direction of the connection ended, as the host reports it.
type Outcome = Pin<Box<dyn Future<Output = Result<(), ErrorCode>>>>;

/// A WASI 0.3 connection's streams and socket.
///
/// Field order is drop order: the operations in progress before the streams they use, the
/// streams before the socket.
pub(crate) struct Wasi03Streams {
    read: Option<Read>,
    write: Option<Write>,
    /// `receive`'s stream, while no read holds it; `None` once it ended.
    reader: Option<StreamReader<u8>>,
    /// The stream handed to `send`, while no write holds it; `None` once shut down.
    writer: Option<StreamWriter<u8>>,
    /// How the last write went, when it failed: reported by the next write.
    write_error: Option<io::Error>,
    /// How much the next read asks for.
    read_size: ReadSize,
    /// `receive`'s outcome, awaited once its stream ended (a reset, or the peer's FIN).
    received: Outcome,
    /// `send`'s outcome: kept unread while the connection is open.
    _sent: Outcome,
    _socket: TcpSocket,
}

/// Resolves `name` with `wasi:sockets/ip-name-lookup@0.3.0`. Errors: [`lookup_failed`].
pub(crate) async fn resolve(name: &str) -> Result<Vec<IpAddr>, Status> {
    use ip_name_lookup::ErrorCode as LookupError;
    match ip_name_lookup::resolve_addresses(name.to_owned()).await {
        Ok(addresses) => Ok(addresses.into_iter().map(ip_addr).collect()),
        Err(e) => {
            let refused = matches!(
                e,
                LookupError::PermanentResolverFailure | LookupError::AccessDenied
            );
            Err(lookup_failed(name, refused, e))
        }
    }
}

/// Connects to `addr` with `tcp-socket.connect@0.3.0` and opens both directions.
/// Errors: [`connect_failed`].
pub(crate) async fn connect_addr(addr: SocketAddr) -> Result<HostStreams, Status> {
    let failed = |e: ErrorCode| {
        let denied = matches!(e, ErrorCode::AccessDenied);
        let refused = matches!(e, ErrorCode::ConnectionRefused);
        connect_failed(addr, denied, refused, e)
    };
    let (family, remote) = socket_address(addr);
    let socket = TcpSocket::create(family).map_err(failed)?;
    socket.connect(remote).await.map_err(failed)?;
    let (reader, received) = socket.receive();
    let (writer, contents) = wit_stream::new::<u8>();
    let sent = socket.send(contents);
    Ok(HostStreams::Wasi03(Box::new(Wasi03Streams {
        read: None,
        write: None,
        reader: Some(reader),
        writer: Some(writer),
        write_error: None,
        read_size: ReadSize::adaptive(),
        received: Box::pin(received.into_future()),
        _sent: Box::pin(sent.into_future()),
        _socket: socket,
    })))
}

/// The I/O error of a connection whose host side failed with `e`.
fn io_error(e: ErrorCode) -> io::Error {
    let kind = match e {
        ErrorCode::ConnectionReset => io::ErrorKind::ConnectionReset,
        ErrorCode::ConnectionAborted => io::ErrorKind::ConnectionAborted,
        _ => io::ErrorKind::BrokenPipe,
    };
    io::Error::new(kind, format!("{e:?}"))
}

impl Wasi03Streams {
    /// Reads what is available: `Some(bytes)` (never empty), `None` once the peer ended the
    /// stream. Errors: the connection failed (reset). Also carries the last write on.
    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Vec<u8>>>> {
        // The connection task polls reads whenever it runs: a write the host took only in
        // part goes on here (a failure is kept for the next write).
        let _ = self.poll_write_finished(cx);
        let read = match &mut self.read {
            Some(read) => read,
            None => {
                let Some(mut reader) = self.reader.take() else {
                    // The stream ended: `receive`'s outcome says whether cleanly.
                    return Poll::Ready(match ready!(self.received.as_mut().poll(cx)) {
                        Ok(()) => Ok(None),
                        Err(e) => Err(io_error(e)),
                    });
                };
                let asked = self.read_size.next();
                self.read.insert(Box::pin(async move {
                    let (result, bytes) = reader.read(Vec::with_capacity(asked)).await;
                    (reader, result, bytes)
                }))
            }
        };
        let (reader, result, bytes) = ready!(read.as_mut().poll(cx));
        self.read = None;
        match result {
            StreamResult::Complete(_) => {
                self.reader = Some(reader);
                self.read_size.record(bytes.len() as u64);
            }
            // The host dropped its end: the peer's FIN, or the connection failed.
            StreamResult::Dropped | StreamResult::Cancelled => drop(reader),
        }
        if bytes.is_empty() {
            // Nothing came (the end, or a read the host completed empty): poll again, from the
            // reactor, so that a host that keeps completing empty reads cannot spin here.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Ok(Some(bytes)))
    }

    /// Ready once no write is in progress; a write the host did not take all of (it dropped
    /// its end) leaves its error in `write_error`.
    fn poll_write_finished(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(write) = &mut self.write {
            let (writer, rest) = ready!(write.as_mut().poll(cx));
            self.write = None;
            self.writer = Some(writer);
            if !rest.is_empty() {
                self.write_error = Some(io::ErrorKind::BrokenPipe.into());
            }
        }
        Poll::Ready(())
    }

    /// Ready once no write is in progress; with the error of the last one if it failed.
    fn poll_write_done(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_finished(cx));
        match self.write_error.take() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Hands all of `bytes` to the host in one stream write, once the last write is through.
    /// Errors: the last write failed, or the host dropped its end (`BrokenPipe`).
    pub(crate) fn poll_write_all(
        &mut self,
        bytes: &mut BytesMut,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_write_done(cx))?;
        if bytes.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let Some(mut writer) = self.writer.take() else {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        let bytes = Vec::from(bytes.split());
        self.write = Some(Box::pin(async move {
            let rest = writer.write_all(bytes).await;
            (writer, rest)
        }));
        // The first poll hands the bytes over; the host takes them as it can send them, and a
        // write it could not take at all fails now.
        if self.poll_write_finished(cx).is_ready()
            && let Some(e) = self.write_error.take()
        {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(()))
    }

    /// Ends the stream handed to `send` (the host sends a FIN), once the last write is through.
    pub(crate) fn poll_shutdown_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The peer may already be gone; there is nothing more to do about it here.
        let _ = ready!(self.poll_write_done(cx));
        self.writer = None;
        Poll::Ready(Ok(()))
    }
}
