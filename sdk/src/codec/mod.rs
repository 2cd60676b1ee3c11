//! Message encoding: Length-Prefixed-Message framing and prost.

pub mod framing;

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

use crate::status::Status;
use framing::{Frame, HEADER_LEN, check_encoded_len};

/// Encodes `message` as one Length-Prefixed-Message (uncompressed), in a single allocation.
///
/// Errors: `ResourceExhausted` if the encoded message is longer than `max_len` bytes.
pub(crate) fn encode<M: Message>(message: &M, max_len: usize) -> Result<Bytes, Status> {
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

/// Decodes one received message.
///
/// Errors: `Internal` if `frame` is not a valid `M`.
pub(crate) fn decode<M: Message + Default>(frame: Frame) -> Result<M, Status> {
    M::decode(frame.data)
        .map_err(|e| Status::internal(format!("failed to decode response message: {e}")))
}
