//! Tasks on the guest's reactor, shaped as `tokio::task`'s: [`spawn`] and [`JoinHandle`].
//!
//! A guest is single-threaded: spawned tasks run interleaved with the one that spawned them,
//! whenever it waits. Sending a stream's requests on one task while reading its responses on
//! another is how tonic's streaming examples are written, and works the same here. Tasks run
//! while [`block_on`](crate::block_on) (or `#[grpc_wasi::main]`) does; when its future
//! returns, unfinished detached tasks are cancelled, as when tokio's runtime shuts down (under
//! `#[wstd::main]` they run on until they end, and the guest with them).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `future` as a task of its own on the current reactor, as `tokio::spawn`: it makes
/// progress whenever the spawning task waits. Unlike tokio's, `future` need not be `Send`.
///
/// Dropping the [`JoinHandle`] detaches the task (it keeps running); awaiting it gives the
/// task's output; [`JoinHandle::abort`] cancels it.
///
/// # Panics
/// Outside [`block_on`](crate::block_on), `#[grpc_wasi::main]` or `#[wstd::main]` (as
/// `tokio::spawn` outside a tokio runtime), with a message that says what to use.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    if let Err(status) = crate::reactor::check_reactor() {
        #[allow(clippy::panic)] // As tokio::spawn outside its runtime: a programming error.
        {
            panic!("{}", status.message());
        }
    }
    JoinHandle {
        task: Some(crate::runtime::spawn(future)),
    }
}

/// A handle to a task made by [`spawn`]; a future of its output, as `tokio::task::JoinHandle`.
///
/// Awaiting it gives `Ok(output)`, or `Err(JoinError)` if the task was aborted. Dropping it
/// detaches the task.
#[must_use = "dropping a JoinHandle detaches the task; await it to get its output"]
pub struct JoinHandle<T: 'static> {
    // `None` once aborted.
    task: Option<crate::runtime::Task<T>>,
}

impl<T: 'static> JoinHandle<T> {
    /// Cancels the task: it does not run again, and awaiting this handle gives a
    /// [`JoinError`] (a task that already finished keeps its output).
    pub fn abort(&mut self) {
        if let Some(task) = &self.task
            && !task.is_finished()
        {
            self.task = None;
        }
    }

    /// True once the task has finished or was aborted.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|task| task.is_finished())
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.task {
            Some(task) => Pin::new(task).poll(cx).map(Ok),
            None => Poll::Ready(Err(JoinError(()))),
        }
    }
}

/// A detached task, kept so [`cancel_detached`] can cancel it.
trait Detached {
    fn is_finished(&self) -> bool;
}

impl<T: 'static> Detached for crate::runtime::Task<T> {
    fn is_finished(&self) -> bool {
        crate::runtime::Task::is_finished(self)
    }
}

std::thread_local! {
    /// Tasks whose [`JoinHandle`] was dropped: they run on, until they end or
    /// [`cancel_detached`].
    static DETACHED: RefCell<Vec<Box<dyn Detached>>> = const { RefCell::new(Vec::new()) };
}

/// Cancels every detached task still running: [`block_on`](crate::block_on) calls it as its
/// future returns.
pub(crate) fn cancel_detached() {
    // A cancelled task's future may drop handles of its own, which detach more tasks.
    loop {
        let tasks = DETACHED.take();
        if tasks.is_empty() {
            break;
        }
        drop(tasks);
    }
}

impl<T: 'static> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let Some(task) = self.task.take() else {
            return;
        };
        if task.is_finished() {
            return;
        }
        // Kept, not `Task::detach`ed, so the end of `block_on` can cancel it; finished tasks
        // are let go as others are kept.
        let task: Box<dyn Detached> = Box::new(task);
        DETACHED.with_borrow_mut(|tasks| {
            tasks.retain(|task| !task.is_finished());
            tasks.push(task);
        });
    }
}

impl<T: 'static> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why awaiting a [`JoinHandle`] gave no output: the task was aborted
/// ([`JoinHandle::abort`]). A panicking task aborts the guest (wasm has no unwinding), so
/// this is never a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinError(());

impl JoinError {
    /// True: the task was cancelled (as `tokio::task::JoinError::is_cancelled`).
    pub fn is_cancelled(&self) -> bool {
        true
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task was cancelled")
    }
}

impl std::error::Error for JoinError {}
