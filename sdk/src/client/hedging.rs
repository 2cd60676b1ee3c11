//! Hedging per gRFC A6 ("Hedging Policy"): the call is sent, and sent again every
//! `hedgingDelay` while no attempt has answered, up to `maxAttempts` attempts at once; the
//! first attempt that is committed (its response has begun) is the call's, and the others are
//! cancelled (dropped: RST_STREAM CANCEL). An attempt that fails with a `nonFatalStatusCodes`
//! code makes the next start at once (or after the server's pushback; a negative pushback
//! stops new attempts); any other failure ends the call with it. Retry throttling counts each
//! failure and success, and stops new attempts when it says so. Each attempt after the first
//! carries `grpc-previous-rpc-attempts`.
//!
//! Only calls whose request is one message (unary, server streaming) are hedged: a request
//! stream under a hedging policy is sent once.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use http::HeaderValue;
use http::uri::PathAndQuery;

use super::retry::{Head, Pushback, uncommitted_failure};
use crate::service_config::HedgingPolicy;
use crate::status::Status;
use crate::transport::{Channel, RequestBody};

/// One attempt in flight.
type Attempt<'a> = Pin<Box<dyn Future<Output = Head> + 'a>>;

/// The call of `message` to `path` on `channel` with `headers`, hedged as `hedging` says:
/// the head of the attempt the call commits to, or the last failure when every attempt
/// failed (see the module docs). The caller bounds it with the call's deadline.
pub(super) async fn hedged(
    channel: &Channel,
    path: &PathAndQuery,
    headers: &http::HeaderMap,
    message: &Bytes,
    hedging: &HedgingPolicy,
    (timeout, wait_for_ready): (Option<std::time::Duration>, bool),
) -> Head {
    let throttle = channel.throttle();
    let mut running: Vec<Attempt<'_>> = Vec::new();
    let mut sent = 0u32;
    // When the next attempt may start; `None`: no more will.
    let mut next = Some(Instant::now());
    let mut last_failure = None;
    loop {
        if let Some(at) = next
            && at <= Instant::now()
        {
            let mut attempt_headers = headers.clone();
            if sent > 0 {
                attempt_headers.insert("grpc-previous-rpc-attempts", HeaderValue::from(sent));
            }
            let body = RequestBody::Once(message.clone());
            running.push(Box::pin(channel.call(
                path,
                attempt_headers,
                body,
                timeout,
                wait_for_ready,
            )));
            sent += 1;
            next = (sent < hedging.max_attempts).then(|| Instant::now() + hedging.hedging_delay);
        }
        if running.is_empty() {
            return last_failure.unwrap_or_else(|| Err(Status::internal("no attempt was made")));
        }
        let mut timer = next.map(|at| Box::pin(crate::time::sleep_until(at)));
        let finished = std::future::poll_fn(|cx| {
            for (i, attempt) in running.iter_mut().enumerate() {
                if let Poll::Ready(head) = attempt.as_mut().poll(cx) {
                    return Poll::Ready(Some((i, head)));
                }
            }
            let elapsed = timer
                .as_mut()
                .is_some_and(|timer| timer.as_mut().poll(cx).is_ready());
            if elapsed {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        let Some((i, head)) = finished else {
            continue; // the hedging delay passed: the next attempt starts
        };
        drop(running.swap_remove(i));
        let Some((status, pushback)) = uncommitted_failure(&head) else {
            if let Some(throttle) = throttle {
                throttle.success();
            }
            return head; // the other attempts are dropped, so cancelled
        };
        if !hedging.is_non_fatal(status.code()) {
            return head;
        }
        if let Some(throttle) = throttle {
            throttle.failure();
        }
        let throttled = throttle.is_some_and(|t| !t.allows_retry());
        next = match pushback {
            _ if throttled || sent >= hedging.max_attempts => None,
            Pushback::Stop => None,
            Pushback::After(delay) => Some(Instant::now() + delay),
            Pushback::None => Some(Instant::now()),
        };
        last_failure = Some(head);
    }
}
