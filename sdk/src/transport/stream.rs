//! The byte stream an HTTP/2 connection of the sockets transport runs on: TCP, or TLS over TCP
//! (feature `tls`), with the write coalescing of `coalesce.rs` in front of either.
//!
//! The coalescing works on the HTTP/2 frames h2 writes, so it sits above TLS: a flush it lets
//! through is encrypted as a whole and its records are handed to the host in one write (see
//! `tcp.rs`), so TLS does not split what the coalescing joined.

use std::cell::{Cell, RefCell};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::coalesce::{PutOff, WriteBuffer};
use super::tcp::TcpIo;
use crate::status::Status;

/// Whether the server has sent anything yet (its preface, a SETTINGS frame, comes first:
/// RFC 9113 §3.4), or the connection ended first; shared by the [`ConnectionIo`] and the
/// opening that waits for it.
#[derive(Default)]
pub(crate) struct FirstRead {
    read: Cell<bool>,
    ended: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl FirstRead {
    fn wake(&self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// The server sent bytes.
    fn read(&self) {
        if !self.read.replace(true) {
            self.wake();
        }
    }

    /// The connection ended: its task stopped (the connection closed or failed).
    pub(crate) fn ended(&self) {
        if !self.ended.replace(true) {
            self.wake();
        }
    }

    /// Ready with `true` once the server sent bytes, `false` if the connection ended first.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<bool> {
        if self.read.get() {
            return Poll::Ready(true);
        }
        if self.ended.get() {
            return Poll::Ready(false);
        }
        self.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

/// What h2 reads from and writes to.
pub(crate) struct ConnectionIo {
    write_buf: WriteBuffer,
    stream: Stream,
    /// Why the connection failed, when TLS says: h2 keeps only the text of an I/O error, so
    /// the calls take the status from here (see `h2.rs`, `ConnectionState::closed`).
    failure: Rc<RefCell<Option<Status>>>,
    first_read: Rc<FirstRead>,
}

enum Stream {
    Tcp(TcpIo),
    #[cfg(feature = "tls-no-roots")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpIo>>),
}

impl ConnectionIo {
    /// HTTP/2 straight over TCP (h2c).
    pub(crate) fn tcp(io: TcpIo) -> ConnectionIo {
        ConnectionIo {
            write_buf: WriteBuffer::default(),
            stream: Stream::Tcp(io),
            failure: Rc::default(),
            first_read: Rc::default(),
        }
    }

    /// HTTP/2 over a TLS connection.
    #[cfg(feature = "tls-no-roots")]
    pub(crate) fn tls(io: tokio_rustls::client::TlsStream<TcpIo>) -> ConnectionIo {
        ConnectionIo {
            write_buf: WriteBuffer::default(),
            stream: Stream::Tls(Box::new(io)),
            failure: Rc::default(),
            first_read: Rc::default(),
        }
    }

    fn tcp_io(&self) -> &TcpIo {
        match &self.stream {
            Stream::Tcp(io) => io,
            #[cfg(feature = "tls-no-roots")]
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Whether its buffered frames wait for a later flush: for the connection task, which
    /// polls h2 with [`poll_connection`](super::coalesce::poll_connection).
    pub(crate) fn put_off(&self) -> Rc<Cell<PutOff>> {
        self.write_buf.put_off()
    }

    /// Whether the server has sent anything yet.
    pub(crate) fn first_read(&self) -> Rc<FirstRead> {
        self.first_read.clone()
    }

    /// Where the status of a TLS failure of the connection is put, when one happens.
    pub(crate) fn failure(&self) -> Rc<RefCell<Option<Status>>> {
        self.failure.clone()
    }

    /// Keeps the status of `e` if TLS caused it (an alert from the server, a bad record).
    #[cfg(feature = "tls-no-roots")]
    fn note<T>(&self, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &poll
            && let Some(message) = super::tls::describe_io_error(e)
        {
            self.failure
                .borrow_mut()
                .get_or_insert_with(|| Status::unavailable(message));
        }
        poll
    }

    /// The count of bytes read from the host so far (TLS records included), kept up to date.
    pub(crate) fn received(&self) -> Rc<Cell<u64>> {
        self.tcp_io().received()
    }

    /// Hands the whole write buffer to the host: straight over TCP, or through TLS, whose
    /// records are written at its flush.
    fn poll_write_buffer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let bytes = self.write_buf.take_for_writing();
        match &mut self.stream {
            Stream::Tcp(io) => io.poll_write_all(bytes, cx),
            #[cfg(feature = "tls-no-roots")]
            Stream::Tls(tls) => {
                use bytes::Buf;
                while !bytes.is_empty() {
                    let n = ready!(Pin::new(&mut **tls).poll_write(cx, bytes))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    bytes.advance(n);
                }
                Pin::new(&mut **tls).poll_flush(cx)
            }
        }
    }
}

impl AsyncRead for ConnectionIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = match &mut this.stream {
            Stream::Tcp(io) => Pin::new(io).poll_read(cx, buf),
            #[cfg(feature = "tls-no-roots")]
            Stream::Tls(tls) => {
                let poll = Pin::new(&mut **tls).poll_read(cx, buf);
                this.note(poll)
            }
        };
        // A read that fails or ends the stream ends the connection task, which marks the
        // connection ended (`h2.rs`).
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.first_read.read();
        }
        poll
    }
}

impl AsyncWrite for ConnectionIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write_buf.is_full() {
            ready!(this.poll_write_buffer(cx))?;
        }
        this.write_buf.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_buf.flush_now(cx) {
            return Poll::Ready(Ok(()));
        }
        let poll = this.poll_write_buffer(cx);
        #[cfg(feature = "tls-no-roots")]
        let poll = this.note(poll);
        poll
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_buffer(cx))?;
        match &mut this.stream {
            Stream::Tcp(io) => io.poll_shutdown_send(cx),
            // Sends TLS's close_notify alert, then shuts TCP down.
            #[cfg(feature = "tls-no-roots")]
            Stream::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
        }
    }
}
