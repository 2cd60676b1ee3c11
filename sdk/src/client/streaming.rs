//! [`Streaming`]: the messages of a response, then its status and trailing metadata.

use std::fmt;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use http::HeaderMap;
use prost::Message;

use crate::codec::compression::CompressionEncoding;
use crate::codec::grpc_web::parse_trailers as parse_grpc_web_trailers;
use crate::codec::{self, framing::Decoder};
use crate::metadata::MetadataMap;
use crate::runtime::Deadline;
use crate::status::{Code, Status};
use crate::transport::ResponseBody;

/// A stream of response messages of type `T`.
///
/// Read it with [`Streaming::message`] (`Ok(None)` at the end) or as a
/// [`futures_core::Stream`] of `Result<T, Status>`. The stream ends with the status the server
/// sent in its trailers: `OK` ends it cleanly, anything else is returned as the error that
/// ends it. A response that ends without a `grpc-status`, or inside a message, is an
/// `Internal` error. Dropping a `Streaming` before its end cancels the call (HTTP/2
/// RST_STREAM with CANCEL).
pub struct Streaming<T> {
    messages: ResponseMessages,
    _message: PhantomData<fn() -> T>,
}

/// The messages of a response as bytes (unframed and decompressed, still protobuf), then its
/// status and trailers: everything of [`Streaming`] but the message type, compiled once
/// rather than once per response message type.
pub(crate) struct ResponseMessages {
    state: State,
    deadline: Option<Deadline>,
    /// The response's `grpc-encoding`: accepted, or the name of one that was not.
    encoding: Result<Option<CompressionEncoding>, String>,
    max_message_size: usize,
    decoder: Decoder,
    trailers: Option<MetadataMap>,
    /// The `Compressed-Flag` of the last message returned.
    last_compressed: Option<bool>,
    /// The call's log line, while the call runs and `debug` logs go somewhere.
    #[cfg(feature = "log")]
    log: Option<super::call_log::CallLog>,
}

enum State {
    /// Reading DATA frames.
    Body(ResponseBody),
    /// The body ended; reading trailers.
    Trailers(ResponseBody),
    /// Ended with status OK.
    Done,
    /// Ended with this error; `Stream` consumers saw it once.
    Failed { status: Status, reported: bool },
}

impl<T> fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.messages.state {
            State::Body(_) => "receiving messages",
            State::Trailers(_) => "receiving trailers",
            State::Done => "done",
            State::Failed { .. } => "failed",
        };
        f.debug_struct("Streaming").field("state", &state).finish()
    }
}

impl ResponseMessages {
    /// The messages of `body`, each at most `max_message_size` bytes, failing with
    /// `DeadlineExceeded` once `deadline` passes.
    pub(crate) fn new(
        body: ResponseBody,
        max_message_size: usize,
        deadline: Option<Deadline>,
        encoding: Result<Option<CompressionEncoding>, String>,
    ) -> Self {
        let grpc_web = body.is_grpc_web();
        let mut messages = Self::with_state(State::Body(body), max_message_size);
        messages.decoder.grpc_web(grpc_web);
        messages.decoder.accept_compressed(encoding != Ok(None));
        messages.deadline = deadline;
        messages.encoding = encoding;
        messages
    }

    /// The messages of a Trailers-Only response: none, then `status` (whose metadata becomes
    /// the trailers), attributed to the call's `deadline` as [`ResponseMessages::fail`] does.
    pub(crate) fn trailers_only(status: Status, deadline: Option<Deadline>) -> Self {
        let mut messages = Self::with_state(State::Done, 0);
        messages.trailers = Some(status.metadata().clone());
        messages.deadline = deadline;
        if status.code() != Code::Ok {
            messages.fail(status);
        }
        messages
    }

    fn with_state(state: State, max_message_size: usize) -> Self {
        Self {
            state,
            deadline: None,
            encoding: Ok(None),
            max_message_size,
            decoder: Decoder::new(max_message_size),
            trailers: None,
            last_compressed: None,
            #[cfg(feature = "log")]
            log: None,
        }
    }

