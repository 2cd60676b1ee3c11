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
//!
//! With client-side health checking (gRFC A17: [`Endpoint::health_check`] and the service
//! config's `healthCheckConfig`), a server also takes calls only once its health service has
//! said SERVING: calls wait while no server has answered yet, and fail with `Unavailable`
//! when every server that can be reached is not serving (wait-for-ready calls wait on).

use std::cell::{Cell, RefCell};
use std::future::Future;
#[cfg(feature = "sockets")]
use std::net::IpAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};
#[cfg(feature = "sockets")]
use std::time::{Duration, Instant};

use super::{Channel, Endpoint};
use crate::status::Status;

/// The least time between two resolutions of a name (grpc-go's `minDNSResRate`).
#[cfg(feature = "sockets")]
pub(super) const MIN_RERESOLUTION_INTERVAL: Duration = Duration::from_secs(30);

/// What client-side health checking has said of a server (gRFC A17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "health"), allow(dead_code))]
pub(crate) enum Health {
    /// No answer yet (A17: the subchannel stays CONNECTING).
    Pending,
    /// SERVING, or the server has no health service (A17: UNIMPLEMENTED disables checking).
    Serving,
    /// Anything else, or the health call failed.
    NotServing,
}

/// The health checking of one server: started by [`StartHealthCheck`], stopped when dropped.
pub(crate) trait ServerHealth {
    /// The latest answer.
    fn health(&self) -> Health;
}

/// Starts the health checking of `channel`'s server for the service `name` (`""`: the
/// server's overall health), calling [`Changes::notify`] on `changes` at each new answer.
/// Called inside the reactor (it spawns the watch).
pub(crate) type StartHealthCheck = fn(&Channel, &str, Rc<Changes>) -> Box<dyn ServerHealth>;

/// A count of changes that tasks can wait on (a new health answer, here).
#[derive(Default)]
pub(crate) struct Changes {
    version: Cell<u64>,
    waiting: RefCell<Vec<Waker>>,
}

impl Changes {
    /// Counts a change and wakes the waiting tasks.
    #[cfg_attr(not(feature = "health"), allow(dead_code))]
    pub(crate) fn notify(&self) {
        self.version.set(self.version.get().wrapping_add(1));
        for waker in self.waiting.take() {
            waker.wake();
        }
    }

    /// Ends once a change after `seen` (a [`Changes::version`]) has been counted.
    fn changed_since(&self, seen: u64) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.version.get() != seen {
                return Poll::Ready(());
            }
            self.waiting.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
    }

    fn version(&self) -> u64 {
        self.version.get()
    }
}

/// The client-side health checking of a balancer's servers.
struct HealthChecking {
    start: StartHealthCheck,
    /// `healthCheckConfig.serviceName`.
    service: String,
    changes: Rc<Changes>,
}

/// One server of the set.
struct Server {
    channel: Channel,
    /// Its health checking, once started (by the first pick that sees it).
    health: RefCell<Option<Box<dyn ServerHealth>>>,
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
    /// Client-side health checking, if on.
    health: Option<HealthChecking>,
}

impl Server {
    fn new(channel: Channel) -> Server {
        Server {
            channel,
            health: RefCell::new(None),
            #[cfg(feature = "sockets")]
            addr: None,
        }
    }

    /// What health checking last said (`Serving` without it).
    fn health(&self) -> Health {
        self.health
            .borrow()
            .as_ref()
            .map_or(Health::Serving, |h| h.health())
    }

    /// True if it may take a call now: its connection is not in backoff, and it is serving.
    fn ready(&self) -> bool {
        self.channel.usable() && self.health() == Health::Serving
    }
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
    /// `round_robin` over `endpoints`' channels (made lazily), health-checked as the first
    /// endpoint says.
    pub(super) fn list(endpoints: &[Endpoint]) -> Balancer {
        let servers = endpoints
            .iter()
            .map(|endpoint| Server::new(endpoint.connect_lazy()))
            .collect();
        Balancer {
            servers: RefCell::new(servers),
            picks: Cell::new(0),
            #[cfg(feature = "sockets")]
            name: None,
            health: endpoints.first().and_then(health_checking),
        }
    }

    /// `round_robin` over the addresses `host` resolves to, each address's channel made from
    /// `endpoint`; the name is resolved by the first call.
    #[cfg(feature = "sockets")]
    pub(super) fn resolving(endpoint: Endpoint, host: String) -> Balancer {
        Balancer {
            servers: RefCell::new(Rc::new([])),
            picks: Cell::new(0),
            health: health_checking(&endpoint),
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
        if let Some(health) = &self.health {
            health.wait(&servers, wait_for_ready).await;
        }
        let usable = servers.iter().filter(|s| s.ready()).count();
        let pick = self.picks.get();
        self.picks.set(pick.wrapping_add(1));
        let mut last_error = None;
        let start = if usable == 0 { 0 } else { pick % usable };
        let in_turn = servers.iter().filter(|s| s.ready());
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
        // Servers that can be reached but are not serving (not a connection failure).
        if let Some(health) = &self.health
            && !wait_for_ready
            && last_error.is_none()
            && servers.iter().any(|s| s.channel.usable())
        {
            return Err(Status::unavailable(format!(
                "no server is SERVING {:?} (client-side health checking)",
                health.service
            )));
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
        let first = name.resolved_at.get().is_none();
        let resolved = super::tcp::resolve(&name.host).await;
        name.resolved_at.set(Some(Instant::now()));
        let addrs = match resolved {
            Ok(addrs) => addrs,
            Err(status) if first => return Err(status),
            Err(_) => return Ok(()),
        };
        name.stale.set(false);
        let old = self.servers.borrow().clone();
        let mut servers = Vec::with_capacity(addrs.len());
        for addr in addrs {
            if servers.iter().any(|s: &Server| s.addr == Some(addr)) {
                continue;
            }
            let server = match old.iter().find(|s| s.addr == Some(addr)) {
                Some(kept) => Server {
                    channel: kept.channel.clone(),
                    health: RefCell::new(kept.health.take()),
                    addr: Some(addr),
                },
                None => Server {
                    addr: Some(addr),
                    ..Server::new(name.endpoint.address_channel(addr))
                },
            };
            servers.push(server);
        }
        *self.servers.borrow_mut() = servers.into();
        Ok(())
    }
}

/// The endpoint's client-side health checking: on with a checker
/// ([`Endpoint::health_check`]) and a service config with `healthCheckConfig`.
fn health_checking(endpoint: &Endpoint) -> Option<HealthChecking> {
    let service = endpoint
        .service_config
        .as_ref()?
        .health_check_service_name
        .clone()?;
    Some(HealthChecking {
        start: endpoint.health_check?,
        service,
        changes: Rc::default(),
    })
}

impl HealthChecking {
    /// Starts the checking of the servers that have none yet, then waits while no server is
    /// ready and one that can be reached has not answered yet (or, for a wait-for-ready call,
    /// is not serving).
    async fn wait(&self, servers: &[Server], wait_for_ready: bool) {
        for server in servers {
            let mut health = server.health.borrow_mut();
            if health.is_none() {
                let started = (self.start)(&server.channel, &self.service, self.changes.clone());
                *health = Some(started);
            }
        }
        loop {
            let seen = self.changes.version();
            if servers.iter().any(Server::ready) {
                return;
            }
            let waiting = servers.iter().any(|s| {
                s.channel.usable()
                    && match s.health() {
                        Health::Pending => true,
                        Health::NotServing => wait_for_ready,
                        Health::Serving => false,
                    }
            });
            if !waiting {
                return;
            }
            self.changes.changed_since(seen).await;
        }
    }
}
