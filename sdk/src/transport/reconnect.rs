//! The sockets transport's connection: opened by the first call (or by `Endpoint::connect`),
//! opened again when it has closed, as tonic's channel does.
//!
//! A connection closes when the server goes away: it restarts, closes idle connections, or
//! sends GOAWAY (RFC 9113 §6.8). h2 then refuses new streams on it, and the next call opens a
//! new connection to the same host and port, and is made on it. Calls that find the
//! connection closed while another call is opening the new one wait for it rather than open
//! their own. If the new connection cannot be opened, that call fails with the connect error
//! (`Unavailable`, or `PermissionDenied`), and the next attempt to connect waits for a backoff,
//! as gRPC's "Connection Backoff Protocol" (`doc/connection-backoff.md`) says: 1 s after the
//! first failure, then 1.6 times longer each time up to 120 s, each with ±20 % jitter, every
//! attempt given at least 20 s to connect. Until the backoff has passed, calls fail at once
//! with the last connect error (the channel is in TRANSIENT_FAILURE), except wait-for-ready
//! calls, which wait for the next attempt, within their deadline. A connection that opens
//! ends the backoff. Calls in flight when the connection closed fail with `Unavailable` (see
//! `status_from_h2`); after a GOAWAY, those the server had accepted (up to its last stream
//! ID) run to their end on the old connection.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::h2::{H2Connection, handshake, status_from_h2};
use super::keepalive::KeepAlive;
use super::stream::ConnectionIo;
use super::tcp;
#[cfg(feature = "tls-no-roots")]
use super::tls::TlsTarget;
use crate::runtime::Deadline;
use crate::status::{Code, Status};

/// The least time a connection attempt is given (`MIN_CONNECT_TIMEOUT`), unless
/// `Endpoint::connect_timeout` sets another.
pub(crate) const MIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The state after failed connection attempts.
struct Backoff {
    /// The backoff that last applied, before jitter.
    current: Duration,
    /// When the next attempt may be made.
    retry_at: Instant,
    /// The error of the last attempt, which calls fail with until `retry_at`.
    error: Status,
}

impl Backoff {
    /// The backoff after a failed attempt, following `previous` (none after a success).
    fn after(previous: Option<&Backoff>, error: Status) -> Backoff {
        let current = crate::backoff::next(previous.map(|b| b.current));
        Backoff {
            current,
            retry_at: Instant::now() + crate::backoff::jittered(current),
            error,
        }
    }
}

