//! The `Compressed-Flag` of each Length-Prefixed-Message (PROTOCOL-HTTP2), which tonic's
//! server API does not show: [`MessageFlagsLayer`] reads the flag of every request message
//! and compresses each response message as the handler asks, so the interop server can do
//! what the interop spec's compression cases ask of a server, message by message (as the C++
//! reference server does with `WriteOptions::set_no_compression`).
//!
//! A handler finds the call's [`MessageFlags`] in its request's extensions: it takes the flag
//! of each request message as tonic hands the message over ([`MessageFlags::next_received`];
//! the layer has seen the message's header by then) and says, before it yields each response
//! message, whether that one is to be compressed ([`MessageFlags::compress_next`]). Response
//! messages are gzip-compressed only for clients that accept gzip (`grpc-accept-encoding`);
//! tonic's own response compression must be off beneath this layer.

use std::collections::VecDeque;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body_util::BodyExt;

/// Length of a Length-Prefixed-Message header: flag (1 byte) and length (4 bytes).
const HEADER_LEN: usize = 5;

/// One call's per-message flags, shared by the layer and the handler.
#[derive(Clone, Default)]
pub struct MessageFlags {
    inner: Arc<Mutex<Queues>>,
}

#[derive(Default)]
struct Queues {
    /// The `Compressed-Flag` of each request message seen and not yet taken, in order.
    received: VecDeque<bool>,
    /// Whether each response message not yet sent is to be compressed, in order.
    to_send: VecDeque<bool>,
}

impl MessageFlags {
    fn queues(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the next request message (in the order tonic hands them over) came with
    /// `Compressed-Flag` 1. `false` if the layer saw no further message.
    pub fn next_received(&self) -> bool {
        self.queues().received.pop_front().unwrap_or(false)
    }

    /// Asks that the next response message be compressed (`true`) or not.
    pub fn compress_next(&self, compress: bool) {
        self.queues().to_send.push_back(compress);
    }
}

/// Records the flag of each request message and compresses response messages as asked.
#[derive(Clone)]
pub struct MessageFlagsLayer<S>(pub S);

type Request = http::Request<tonic::body::Body>;
type Response = http::Response<tonic::body::Body>;

impl<S> tower::Service<Request> for MessageFlagsLayer<S>
where
    S: tower::Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let flags = MessageFlags::default();
        let accepts_gzip = request
            .headers()
            .get_all("grpc-accept-encoding")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|name| name.trim() == "gzip");
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(flags.clone());
        let mut headers = Headers::default();
        let received = flags.clone();
        let body = body.map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                for compressed in headers.push(data) {
                    received.queues().received.push_back(compressed);
                }
            }
            frame
        });
        let response = self.0.call(http::Request::from_parts(
            parts,
            tonic::body::Body::new(body),
        ));
        Box::pin(async move {
            let response = response.await?;
            if response.headers().contains_key("grpc-status") {
                // Trailers-Only: no messages.
                return Ok(response);
            }
            let (mut parts, body) = response.into_parts();
            if accepts_gzip {
                parts
                    .headers
                    .insert("grpc-encoding", http::HeaderValue::from_static("gzip"));
            }
            let mut pending = BytesMut::new();
            let body = body.map_frame(move |frame| match frame.into_data() {
                Ok(data) => {
                    pending.extend_from_slice(&data);
                    let compress = || flags.queues().to_send.pop_front().unwrap_or(false);
                    http_body::Frame::data(reframe(&mut pending, accepts_gzip, compress))
                }
                Err(frame) => frame,
            });
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(body),
            ))
        })
    }
}

/// Takes the whole messages out of `pending` and writes each again, gzip-compressed with
/// flag 1 when `gzip` and `compress` says so for it, else as it came.
fn reframe(pending: &mut BytesMut, gzip: bool, mut compress: impl FnMut() -> bool) -> Bytes {
    let mut out = BytesMut::new();
    while pending.len() >= HEADER_LEN {
        let len = u32::from_be_bytes([pending[1], pending[2], pending[3], pending[4]]) as usize;
        if pending.len() < HEADER_LEN + len {
            break;
        }
        let flag = pending[0];
        pending.advance(HEADER_LEN);
        let message = pending.split_to(len);
        if compress() && gzip && flag == 0 {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
            let gzipped = encoder
                .write_all(&message)
                .and_then(|()| encoder.finish())
                .unwrap_or_default();
            out.put_u8(1);
            out.put_u32(u32::try_from(gzipped.len()).unwrap_or(u32::MAX));
            out.put_slice(&gzipped);
        } else {
            out.put_u8(flag);
            out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
            out.put_slice(&message);
        }
    }
    out.freeze()
}

/// Finds the Length-Prefixed-Message headers in a stream of DATA frames.
#[derive(Default)]
struct Headers {
    header: [u8; HEADER_LEN],
    have: usize,
    /// Message bytes still to skip before the next header.
    skip: usize,
}

impl Headers {
    /// Reads `data`; returns the `Compressed-Flag` of each header it completes (flag 1 is
    /// compressed).
    fn push(&mut self, mut data: &[u8]) -> Vec<bool> {
        let mut flags = Vec::new();
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            let n = (HEADER_LEN - self.have).min(data.len());
            self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == HEADER_LEN {
                self.have = 0;
                flags.push(self.header[0] == 1);
                let h = self.header;
                self.skip = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
            }
        }
        flags
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn message(flag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![flag];
        m.extend(u32::try_from(body.len()).unwrap().to_be_bytes());
        m.extend(body);
        m
    }

    #[test]
    fn headers_are_found_across_any_split() {
        let mut wire = message(1, b"abc");
        wire.extend(message(0, b""));
        wire.extend(message(1, &[7; 300]));
        for split in 0..wire.len() {
            let mut headers = Headers::default();
            let mut flags = headers.push(&wire[..split]);
            flags.extend(headers.push(&wire[split..]));
            assert_eq!(flags, [true, false, true], "split at {split}");
        }
    }

    #[test]
    fn reframe_compresses_only_the_messages_asked() {
        let mut pending = BytesMut::from(&message(0, &[0; 1000])[..]);
        pending.extend_from_slice(&message(0, b"xy"));
        pending.extend_from_slice(&message(0, b"partial")[..4]);
        let mut asks = [true, false].into_iter();
        let out = reframe(&mut pending, true, || asks.next().unwrap());
        assert_eq!(out[0], 1);
        let len = u32::from_be_bytes([out[1], out[2], out[3], out[4]]) as usize;
        assert!(len < 100, "1000 zeros gzip to {len} bytes");
        assert_eq!(&out[HEADER_LEN + len..], &message(0, b"xy")[..]);
        assert_eq!(pending.len(), 4, "the partial message waits");
    }
}
