//! Message encoding: Length-Prefixed-Message framing, compression and prost.

pub mod compression;
pub mod framing;
pub mod grpc_web;

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

use crate::status::Status;
use compression::CompressionEncoding;
use framing::{Frame, HEADER_LEN, check_encoded_len};

/// Encodes `message` as one Length-Prefixed-Message, compressed with `compression` if given.
///
/// Errors: `ResourceExhausted` if the encoded message (before compression) is longer than
/// `max_len` bytes; compression errors (see [`compression::compress`]).
pub(crate) fn encode<M: Message>(
    message: &M,
    max_len: usize,
    compression: Option<CompressionEncoding>,
) -> Result<Bytes, Status> {
    if let Some(encoding) = compression {
        check_encoded_len(message.encoded_len(), max_len)?;
        let raw = message.encode_to_vec();
        let mut buf = Vec::with_capacity(HEADER_LEN + raw.len() / 2);
        buf.extend_from_slice(&[1, 0, 0, 0, 0]);
        compression::compress(encoding, &raw, &mut buf)?;
        let wire_len = check_encoded_len(buf.len() - HEADER_LEN, usize::MAX)?;
        buf[1..HEADER_LEN].copy_from_slice(&wire_len.to_be_bytes());
        return Ok(Bytes::from(buf));
    }
    let len = message.encoded_len();
    let wire_len = check_encoded_len(len, max_len)?;
    let mut buf = BytesMut::with_capacity(HEADER_LEN + len);
    buf.put_u8(0);
    buf.put_u32(wire_len);
    message
        .encode(&mut buf)
        .map_err(|e| Status::internal(format!("failed to encode request message: {e}")))?;
    Ok(buf.freeze())
}

/// The protobuf bytes of one received message: its data, decompressed with `compression` if
/// its flag says so.
///
/// Errors: `Internal` if `frame` is compressed and no `compression` is given; decompression
/// errors (see [`compression::decompress`], which keeps the output within `max_len` bytes).
pub(crate) fn decompress(
    frame: Frame,
    compression: Option<CompressionEncoding>,
    max_len: usize,
) -> Result<Bytes, Status> {
    if !frame.compressed {
        return Ok(frame.data);
    }
    let encoding = compression.ok_or_else(|| {
        Status::internal(
            "protocol error: received a compressed message but no grpc-encoding was negotiated",
        )
    })?;
    compression::decompress(encoding, &frame.data, max_len).map(Bytes::from)
}

/// Decodes the protobuf bytes of one received message as an `M`.
///
/// Errors: `Internal` if `data` is not a valid `M`.
pub(crate) fn decode<M: Message + Default>(data: Bytes) -> Result<M, Status> {
    M::decode(data).map_err(|e| Status::internal(format!("failed to decode response message: {e}")))
}
