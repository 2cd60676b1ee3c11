//! The sockets transport's connection: opened by the first call (or by `Endpoint::connect`),
//! opened again when it has closed, as tonic's channel does.
//!
//! A connection closes when the server goes away: it restarts, closes idle connections, or
//! sends GOAWAY (RFC 9113 §6.8). h2 then refuses new streams on it, and the next call opens a
//! new connection to the same host and port, and is made on it. Calls that find the
//! connection closed while another call is opening the new one wait for it rather than open
//! their own. If the new connection cannot be opened, that call fails with the connect error
//! (`Unavailable`, or `PermissionDenied`), and the call after it tries again: there is no
//! backoff and no retry of a call. Calls in flight when the connection closed fail with
//! `Unavailable` (see `status_from_h2`); after a GOAWAY, those the server had accepted (up to
//! its last stream ID) run to their end on the old connection.

use std::cell::RefCell;
use std::time::Duration;

use tokio::sync::Mutex;

use super::h2::{H2Connection, handshake, status_from_h2};
use super::keepalive::KeepAlive;
use super::stream::ConnectionIo;
use super::tcp;
#[cfg(feature = "tls-no-roots")]
use super::tls::TlsTarget;
use crate::runtime::Deadline;
use crate::status::Status;

/// The HTTP/2 connection of a channel to `host:port`, opened when first needed and again
/// after it closed.
pub(crate) struct Reconnect {
    host: String,
    port: u16,
    /// The most time opening a connection may take.
    connect_timeout: Option<Duration>,
    /// The keepalive PINGs of each connection, if any.
    keepalive: Option<KeepAlive>,
    /// How each connection makes its TLS connection (`https://`); `None`: plain-text h2c.
    #[cfg(feature = "tls-no-roots")]
    tls: Option<Box<TlsTarget>>,
    /// The last connection opened, and how many were opened before it; `None` before the
    /// first.
    current: RefCell<Option<(H2Connection, u64)>>,
    /// Held while a connection is opened: one at a time.
    opening: Mutex<()>,
}

impl Reconnect {
    /// A channel's connection to `host:port`, not opened yet; opening one may take at most
    /// `connect_timeout`, if given, and each sends `keepalive` PINGs, if given.
    pub(crate) fn new(
        host: String,
        port: u16,
        connect_timeout: Option<Duration>,
        keepalive: Option<KeepAlive>,
    ) -> Reconnect {
        Reconnect {
            host,
            port,
            connect_timeout,
            keepalive,
            #[cfg(feature = "tls-no-roots")]
            tls: None,
            current: RefCell::new(None),
            opening: Mutex::new(()),
        }
    }

    /// Makes each connection over TLS with `tls` (for `https://`).
    #[cfg(feature = "tls-no-roots")]
    pub(crate) fn with_tls(mut self, tls: TlsTarget) -> Reconnect {
        self.tls = Some(Box::new(tls));
        self
    }

    /// The `:scheme` of requests on this connection: `https` over TLS, else `http`.
    pub(crate) fn scheme(&self) -> http::uri::Scheme {
        #[cfg(feature = "tls-no-roots")]
        if self.tls.is_some() {
            return http::uri::Scheme::HTTPS;
        }
        http::uri::Scheme::HTTP
    }

    /// The connection, once it may open a stream (h2 waits while the server's limit of
    /// concurrent streams is reached). A connection that is closed, or not opened yet, is
    /// opened first ([`Reconnect::open`]).
    ///
    /// Errors: those of [`Reconnect::open`]; `Unavailable` when the new connection closed
    /// before it took the stream.
    pub(crate) async fn ready(&self) -> Result<H2Connection, Status> {
        let current = self.current.borrow().as_ref().map(|(c, g)| (c.ready(), *g));
        let mut seen = None;
        if let Some((ready, generation)) = current {
            // h2 fails `ready` only once the connection can take no new stream.
            match ready.await {
                Ok(connection) => return Ok(connection),
                Err(_) => seen = Some(generation),
            }
        }
        let opening = self.opening.lock().await;
        // Another call may have opened a new one while this one waited.
        let now = self
            .current
            .borrow()
            .as_ref()
            .filter(|(_, g)| Some(*g) != seen)
            .map(|(c, _)| c.ready());
        let ready = match now {
            Some(ready) => ready,
            None => {
                let connection = self.open().await?;
                let ready = connection.ready();
                let generation = seen.map_or(0, |generation| generation + 1);
                *self.current.borrow_mut() = Some((connection, generation));
                ready
            }
        };
        drop(opening);
        ready.await.map_err(status_from_h2)
    }

    /// Opens a connection: resolves the host, connects over TCP, makes the TLS connection
    /// (`https://`) and performs the HTTP/2 handshake, within the connect timeout if there is
    /// one.
    ///
    /// Errors: `Unavailable` when the name does not resolve, the server cannot be reached,
    /// the TLS handshake fails (see `tls.rs`), or not within the connect timeout;
    /// `PermissionDenied` (naming the address) when the host did not grant access to it.
    async fn open(&self) -> Result<H2Connection, Status> {
        let open = async {
            let tcp = tcp::connect(&self.host, self.port).await?;
            #[cfg(feature = "tls-no-roots")]
            if let Some(tls) = &self.tls {
                let peer = format!("{}:{}", self.host, self.port);
                let io = ConnectionIo::tls(tls.connect(tcp, &peer).await?);
                return handshake(io, self.keepalive).await;
            }
            handshake(ConnectionIo::tcp(tcp), self.keepalive).await
        };
        let Some(timeout) = self.connect_timeout else {
            return open.await;
        };
        let mut deadline = Deadline::after(timeout);
        let expired = async {
            deadline.elapsed().await;
            Err(Status::unavailable(format!(
                "no connection to {}:{} within the connect timeout ({timeout:?})",
                self.host, self.port
            )))
        };
        futures_lite::future::or(open, expired).await
    }
}
