//! [`Response`]: a message (or a [`Streaming`](crate::Streaming) of messages) with the metadata
//! the server sent ahead of it.

use crate::metadata::MetadataMap;

/// A gRPC response: the server's metadata (response headers; for unary calls, the trailing
/// metadata is added to it too) and the message or message stream.
#[derive(Debug, Clone, Default)]
pub struct Response<T> {
    metadata: MetadataMap,
    message: T,
    message_compressed: Option<bool>,
}

impl<T> Response<T> {
    /// A response carrying `message` with no metadata.
    pub fn new(message: T) -> Self {
        Self::from_parts(MetadataMap::new(), message)
    }

    /// A response from its parts.
    pub fn from_parts(metadata: MetadataMap, message: T) -> Self {
        Self {
            metadata,
            message,
            message_compressed: None,
        }
    }

    /// For the response of a unary or client-streaming call: whether its message arrived
    /// compressed (its Length-Prefixed-Message's `Compressed-Flag` was 1, PROTOCOL-HTTP2).
    /// `None` for a response not read from the wire and for a streaming response, whose
    /// [`Streaming::message_compressed`](crate::Streaming::message_compressed) tells it per
    /// message.
    pub fn message_compressed(&self) -> Option<bool> {
        self.message_compressed
    }

    /// This response, recording whether its message arrived compressed.
    pub(crate) fn with_message_compressed(mut self, compressed: Option<bool>) -> Self {
        self.message_compressed = compressed;
        self
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The message, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// The metadata the server sent.
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The metadata, mutably.
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
}