    /// These messages, whose end (status OK or an error) is logged in `log`.
    #[cfg(feature = "log")]
    pub(crate) fn logged(mut self, log: super::call_log::CallLog) -> Self {
        match &self.state {
            State::Done => log.ended(Ok(())),
            State::Failed { status, .. } => log.ended(Err(status)),
            State::Body(_) | State::Trailers(_) => self.log = Some(log),
        }
        self
    }

    /// The stream ended with status OK (`None`) or `Some(status)`: logs the call's line.
    fn ended(&mut self, _status: Option<&Status>) {
        #[cfg(feature = "log")]
        if let Some(log) = self.log.take() {
            log.ended(_status.map_or(Ok(()), Err));
        }
    }

    /// Ends the stream with `status`, which every later poll returns: `DeadlineExceeded`
    /// instead when `status` is `Cancelled` and the call's deadline has passed
    /// ([`Deadline::attribute`]).
    fn fail(&mut self, status: Status) -> Status {
        let status = match &self.deadline {
            Some(deadline) => deadline.attribute(status),
            None => status,
        };
        self.ended(Some(&status));
        self.state = State::Failed {
            status: status.clone(),
            reported: false,
        };
        status
    }

    /// Whether a `Stream` consumer already received the error that ended the stream.
    fn failure_reported(&self) -> bool {
        matches!(self.state, State::Failed { reported: true, .. })
    }

    /// Records that a `Stream` consumer received the error that ended the stream, if any.
    fn set_failure_reported(&mut self) {
        if let State::Failed { reported, .. } = &mut self.state {
            *reported = true;
        }
    }

    /// The next message's bytes; `Ok(None)` once the server ended the stream with status OK.
    /// Errors: as [`Streaming::message`].
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, Status>> {
        if matches!(self.state, State::Body(_) | State::Trailers(_))
            && let Some(deadline) = &mut self.deadline
            && deadline.poll_elapsed(cx).is_ready()
        {
            // Dropping the body resets the stream.
            let status = deadline.exceeded();
            return Poll::Ready(Err(self.fail(status)));
        }
        loop {
            match self.decoder.decode() {
                Ok(Some(frame)) if frame.trailers => {
                    // gRPC-Web: the trailer frame ends the response.
                    let trailers = parse_grpc_web_trailers(&frame.data);
                    return Poll::Ready(match trailers.and_then(status_from_trailers) {
                        Ok(trailers) => {
                            self.state = State::Done;
                            self.trailers = Some(trailers);
                            self.ended(None);
                            Ok(None)
                        }
                        Err(status) => Err(self.fail(status)),
                    });
                }
                Ok(Some(frame)) => {
                    let encoding = match &self.encoding {
                        Ok(encoding) => *encoding,
                        Err(name) if frame.compressed => {
                            let status = Status::internal(format!(
                                "received a message compressed with {name:?}, an encoding this \
                                 client does not accept"
                            ));
                            return Poll::Ready(Err(self.fail(status)));
                        }
                        Err(_) => None,
                    };
                    self.last_compressed = Some(frame.compressed);
                    #[cfg(feature = "log")]
                    if let Some(log) = &mut self.log {
                        log.received(frame.data.len());
                    }
                    return Poll::Ready(
                        codec::decompress(frame, encoding, self.max_message_size)
                            .map(Some)
                            .map_err(|status| self.fail(status)),
                    );
                }
                Ok(None) => {}
                Err(status) => return Poll::Ready(Err(self.fail(status))),
            }
            match &mut self.state {
                State::Body(body) => match ready!(body.poll_data(cx)) {
                    Some(Ok(bytes)) => self.decoder.push(&bytes),
                    Some(Err(status)) => return Poll::Ready(Err(self.fail(status))),
                    None => {
                        if let Err(status) = self.decoder.finish() {
                            return Poll::Ready(Err(self.fail(status)));
                        }
                        if let State::Body(body) = std::mem::replace(&mut self.state, State::Done) {
                            self.state = State::Trailers(body);
                        }
                    }
                },
                State::Trailers(body) => {
                    let trailers = ready!(body.poll_trailers(cx));
                    return Poll::Ready(match trailers.map(|t| t.map(status_from_trailers)) {
                        Ok(Some(Ok(trailers))) => {
                            self.state = State::Done;
                            self.trailers = Some(trailers);
                            self.ended(None);
                            Ok(None)
                        }
                        Ok(Some(Err(status))) | Err(status) => Err(self.fail(status)),
                        Ok(None) => Err(self.fail(Status::internal(
                            "protocol error: the response ended without trailers (no grpc-status)",
                        ))),
                    });
                }
                State::Done => return Poll::Ready(Ok(None)),
                State::Failed { status, .. } => return Poll::Ready(Err(status.clone())),
            }
        }
    }
}

