//! A server-side socket that counts the HTTP/2 PING frames its client sends (RFC 9113 §6.7;
//! PING ACKs are not counted), so a test can check how often a client pings.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The client connection preface: 24 bytes before the first frame (RFC 9113 §3.4).
const PREFACE_LEN: usize = 24;
/// A frame header: length (3 bytes), type, flags, stream identifier (4 bytes).
const HEADER_LEN: usize = 9;
/// The PING frame type, and its ACK flag.
const PING: u8 = 0x6;
const ACK: u8 = 0x1;

/// `io`, with the PINGs read from it counted in `pings`.
pub(crate) struct PingCounter<T> {
    io: T,
    pings: Arc<AtomicUsize>,
    /// Preface bytes still to skip.
    preface_left: usize,
    /// The frame header read so far.
    header: [u8; HEADER_LEN],
    header_len: usize,
    /// Payload bytes of the current frame still to skip.
    payload_left: usize,
}

impl<T> PingCounter<T> {
    /// Counts the PINGs read from `io` (a server's socket) into `pings`.
    pub(crate) fn new(io: T, pings: Arc<AtomicUsize>) -> Self {
        PingCounter {
            io,
            pings,
            preface_left: PREFACE_LEN,
            header: [0; HEADER_LEN],
            header_len: 0,
            payload_left: 0,
        }
    }

    /// Follows the frames in `data`, the next bytes read.
    fn scan(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let skip = if self.preface_left > 0 {
                &mut self.preface_left
            } else {
                &mut self.payload_left
            };
            if *skip > 0 {
                let n = (*skip).min(data.len());
                *skip -= n;
                data = &data[n..];
                continue;
            }
            let n = (HEADER_LEN - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&data[..n]);
            self.header_len += n;
            data = &data[n..];
            if self.header_len == HEADER_LEN {
                let [l0, l1, l2, kind, flags, ..] = self.header;
                if kind == PING && flags & ACK == 0 {
                    self.pings.fetch_add(1, Ordering::Relaxed);
                }
                self.payload_left = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
                self.header_len = 0;
            }
        }
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
