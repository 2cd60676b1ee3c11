//! The messages of a streaming request, gathered into bursts: the messages the application had
//! ready at once, joined, so that a transport sends them as one piece.
//!
//! Sent one by one, small messages cost a piece each: an HTTP/2 DATA frame and a flow-control
//! round through h2 (client streaming of 1 KiB messages ran at 0.6× of tonic, which gathers
//! messages the same way), or a `wasi:http` body chunk, of which wasmtime holds two at most (the
//! guest waited for the host after every second message: about 50 MB/s).

use bytes::{Bytes, BytesMut};
use futures_lite::StreamExt;
use futures_lite::future::poll_once;

use super::MessageStream;
use crate::status::Status;

/// Messages that were ready at once, joined (each still a Length-Prefixed-Message).
pub(crate) struct Burst {
    pub(crate) bytes: Bytes,
    /// The application had nothing more ready after this burst, and its stream had not
    /// ended: the moment to flush (at the end, the transport flushes as it ends the body).
    pub(crate) idle: bool,
}

/// Gathers the messages of a [`MessageStream`] into [`Burst`]s of about `limit` bytes.
pub(crate) struct Bursts {
    messages: MessageStream,
    limit: usize,
    gathered: BytesMut,
    ended: bool,
}

impl Bursts {
    /// Bursts of `messages`: each ends when the application has no message ready, or once it
    /// holds `limit` bytes or more. A message of `limit` bytes or more that comes first is a
    /// burst of its own, not copied.
    pub(crate) fn new(messages: MessageStream, limit: usize) -> Self {
        Self {
            messages,
            limit,
            gathered: BytesMut::new(),
            ended: false,
        }
    }

    /// The next burst; `None` after the last. An error of the message stream is returned as
    /// soon as it comes, and messages gathered before it are dropped (the call fails with it).
    pub(crate) async fn next(&mut self) -> Option<Result<Burst, Status>> {
        loop {
            if self.ended {
                return None;
            }
            let message = match poll_once(self.messages.next()).await {
                Some(message) => message,
                None if !self.gathered.is_empty() => return Some(Ok(self.take(true))),
                None => self.messages.next().await,
            };
            match message {
                Some(Ok(bytes)) if self.gathered.is_empty() && bytes.len() >= self.limit => {
                    return Some(Ok(Burst { bytes, idle: false }));
                }
                Some(Ok(bytes)) => {
                    self.gathered.extend_from_slice(&bytes);
                    if self.gathered.len() >= self.limit {
                        return Some(Ok(self.take(false)));
                    }
                }
                Some(Err(status)) => {
                    self.ended = true;
                    return Some(Err(status));
                }
                None => {
                    self.ended = true;
                    if !self.gathered.is_empty() {
                        return Some(Ok(self.take(false)));
                    }
                }
            }
        }
    }

    fn take(&mut self, idle: bool) -> Burst {
        Burst {
            bytes: self.gathered.split().freeze(),
            idle,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures_core::Stream;

    use super::*;

    /// Yields `Pending` once before each item marked `true`.
    struct Paced {
        items: Vec<(bool, Result<Bytes, Status>)>,
        waited: bool,
    }

    impl Stream for Paced {
        type Item = Result<Bytes, Status>;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            let Some((wait, _)) = self.items.first() else {
                return Poll::Ready(None);
            };
            if *wait && !self.waited {
                self.waited = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.waited = false;
            Poll::Ready(Some(self.items.remove(0).1))
        }
    }

    fn bursts(items: Vec<(bool, Result<Bytes, Status>)>, limit: usize) -> Vec<(Vec<u8>, bool)> {
        let paced = Paced {
            items,
            waited: false,
        };
        let mut bursts = Bursts::new(Box::pin(paced), limit);
        futures_lite::future::block_on(async {
            let mut out = Vec::new();
            while let Some(burst) = bursts.next().await {
                let burst = burst.unwrap();
                out.push((burst.bytes.to_vec(), burst.idle));
            }
            out
        })
    }

    fn msg(wait: bool, bytes: &[u8]) -> (bool, Result<Bytes, Status>) {
        (wait, Ok(Bytes::copy_from_slice(bytes)))
    }

    #[test]
    fn messages_ready_at_once_are_one_burst() {
        let out = bursts(
            vec![msg(false, b"ab"), msg(false, b"cd"), msg(true, b"ef")],
            100,
        );
        // The last burst is not idle: the stream ended after it.
        assert_eq!(out, vec![(b"abcd".to_vec(), true), (b"ef".to_vec(), false)]);
    }

    #[test]
    fn a_burst_ends_at_the_limit_and_a_large_first_message_is_its_own() {
        let out = bursts(
            vec![msg(false, b"abcdef"), msg(false, b"gh"), msg(false, b"ij")],
            4,
        );
        assert_eq!(
            out,
            vec![(b"abcdef".to_vec(), false), (b"ghij".to_vec(), false)]
        );
    }

    #[test]
    fn an_error_ends_the_bursts() {
        let out = futures_lite::future::block_on(async {
            let paced = Paced {
                items: vec![
                    msg(false, b"ab"),
                    (false, Err(Status::internal("bad message"))),
                ],
                waited: false,
            };
            let mut bursts = Bursts::new(Box::pin(paced), 100);
            let first = bursts.next().await.map(|b| b.map(|b| b.bytes));
            let second = bursts.next().await.is_none();
            (first, second)
        });
        assert_eq!(out.0.unwrap().unwrap_err().message(), "bad message");
        assert!(out.1);
    }
}