/// A call dropped before its end is logged as cancelled.
#[cfg(feature = "log")]
impl Drop for ResponseMessages {
    fn drop(&mut self) {
        if let Some(log) = self.log.take() {
            log.ended(Err(&Status::cancelled("dropped before the response ended")));
        }
    }
}

impl<T: Message + Default> Streaming<T> {
    /// The messages of `messages`, decoded as `T`.
    pub(crate) fn new(messages: ResponseMessages) -> Self {
        Self {
            messages,
            _message: PhantomData,
        }
    }

    /// The next message; `Ok(None)` once the server ended the stream with status OK.
    ///
    /// Errors: the status the server ended the stream with; `Internal` for a malformed
    /// message, a body cut off inside a message, or a missing `grpc-status`;
    /// `ResourceExhausted` for a message over the client's decoding limit; the transport's
    /// failure (`Unavailable` for a lost connection, `Cancelled` for a stream reset with
    /// CANCEL, …). After an error every later call returns the same error.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        poll_fn(|cx| self.poll_message(cx)).await
    }

    /// Whether the message last returned arrived compressed: its Length-Prefixed-Message's
    /// `Compressed-Flag` was 1 (PROTOCOL-HTTP2; a server may send some messages of a
    /// compressed response uncompressed). `None` before the first message.
    pub fn message_compressed(&self) -> Option<bool> {
        self.messages.last_compressed
    }

    /// The trailing metadata, after reading (and discarding) any messages not yet read.
    ///
    /// Returns `Ok(None)` only for a stream that ended without trailers, which is an error
    /// anyway. Errors: as [`Streaming::message`].
    pub async fn trailers(&mut self) -> Result<Option<MetadataMap>, Status> {
        self.read_to_end().await?;
        Ok(self.messages.trailers.clone())
    }

    /// The trailing metadata, taken rather than copied, after reading (and discarding) any
    /// messages not yet read. Errors: as [`Streaming::message`].
    pub(crate) async fn into_trailers(mut self) -> Result<Option<MetadataMap>, Status> {
        self.read_to_end().await?;
        Ok(self.messages.trailers.take())
    }

    /// Reads (and discards) the messages not yet read, up to the status.
    async fn read_to_end(&mut self) -> Result<(), Status> {
        while poll_fn(|cx| self.messages.poll_next(cx)).await?.is_some() {}
        Ok(())
    }

    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        Poll::Ready(match ready!(self.messages.poll_next(cx)) {
            Ok(Some(data)) => codec::decode(data)
                .map(Some)
                .map_err(|status| self.messages.fail(status)),
            Ok(None) => Ok(None),
            Err(status) => Err(status),
        })
    }
}

/// The trailing metadata of trailers that carry status OK, or the status they carry.
fn status_from_trailers(trailers: HeaderMap) -> Result<MetadataMap, Status> {
    // The common case, status OK, needs no Status (and no copy of the trailers).
    let code = trailers
        .get("grpc-status")
        .map(|v| Code::from_bytes(v.as_bytes()));
    if code == Some(Some(Code::Ok)) {
        return Ok(MetadataMap::from_headers(trailers));
    }
    match Status::from_header_map(&trailers) {
        Some(status) if status.code() == Code::Ok => Ok(MetadataMap::from_headers(trailers)),
        Some(status) => Err(status),
        None => Err(Status::internal(
            "protocol error: the response trailers have no grpc-status",
        )),
    }
}

impl<T: Message + Default> Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.messages.failure_reported() {
            return Poll::Ready(None);
        }
        let item = ready!(this.poll_message(cx));
        this.messages.set_failure_reported();
        Poll::Ready(item.transpose())
    }
}
