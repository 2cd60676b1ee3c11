//! gRPC's `round_robin` load-balancing policy (as grpc-go's `roundrobin` balancer, gRFC A61's
//! sibling of pick_first): one channel per server, each call on the next one that is ready.
//!
//! The servers are a static list ([`Channel::balance_list`](super::Channel::balance_list)) or
//! the addresses a name resolves to (`"loadBalancingConfig": [{"round_robin": {}}]` in the
//! service config). A server whose connection is in backoff after a failed attempt
//! (TRANSIENT_FAILURE) is left out until the backoff has passed, then tried again; one whose
//! connection fails to open is skipped for the next. For a name, a failed connection also
//! marks the resolution stale: the next call resolves the name again, at most once every
//! [`MIN_RERESOLUTION_INTERVAL`] (grpc-go's DNS resolver's rate), keeping the connections to
//! the addresses that remain.

use std::cell::{Cell, RefCell};
#[cfg(feature = "sockets")]
use std::net::IpAddr;
use std::rc::Rc;
#[cfg(feature = "sockets")]
use std::time::{Duration, Instant};

use super::{Channel, Endpoint};
use crate::status::Status;

/// The least time between two resolutions of a name (grpc-go's `minDNSResRate`).
#[cfg(feature = "sockets")]
pub(super) const MIN_RERESOLUTION_INTERVAL: Duration = Duration::from_secs(30);

/// One server of the set.
struct Server {
    channel: Channel,
    /// The address this channel connects to, for a resolved name.
    #[cfg(feature = "sockets")]
    addr: Option<IpAddr>,
}

/// The servers calls are spread over.
pub(super) struct Balancer {
    /// The current set (cloned per pick: a reference count, not the servers).
    servers: RefCell<Rc<[Server]>>,
    /// Calls picked so far: the next call takes the next usable server after the last.
    picks: Cell<usize>,
    /// The name the servers are the addresses of, for `round_robin` over a name.
    #[cfg(feature = "sockets")]
    name: Option<Name>,
}

/// A name whose addresses are the servers.
#[cfg(feature = "sockets")]
struct Name {
    /// The endpoint each address's channel is made from (its host is the name).
    endpoint: Endpoint,
    host: String,
    /// When the name was last resolved (successfully or not); `None`: never.
    resolved_at: Cell<Option<Instant>>,
    /// A connection failed since: resolve again once the interval allows.
    stale: Cell<bool>,
}

impl Balancer {
    /// `round_robin` over `endpoints`' channels (made lazily).
    pub(super) fn list(endpoints: &[Endpoint]) -> Balancer {
        let servers = endpoints
            .iter()
            .map(|endpoint| Server {
                channel: endpoint.connect_lazy(),
                #[cfg(feature = "sockets")]
                addr: None,
            })
            .collect();
        Balancer {
            servers: RefCell::new(servers),
            picks: Cell::new(0),
            #[cfg(feature = "sockets")]
            name: None,
        }
    }

    /// `round_robin` over the addresses `host` resolves to, each address's channel made from
    /// `endpoint`; the name is resolved by the first call.
    #[cfg(feature = "sockets")]
    pub(super) fn resolving(endpoint: Endpoint, host: String) -> Balancer {
        Balancer {
            servers: RefCell::new(Rc::new([])),
            picks: Cell::new(0),
            name: Some(Name {
                endpoint,
                host,
                resolved_at: Cell::new(None),
                stale: Cell::new(false),
            }),
        }
    }

    /// The channels, for `Debug`.
    pub(super) fn channels(&self) -> Vec<Channel> {
        self.servers
            .borrow()
            .iter()
            .map(|s| s.channel.clone())
            .collect()
    }

    /// The channel for the next call: the usable servers in turn; one whose connection fails
    /// to open is skipped for the next.
    ///
    /// Errors: the name does not resolve (the lookup's `Unavailable`) or resolves to no
    /// address; every server failed to connect: the last one's error, or, for a
    /// `wait_for_ready` call, none (it is made on the first server, which waits);
    /// `InvalidArgument` for an empty list.
    pub(super) async fn pick(&self, wait_for_ready: bool) -> Result<Channel, Status> {
        #[cfg(feature = "sockets")]
        if let Some(name) = &self.name {
            self.refresh(name).await?;
        }
        let servers = self.servers.borrow().clone();
        let usable = servers.iter().filter(|s| s.channel.usable()).count();
        let pick = self.picks.get();
        self.picks.set(pick.wrapping_add(1));
        let mut last_error = None;
        let start = if usable == 0 { 0 } else { pick % usable };
        let in_turn = servers.iter().filter(|s| s.channel.usable());
        for server in in_turn.clone().skip(start).chain(in_turn.take(start)) {
            match server.channel.open().await {
                Ok(()) => return Ok(server.channel.clone()),
                Err(status) => {
                    self.connection_failed();
                    last_error = Some(status);
                }
            }
        }
        if usable < servers.len() {
            self.connection_failed();
        }
        match (wait_for_ready, servers.first(), last_error) {
            (true, Some(first), _) => Ok(first.channel.clone()),
            (false, _, Some(error)) => Err(error),
            (false, Some(first), None) => {
                first.channel.open().await.map(|()| first.channel.clone())
            }
            (_, None, _) => Err(Status::invalid_argument(
                "balance_list was given no endpoint",
            )),
        }
    }

    /// Notes that a server's connection failed: a name is resolved again.
    fn connection_failed(&self) {
        #[cfg(feature = "sockets")]
        if let Some(name) = &self.name {
            name.stale.set(true);
        }
    }

    /// Resolves the name if it never was, or if a connection failed and the last resolution
    /// is [`MIN_RERESOLUTION_INTERVAL`] old; the servers become the new addresses, those
    /// already there keeping their channels (and connections).
    ///
    /// Errors: the first resolution fails, or the name resolves to no address (`Unavailable`);
    /// a later failure keeps the servers there are.
    #[cfg(feature = "sockets")]
    async fn refresh(&self, name: &Name) -> Result<(), Status> {
        let due = match name.resolved_at.get() {
            None => true,
            Some(at) => name.stale.get() && at.elapsed() >= MIN_RERESOLUTION_INTERVAL,
        };
        if !due {
            return Ok(());
        }
        let resolved = super::tcp::resolve(&name.host).await;
        let first = name.resolved_at.get().is_none();
        let addrs = match resolved {
            Ok(addrs) if !addrs.is_empty() => addrs,
            Ok(_) if first => {
                return Err(Status::unavailable(format!(
                    "name {:?} resolved to no address",
                    name.host
                )));
            }
            Err(status) if first => return Err(status),
            _ => {
                name.resolved_at.set(Some(Instant::now()));
                return Ok(());
            }
        };
        name.resolved_at.set(Some(Instant::now()));
        name.stale.set(false);
        let old = self.servers.borrow().clone();
        let mut servers = Vec::with_capacity(addrs.len());
        for addr in addrs {
            if servers.iter().any(|s: &Server| s.addr == Some(addr)) {
                continue;
            }
            let channel = match old.iter().find(|s| s.addr == Some(addr)) {
                Some(server) => server.channel.clone(),
                None => name.endpoint.address_channel(addr),
            };
            servers.push(Server {
                channel,
                addr: Some(addr),
            });
        }
        *self.servers.borrow_mut() = servers.into();
        Ok(())
    }
}
