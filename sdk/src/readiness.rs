//! [`Readiness`]: the wait for one `wasi:io/poll` pollable, on `wstd`'s reactor. Shared by the
//! transports' streams and the timers of [`time`](crate::time).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use wasip2::io::poll::Pollable;
use wstd::runtime::{AsyncPollable, WaitFor};

/// The wait for one `wasi:io` resource, kept across polls: its pollable, registered with the
/// reactor the first time a wait is needed (most reads, writes and futures are ready without
/// one, and a `subscribe` costs host calls), and the wait in progress.
#[derive(Default)]
pub(crate) struct Readiness {
    // Field order is drop order: the wait before the registration it refers to.
    wait: Option<Pin<Box<WaitFor>>>,
    pollable: Option<AsyncPollable>,
}

impl Readiness {
    /// Ready once the pollable has fired since the wait began. `subscribe` makes the pollable
    /// the first time; it must watch the same resource every time, and that resource must
    /// outlive this `Readiness` (keep the `Readiness` in a field declared before it).
    pub(crate) fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        subscribe: impl FnOnce() -> Pollable,
    ) -> Poll<()> {
        let pollable = self
            .pollable
            .get_or_insert_with(|| AsyncPollable::new(subscribe()));
        let wait = self
            .wait
            .get_or_insert_with(|| Box::pin(pollable.wait_for()));
        ready!(wait.as_mut().poll(cx));
        self.wait = None;
        Poll::Ready(())
    }

    /// Whether a wait began and its pollable has not fired yet (as far as the reactor last
    /// saw): an operation that would only find the resource not ready again can be skipped.
    pub(crate) fn is_waiting(&self) -> bool {
        self.wait.is_some()
    }

    /// Waits for the pollable (made by `subscribe` the first time) to fire.
    pub(crate) async fn ready(&mut self, subscribe: impl Fn() -> Pollable) {
        std::future::poll_fn(|cx| self.poll_ready(cx, &subscribe)).await;
    }
}
