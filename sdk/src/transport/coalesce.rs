//! When the TCP transport hands the HTTP/2 frames h2 wrote to the host: write coalescing, so
//! that Nagle's algorithm does not hold requests back.
//!
//! wasi:sockets 0.2 cannot set `TCP_NODELAY` and hosts leave Nagle's algorithm on. A write that
//! ends in a segment shorter than the MSS, followed by another write before the server ACKs
//! that segment, makes the second wait for the server's delayed ACK: about 40 ms on Linux. So
//! every write should carry all that is ready to go:
//!
//! - h2 writes frames one by one and flushes when it is done; [`WriteBuffer`] only buffers them,
//!   and a flush hands them all to the host at once. A request written as HEADERS, then DATA,
//!   waited 40 ms on every call.
//! - h2 also flushes after each DATA frame whose payload it does not copy (over 1 KiB), so a
//!   message of several 16 KiB frames went out as several writes (a 16 KiB or 64 KiB unary call
//!   took 44 ms). The flush after such a payload is put off: h2 flushes again once it has
//!   written all it queued, and that flush writes it all.
//! - A flush of housekeeping frames only (WINDOW_UPDATE, PING, SETTINGS: h2 queues a
//!   WINDOW_UPDATE when the application reads a response) waits one turn of the reactor, so
//!   that a request the application sends right after reading goes out in the same write.
//!   Written alone, the WINDOW_UPDATE made that request wait 40 ms (1 round trip in 64 of a
//!   64 KiB bidirectional ping-pong).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::BytesMut;

use super::frames::FrameScanner;

/// The most bytes buffered before they are written without waiting for a flush: 1 MiB, more
/// than h2 sends in one go within the usual flow-control windows.
const LIMIT: usize = 1024 * 1024;

/// A write of at least this many bytes (1 KiB) is taken for a DATA frame's payload: over a
/// stream without vectored writes, h2 copies payloads of up to 1,024 bytes into its own buffer,
/// and hands larger ones over as they are, then flushes.
const LARGE_WRITE: usize = 1024;

/// Whether the buffered frames wait for a later flush, shared by the [`WriteBuffer`] and the
/// connection task, which polls h2 through [`poll_connection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum PutOff {
    /// Nothing waits.
    #[default]
    No,
    /// A flush after a DATA payload was put off: h2's next flush writes.
    UntilNextFlush,
    /// A housekeeping-only flush was put off, and the task woken: it waits one turn.
    OneTurn,
    /// The housekeeping frames have waited their turn: the next flush writes.
    Due,
}

/// The frames h2 wrote that are not on the wire yet, and when to write them.
#[derive(Default)]
pub(crate) struct WriteBuffer {
    bytes: BytesMut,
    frames: FrameScanner,
    /// Every frame begun since the buffer was last empty is housekeeping.
    housekeeping_only: bool,
    /// A DATA frame's payload was buffered since the last flush; the next flush is put off.
    large_write: bool,
    put_off: Rc<Cell<PutOff>>,
}

impl WriteBuffer {
    /// Buffers `bytes`, the next bytes h2 writes.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.bytes.is_empty() {
            // Everything buffered so far is on its way: only frames from here on count.
            self.housekeeping_only = true;
        }
        self.bytes.extend_from_slice(bytes);
        let housekeeping_only = &mut self.housekeeping_only;
        self.frames.scan(bytes, |kind, _| {
            *housekeeping_only &= HOUSEKEEPING.contains(&kind);
        });
        self.large_write |= bytes.len() >= LARGE_WRITE;
    }

    /// Whether the buffer holds as much as it may: write it before buffering more.
    pub(crate) fn is_full(&self) -> bool {
        self.bytes.len() >= LIMIT
    }

    /// Whether a flush h2 asks for should write now. When not, a later flush is arranged: h2's
    /// own next one, or, for housekeeping frames, one after waking the task (through `cx`).
    pub(crate) fn flush_now(&mut self, cx: &mut Context<'_>) -> bool {
        if self.bytes.is_empty() || self.is_full() {
            return true;
        }
        if std::mem::take(&mut self.large_write) {
            self.put_off.set(PutOff::UntilNextFlush);
            return false;
        }
        if self.housekeeping_only && self.put_off.get() != PutOff::Due {
            self.put_off.set(PutOff::OneTurn);
            cx.waker().wake_by_ref();
            return false;
        }
        true
    }

    /// The buffered bytes, to be written now: what is taken from the front is gone.
    pub(crate) fn take_for_writing(&mut self) -> &mut BytesMut {
        self.put_off.set(PutOff::No);
        self.large_write = false;
        &mut self.bytes
    }

    /// The state of the put-off flushes, for [`poll_connection`].
    pub(crate) fn put_off(&self) -> Rc<Cell<PutOff>> {
        self.put_off.clone()
    }
}

