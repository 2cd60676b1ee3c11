//! Whether the code running may use the reactor grpc-wasi runs on (`wstd`'s), and the error
//! that says what to do when it may not.

use std::cell::Cell;

use crate::status::Status;

std::thread_local! {
    /// How many [`block_on`](crate::block_on)s are running (guests are single-threaded: 0 or 1).
    static ENTERED: Cell<u32> = const { Cell::new(0) };
}

/// Marks [`block_on`](crate::block_on) running until the returned guard is dropped.
pub(crate) fn enter() -> Entered {
    ENTERED.set(ENTERED.get().saturating_add(1));
    Entered(())
}

/// While alive, [`check_reactor`] knows a `block_on` runs.
pub(crate) struct Entered(());

impl Drop for Entered {
    fn drop(&mut self) {
        ENTERED.set(ENTERED.get().saturating_sub(1));
    }
}

/// Ok when the code running may use the reactor: inside [`block_on`](crate::block_on), or in no other runtime
/// we can see (a `#[wstd::main]` guest runs wstd's `block_on`, which cannot be asked).
///
/// Errors: `FailedPrecondition` inside a tokio runtime (`#[tokio::main]`), whose reactor does
/// not run in a guest and cannot wake grpc-wasi's waits: the message says what to use instead.
pub(crate) fn check_reactor() -> Result<(), Status> {
    if ENTERED.get() > 0 {
        return Ok(());
    }
    #[cfg(feature = "wasip3")]
    if crate::wasip3::active() {
        return Ok(());
    }
    #[cfg(feature = "sockets")]
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Status::failed_precondition(
            "grpc-wasi was called from a tokio runtime, which cannot run in a WASI 0.2 guest: \
             run the calls inside grpc_wasi::block_on, or make main #[grpc_wasi::main] (or \
             #[wstd::main]) instead of #[tokio::main]",
        ));
    }
    Ok(())
}
