//! The SDK's log macros: `log`'s with the `log` feature, nothing without it (see
//! the `log` module, built with the feature).

/// Logs at `$level` (`info`, `debug`, `trace`): `log`'s macro of that name with the `log`
/// feature, nothing without it (the arguments are still type-checked).
#[allow(unused_macros)]
macro_rules! log_at {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "log")]
        ::log::$level!($($arg)+);
        #[cfg(not(feature = "log"))]
        if false {
            let _ = ::std::format!($($arg)+);
        }
    }};
}

/// Logs at `info` (see [`log_at!`]).
#[allow(unused_macros)]
macro_rules! info {
    ($($arg:tt)+) => { log_at!(info, $($arg)+) };
}

/// Logs at `debug` (see [`log_at!`]).
#[allow(unused_macros)]
macro_rules! debug {
    ($($arg:tt)+) => { log_at!(debug, $($arg)+) };
}

/// Logs at `trace` (see [`log_at!`]).
#[allow(unused_macros)]
macro_rules! trace {
    ($($arg:tt)+) => { log_at!(trace, $($arg)+) };
}
