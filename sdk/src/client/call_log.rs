//! The log line of one call (crate feature `log`, level `debug`): its method, status, duration,
//! and the messages and bytes sent and received. Bytes are the messages' payloads as they went
//! over the wire (compressed, if they were), without the 5-byte Length-Prefixed-Message
//! prefix (PROTOCOL-HTTP2).

use std::time::Instant;

use http::uri::PathAndQuery;

use crate::status::Status;

/// What a call's log line says, gathered while the call runs.
#[derive(Debug)]
pub(crate) struct CallLog {
    method: PathAndQuery,
    start: Instant,
    /// The request's one message's payload size in bytes; `None` for a request stream.
    sent: Option<usize>,
    messages: u64,
    received: u64,
}

impl CallLog {
    /// A call of `method` starting now; `sent` is its one request message's payload size in
    /// bytes (`None` for a stream of them).
    pub(crate) fn start(method: &PathAndQuery, sent: Option<usize>) -> Self {
        CallLog {
            method: method.clone(),
            start: Instant::now(),
            sent,
            messages: 0,
            received: 0,
        }
    }

    /// A response message whose payload is `len` bytes arrived.
    pub(crate) fn received(&mut self, len: usize) {
        self.messages += 1;
        self.received += len as u64;
    }

    /// The call ended, with status OK or `Err(status)`: logs its line.
    pub(crate) fn ended(self, result: Result<(), &Status>) {
        // Integer formatting: f64's would add kilobytes to the component.
        let us = self.start.elapsed().as_micros();
        let status = match result {
            Ok(()) => "OK".to_owned(),
            Err(status) => format!("{:?} {:?}", status.code(), status.message()),
        };
        let sent = match self.sent {
            Some(bytes) => format!("1 message, {bytes} bytes"),
            None => "a stream".to_owned(),
        };
        log::debug!(
            "{}: {status} in {}.{:03} ms; sent {sent}; received {} message(s), {} bytes",
            self.method,
            us / 1000,
            us % 1000,
            self.messages,
            self.received
        );
    }
}
