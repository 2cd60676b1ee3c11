//! Timers for guests, shaped as `tokio::time`'s: [`sleep`], [`sleep_until`], [`interval`],
//! [`timeout`], with [`Instant`] and [`Duration`] from `std::time`.
//!
//! tokio's timers need tokio's reactor, which does not run in a WASI 0.2 guest ("there is no
//! reactor running"); these wait on `wasi:clocks/monotonic-clock` pollables with the reactor
//! grpc-wasi runs on, so code written for `tokio::time` moves here by changing its imports.
//! They must run inside [`block_on`](crate::block_on) or `#[grpc_wasi::main]` (or
//! `#[wstd::main]`).
//!
//! ```no_run
//! use grpc_wasi::time::{self, Duration, Instant};
//! # grpc_wasi::block_on(async {
//! let start = Instant::now();
//! let mut interval = time::interval(Duration::from_millis(100));
//! for _ in 0..3 {
//!     let tick = interval.tick().await; // first tick: at once
//!     println!("{:?}", tick.duration_since(start));
//! }
//! let slow = time::sleep(Duration::from_secs(5));
//! assert!(time::timeout(Duration::from_millis(10), slow).await.is_err());
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use std::time::{Duration, Instant};

use wasip2::clocks::monotonic_clock;

use crate::readiness::Readiness;

/// The `wasi:clocks/monotonic-clock` reading (nanoseconds) at `instant`.
fn monotonic_at(instant: Instant) -> u64 {
    let now = Instant::now();
    let clock = monotonic_clock::now();
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    if instant >= now {
        clock.saturating_add(nanos(instant - now))
    } else {
        clock.saturating_sub(nanos(now - instant))
    }
}

/// Waits until [`Sleep::deadline`], as `tokio::time::Sleep`: made by [`sleep`] and
/// [`sleep_until`]; [`Sleep::reset`] moves the deadline. `Unpin`, so it can be polled
/// through `&mut` without pinning.
#[derive(Debug)]
#[must_use = "a Sleep does nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    at: u64,
    // Made at the first poll that has to wait.
    timer: Option<Timer>,
}

/// The wait for one instant: a registered `monotonic-clock` pollable, or inside
/// [`crate::wasip3::run`] WASI 0.3's `wait-until` in progress.
enum Timer {
    Pollable {
        at: u64,
        readiness: Readiness,
    },
    #[cfg(feature = "wasip3")]
    WaitUntil(Pin<Box<dyn Future<Output = ()>>>),
}

impl Timer {
    /// The wait until `at` (nanoseconds on the monotonic clock).
    fn new(at: u64) -> Timer {
        #[cfg(feature = "wasip3")]
        if crate::wasip3::active() {
            return Timer::WaitUntil(crate::wasip3::wait_until(at));
        }
        Timer::Pollable {
            at,
            readiness: Readiness::default(),
        }
    }

    /// Ready once the instant has passed.
    fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            Timer::Pollable { at, readiness } => {
                let at = *at;
                readiness.poll_ready(cx, || monotonic_clock::subscribe_instant(at))
            }
            #[cfg(feature = "wasip3")]
            Timer::WaitUntil(wait) => wait.as_mut().poll(cx),
        }
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Timer")
    }
}

impl Sleep {
    fn new(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            at: monotonic_at(deadline),
            timer: None,
        }
    }

    /// A sleep until `at` nanoseconds on the monotonic clock (the SDK's deadlines).
    pub(crate) fn until_monotonic(at: u64) -> Sleep {
        let now = monotonic_clock::now();
        let deadline = Instant::now() + Duration::from_nanos(at.saturating_sub(now));
        Sleep {
            deadline,
            at,
            timer: None,
        }
    }

    /// The instant this sleep ends at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        monotonic_clock::now() >= self.at
    }

    /// Moves the deadline to `deadline` (earlier or later), as `tokio::time::Sleep::reset`.
    pub fn reset(&mut self, deadline: Instant) {
        *self = Sleep::new(deadline);
    }

    /// Ready once the deadline has passed.
    pub(crate) fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        let timer = match &mut self.timer {
            Some(timer) => timer,
            // A deadline already passed needs no pollable.
            None if monotonic_clock::now() >= at => return Poll::Ready(()),
            None => self.timer.insert(Timer::new(at)),
        };
        timer.poll_elapsed(cx)
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_elapsed(cx)
    }
}

/// Waits `duration` (as `tokio::time::sleep`). A zero duration is ready at the first poll.
pub fn sleep(duration: Duration) -> Sleep {
    match Instant::now().checked_add(duration) {
        Some(deadline) => Sleep::new(deadline),
        // Further than `Instant` reaches: as far as the monotonic clock does.
        None => Sleep::until_monotonic(u64::MAX),
    }
}

/// Waits until `deadline` (as `tokio::time::sleep_until`); a deadline in the past is ready at
/// the first poll.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline)
}

/// Ticks every `period`, the first tick at once: [`interval_at`] with `Instant::now()`.
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks at `start`, then every `period` after it, as `tokio::time::interval_at` with tokio's
/// default `MissedTickBehavior::Burst`: ticks missed while the guest was busy come at once,
/// until the schedule is caught up. A zero `period` (tokio panics) is taken as 1 ns.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    Interval {
        next: start,
        period: period.max(Duration::from_nanos(1)),
        sleep: None,
    }
}

/// A schedule of ticks made by [`interval`] or [`interval_at`].
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: Duration,
    sleep: Option<Sleep>,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for (as tokio's
    /// `Interval::tick`; the actual time is at or after it). Cancel-safe: dropping the future
    /// before it is ready keeps the tick for the next call.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick: [`Interval::tick`] as a poll function.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let next = self.next;
        let sleep = self.sleep.get_or_insert_with(|| Sleep::new(next));
        std::task::ready!(sleep.poll_elapsed(cx));
        self.sleep = None;
        self.next = next.checked_add(self.period).unwrap_or(next);
        Poll::Ready(next)
    }

    /// The time between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Starts the schedule again: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.next = Instant::now() + self.period;
        self.sleep = None;
    }
}

/// Runs `future` for at most `duration`, as `tokio::time::timeout`: its output, or
/// [`error::Elapsed`] if the time ran out first (the future is then dropped, which cancels a
/// gRPC call). To bound a gRPC call, prefer its deadline
/// ([`Request::set_timeout`](crate::Request::set_timeout)): it also tells the server.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// Runs `future` until `deadline` at most: [`timeout`] with an instant.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project_lite::pin_project! {
    /// The future [`timeout`] returns: `Ok(output)` or `Err(Elapsed)`.
    #[derive(Debug)]
    #[must_use = "a Timeout does nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The future inside.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The future inside, dropping the timer.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, error::Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        this.sleep
            .poll_elapsed(cx)
            .map(|()| Err(error::Elapsed(())))
    }
}

/// The errors of this module.
pub mod error {
    use std::fmt;

    /// A [`timeout`](super::timeout) ran out before its future was done.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Elapsed(pub(super) ());

    impl fmt::Display for Elapsed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("deadline has elapsed")
        }
    }

    impl std::error::Error for Elapsed {}

    /// `DeadlineExceeded`, so a timed-out wait can end a function that returns [`Status`] with
    /// `?`.
    ///
    /// [`Status`]: crate::Status
    impl From<Elapsed> for crate::Status {
        fn from(_: Elapsed) -> Self {
            crate::Status::deadline_exceeded("deadline has elapsed")
        }
    }
}
