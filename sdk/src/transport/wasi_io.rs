//! Poll-style reads and writes on `wasi:io/streams`, waiting on their pollables with `wstd`'s
//! reactor. Shared by the TCP and the `wasi:http` transports.

use std::io;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

pub(crate) use crate::readiness::Readiness;

/// Maps a stream error to `io::Error` (`BrokenPipe` when closed, `ConnectionReset` otherwise).
pub(crate) fn stream_error(e: StreamError) -> io::Error {
    match e {
        StreamError::Closed => io::Error::from(io::ErrorKind::BrokenPipe),
        StreamError::LastOperationFailed(e) => {
            io::Error::new(io::ErrorKind::ConnectionReset, e.to_debug_string())
        }
    }
}

/// The most bytes asked of the host in one read: 64 KiB (wasmtime hands out at most this
/// much per read; fewer, larger reads mean fewer host calls for large messages).
const READ_SIZE: u64 = 64 * 1024;

/// Reads what is available, at most [`READ_SIZE`] bytes: `Some(bytes)` (never empty), or
/// `None` at the end of the stream. `readiness` must watch `stream`. Errors: the stream's
/// `last-operation-failed` (never `closed`, which is the end), left for the caller to map
/// ([`stream_error`], or `wasi:http`'s `http-error-code`).
///
/// An empty read waits for the stream's pollable. If the pollable is ready and the next read
/// is empty again (jco's preview2-shim 0.26 reports a TCP input stream ready while its reads
/// return nothing), this returns `Pending` with the task woken, so the reactor runs the
/// other tasks (the connection's writer, which sends the HTTP/2 preface) instead of this
/// loop spinning for ever.
pub(crate) fn poll_read(
    stream: &InputStream,
    readiness: &mut Readiness,
    cx: &mut Context<'_>,
) -> Poll<Result<Option<Vec<u8>>, StreamError>> {
    let mut waited = false;
    loop {
        match stream.read(READ_SIZE) {
            Ok(bytes) if bytes.is_empty() => {
                if waited {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                ready!(readiness.poll_ready(cx, || stream.subscribe()));
                waited = true;
            }
            Ok(bytes) => return Poll::Ready(Ok(Some(bytes))),
            Err(StreamError::Closed) => return Poll::Ready(Ok(None)),
            Err(e) => return Poll::Ready(Err(e)),
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
            ready!(readiness.poll_ready(cx, || stream.subscribe()));
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
