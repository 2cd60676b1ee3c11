//! Retries per gRFC A6 ("gRPC Retry Design"): what a call keeps to send again, when it may,
//! and how long it waits first.
//!
//! A call is retried only while it is uncommitted: until response headers that are not
//! Trailers-Only arrive (then the server has started to answer, and its answer is the call's).
//! A request stream is kept as it is sent, so an attempt can send it again, within a buffer
//! limit per call and per channel (grpc-java's defaults: 1 MiB and 16 MiB); past them the call
//! is committed to the attempt in flight and not retried.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::HeaderMap;

use crate::service_config::RetryPolicy;
use crate::status::Status;
use crate::transport::{MessageStream, RequestBody};

/// The most request bytes one call keeps for retries (grpc-java's
/// `DEFAULT_PER_RPC_BUFFER_LIMIT_IN_BYTES`).
pub(crate) const PER_CALL_BUFFER_LIMIT: usize = 1 << 20;

/// The most request bytes the calls of one channel keep for retries together (grpc-java's
/// `DEFAULT_RETRY_BUFFER_SIZE_IN_BYTES`).
pub(crate) const PER_CHANNEL_BUFFER_LIMIT: usize = 16 << 20;

/// What the server said about retrying in `grpc-retry-pushback-ms` (A6, "Pushback").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushback {
    /// No pushback: the policy's backoff applies.
    None,
    /// Retry after exactly this long.
    After(Duration),
    /// Do not retry (a negative or malformed value).
    Stop,
}

impl Pushback {
    /// The pushback in `headers` (a Trailers-Only response's headers, or trailers).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Pushback {
        let Some(value) = headers.get("grpc-retry-pushback-ms") else {
            return Pushback::None;
        };
        let ms = value
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok());
        match ms {
            Some(ms) => Pushback::After(Duration::from_millis(ms)),
            None => Pushback::Stop,
        }
    }
}

/// An attempt's response head, or the error that ended the attempt before it.
pub(crate) type Head = Result<(http::response::Parts, crate::transport::ResponseBody), Status>;

/// The failure of an attempt while the call is uncommitted, with the server's pushback: an
/// error before the response headers, a Trailers-Only response with a status other than OK,
/// or an HTTP status other than 200 (A6: each may be retried or hedged); `None` for a
/// response that has begun, to which the call is then committed.
pub(crate) fn uncommitted_failure(head: &Head) -> Option<(Status, Pushback)> {
    match head {
        Err(status) => Some((status.clone(), Pushback::None)),
        Ok((parts, _)) => match Status::from_header_map(&parts.headers) {
            Some(status) if status.code() != crate::Code::Ok => {
                Some((status, Pushback::from_headers(&parts.headers)))
            }
            _ if parts.status != http::StatusCode::OK => {
                Some((Status::from_http_status(parts.status), Pushback::None))
            }
            _ => None,
        },
    }
}

/// The delay before retry number `retry` (1 for the first): `random × bound`, `random` in
/// [0, 1), as A6's `random(0, min(initialBackoff*backoffMultiplier**(n-1), maxBackoff))`.
pub(crate) fn backoff(policy: &RetryPolicy, retry: u32, random: f64) -> Duration {
    policy.backoff_bound(retry).mul_f64(random.clamp(0.0, 1.0))
}

/// A request body that every attempt of a call can send.
pub(crate) enum ReplayBody {
    /// One message, sent again as it is.
    Once(Bytes),
    /// A stream, kept as it is sent.
    Stream(Rc<RefCell<Recording>>),
}

/// The messages of a request stream sent so far, for the next attempt.
pub(crate) struct Recording {
    source: Option<MessageStream>,
    sent: Vec<Bytes>,
    kept: usize,
    /// The bytes every call of the channel keeps, this one's included.
    channel_kept: Rc<Cell<usize>>,
    /// Past a buffer limit: not kept, so not retried.
    overflowed: bool,
    /// The attempt allowed to read: an earlier one's stream, if still polled, ends.
    attempt: u32,
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.channel_kept
            .set(self.channel_kept.get().saturating_sub(self.kept));
    }
}

impl ReplayBody {
    /// `body`, kept for replay; a stream counts against `channel_kept`.
    pub(crate) fn new(body: RequestBody, channel_kept: Rc<Cell<usize>>) -> ReplayBody {
        match body {
            RequestBody::Once(bytes) => ReplayBody::Once(bytes),
            RequestBody::Stream(source) => ReplayBody::Stream(Rc::new(RefCell::new(Recording {
                source: Some(source),
                sent: Vec::new(),
                kept: 0,
                channel_kept,
                overflowed: false,
                attempt: 0,
            }))),
        }
    }

    /// The body of attempt `attempt` (0 for the first): what was sent so far, then the rest of
    /// the stream as it comes.
    pub(crate) fn attempt(&self, attempt: u32) -> RequestBody {
        match self {
            ReplayBody::Once(bytes) => RequestBody::Once(bytes.clone()),
            ReplayBody::Stream(recording) => {
                recording.borrow_mut().attempt = attempt;
                RequestBody::Stream(Box::pin(AttemptStream {
                    recording: recording.clone(),
                    attempt,
                    next: 0,
                }))
            }
        }
    }

