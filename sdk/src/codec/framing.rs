//! Length-Prefixed-Message framing, sans-I/O.
//!
//! Source: gRPC over HTTP/2 (PROTOCOL-HTTP2.md), "Length-Prefixed-Message":
//! `Compressed-Flag` (1 byte, 0 or 1) · `Message-Length` (4 bytes, big-endian, unsigned) ·
//! `Message` (`Message-Length` bytes).
//!
//! [`encode_frame`] writes one message; [`Decoder`] takes the DATA frames of a response in
//! whatever pieces they arrive and yields whole messages, checking the size limit before it
//! buffers a single byte of the message.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::status::Status;

/// Length of the Length-Prefixed-Message header: flag (1 byte) + length (4 bytes).
pub const HEADER_LEN: usize = 5;

/// The limit a [`Decoder`] applies when none is set: 4 MiB (4 × 1024 × 1024 bytes), as tonic
/// and grpc-go do.
pub const DEFAULT_MAX_DECODING_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Appends one Length-Prefixed-Message holding `message` to `dst`, uncompressed.
///
/// Errors: `ResourceExhausted` if `message` is longer than `u32::MAX` bytes, the most the
/// 4-byte length prefix can carry, or longer than `max_len` bytes.
pub fn encode_frame(message: &[u8], max_len: usize, dst: &mut BytesMut) -> Result<(), Status> {
    let len = check_encoded_len(message.len(), max_len)?;
    dst.reserve(HEADER_LEN + message.len());
    dst.put_u8(0);
    dst.put_u32(len);
    dst.put_slice(message);
    Ok(())
}

/// Checks a message of `len` bytes against the send limit `max_len` and the 4-byte prefix.
///
/// Returns the length as it goes on the wire. Errors: `ResourceExhausted`, as
/// [`encode_frame`].
pub fn check_encoded_len(len: usize, max_len: usize) -> Result<u32, Status> {
    if len > max_len {
        return Err(Status::resource_exhausted(format!(
            "message of {len} bytes is larger than the encoding limit of {max_len} bytes"
        )));
    }
    u32::try_from(len).map_err(|_| {
        Status::resource_exhausted(format!(
            "message of {len} bytes does not fit a Length-Prefixed-Message (at most {} bytes)",
            u32::MAX
        ))
    })
}

/// Where a [`Decoder`] is inside the current Length-Prefixed-Message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the 5-byte header.
    ReadHeader,
    /// Header read; waiting for `len` bytes of message.
    ReadBody {
        compressed: bool,
        trailers: bool,
        len: usize,
    },
}

/// One message taken out of the stream by [`Decoder::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The `Compressed-Flag` was 1: `data` is compressed with the `grpc-encoding` of the
    /// response.
    pub compressed: bool,
    /// gRPC-Web only: the flag's most significant bit was set, so `data` is not a message but
    /// the trailer block (`name: value` lines, PROTOCOL-WEB.md).
    pub trailers: bool,
    /// The message bytes, exactly `Message-Length` of them.
    pub data: Bytes,
}

/// Incremental Length-Prefixed-Message decoder.
///
/// Feed it bytes as they arrive with [`Decoder::push`] (one HTTP/2 DATA frame may hold part of
/// a message, one message, or several), then call [`Decoder::decode`] until it returns
/// `Ok(None)`. At the end of the stream, [`Decoder::finish`] tells whether a message was cut
/// off.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    state: State,
    max_len: usize,
    accept_compressed: bool,
    grpc_web: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_DECODING_MESSAGE_SIZE)
    }
}

