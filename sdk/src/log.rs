//! Logs of what the channel does, through the [`log`](https://docs.rs/log) facade (crate
//! feature `log`): connections opened and closed and why (address, transport, TLS), name
//! lookups, connection backoff, keepalive PINGs, GOAWAYs, and each call's method, status,
//! duration and bytes. The guest chooses where they go by installing any `log` logger; this
//! module has a ready one that writes to stderr.
//!
//! Without a logger nothing is formatted (each log site costs a load and a branch); without
//! the `log` feature the log sites are not compiled at all.
//!
//! Levels: `info` for connections opened, closed and failed, and GOAWAYs; `debug` for name
//! lookups, backoff, retries and every call; `trace` for keepalive PINGs and each attempt.
//! Targets are the SDK's module paths (`grpc_wasi::transport::reconnect` for connections,
//! `grpc_wasi::client::call_log` for calls).
//!
//! As grpc-go's `GRPC_GO_LOG_SEVERITY_LEVEL` and C-core's `GRPC_TRACE`, the environment
//! variable `GRPC_WASI_LOG` turns the stderr logger on without code: set to `error`, `warn`,
//! `info`, `debug` or `trace`, it is installed (unless the guest installed another logger) the
//! first time an [`Endpoint`](crate::Endpoint) makes a channel. In the harness: `run --env
//! GRPC_WASI_LOG=debug`; in wasmtime: `wasmtime run --env GRPC_WASI_LOG=debug`.

use std::io::Write as _;
use std::sync::Once;
use std::time::Instant;

/// A `log` logger that writes each record to stderr as one line: `[grpc-wasi +ELAPSED
/// LEVEL TARGET] MESSAGE`, ELAPSED in milliseconds since the logger was made, TARGET
/// without its `grpc_wasi::` prefix.
#[derive(Debug)]
pub struct StderrLogger {
    level: log::LevelFilter,
    start: Instant,
}

impl StderrLogger {
    /// A logger of records at `level` and more severe.
    pub fn new(level: log::LevelFilter) -> Self {
        StderrLogger {
            level,
            start: Instant::now(),
        }
    }
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Integer formatting: f64's would add kilobytes to the component.
        let us = self.start.elapsed().as_micros();
        let target = record.target();
        let target = target.strip_prefix("grpc_wasi::").unwrap_or(target);
        // One write a line, so lines of concurrent calls do not interleave.
        let line = format!(
            "[grpc-wasi +{}.{:03}ms {} {target}] {}\n",
            us / 1000,
            us % 1000,
            record.level(),
            record.args()
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs a [`StderrLogger`] at the level `GRPC_WASI_LOG` names (`error`, `warn`,
/// `info`, `debug`, `trace`; any case), once per instance. Returns whether this call
/// installed it: false when the variable is unset or names no level, when another logger
/// is installed, or on a later call. Called by [`Endpoint`](crate::Endpoint) when it
/// makes a channel, so a guest needs it only to log before that.
pub fn init_from_env() -> bool {
    static TRIED: Once = Once::new();
    let mut installed = false;
    TRIED.call_once(|| installed = install_from_env());
    installed
}

/// [`init_from_env`]'s one try.
fn install_from_env() -> bool {
    let Some(level) = std::env::var("GRPC_WASI_LOG")
        .ok()
        .and_then(|v| v.parse::<log::LevelFilter>().ok())
    else {
        return false;
    };
    let logger = Box::leak(Box::new(StderrLogger::new(level)));
    if log::set_logger(logger).is_err() {
        return false;
    }
    log::set_max_level(level);
    true
}
