//! The async runtime: a thin layer over `wstd`'s reactor.
//!
//! Every wait in a WASI 0.2 guest is a wait on a `wasi:io/poll` pollable, and only the reactor
//! that registered a pollable can wake it, so grpc-wasi brings no reactor of its own. A plain
//! `fn main` guest runs its calls inside [`block_on`]; a `#[wstd::main]` or
//! `#[wstd::http_server]` guest is already inside one and just awaits.

use std::future::Future;

/// Runs `future` to completion on `wstd`'s reactor and returns its output.
///
/// Background work the SDK spawned (the HTTP/2 connection of a [`Channel`](crate::Channel))
/// ends when the last handle to it is dropped, so return from the future only after dropping
/// your channels and clients (leaving the `async` block does that).
///
/// Panics if called inside another `block_on` (for example inside `#[wstd::main]`, where you
/// just `.await` instead).
pub fn block_on<F: Future>(future: F) -> F::Output {
    wstd::runtime::block_on(future)
}

/// Runs `future` in the background on the current reactor; dropping the returned task cancels
/// it. Must be called inside [`block_on`].
pub(crate) fn spawn<F>(future: F) -> wstd::runtime::Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    wstd::runtime::spawn(future)
}
