//! WASI 0.3 (feature `wasip3`, experimental, as wasmtime 48's WASIp3): grpc-wasi's calls on the
//! Component Model's own async, for guests that export an async function
//! (`wasi:cli/run@0.3.0`, a WASI 0.3 `wasi:http/handler`).
//!
//! A WASI 0.3 import may only wait inside an async export: a guest whose `fn main` (WASI 0.2's
//! synchronous `run`) waits on one traps ("cannot block a synchronous task before returning"
//! in wasmtime). So such a guest awaits its calls in its async export, inside [`run`]:
//!
//! ```no_run
//! # async fn call() -> Result<(), grpc_wasi::Status> { Ok(()) }
//! // impl wasip3::exports::cli::run::Guest for App {
//! async fn run() -> Result<(), ()> {
//!     grpc_wasi::wasip3::run(async {
//!         // Channel::from_static(...).transport(Transport::WasiHttp).connect().await?, calls…
//!         call().await
//!     })
//!     .await
//!     .map_err(|status| eprintln!("{status}"))
//! }
//! // }
//! // wasip3::cli::command::export!(App);
//! ```
//!
//! Inside [`run`], `Transport::WasiHttp` and `Transport::GrpcWeb` go through
//! `wasi:http/client@0.3.0` (`send`, the bodies as `stream<u8>`, the trailers as a `future`),
//! the SDK's timers (deadlines, backoff, [`time`](crate::time)) wait with
//! `wasi:clocks/monotonic-clock@0.3.0.wait-until`, and [`spawn`](crate::spawn)ed tasks run in
//! the export's async task. With the `sockets` feature too, `Transport::Sockets` is HTTP/2 over
//! `wasi:sockets@0.3.0` there: names resolved with `ip-name-lookup.resolve-addresses`, the
//! connection opened with `tcp-socket.connect`, its bytes read from `receive`'s `stream<u8>`
//! and written to the `stream<u8>` handed to `send` (TLS for `https://` with the `tls`
//! feature, in the guest, as over WASI 0.2). Outside [`run`] everything is WASI 0.2's, as
//! without the feature, so the feature can be on in a workspace whose other guests are WASI
//! 0.2 commands (a guest with `sockets` and `wasip3` imports both versions of
//! `wasi:sockets`).

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

std::thread_local! {
    /// Whether the code running is inside [`run`] (or a task spawned there).
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the code running is inside [`run`] (or a task spawned there): the SDK waits with
/// WASI 0.3 then.
pub(crate) fn active() -> bool {
    ACTIVE.get()
}

/// Runs `f` marked as inside [`run`], restoring the mark after (runs nest).
pub(crate) fn within<T>(f: impl FnOnce() -> T) -> T {
    let outer = ACTIVE.replace(true);
    let output = f();
    ACTIVE.set(outer);
    output
}

/// Awaits `future` with grpc-wasi on WASI 0.3: its calls, timers and tasks use the Component
/// Model's async (see the [module docs](self)). Await it inside an async export; it returns
/// `future`'s output. Tasks `future` spawned and detached are not cancelled when it returns
/// (the export's async task runs on until they end, as `#[wstd::main]` does with WASI 0.2).
pub async fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    std::future::poll_fn(|cx| match within(|| future.as_mut().poll(cx)) {
        Poll::Ready(output) => Poll::Ready(output),
        Poll::Pending => Poll::Pending,
    })
    .await
}

/// Runs `future` in the background in the export's async task; dropping the returned task
/// cancels it. Each time the task is woken, one run of it is handed to the Component Model
/// async task (`wit_bindgen::spawn_local`), marked as inside [`run`].
pub(crate) fn spawn<F>(future: F) -> async_task::Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let schedule = |runnable: async_task::Runnable| {
        wasip3::spawn_local(async move {
            within(|| runnable.run());
        });
    };
    let (runnable, task) = async_task::spawn_local(future, schedule);
    runnable.schedule();
    task
}

/// A wait until `at` nanoseconds on the monotonic clock, with
/// `wasi:clocks/monotonic-clock@0.3.0.wait-until`.
pub(crate) fn wait_until(at: u64) -> std::pin::Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(wasip3::clocks::monotonic_clock::wait_until(at))
}
