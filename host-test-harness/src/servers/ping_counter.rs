//! A server-side socket that counts the HTTP/2 PING frames its client sends (RFC 9113 §6.7;
//! PING ACKs are not counted), so a test can check how often a client pings.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

// The sockets transport's frame scanner, shared as a file: the SDK does not export it.
#[path = "../../../sdk/src/transport/frames.rs"]
mod frames;

use frames::FrameScanner;

/// The PING frame type, and its ACK flag.
const PING: u8 = 0x6;
const ACK: u8 = 0x1;

/// `io`, with the PINGs read from it counted in `pings`.
pub(crate) struct PingCounter<T> {
    io: T,
    pings: Arc<AtomicUsize>,
    frames: FrameScanner,
}

impl<T> PingCounter<T> {
    /// Counts the PINGs read from `io` (a server's socket) into `pings`.
    pub(crate) fn new(io: T, pings: Arc<AtomicUsize>) -> Self {
        PingCounter {
            io,
            pings,
            frames: FrameScanner::default(),
        }
    }

    /// Follows the frames in `data`, the next bytes read.
    fn scan(&mut self, data: &[u8]) {
        let pings = &self.pings;
        self.frames.scan(data, |kind, flags| {
            if kind == PING && flags & ACK == 0 {
                pings.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for PingCounter<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            this.scan(&buf.filled()[before..]);
        }
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for PingCounter<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn counts_pings_but_not_acks_in_any_split() {
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        bytes.extend(frame(0x4, 0, &[0; 6])); // SETTINGS
        bytes.extend(frame(PING, 0, &[1; 8]));
        bytes.extend(frame(0x0, 0, &[PING; 20])); // DATA that looks like PINGs
        bytes.extend(frame(PING, ACK, &[2; 8]));
        bytes.extend(frame(PING, 0, &[3; 8]));
        for chunk in [1, 5, 9, 13, bytes.len()] {
            let pings = Arc::new(AtomicUsize::new(0));
            let mut counter = PingCounter::new((), pings.clone());
            for piece in bytes.chunks(chunk) {
                counter.scan(piece);
            }
            assert_eq!(pings.load(Ordering::Relaxed), 2, "chunks of {chunk}");
        }
    }
}