impl Decoder {
    /// A decoder that refuses messages longer than `max_len` bytes and compressed messages.
    pub fn new(max_len: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            state: State::ReadHeader,
            max_len,
            accept_compressed: false,
            grpc_web: false,
        }
    }

    /// Lets messages with the `Compressed-Flag` set through (to be decompressed by the caller
    /// with the negotiated `grpc-encoding`). Off by default: with no encoding negotiated, a
    /// compressed message is an `Internal` error (PROTOCOL-HTTP2, "Compressed-Flag").
    pub fn accept_compressed(&mut self, accept: bool) {
        self.accept_compressed = accept;
    }

    /// Accepts gRPC-Web trailer frames (flag `0x80`, PROTOCOL-WEB.md), returned as frames with
    /// [`Frame::trailers`] set. Off by default: in gRPC over HTTP/2 that flag is an error.
    pub fn grpc_web(&mut self, enable: bool) {
        self.grpc_web = enable;
    }

    /// Appends bytes received from the peer.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Takes the next whole message, if the buffered bytes hold one.
    ///
    /// Returns `Ok(None)` when more bytes are needed. Errors (the stream cannot go on after
    /// one): `Internal` for a `Compressed-Flag` other than 0 or 1, or 1 when compressed
    /// messages are not accepted; `ResourceExhausted` for a `Message-Length` above the limit,
    /// reported as soon as the header is read, before any of the message is buffered.
    pub fn decode(&mut self) -> Result<Option<Frame>, Status> {
        if self.state == State::ReadHeader {
            if self.buf.len() < HEADER_LEN {
                return Ok(None);
            }
            let flag = self.buf[0];
            let trailers = self.grpc_web && flag & 0x80 != 0;
            let compressed = match if trailers { flag & 0x7f } else { flag } {
                0 => false,
                1 if self.accept_compressed => true,
                1 => {
                    return Err(Status::internal(
                        "protocol error: received a compressed message but no grpc-encoding was negotiated",
                    ));
                }
                _ => {
                    return Err(Status::internal(format!(
                        "protocol error: invalid Compressed-Flag {flag} (expected 0 or 1)"
                    )));
                }
            };
            let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
            // u32 always fits usize on the 32- and 64-bit targets this crate builds for.
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > self.max_len {
                return Err(Status::resource_exhausted(format!(
                    "received message of {len} bytes, larger than the decoding limit of {} bytes",
                    self.max_len
                )));
            }
            self.buf.advance(HEADER_LEN);
            self.state = State::ReadBody {
                compressed,
                trailers,
                len,
            };
        }
        let State::ReadBody {
            compressed,
            trailers,
            len,
        } = self.state
        else {
            return Ok(None);
        };
        if self.buf.len() < len {
            self.buf.reserve(len - self.buf.len());
            return Ok(None);
        }
        self.state = State::ReadHeader;
        Ok(Some(Frame {
            compressed,
            trailers,
            data: self.buf.split_to(len).freeze(),
        }))
    }

    /// Checks that the stream ended on a message boundary.
    ///
    /// Errors: `Internal` if part of a message (header or body) is buffered.
    pub fn finish(&self) -> Result<(), Status> {
        match self.state {
            State::ReadHeader if self.buf.is_empty() => Ok(()),
            State::ReadHeader => Err(Status::internal(format!(
                "protocol error: stream ended inside a message header ({} of {HEADER_LEN} bytes)",
                self.buf.len()
            ))),
            State::ReadBody { len, .. } => Err(Status::internal(format!(
                "protocol error: stream ended inside a message ({} of {len} bytes)",
                self.buf.len()
            ))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Code;

    fn frame(msg: &[u8]) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode_frame(msg, usize::MAX, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn encodes_header_and_message() {
        assert_eq!(frame(b"abc"), [0, 0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(frame(b""), [0, 0, 0, 0, 0]);
    }

    #[test]
    fn encode_limit_is_resource_exhausted() {
        let mut b = BytesMut::new();
        let err = encode_frame(&[0; 10], 9, &mut b).unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert!(b.is_empty());
    }

    #[test]
    fn decodes_message_split_across_every_byte() {
        let wire = frame(b"hello world");
        let mut d = Decoder::default();
        for (i, byte) in wire.iter().enumerate() {
            assert_eq!(
                d.decode().unwrap(),
                None,
                "message complete too early at {i}"
            );
            d.push(&[*byte]);
        }
        let f = d.decode().unwrap().unwrap();
        assert_eq!(&f.data[..], b"hello world");
        assert!(!f.compressed);
        assert_eq!(d.decode().unwrap(), None);
        d.finish().unwrap();
    }

    #[test]
    fn decodes_several_messages_in_one_chunk() {
        let mut wire = frame(b"one");
        wire.extend(frame(b""));
        wire.extend(frame(b"three"));
        wire.extend(&frame(b"four")[..3]);
        let mut d = Decoder::default();
        d.push(&wire);
        let got: Vec<_> = std::iter::from_fn(|| d.decode().unwrap()).collect();
        let got: Vec<&[u8]> = got.iter().map(|f| &f.data[..]).collect();
        assert_eq!(got, [&b"one"[..], b"", b"three"]);
        assert_eq!(d.finish().unwrap_err().code(), Code::Internal);
        d.push(&frame(b"four")[3..]);
        assert_eq!(&d.decode().unwrap().unwrap().data[..], b"four");
        d.finish().unwrap();
    }

    #[test]
    fn size_limit_is_checked_from_the_header_alone() {
        let mut d = Decoder::new(16);
        d.push(&[0, 0xff, 0xff, 0xff, 0xff]); // a 4 GiB length prefix, no body at all
        let err = d.decode().unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert!(err.message().contains("4294967295"), "{}", err.message());
        assert!(
            d.buf.capacity() < 1024,
            "must not allocate for the claimed length"
        );
    }

    #[test]
    fn message_exactly_at_limit_is_accepted() {
        let mut d = Decoder::new(3);
        d.push(&frame(b"abc"));
        assert_eq!(&d.decode().unwrap().unwrap().data[..], b"abc");
    }

    #[test]
    fn compressed_flag_without_encoding_is_internal() {
        let mut d = Decoder::default();
        d.push(&[1, 0, 0, 0, 1, 7]);
        assert_eq!(d.decode().unwrap_err().code(), Code::Internal);

        let mut d = Decoder::default();
        d.accept_compressed(true);
        d.push(&[1, 0, 0, 0, 1, 7]);
        let f = d.decode().unwrap().unwrap();
        assert!(f.compressed);
        assert_eq!(&f.data[..], [7]);
    }

    #[test]
    fn invalid_flag_is_internal() {
        let mut d = Decoder::default();
        d.push(&[2, 0, 0, 0, 0]);
        let err = d.decode().unwrap_err();
        assert_eq!(err.code(), Code::Internal);
        assert!(err.message().contains("Compressed-Flag 2"));
    }

    #[test]
    fn grpc_web_trailer_frame() {
        let mut wire = frame(b"msg");
        wire.extend([0x80, 0, 0, 0, 15]);
        wire.extend(b"grpc-status:0\r\n");
        let mut plain = Decoder::default();
        plain.push(&wire);
        assert!(!plain.decode().unwrap().unwrap().trailers);
        assert_eq!(plain.decode().unwrap_err().code(), Code::Internal);

        let mut web = Decoder::default();
        web.grpc_web(true);
        web.push(&wire);
        assert!(!web.decode().unwrap().unwrap().trailers);
        let t = web.decode().unwrap().unwrap();
        assert!(t.trailers && !t.compressed);
        assert_eq!(&t.data[..], b"grpc-status:0\r\n");
    }

    #[test]
    fn truncated_header_is_reported_at_finish() {
        let mut d = Decoder::default();
        d.push(&[0, 0]);
        assert_eq!(d.decode().unwrap(), None);
        let err = d.finish().unwrap_err();
        assert_eq!(err.code(), Code::Internal);
        assert!(err.message().contains("header"));
    }
}
