//! Poll-style reads and writes on `wasi:io/streams`, waiting on their pollables with `wstd`'s
//! reactor. Shared by the TCP and the `wasi:http` transports.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use wasip2::io::poll::Pollable;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};
use wstd::runtime::{AsyncPollable, WaitFor};

/// A pollable registered with the reactor, and the wait in progress on it, kept across polls.
pub(crate) struct Readiness {
    // Field order is drop order: the wait before the registration it refers to.
    wait: Option<Pin<Box<WaitFor>>>,
    pollable: AsyncPollable,
}

impl Readiness {
    /// Registers `pollable` (which must be dropped before the resource it watches: keep the
    /// `Readiness` in a field declared before that resource).
    pub(crate) fn new(pollable: Pollable) -> Self {
        Self {
            wait: None,
            pollable: AsyncPollable::new(pollable),
        }
    }

    /// Ready once the pollable has fired since the wait began.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let pollable = &self.pollable;
        let wait = self
            .wait
            .get_or_insert_with(|| Box::pin(pollable.wait_for()));
        ready!(wait.as_mut().poll(cx));
        self.wait = None;
        Poll::Ready(())
    }

    /// Waits for the pollable to fire.
    pub(crate) async fn ready(&mut self) {
        std::future::poll_fn(|cx| self.poll_ready(cx)).await;
    }
}

/// Maps a stream error to `io::Error` (`BrokenPipe` when closed, `ConnectionReset` otherwise).
pub(crate) fn stream_error(e: StreamError) -> io::Error {
    match e {
        StreamError::Closed => io::Error::from(io::ErrorKind::BrokenPipe),
        StreamError::LastOperationFailed(e) => {
            io::Error::new(io::ErrorKind::ConnectionReset, e.to_debug_string())
        }
    }
}

/// Reads what is available, at most `max` bytes: `Some(bytes)` (never empty), or `None` at the
/// end of the stream. `readiness` must watch `stream`.
pub(crate) fn poll_read(
    stream: &InputStream,
    readiness: &mut Readiness,
    max: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Option<Vec<u8>>>> {
    let max = u64::try_from(max).unwrap_or(u64::MAX);
    loop {
        match stream.read(max) {
            Ok(bytes) if bytes.is_empty() => ready!(readiness.poll_ready(cx)),
            Ok(bytes) => return Poll::Ready(Ok(Some(bytes))),
            Err(StreamError::Closed) => return Poll::Ready(Ok(None)),
            Err(e) => return Poll::Ready(Err(stream_error(e))),
        }
    }
}

/// Hands all of `buf` to the host, in as few `write` calls as its write permits allow.
/// `readiness` must watch `stream`.
pub(crate) fn poll_write_all(
    stream: &OutputStream,
    readiness: &mut Readiness,
    buf: &mut impl Buf,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while buf.has_remaining() {
        let permit = stream.check_write().map_err(stream_error)?;
        if permit == 0 {
            ready!(readiness.poll_ready(cx));
            continue;
        }
        let chunk = buf.chunk();
        let n = usize::try_from(permit)
            .unwrap_or(usize::MAX)
            .min(chunk.len());
        stream.write(&chunk[..n]).map_err(stream_error)?;
        buf.advance(n);
    }
    Poll::Ready(Ok(()))
}
