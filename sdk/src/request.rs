//! [`Request`]: a message (or a stream of messages) with the metadata sent ahead of it.
//!
//! Shapes follow tonic, so client code moves between a native tonic client and a guest with
//! few edits: generated methods take `impl IntoRequest<M>` (a bare message or a
//! `Request<M>`) or `impl IntoStreamingRequest<Message = M>` (a [`Stream`] of messages or a
//! `Request` of one).

use std::time::Duration;

use futures_core::Stream;

use crate::codec::compression::{CompressionEncoding, EncodingSet};
use crate::metadata::MetadataMap;

/// A gRPC request: custom metadata (sent as HTTP/2 headers) and a message or message stream.
#[derive(Debug, Clone, Default)]
pub struct Request<T> {
    metadata: MetadataMap,
    message: T,
    options: CallOptions,
}

/// What a request asks of its call besides metadata.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) wait_for_ready: Option<bool>,
    pub(crate) send_compressed: Option<CompressionEncoding>,
    pub(crate) accept_compressed: EncodingSet,
}

impl<T> Request<T> {
    /// A request carrying `message` with no metadata.
    pub fn new(message: T) -> Self {
        Self {
            metadata: MetadataMap::new(),
            message,
            options: CallOptions::default(),
        }
    }

    /// A request from its parts.
    pub fn from_parts(metadata: MetadataMap, message: T) -> Self {
        Self {
            metadata,
            message,
            options: CallOptions::default(),
        }
    }

    /// Sets the call's deadline to `timeout` after it starts (PROTOCOL-HTTP2 "Timeout").
    ///
    /// The server learns it from the `grpc-timeout` header (at most 8 digits of the finest unit
    /// that fits, rounded up), and the client enforces it on the monotonic clock: once it
    /// passes, the call fails with `DeadlineExceeded` and its HTTP/2 stream is reset, even if
    /// the server never answers. On the `wasi:http` transports it also sets the request's
    /// first-byte timeout. With a channel-wide [`Endpoint::timeout`](crate::Endpoint::timeout)
    /// the shorter one applies.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.options.timeout = Some(timeout);
    }

    /// The timeout set with [`Request::set_timeout`].
    pub fn timeout(&self) -> Option<Duration> {
        self.options.timeout
    }

    /// Makes the call wait for a connection, within its deadline, when the channel has none
    /// (its last connection attempt failed and the connection backoff has not passed), instead
    /// of failing at once with the last connect error, as grpc-go's `WaitForReady(true)` call
    /// option. Overrides the service config's `waitForReady`. A refused grant
    /// (`PermissionDenied`) still fails at once. On the `wasi:http` transports the host owns
    /// the connections, so this changes nothing there.
    pub fn set_wait_for_ready(&mut self, wait_for_ready: bool) {
        self.options.wait_for_ready = Some(wait_for_ready);
    }

    /// Compresses this call's request messages with `encoding` (sent as `grpc-encoding`),
    /// whatever the client's [`send_compressed`](crate::client::Grpc::send_compressed) says.
    /// The call fails with `Unimplemented` if this build lacks the encoding's feature.
    pub fn set_send_compressed(&mut self, encoding: CompressionEncoding) {
        self.options.send_compressed = Some(encoding);
    }

    /// Accepts a response compressed with `encoding` for this call, besides the encodings the
    /// client accepts ([`accept_compressed`](crate::client::Grpc::accept_compressed)).
    pub fn add_accept_compressed(&mut self, encoding: CompressionEncoding) {
        self.options.accept_compressed.insert(encoding);
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The message, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// The metadata sent as request headers.
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The metadata, mutably: add headers such as `authorization` here.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// The message, dropping the metadata.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// The metadata and the message.
    pub fn into_parts(self) -> (MetadataMap, T) {
        (self.metadata, self.message)
    }

    /// The metadata, the timeout and the message.
    pub(crate) fn into_call_parts(self) -> (MetadataMap, CallOptions, T) {
        (self.metadata, self.options, self.message)
    }

    /// A request from its metadata, call options and message.
    pub(crate) fn from_call_parts(metadata: MetadataMap, options: CallOptions, message: T) -> Self {
        Self {
            metadata,
            message,
            options,
        }
    }

    /// A request with the same metadata and the message mapped by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Request<U> {
        Request {
            metadata: self.metadata,
            message: f(self.message),
            options: self.options,
        }
    }
}

