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
const MAX_READ: u64 = 64 * 1024;

/// The fewest bytes an adaptive [`ReadSize`] asks for: 4 KiB, more than a small message's
/// HTTP/2 frames.
const MIN_READ: u64 = 4 * 1024;

/// How many bytes the next read asks the host for.
///
/// wasmtime allocates and zeroes a buffer of the size asked for on every TCP read, also when
/// the read finds nothing (the read that ends each burst of data): a 64 KiB read cost two
/// 64 KiB zeroed allocations per bidirectional round trip. An adaptive size asks for about as
/// much as the last read brought (at least [`MIN_READ`]), and four times more, up to
/// [`MAX_READ`], after a read that filled what it asked for, so a large message still comes in
/// 64 KiB reads after the first few.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadSize {
    next: u64,
    adaptive: bool,
}

impl ReadSize {
    /// Starts at [`MIN_READ`] and follows what the reads bring (for TCP streams).
    #[cfg(feature = "sockets")]
    pub(crate) fn adaptive() -> Self {
        ReadSize {
            next: MIN_READ,
            adaptive: true,
        }
    }

    /// Always [`MAX_READ`] (for streams whose reads cost no more when asked for more, such as
    /// wasi:http bodies, handed out from the chunks the host already has).
    #[cfg(feature = "wasi-http")]
    pub(crate) fn fixed() -> Self {
        ReadSize {
            next: MAX_READ,
            adaptive: false,
        }
    }

    /// How many bytes the next read asks for.
    #[cfg(all(feature = "sockets", feature = "wasip3"))]
    pub(crate) fn next(&self) -> usize {
        usize::try_from(self.next).unwrap_or(usize::MAX)
    }

    /// Takes note that a read, which asked for the size this gave it, got `got` bytes.
    pub(crate) fn record(&mut self, got: u64) {
        if !self.adaptive {
            return;
        }
        let asked = self.next;
        self.next = if got >= asked {
            asked.saturating_mul(4)
        } else {
            got.next_power_of_two()
        }
        .clamp(MIN_READ, MAX_READ);
    }
}

/// Reads what is available, at most `size` bytes: `Some(bytes)` (never empty), or
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
    size: &mut ReadSize,
    cx: &mut Context<'_>,
) -> Poll<Result<Option<Vec<u8>>, StreamError>> {
    let mut waited = false;
    if readiness.is_waiting() {
        // The last read found nothing and its wait is still on: a read now would very likely
        // find nothing again (on TCP, a `recv` that fails with EAGAIN). A task polled again for
        // another reason (h2's connection task, to write) asks the pollable instead.
        ready!(readiness.poll_ready(cx, || stream.subscribe()));
        waited = true;
    }
    loop {
        let asked = size.next;
        let read = stream.read(asked);
        if let Ok(bytes) = &read {
            size.record(bytes.len() as u64);
        }
        match read {
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