/// Polls h2's connection future, whose socket's [`WriteBuffer`] shares `put_off`, and makes
/// sure a put-off flush happens. h2 usually flushes again before it returns `Pending`; when it
/// does not (seen with many streams at once, a few times in thousands of calls), it is polled
/// again at once, and the task woken if that did not help either.
pub(crate) fn poll_connection<F: Future>(
    mut connection: Pin<&mut F>,
    put_off: &Cell<PutOff>,
    cx: &mut Context<'_>,
) -> Poll<F::Output> {
    if put_off.get() == PutOff::OneTurn {
        put_off.set(PutOff::Due);
    }
    let awaits_flush = || matches!(put_off.get(), PutOff::UntilNextFlush | PutOff::Due);
    let mut poll = connection.as_mut().poll(cx);
    if poll.is_pending() && awaits_flush() {
        poll = connection.as_mut().poll(cx);
        if poll.is_pending() && awaits_flush() {
            cx.waker().wake_by_ref();
        }
    }
    poll
}

/// Frame types (RFC 9113 §6) that are connection housekeeping: SETTINGS, PING, WINDOW_UPDATE.
const HOUSEKEEPING: [u8; 3] = [0x4, 0x6, 0x8];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::task::Waker;

    use super::*;

    /// A frame: 9-byte header, then `len` payload bytes.
    fn frame(kind: u8, len: usize) -> Vec<u8> {
        let mut f = (len as u32).to_be_bytes()[1..].to_vec();
        f.extend([kind, 0, 0, 0, 0, 1]);
        f.resize(9 + len, 0xAB);
        f
    }

    fn buffer_after_preface() -> WriteBuffer {
        let mut buffer = WriteBuffer::default();
        buffer.push(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        buffer.take_for_writing().clear();
        buffer
    }

    #[test]
    fn housekeeping_is_recognised_across_split_writes() {
        let mut buffer = buffer_after_preface();
        let update = frame(0x8, 4);
        buffer.push(&update[..5]);
        buffer.push(&update[5..]);
        assert!(buffer.housekeeping_only);
        let data = frame(0x0, 3000);
        buffer.push(&data[..9]);
        assert!(!buffer.housekeeping_only);
        buffer.push(&data[9..]);
        // Written: the payload was passed over, so the next header is read as one.
        buffer.take_for_writing().clear();
        buffer.push(&frame(0x6, 8));
        assert!(buffer.housekeeping_only);
    }

    #[test]
    fn a_flush_after_a_large_payload_is_put_off_until_the_next() {
        let mut buffer = buffer_after_preface();
        let mut cx = Context::from_waker(Waker::noop());
        buffer.push(&frame(0x1, 30));
        buffer.push(&frame(0x0, 16384)[..9]);
        buffer.push(&[0; 16384]);
        assert!(!buffer.flush_now(&mut cx));
        assert_eq!(buffer.put_off().get(), PutOff::UntilNextFlush);
        buffer.push(&frame(0x0, 5));
        assert!(buffer.flush_now(&mut cx));
        assert_eq!(buffer.take_for_writing().len(), 39 + 9 + 16384 + 14);
        assert_eq!(buffer.put_off().get(), PutOff::No);
    }

    #[test]
    fn a_housekeeping_flush_waits_one_turn() {
        let mut buffer = buffer_after_preface();
        let put_off = buffer.put_off();
        let mut cx = Context::from_waker(Waker::noop());
        buffer.push(&frame(0x8, 4));
        assert!(!buffer.flush_now(&mut cx));
        assert!(!buffer.flush_now(&mut cx), "still the same turn");
        // The connection task's next poll starts the next turn.
        let mut next_turn = std::pin::pin!(std::future::poll_fn(|_| Poll::<()>::Pending));
        let _ = poll_connection(next_turn.as_mut(), &put_off, &mut cx);
        assert_eq!(put_off.get(), PutOff::Due);
        assert!(buffer.flush_now(&mut cx));
        buffer.take_for_writing().clear();
        buffer.push(&frame(0x1, 30));
        assert!(buffer.flush_now(&mut cx));
    }

    #[test]
    fn frames_left_unwritten_still_count() {
        let mut buffer = buffer_after_preface();
        let mut cx = Context::from_waker(Waker::noop());
        buffer.push(&frame(0x1, 30));
        // The host takes only part of the buffer.
        let _ = buffer.take_for_writing().split_to(10);
        buffer.push(&frame(0x8, 4));
        assert!(buffer.flush_now(&mut cx), "HEADERS bytes are still waiting");
    }

    #[test]
    fn a_full_or_empty_buffer_is_flushed_now() {
        let mut buffer = buffer_after_preface();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(buffer.flush_now(&mut cx));
        buffer.push(&vec![0; LIMIT]);
        assert!(buffer.is_full());
        assert!(buffer.flush_now(&mut cx));
    }
}