/// The HTTP/2 connection of a channel to `host:port`, opened when first needed and again
/// after it closed.
pub(crate) struct Reconnect {
    host: String,
    port: u16,
    /// Try the name's addresses in a random order (pick_first's `shuffleAddressList`).
    shuffle: bool,
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
    /// Set while connection attempts are failing.
    backoff: RefCell<Option<Backoff>>,
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
            shuffle: false,
            connect_timeout,
            keepalive,
            #[cfg(feature = "tls-no-roots")]
            tls: None,
            current: RefCell::new(None),
            opening: Mutex::new(()),
            backoff: RefCell::new(None),
        }
    }

    /// Tries the name's addresses in a random order (gRFC A62's `shuffleAddressList`).
    pub(crate) fn shuffled(mut self, shuffle: bool) -> Reconnect {
        self.shuffle = shuffle;
        self
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
    /// opened first ([`Reconnect::open`]), once the connection backoff allows; until then a
    /// call fails with the last connect error, and a `wait_for_ready` one waits (see the
    /// module docs).
    ///
    /// Errors: those of [`Reconnect::open`]; `Unavailable` when the new connection closed
    /// before it took the stream. A `wait_for_ready` call gets only `PermissionDenied` (a
    /// grant does not come later), and otherwise waits: its deadline ends it.
    pub(crate) async fn ready(&self, wait_for_ready: bool) -> Result<H2Connection, Status> {
        let current = self.current.borrow().as_ref().map(|(c, g)| (c.ready(), *g));
        let mut seen = None;
        if let Some((ready, generation)) = current {
            // h2 fails `ready` only once the connection can take no new stream.
            match ready.await {
                Ok(connection) => return Ok(connection),
                Err(e) => {
                    debug!(
                        "the connection to {}:{} takes no new stream ({e}): reconnecting",
                        self.host, self.port
                    );
                    seen = Some(generation);
                }
            }
        }
        let ready = loop {
            self.wait_for_backoff(wait_for_ready).await?;
            let opening = self.opening.lock().await;
            // Another call may have opened a new one while this one waited.
            let now = self
                .current
                .borrow()
                .as_ref()
                .filter(|(_, g)| Some(*g) != seen)
                .map(|(c, _)| c.ready());
            if let Some(ready) = now {
                break ready;
            }
            // Another call's attempt may have failed while this one waited for the lock.
            if self.in_backoff() {
                continue;
            }
            match self.open().await {
                Ok(connection) => {
                    self.backoff.replace(None);
                    let ready = connection.ready();
                    let generation = seen.map_or(0, |generation| generation + 1);
                    *self.current.borrow_mut() = Some((connection, generation));
                    break ready;
                }
                Err(error) => {
                    let next = Backoff::after(self.backoff.borrow().as_ref(), error.clone());
                    info!(
                        "connecting to {}:{} failed: {error}; next attempt in {:?} (connection \
                         backoff)",
                        self.host,
                        self.port,
                        next.retry_at.saturating_duration_since(Instant::now())
                    );
                    self.backoff.replace(Some(next));
                    drop(opening);
                    if !wait_for_ready || error.code() == Code::PermissionDenied {
                        return Err(error);
                    }
                }
            }
        };
        ready.await.map_err(status_from_h2)
    }

    /// True while the backoff after a failed attempt has not passed (the connection is in
    /// TRANSIENT_FAILURE).
    pub(crate) fn in_backoff(&self) -> bool {
        self.backoff
            .borrow()
            .as_ref()
            .is_some_and(|b| Instant::now() < b.retry_at)
    }

    /// Returns once a connection attempt may be made: at once outside a backoff; in one, for
    /// a `wait_for_ready` call, when it has passed.
    ///
    /// Errors: in a backoff, the last connect error, for a call that does not wait for ready.
    async fn wait_for_backoff(&self, wait_for_ready: bool) -> Result<(), Status> {
        let (retry_at, error) = match self.backoff.borrow().as_ref() {
            Some(b) if Instant::now() < b.retry_at => (b.retry_at, b.error.clone()),
            _ => return Ok(()),
        };
        if !wait_for_ready || error.code() == Code::PermissionDenied {
            return Err(error);
        }
        crate::time::sleep_until(retry_at).await;
        Ok(())
    }

    /// Opens a connection: resolves the host, connects over TCP, makes the TLS connection
    /// (`https://`) and performs the HTTP/2 handshake, within the connect timeout (20 s,
    /// connection-backoff.md's `MIN_CONNECT_TIMEOUT`, unless `Endpoint::connect_timeout` sets
    /// another).
    ///
    /// Errors: `Unavailable` when the name does not resolve, the server cannot be reached,
    /// the TLS handshake fails (see `tls.rs`), or not within the connect timeout;
    /// `PermissionDenied` (naming the address) when the host did not grant access to it.
    async fn open(&self) -> Result<H2Connection, Status> {
        let open = async {
            let tcp = tcp::connect(&self.host, self.port, self.shuffle).await?;
            let address = tcp.peer_addr();
            #[cfg(feature = "tls-no-roots")]
            if let Some(tls) = &self.tls {
                let peer = format!("{}:{}", self.host, self.port);
                let io = ConnectionIo::tls(tls.connect(tcp, &peer).await?);
                let connection = handshake(io, self.keepalive, (address, true)).await?;
                info!("connected to {peer} ({address}, TLS)");
                return Ok(connection);
            }
            let io = ConnectionIo::tcp(tcp);
            let connection = handshake(io, self.keepalive, (address, false)).await?;
            info!("connected to {}:{} ({address}, h2c)", self.host, self.port);
            Ok(connection)
        };
        let timeout = self.connect_timeout.unwrap_or(MIN_CONNECT_TIMEOUT);
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
