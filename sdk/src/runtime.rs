//! The async runtime: a thin layer over `wstd`'s reactor.
//!
//! Every wait in a WASI 0.2 guest is a wait on a `wasi:io/poll` pollable, and only the reactor
//! that registered a pollable can wake it, so grpc-wasi brings no reactor of its own. A plain
//! `fn main` guest runs its calls inside [`block_on`]; a `#[wstd::main]` or
//! `#[wstd::http_server]` guest is already inside one and just awaits.

use std::future::Future;
use std::task::{Context, Poll};
use std::time::Duration;

use wasip2::clocks::monotonic_clock;

use crate::status::Status;
use crate::time::Sleep;

/// Runs `future` to completion on `wstd`'s reactor and returns its output.
///
/// Background work the SDK spawned (the HTTP/2 connection of a [`Channel`](crate::Channel))
/// ends when the last handle to it is dropped, so return from the future only after dropping
/// your channels and clients (leaving the `async` block does that). Tasks the guest spawned
/// ([`spawn`](crate::spawn)) and detached are cancelled when `future` returns, as tokio's
/// runtime drops its tasks when `main` returns, so a detached task that would wait for ever
/// does not keep the guest from exiting.
///
/// Panics if called inside another `block_on` (for example inside `#[wstd::main]`, where you
/// just `.await` instead).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let _entered = crate::reactor::enter();
    wstd::runtime::block_on(async {
        let output = future.await;
        crate::task::cancel_detached();
        output
    })
}

/// A uniformly random number in [0, 1), from `wasi:random/insecure` (backoff jitter needs no
/// secret).
pub(crate) fn random_unit() -> f64 {
    let bits = wasip2::random::insecure::get_insecure_random_u64() >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// A task [`spawn`] made: a future of its output; dropping it cancels the task.
pub(crate) type Task<T> = async_task::Task<T>;

/// Runs `future` in the background on the current reactor (WASI 0.3's inside
/// [`crate::wasip3::run`]); dropping the returned task cancels it. Must be called inside
/// [`block_on`] (or `run`).
pub(crate) fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    #[cfg(feature = "wasip3")]
    if crate::wasip3::active() {
        return crate::wasip3::spawn(future);
    }
    wstd::runtime::spawn(future)
}

/// Polls `future` once, here; if it is not done, spawns it ([`spawn`]) and returns its task.
///
/// A request body that is ready at once is then queued in the same poll as the request head,
/// and leaves in the same write (with Nagle's algorithm on, a second small write waits for
/// the server's delayed ACK, about 40 ms); and the reactor is spared a task run. The spawned
/// task polls the future again first, so its wakers move to the task.
pub(crate) async fn spawn_unless_ready<F>(future: F) -> Option<Task<()>>
where
    F: Future<Output = ()> + 'static,
{
    let mut future = Box::pin(future);
    match futures_lite::future::poll_once(future.as_mut()).await {
        Some(()) => None,
        None => Some(spawn(future)),
    }
}

/// A point on the monotonic clock (`wasi:clocks/monotonic-clock`) after which a call fails
/// with `DeadlineExceeded`.
pub(crate) struct Deadline {
    at: u64,
    timeout: Duration,
    timer: Sleep,
}

impl Deadline {
    /// The deadline `timeout` from now.
    pub(crate) fn after(timeout: Duration) -> Self {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let at = monotonic_clock::now().saturating_add(nanos);
        Deadline {
            at,
            timeout,
            timer: Sleep::until_monotonic(at),
        }
    }

    /// Ready once the deadline has passed.
    pub(crate) fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.timer.poll_elapsed(cx)
    }

    /// The status of a call that outlived its deadline.
    pub(crate) fn exceeded(&self) -> Status {
        Status::deadline_exceeded(format!("deadline of {:?} exceeded", self.timeout))
    }

    /// `status`, or [`Deadline::exceeded`] in its place when it is `Cancelled` and the deadline
    /// has passed: a server that enforces the `grpc-timeout` it was sent ends the call as its
    /// deadline passes, and some (tonic) say `Cancelled` "Timeout expired"; the deadline is
    /// the cause (grpc-java's client makes the same substitution).
    pub(crate) fn attribute(&self, status: Status) -> Status {
        if status.code() == crate::status::Code::Cancelled && monotonic_clock::now() >= self.at {
            return self.exceeded();
        }
        status
    }

    /// Waits until the deadline has passed.
    pub(crate) async fn elapsed(&mut self) {
        std::future::poll_fn(|cx| self.poll_elapsed(cx)).await;
    }

    /// Runs `call` until it ends or the deadline passes, whichever is first; dropping `call`
    /// cancels it (for HTTP/2, a RST_STREAM). Errors: `call`'s, or [`Deadline::exceeded`].
    pub(crate) async fn run<T>(
        &mut self,
        call: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let elapsed = async {
            self.elapsed().await;
            Err(self.exceeded())
        };
        futures_lite::future::or(call, elapsed).await
    }
}
