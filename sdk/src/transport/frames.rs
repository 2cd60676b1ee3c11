//! Following the HTTP/2 frames in a byte stream that comes in pieces of any size: the client
//! connection preface, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4), then frames, each a
//! 9-byte header (payload length in the first 3 bytes, then type, flags and stream identifier)
//! and its payload (RFC 9113 §4.1).
//!
//! The sockets transport follows what h2 writes (`coalesce.rs`). The test harness includes this
//! file as well, to count the PINGs a client sends.

/// The client connection preface: 24 bytes before the first frame.
const PREFACE_LEN: usize = 24;
/// A frame header.
const HEADER_LEN: usize = 9;

/// Where a byte stream from a client is, frame-wise.
pub(crate) struct FrameScanner {
    /// Bytes to pass over before the next frame header: the rest of the preface or of a payload.
    skip: usize,
    /// The part of a frame header seen so far, when a piece ends inside one.
    header: [u8; HEADER_LEN],
    header_len: usize,
}

impl Default for FrameScanner {
    /// A scanner for a client's bytes from their start, the connection preface.
    fn default() -> Self {
        Self {
            skip: PREFACE_LEN,
            header: [0; HEADER_LEN],
            header_len: 0,
        }
    }
}

impl FrameScanner {
    /// Follows `bytes`, the next piece of the stream: calls `on_frame(type, flags)` for each
    /// frame whose header ends in it.
    pub(crate) fn scan(&mut self, mut bytes: &[u8], mut on_frame: impl FnMut(u8, u8)) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (HEADER_LEN - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
            self.header_len += n;
            bytes = &bytes[n..];
            if self.header_len == HEADER_LEN {
                let [l0, l1, l2, kind, flags, ..] = self.header;
                self.skip = u32::from_be_bytes([0, l0, l1, l2]) as usize;
                self.header_len = 0;
                on_frame(kind, flags);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame: 9-byte header, then `len` payload bytes.
    fn frame(kind: u8, flags: u8, len: usize) -> Vec<u8> {
        let mut f = (len as u32).to_be_bytes()[1..].to_vec();
        f.extend([kind, flags, 0, 0, 0, 1]);
        f.resize(HEADER_LEN + len, 0x06);
        f
    }

    fn frames_in(scanner: &mut FrameScanner, pieces: &[&[u8]]) -> Vec<(u8, u8)> {
        let mut seen = Vec::new();
        for piece in pieces {
            scanner.scan(piece, |kind, flags| seen.push((kind, flags)));
        }
        seen
    }

    #[test]
    fn headers_split_across_pieces_are_read_and_payloads_passed_over() {
        let mut scanner = FrameScanner {
            skip: 0,
            ..FrameScanner::default()
        };
        let update = frame(0x8, 0, 4);
        assert_eq!(frames_in(&mut scanner, &[&update[..5]]), vec![]);
        assert_eq!(frames_in(&mut scanner, &[&update[5..]]), vec![(0x8, 0)]);
        let data = frame(0x0, 1, 3000);
        assert_eq!(frames_in(&mut scanner, &[&data[..9]]), vec![(0x0, 1)]);
        // The payload is passed over, whatever its bytes: the next header is read as one.
        let ping = frame(0x6, 0, 8);
        assert_eq!(
            frames_in(&mut scanner, &[&data[9..], &ping]),
            vec![(0x6, 0)]
        );
    }

    #[test]
    fn the_preface_is_passed_over() {
        let mut scanner = FrameScanner::default();
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        bytes.extend(frame(0x4, 0, 6));
        bytes.extend(frame(0x1, 4, 20));
        for size in [1, 7, 24, bytes.len()] {
            let mut scanner_for_size = FrameScanner::default();
            let pieces: Vec<&[u8]> = bytes.chunks(size).collect();
            assert_eq!(
                frames_in(&mut scanner_for_size, &pieces),
                vec![(0x4, 0), (0x1, 4)],
                "pieces of {size}"
            );
        }
        assert_eq!(frames_in(&mut scanner, &[&bytes]), vec![(0x4, 0), (0x1, 4)]);
    }
}