/// Anything a unary or server-streaming method accepts: a message `T` or a `Request<T>`.
pub trait IntoRequest<T> {
    /// Wraps `self` in a [`Request`] (no-op for a `Request`).
    fn into_request(self) -> Request<T>;
}

impl<T> IntoRequest<T> for T {
    fn into_request(self) -> Request<T> {
        Request::new(self)
    }
}

impl<T> IntoRequest<T> for Request<T> {
    fn into_request(self) -> Request<T> {
        self
    }
}

/// Anything a client- or bidirectional-streaming method accepts: a [`Stream`] of messages or
/// a `Request` of one. The stream is sent as it produces messages, never collected first.
///
/// The stream's items are messages `M` or [`StreamMessage<M>`]s, which say per message
/// whether it may be compressed.
pub trait IntoStreamingRequest {
    /// The stream of messages.
    type Stream: Stream<Item: IntoStreamMessage<Message = Self::Message>> + 'static;
    /// The message type.
    type Message;

    /// Wraps `self` in a [`Request`] (no-op for a `Request`).
    fn into_streaming_request(self) -> Request<Self::Stream>;
}

impl<S> IntoStreamingRequest for S
where
    S: Stream<Item: IntoStreamMessage> + 'static,
{
    type Stream = S;
    type Message = <S::Item as IntoStreamMessage>::Message;

    fn into_streaming_request(self) -> Request<S> {
        Request::new(self)
    }
}

impl<S> IntoStreamingRequest for Request<S>
where
    S: Stream<Item: IntoStreamMessage> + 'static,
{
    type Stream = S;
    type Message = <S::Item as IntoStreamMessage>::Message;

    fn into_streaming_request(self) -> Request<S> {
        self
    }
}

/// One message of a request stream and whether it may be compressed: the `Compressed-Flag`
/// that PROTOCOL-HTTP2 puts on each Length-Prefixed-Message, as grpc-java's
/// `ClientCall::setMessageCompression` and C++'s `WriteOptions::set_no_compression` control.
///
/// A message sent with compression off goes with flag 0, uncompressed, even when the call
/// compresses its other messages (its `grpc-encoding` stays). With compression on (the
/// default, and what a bare message in the stream gets) it is compressed with the call's
/// encoding ([`Request::set_send_compressed`] or
/// [`Grpc::send_compressed`](crate::client::Grpc::send_compressed)), if the call has one.
///
/// ```
/// # use grpc_wasi::StreamMessage;
/// // The interop spec's client_compressed_streaming: compressed, then uncompressed.
/// let messages = [StreamMessage::new(1u32), StreamMessage::uncompressed(2u32)];
/// assert!(messages[0].compression() && !messages[1].compression());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMessage<M> {
    message: M,
    compression: bool,
}

impl<M> StreamMessage<M> {
    /// `message`, compressed as the call says.
    pub fn new(message: M) -> Self {
        Self {
            message,
            compression: true,
        }
    }

    /// `message`, sent uncompressed whatever the call's encoding.
    pub fn uncompressed(message: M) -> Self {
        Self {
            message,
            compression: false,
        }
    }

    /// Turns compression of this message on (as the call says) or off (uncompressed).
    pub fn set_compression(&mut self, enabled: bool) {
        self.compression = enabled;
    }

    /// Whether this message is compressed when its call has an encoding.
    pub fn compression(&self) -> bool {
        self.compression
    }

    /// The message.
    pub fn get_ref(&self) -> &M {
        &self.message
    }

    /// The message, dropping the options.
    pub fn into_inner(self) -> M {
        self.message
    }
}

/// An item of a request stream: a message (compressed as its call says) or a
/// [`StreamMessage`].
pub trait IntoStreamMessage {
    /// The message type.
    type Message;

    /// Wraps `self` in a [`StreamMessage`] (no-op for a `StreamMessage`).
    fn into_stream_message(self) -> StreamMessage<Self::Message>;
}

impl<M: prost::Message> IntoStreamMessage for M {
    type Message = M;

    fn into_stream_message(self) -> StreamMessage<M> {
        StreamMessage::new(self)
    }
}

impl<M: prost::Message> IntoStreamMessage for StreamMessage<M> {
    type Message = M;

    fn into_stream_message(self) -> StreamMessage<M> {
        self
    }
}