    /// True if another attempt can send the whole body again.
    pub(crate) fn replayable(&self) -> bool {
        match self {
            ReplayBody::Once(_) => true,
            ReplayBody::Stream(recording) => !recording.borrow().overflowed,
        }
    }
}

/// One attempt's request stream: the kept messages, then the source's.
struct AttemptStream {
    recording: Rc<RefCell<Recording>>,
    attempt: u32,
    next: usize,
}

impl Stream for AttemptStream {
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.next;
        let mut recording = self.recording.borrow_mut();
        if recording.attempt != self.attempt {
            return Poll::Ready(None);
        }
        if let Some(kept) = recording.sent.get(next) {
            let kept = kept.clone();
            drop(recording);
            self.next += 1;
            return Poll::Ready(Some(Ok(kept)));
        }
        let Some(source) = recording.source.as_mut() else {
            return Poll::Ready(None);
        };
        let item = std::task::ready!(source.as_mut().poll_next(cx));
        match &item {
            Some(Ok(message)) if !recording.overflowed => {
                let kept = recording.kept + message.len();
                let channel = recording.channel_kept.get() + message.len();
                if kept > PER_CALL_BUFFER_LIMIT || channel > PER_CHANNEL_BUFFER_LIMIT {
                    recording.overflowed = true;
                    recording.sent = Vec::new();
                    recording.channel_kept.set(channel - kept);
                    recording.kept = 0;
                } else {
                    recording.sent.push(message.clone());
                    recording.kept = kept;
                    recording.channel_kept.set(channel);
                }
            }
            Some(Err(_)) => {
                // The source failed: a retry could not send the same stream.
                recording.overflowed = true;
            }
            None => recording.source = None,
            Some(Ok(_)) => {}
        }
        drop(recording);
        self.next += 1;
        Poll::Ready(item)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Code;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            backoff_multiplier: 2.0,
            retryable_status_codes: vec![Code::Unavailable],
        }
    }

    #[test]
    fn backoff_is_jittered_below_the_growing_bound() {
        let p = policy();
        assert_eq!(backoff(&p, 1, 0.5), Duration::from_millis(50));
        assert_eq!(backoff(&p, 2, 0.5), Duration::from_millis(100));
        assert_eq!(backoff(&p, 3, 0.99), Duration::from_millis(297));
        assert_eq!(backoff(&p, 1, 0.0), Duration::ZERO);
    }

    #[test]
    fn pushback_is_a_delay_or_a_stop() {
        let mut h = HeaderMap::new();
        assert_eq!(Pushback::from_headers(&h), Pushback::None);
        h.insert("grpc-retry-pushback-ms", "250".parse().unwrap());
        assert_eq!(
            Pushback::from_headers(&h),
            Pushback::After(Duration::from_millis(250))
        );
        for bad in ["-1", "soon", ""] {
            h.insert("grpc-retry-pushback-ms", bad.parse().unwrap());
            assert_eq!(Pushback::from_headers(&h), Pushback::Stop, "{bad:?}");
        }
    }

    fn replay_of(messages: Vec<Bytes>) -> ReplayBody {
        let source = futures_lite::stream::iter(messages.into_iter().map(Ok));
        ReplayBody::new(RequestBody::Stream(Box::pin(source)), Rc::default())
    }

    fn next(body: &mut RequestBody) -> Option<Bytes> {
        let RequestBody::Stream(stream) = body else {
            return None;
        };
        futures_lite::future::block_on(futures_lite::StreamExt::next(stream)).map(|r| r.unwrap())
    }

    #[test]
    fn a_stream_is_replayed_then_continued() {
        let replay = replay_of([&b"a"[..], b"b", b"c"].map(Bytes::from_static).to_vec());
        let mut first = replay.attempt(0);
        assert_eq!(next(&mut first).as_deref(), Some(&b"a"[..]));
        assert_eq!(next(&mut first).as_deref(), Some(&b"b"[..]));
        assert!(replay.replayable());
        let mut second = replay.attempt(1);
        // The first attempt's stream ends once the second has begun.
        assert_eq!(next(&mut first), None);
        let rest: Vec<_> = std::iter::from_fn(|| next(&mut second)).collect();
        assert_eq!(rest, [&b"a"[..], b"b", b"c"].map(Bytes::from_static));
    }

    #[test]
    fn past_the_per_call_limit_a_stream_is_not_replayable() {
        let big = Bytes::from(vec![0u8; PER_CALL_BUFFER_LIMIT / 2 + 1]);
        let replay = replay_of(vec![big.clone(), big]);
        let mut first = replay.attempt(0);
        assert!(next(&mut first).is_some());
        assert!(replay.replayable());
        assert!(next(&mut first).is_some());
        assert!(!replay.replayable());
    }
}
