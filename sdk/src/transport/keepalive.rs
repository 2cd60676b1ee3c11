//! HTTP/2 keepalive: PINGs that find out when a server has stopped answering (its host went
//! away, or the network between dropped the connection without a word), as tonic's
//! `http2_keep_alive_interval` and grpc-go's client keepalive (gRFC A8) do.
//!
//! After an interval in which nothing came from the server, the connection sends a PING
//! (RFC 9113 §6.7) if a call is open, or always with `while_idle`. If nothing at all comes
//! back within the timeout, the connection is closed: its calls fail with `Unavailable`, and
//! the next call opens a new connection. Anything the server sends counts as an answer, as in
//! grpc-go. Servers limit how often they accept PINGs (grpc-go: by default once every 5
//! minutes while it sends nothing), so keep the interval above the server's policy.

use std::cell::Cell;
use std::time::Duration;

use super::h2::ConnectionState;

use crate::status::Status;

/// When to send keepalive PINGs, and how long to wait for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeepAlive {
    /// The time without anything from the server after which a PING is sent.
    pub(crate) interval: Duration,
    /// How long to wait for anything from the server after a PING.
    pub(crate) timeout: Duration,
    /// PING when no call is open, too.
    pub(crate) while_idle: bool,
}

/// Returns once the server of the connection whose state is `state` has not answered a PING
/// within the timeout: the status its calls get. `received` counts the bytes read from the
/// server; it is checked every interval (more often while a PING waits, if the timeout is
/// shorter), so a PING follows between one and two intervals of quiet.
pub(crate) async fn watch(
    keepalive: KeepAlive,
    state: &ConnectionState,
    received: &Cell<u64>,
) -> Status {
    let KeepAlive {
        interval,
        timeout,
        while_idle,
    } = keepalive;
    let mut seen = received.get();
    // How long the PING in flight, if any, has waited.
    let mut waited: Option<Duration> = None;
    loop {
        let wait = waited.map_or(interval, |waited| {
            interval.min(timeout.saturating_sub(waited))
        });
        crate::time::sleep(wait).await;
        if received.get() != seen {
            seen = received.get();
            waited = None;
            continue;
        }
        match waited {
            Some(before) if before + wait >= timeout => {
                info!("no answer to a keepalive PING within {timeout:?}: closing the connection");
                return Status::unavailable(format!(
                    "the server did not answer a keepalive PING within {timeout:?}"
                ));
            }
            Some(before) => waited = Some(before + wait),
            None if while_idle || state.has_open_calls() => {
                trace!("keepalive PING after {interval:?} without a frame from the server");
                state.pings.send();
                waited = Some(Duration::ZERO);
            }
            None => {}
        }
    }
}
