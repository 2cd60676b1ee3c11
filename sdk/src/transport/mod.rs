//! [`Channel`]: the way to one gRPC server, shared by every call made on it.
//!
//! Three transports, picked with [`Endpoint::transport`]:
//!
//! | [`Transport`] | wire | runtimes that carry it |
//! |---|---|---|
//! | `Sockets` (default) | HTTP/2 (h2c, prior knowledge) over `wasi:sockets` TCP for `http://`; HTTP/2 over TLS in the guest for `https://` (feature `tls`) | `wasmtime run -S inherit-network -S allow-ip-name-lookup`, `grpc-wasi-harness run --allow`, `jco run`, Spin with `tcp://IP:PORT` `allowed_outbound_hosts`, wasmCloud (non-loopback hosts) |
//! | `WasiHttp` | gRPC through `wasi:http/outgoing-handler`; the host's HTTP/2 (TLS for `https://`) | hosts whose wasi:http speaks HTTP/2: `grpc-wasi-harness --allow-http`, Spin (4.1 measured; h2c with `SPIN_OUTBOUND_H2C_PRIOR_KNOWLEDGE`), wasmCloud `wash dev`; not the stock `wasmtime run`/`serve` or jco (HTTP/1.1 only) |
//! | `GrpcWeb` | gRPC-Web (`application/grpc-web+proto`) through `wasi:http` | wasi:http hosts that speak HTTP/1.1 to the server: `wasmtime run -S http`, `wasmtime serve`, jco, the harness with `--http1`, Spin (wasmCloud sends it over HTTP/2) |

#[cfg(not(any(feature = "sockets", feature = "wasi-http")))]
compile_error!("grpc-wasi needs a transport: enable the `sockets` or the `wasi-http` feature");

pub(crate) mod balancer;
mod bursts;
#[cfg(feature = "sockets")]
mod coalesce;
#[cfg(feature = "sockets")]
mod frames;
#[cfg(feature = "sockets")]
mod h2;
#[cfg(feature = "sockets")]
mod keepalive;
#[cfg(feature = "sockets")]
mod reconnect;
#[cfg(feature = "sockets")]
mod stream;
mod target;
#[cfg(feature = "sockets")]
mod tcp;
#[cfg(all(feature = "sockets", feature = "wasip3"))]
mod tcp_p3;
#[cfg(feature = "tls-no-roots")]
mod tls;
#[cfg(feature = "wasi-http")]
mod wasi_http;
#[cfg(feature = "wasip3")]
mod wasi_http_p3;
#[cfg(feature = "wasi-http")]
mod wasi_http_shared;
mod wasi_io;

use std::cell::Cell;
use std::fmt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue, Uri};

#[cfg(feature = "tls-no-roots")]
pub use tls::{Certificate, ClientTlsConfig, Identity};

#[cfg(feature = "sockets")]
use crate::service_config::LoadBalancingPolicy;
use crate::service_config::{MethodConfig, ServiceConfig, Throttle};
use crate::status::Status;

/// A stream of encoded Length-Prefixed-Messages, or the error that stopped producing them.
pub(crate) type MessageStream = Pin<Box<dyn Stream<Item = Result<Bytes, Status>>>>;

/// The request body of a call.
pub(crate) enum RequestBody {
    /// One message, known up front (unary and server-streaming calls).
    Once(Bytes),
    /// Messages sent as they are produced (client- and bidirectional-streaming calls).
    Stream(MessageStream),
}

/// The body of a response: DATA, then trailers.
pub(crate) enum ResponseBody {
    #[cfg(feature = "sockets")]
    H2(h2::H2Body),
    #[cfg(feature = "wasi-http")]
    WasiHttp {
        body: wasi_http::WasiHttpBody,
        web: bool,
    },
    /// WASI 0.3's `wasi:http` (inside [`crate::wasip3::run`]).
    #[cfg(feature = "wasip3")]
    WasiHttp3 {
        body: wasi_http_p3::WasiHttpBody,
        web: bool,
    },
}

impl ResponseBody {
    /// The next chunk of the body, `None` at its end.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        match self {
            #[cfg(feature = "sockets")]
            ResponseBody::H2(body) => body.poll_data(cx),
            #[cfg(feature = "wasi-http")]
            ResponseBody::WasiHttp { body, .. } => body.poll_data(cx),
            #[cfg(feature = "wasip3")]
            ResponseBody::WasiHttp3 { body, .. } => body.poll_data(cx),
        }
    }

    /// The trailers (after the body ended); `None` if the server sent none.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        match self {
            #[cfg(feature = "sockets")]
            ResponseBody::H2(body) => body.poll_trailers(cx),
            #[cfg(feature = "wasi-http")]
            ResponseBody::WasiHttp { body, .. } => body.poll_trailers(cx),
            #[cfg(feature = "wasip3")]
            ResponseBody::WasiHttp3 { body, .. } => body.poll_trailers(cx),
        }
    }

    /// True for gRPC-Web, whose status comes in a trailer frame at the end of the body.
    pub(crate) fn is_grpc_web(&self) -> bool {
        match self {
            #[cfg(feature = "wasi-http")]
            ResponseBody::WasiHttp { web, .. } => *web,
            #[cfg(feature = "wasip3")]
            ResponseBody::WasiHttp3 { web, .. } => *web,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// How long a keepalive PING waits for an answer unless set: 20 s, tonic's default.
const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The `user-agent` sent with every call.
const USER_AGENT: &str = concat!("grpc-wasi/", env!("CARGO_PKG_VERSION"));

/// How a [`Channel`] reaches its server. Which runtimes carry which: the crate docs and
/// the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// HTTP/2 over a `wasi:sockets` TCP connection the guest opens: one connection per
    /// channel, calls multiplexed on it. `http://` URIs speak HTTP/2 with prior knowledge
    /// (h2c); `https://` URIs make a TLS connection in the guest first (feature `tls`, see
    /// `Endpoint::tls_config`).
    #[default]
    Sockets,
    /// gRPC over `wasi:http/outgoing-handler`: each call is one HTTP request, the host owns
    /// the connections (and TLS for `https://`). Full duplex when the host speaks HTTP/2.
    WasiHttp,
    /// gRPC-Web over `wasi:http/outgoing-handler`, for hosts that speak only HTTP/1.1. HTTP/1.1
    /// cannot be full duplex: a bidirectional call's responses arrive only as the host
    /// forwards them, typically after the request body ended.
    GrpcWeb,
}

impl Transport {
    /// The transport's name, as [`Transport::from_str`](std::str::FromStr) reads it:
    /// `sockets`, `wasi-http` or `grpc-web`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Sockets => "sockets",
            Transport::WasiHttp => "wasi-http",
            Transport::GrpcWeb => "grpc-web",
        }
    }
}

/// Reads a transport's [name](Transport::name) (`sockets`, `wasi-http`, `grpc-web`), as a
/// command line or an environment variable gives it.
///
/// Errors: `InvalidArgument` naming the three, for any other name.
impl std::str::FromStr for Transport {
    type Err = Status;

    fn from_str(name: &str) -> Result<Transport, Status> {
        [Transport::Sockets, Transport::WasiHttp, Transport::GrpcWeb]
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                Status::invalid_argument(format!(
                    "unknown transport {name:?}: use sockets, wasi-http or grpc-web"
                ))
            })
    }
}

/// Where and how to connect: made by [`Endpoint::new`] (anything that converts: `&str`,
/// `String`, [`Uri`]), [`Endpoint::from_static`], [`Endpoint::from_shared`] or their
/// [`Channel`] twins; [`Endpoint::connect`] opens the [`Channel`], as tonic's `Endpoint`.
///
/// ```
/// use grpc_wasi::transport::Endpoint;
/// let endpoint = Endpoint::new("http://[::1]:10000")?;
/// assert!(Endpoint::new("ftp://[::1]:10000").is_err());
/// # Ok::<(), grpc_wasi::Status>(())
/// ```
#[derive(Clone, Debug)]
pub struct Endpoint {
    uri: Result<Uri, Status>,
    transport: Transport,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    keep_alive_interval: Option<Duration>,
    keep_alive_timeout: Duration,
    keep_alive_while_idle: bool,
    service_config: Option<Rc<ServiceConfig>>,
    /// Client-side health checking's start (gRFC A17), if on.
    health_check: Option<balancer::StartHealthCheck>,
    #[cfg(feature = "tls-no-roots")]
    tls: Option<tls::TlsConnector>,
}

impl Endpoint {
    /// An endpoint for `dst`: a URI as `&str`, `String`, [`Bytes`] or [`Uri`], or an
    /// `Endpoint` (as tonic's `Endpoint::new`, which generated clients' `connect` calls).
    ///
    /// Errors: `InvalidArgument` if `dst` does not parse or is not `http(s)://HOST[:PORT]`.
    pub fn new<D>(dst: D) -> Result<Endpoint, Status>
    where
        D: TryInto<Endpoint>,
        D::Error: Into<Status>,
    {
        dst.try_into().map_err(Into::into)
    }

    /// An endpoint for a URI known when the guest is written, such as
    /// `"http://127.0.0.1:50051"` or `"http://[::1]:50051"`, or a gRPC target in the `dns`
    /// scheme (gRPC's naming document): `"dns:///backends.example:50051"` is
    /// `http://backends.example:50051` (port 443 if none; plain text: for TLS give the
    /// `https://` URI). Which of a name's addresses calls go to is the service config's
    /// load-balancing policy: `pick_first` (the default: the first that connects) or
    /// `round_robin` (every address, see [`Endpoint::service_config`]).
    ///
    /// Never panics (tonic's does): an invalid URI makes [`Endpoint::connect`] fail, and a
    /// channel from [`Endpoint::connect_lazy`] fail every call, with `InvalidArgument`.
    pub fn from_static(uri: &'static str) -> Endpoint {
        Endpoint::with_uri(parse_str(uri))
    }

    /// An endpoint for a URI (or `dns:` target, as [`Endpoint::from_static`]) given at run
    /// time.
    ///
    /// Errors: `InvalidArgument` if `uri` does not parse or is not `http(s)://HOST[:PORT]` or
    /// `dns:[///]HOST[:PORT]`; `Unimplemented` for a `dns://SERVER/…` target (a DNS server
    /// of its own: wasi:sockets asks the host's resolver).
    pub fn from_shared(uri: impl Into<String>) -> Result<Endpoint, Status> {
        let uri = parse_str(&uri.into())?;
        Ok(Endpoint::with_uri(Ok(uri)))
    }

    /// An endpoint for `uri` (or the error [`Endpoint::connect`] will return), with the
    /// default transport and no timeouts.
    fn with_uri(uri: Result<Uri, Status>) -> Endpoint {
        Endpoint {
            uri,
            transport: Transport::default(),
            timeout: None,
            connect_timeout: None,
            keep_alive_interval: None,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            keep_alive_while_idle: false,
            service_config: None,
            health_check: None,
            #[cfg(feature = "tls-no-roots")]
            tls: None,
        }
    }

    /// The URI this endpoint connects to, if it is valid.
    pub fn uri(&self) -> Option<&Uri> {
        self.uri.as_ref().ok()
    }

    /// Sets the deadline of every call on the channel to `timeout` after the call starts
    /// (default: none). A call whose [`Request::set_timeout`](crate::Request::set_timeout) is
    /// shorter keeps its own.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Bounds the opening of each connection of the [`Transport::Sockets`] transport (name
    /// lookup, TCP connect, TLS handshake for `https://`, and the HTTP/2 handshake up to the
    /// server's SETTINGS, by [`Endpoint::connect`] or, after the connection closed, by a call)
    /// to `timeout` (default 20 s, the `MIN_CONNECT_TIMEOUT` of gRPC's connection-backoff
    /// document, so a server that does not answer, or accepts TCP but never speaks HTTP/2,
    /// fails the attempt then). As tonic's `Endpoint::connect_timeout`. A connection not open
    /// in time fails the connect, or the call, with `Unavailable` ("no connection to HOST:PORT
    /// within the connect timeout"), and the next attempt waits for the connection backoff
    /// (1 s, then ×1.6 up to 120 s, ±20 %; see [`Request::set_wait_for_ready`]). A call is
    /// also bounded by its deadline ([`Request::set_timeout`](crate::Request::set_timeout),
    /// [`Endpoint::timeout`]). The `wasi:http` transports leave connecting to the host.
    ///
    /// [`Request::set_wait_for_ready`]: crate::Request::set_wait_for_ready
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sends an HTTP/2 PING on each [`Transport::Sockets`] connection after `interval` in
    /// which nothing came from the server, while calls are open (see
    /// [`Endpoint::keep_alive_while_idle`]); if nothing comes back within
    /// [`Endpoint::keep_alive_timeout`], the connection is closed, its calls fail with
    /// `Unavailable` ("the server did not answer a keepalive PING"), and the next call opens a
    /// new one. Default: no keepalive. The PING is HTTP/2's (RFC 9113 §6.7); anything the
    /// server sends counts as its answer. As tonic's `Endpoint::http2_keep_alive_interval` and
    /// gRPC's client-side keepalive (gRFC A8; `GRPC_ARG_KEEPALIVE_TIME_MS` in gRPC's keepalive
    /// guide). Servers limit how often they accept PINGs (grpc-go by default once every 5
    /// minutes while it sends nothing, then closes the connection with ENHANCE_YOUR_CALM):
    /// keep `interval` above the server's policy. Keepalive runs while the
    /// guest's reactor does (inside [`block_on`](crate::block_on) or a `wstd` main).
    pub fn http2_keep_alive_interval(mut self, interval: Duration) -> Self {
        self.keep_alive_interval = Some(interval);
        self
    }

    /// How long a keepalive PING waits for anything from the server before the connection is
    /// closed (default 20 s, as tonic's; gRFC A8, `GRPC_ARG_KEEPALIVE_TIMEOUT_MS`). Has no effect without
    /// [`Endpoint::http2_keep_alive_interval`].
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.keep_alive_timeout = timeout;
        self
    }

    /// Whether keepalive PINGs are also sent while no call is open (default `false`, as
    /// tonic's; gRFC A8, `GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS`, which servers must permit
    /// too, or they count these PINGs against the client). Has no effect without
    /// [`Endpoint::http2_keep_alive_interval`].
    pub fn keep_alive_while_idle(mut self, while_idle: bool) -> Self {
        self.keep_alive_while_idle = while_idle;
        self
    }

    /// Sets how [`Transport::Sockets`] makes the TLS connection to an `https://` URI (an
    /// `https://` endpoint without this uses `ClientTlsConfig::new()`: Mozilla's roots, the
    /// URI's host as the name), as tonic's `Endpoint::tls_config`. `http://` URIs stay plain
    /// text. The TLS handshake counts toward [`Endpoint::connect_timeout`].
    ///
    /// Errors: `InvalidArgument` when the configuration cannot be used: PEM without a
    /// certificate or key, a certificate or key rustls rejects, a key that does not match its
    /// certificate, an invalid domain name.
    #[cfg(feature = "tls-no-roots")]
    pub fn tls_config(mut self, tls_config: ClientTlsConfig) -> Result<Self, Status> {
        self.tls = Some(tls_config.connector()?);
        Ok(self)
    }

    /// Sets the channel's service config, gRPC's JSON form (see [`ServiceConfig`]): per-method
    /// timeouts, message size limits, retry and hedging policies (gRFC A6), retry throttling,
    /// the load-balancing policy. As grpc-go's `WithDefaultServiceConfig`.
    ///
    /// Load balancing applies to [`Transport::Sockets`] and a host that is a name:
    /// `pick_first` connects to the name's addresses in order (shuffled with
    /// `shuffleAddressList`) and keeps the first that accepts; `round_robin` resolves the name
    /// on the first call, keeps one connection per address and sends each call on the next
    /// ready one (an address whose connection failed is left out until its connection backoff
    /// has passed; a failure makes the next call resolve the name again, at most every 30 s).
    /// Over the `wasi:http` transports the host owns the connections, and the policy is not
    /// used.
    ///
    /// Errors: those of [`ServiceConfig::from_json`]: `InvalidArgument` naming a malformed
    /// field, `Unimplemented` for a load-balancing policy this build does not have (it has
    /// `pick_first` and `round_robin`).
    pub fn service_config(mut self, json: &str) -> Result<Self, Status> {
        self.service_config = Some(Rc::new(ServiceConfig::from_json(json)?));
        Ok(self)
    }

    /// Turns on client-side health checking with `start` (what `grpc_wasi::health`'s
    /// `Endpoint::health_check` passes).
    #[cfg_attr(not(feature = "health"), allow(dead_code))]
    pub(crate) fn with_health_check(mut self, start: balancer::StartHealthCheck) -> Self {
        self.health_check = Some(start);
        self
    }

    /// Picks the transport (default [`Transport::Sockets`]).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Opens the channel. For [`Transport::Sockets`]: resolves the host, opens the TCP
    /// connection and performs the HTTP/2 handshake (opened again later if the server closes
    /// it: see [`Channel`]). The `wasi:http` transports open nothing up front (the host
    /// connects on the first call).
    ///
    /// Errors: those of [`Endpoint::connect_lazy`]; `Unavailable` when the name does not
    /// resolve, the server cannot be reached, or not within [`Endpoint::connect_timeout`];
    /// `PermissionDenied` (naming the address) when the host did not grant the guest access
    /// to it.
    pub async fn connect(&self) -> Result<Channel, Status> {
        crate::reactor::check_reactor()?;
        let channel = self.channel()?;
        #[cfg(feature = "sockets")]
        if let Connection::H2(connection) = &channel.inner.connection {
            connection.ready(false).await?;
        }
        Ok(channel)
    }

    /// The channel, without connecting and without waiting, as tonic's
    /// `Endpoint::connect_lazy`: for [`Transport::Sockets`], the first call opens the
    /// connection, and fails with the errors of [`Endpoint::connect`] if it cannot (the
    /// `wasi:http` transports always connect on the first call).
    ///
    /// Never fails itself: an endpoint [`Endpoint::connect`] would refuse up front (see
    /// [`Endpoint::channel`]) gives a channel whose every call fails with that status.
    pub fn connect_lazy(&self) -> Channel {
        self.channel()
            .unwrap_or_else(|status| self.failed_channel(status))
    }

    /// The channel, without connecting, or why this endpoint cannot make one.
    ///
    /// Errors: `InvalidArgument` for a URI that is not `http(s)://HOST[:PORT]` (default ports
    /// 80 and 443), for a host that is not a valid TLS server name (`https://`), and for an
    /// `Endpoint::tls_config` on a `wasi:http` transport (the host makes TLS connections
    /// there); `Unimplemented` for a transport this build does not include, and for
    /// `https://` on the sockets transport without the `tls` feature (see the crate
    /// features).
    pub fn channel(&self) -> Result<Channel, Status> {
        self.channel_to(None)
    }

    /// The channel to `addr` (one address of the URI's host, under `round_robin`), keeping
    /// the host as the `:authority` and TLS server name.
    #[cfg(feature = "sockets")]
    fn address_channel(&self, addr: std::net::IpAddr) -> Channel {
        self.channel_to(Some(addr))
            .unwrap_or_else(|status| self.failed_channel(status))
    }

    /// A channel whose every call fails with `status` (an endpoint that cannot make one).
    fn failed_channel(&self, status: Status) -> Channel {
        Channel {
            inner: Rc::new(Inner::new(
                None,
                self.transport,
                Connection::Failed(status),
                self,
            )),
        }
    }

    /// The channel to the URI's host, or to `addr`, one of its addresses.
    fn channel_to(&self, addr: Option<std::net::IpAddr>) -> Result<Channel, Status> {
        #[cfg(feature = "log")]
        crate::log::init_from_env();
        #[cfg(not(feature = "sockets"))]
        let _ = addr;
        let uri = self.uri.clone()?;
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        #[cfg(feature = "tls-no-roots")]
        if self.tls.is_some() && self.transport != Transport::Sockets {
            return Err(Status::invalid_argument(format!(
                "Endpoint::tls_config is for Transport::Sockets; over Transport::{:?} the \
                 host makes the TLS connection to {uri}, with its own roots",
                self.transport
            )));
        }
        #[cfg(all(feature = "sockets", not(feature = "tls-no-roots")))]
        if https && self.transport == Transport::Sockets {
            return Err(Status::unimplemented(format!(
                "{uri}: https (TLS) on the sockets transport needs grpc-wasi's `tls` feature \
                 (or a wasi:http transport, where the host makes the TLS connection)"
            )));
        }
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = Authority::try_from(format!("{host}:{port}").as_str())
            .map_err(|e| Status::invalid_argument(format!("invalid authority: {e}")))?;
        let connection = match self.transport {
            #[cfg(feature = "sockets")]
            Transport::Sockets => {
                let keepalive = self
                    .keep_alive_interval
                    .map(|interval| keepalive::KeepAlive {
                        interval,
                        timeout: self.keep_alive_timeout,
                        while_idle: self.keep_alive_while_idle,
                    });
                let connect_timeout = self.connect_timeout;
                #[cfg(feature = "tls-no-roots")]
                let tls = match (https, &self.tls) {
                    (false, _) => None,
                    (true, Some(connector)) => Some(connector.clone().target(&host)?),
                    (true, None) => Some(ClientTlsConfig::new().connector()?.target(&host)?),
                };
                let policy = self
                    .service_config
                    .as_ref()
                    .map(|config| config.load_balancing)
                    .unwrap_or_default();
                let is_name = tcp::ip_literal(&host).is_none();
                if policy == LoadBalancingPolicy::RoundRobin && is_name && addr.is_none() {
                    let balancer = balancer::Balancer::resolving(self.clone(), host);
                    return Ok(Channel {
                        inner: Rc::new(Inner::new(
                            Some(authority),
                            self.transport,
                            Connection::Balanced(Box::new(balancer)),
                            self,
                        )),
                    });
                }
                let shuffle = matches!(
                    policy,
                    LoadBalancingPolicy::PickFirst {
                        shuffle_address_list: true
                    }
                );
                let connect_to = addr.map_or_else(|| host.clone(), |addr| addr.to_string());
                let connection =
                    reconnect::Reconnect::new(connect_to, port, connect_timeout, keepalive)
                        .shuffled(shuffle);
                #[cfg(feature = "tls-no-roots")]
                let connection = match tls {
                    Some(tls) => connection.with_tls(tls),
                    None => connection,
                };
                Connection::H2(Box::new(connection))
            }
            #[cfg(feature = "wasi-http")]
            Transport::WasiHttp | Transport::GrpcWeb => Connection::WasiHttp {
                https,
                web: self.transport == Transport::GrpcWeb,
            },
            #[allow(unreachable_patterns)]
            missing => return Err(missing_feature(missing)),
        };
        Ok(Channel {
            inner: Rc::new(Inner::new(
                Some(authority),
                self.transport,
                connection,
                self,
            )),
        })
    }
}

impl TryFrom<&str> for Endpoint {
    type Error = Status;
    /// Errors: `InvalidArgument`, as [`Endpoint::from_shared`].
    fn try_from(uri: &str) -> Result<Self, Status> {
        Endpoint::from_shared(uri)
    }
}

impl TryFrom<String> for Endpoint {
    type Error = Status;
    /// Errors: `InvalidArgument`, as [`Endpoint::from_shared`].
    fn try_from(uri: String) -> Result<Self, Status> {
        Endpoint::from_shared(uri)
    }
}

impl TryFrom<&String> for Endpoint {
    type Error = Status;
    /// Errors: `InvalidArgument`, as [`Endpoint::from_shared`].
    fn try_from(uri: &String) -> Result<Self, Status> {
        Endpoint::from_shared(uri.as_str())
    }
}

impl TryFrom<Bytes> for Endpoint {
    type Error = Status;
    /// Errors: `InvalidArgument` if `uri` is not UTF-8, else as [`Endpoint::from_shared`].
    fn try_from(uri: Bytes) -> Result<Self, Status> {
        let uri = std::str::from_utf8(&uri)
            .map_err(|e| Status::invalid_argument(format!("server URI is not UTF-8: {e}")))?;
        Endpoint::from_shared(uri)
    }
}

impl TryFrom<Uri> for Endpoint {
    type Error = Status;
    /// Errors: `InvalidArgument` if `uri` is not `http(s)://HOST[:PORT]`.
    fn try_from(uri: Uri) -> Result<Self, Status> {
        Ok(Endpoint::with_uri(Ok(parse_uri(uri)?)))
    }
}

/// True if `status` says the server never processed the call's stream, so sending it again
/// cannot repeat its effects (gRFC A6, "Transparent Retry"): the server refused it with
/// RST_STREAM `REFUSED_STREAM` (RFC 9113 §8.7), or a graceful GOAWAY (`NO_ERROR`) came with a
/// last stream ID below it.
pub(crate) fn never_processed(status: &Status) -> bool {
    #[cfg(feature = "sockets")]
    if let Some(e) = std::error::Error::source(status).and_then(|e| e.downcast_ref::<::h2::Error>())
    {
        return e.is_remote()
            && match e.reason() {
                Some(::h2::Reason::REFUSED_STREAM) => !e.is_go_away(),
                Some(::h2::Reason::NO_ERROR) => e.is_go_away(),
                _ => false,
            };
    }
    let _ = status;
    false
}

/// The error for a transport this build of grpc-wasi does not include.
#[allow(dead_code)]
fn missing_feature(transport: Transport) -> Status {
    let feature = match transport {
        Transport::Sockets => "sockets",
        Transport::WasiHttp | Transport::GrpcWeb => "wasi-http",
    };
    Status::unimplemented(format!(
        "Transport::{transport:?} is not in this build: enable grpc-wasi's `{feature}` feature"
    ))
}

/// Parses `uri` and checks it names an `http://` or `https://` server.
fn parse_str(uri: &str) -> Result<Uri, Status> {
    if let Some(http) = target::from_dns(uri) {
        return parse_str(&http?);
    }
    let parsed = Uri::try_from(uri)
        .map_err(|e| Status::invalid_argument(format!("invalid server URI {uri:?}: {e}")))?;
    parse_uri(parsed)
}

fn parse_uri(uri: Uri) -> Result<Uri, Status> {
    let invalid = |why: &str| Status::invalid_argument(format!("invalid server URI {uri}: {why}"));
    match uri.scheme() {
        Some(s) if *s == Scheme::HTTP || *s == Scheme::HTTPS => {}
        _ => {
            return Err(invalid(
                "expected http://HOST[:PORT] or https://HOST[:PORT]",
            ));
        }
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(uri),
        _ => Err(invalid("no host")),
    }
}

/// A way to one gRPC server, shared by every call made on it.
///
/// Over [`Transport::Sockets`] it is one HTTP/2 connection, concurrent calls multiplexed as
/// HTTP/2 streams, closed when the last clone and the last call on it are dropped. When the
/// server closes the connection (it restarts, or sends GOAWAY), the next call opens a new one
/// to the same address, as tonic's channel does. Calls in flight on the old connection fail
/// with `Unavailable` (after a GOAWAY, those the server had accepted run to their end), and a
/// call that cannot open the new one fails with the connect error. Failed attempts back off as
/// gRPC's connection-backoff document says (1 s, then ×1.6 up to 120 s, ±20 %): until the next
/// attempt, calls fail at once with the last connect error, and wait-for-ready calls
/// ([`Request::set_wait_for_ready`](crate::Request::set_wait_for_ready)) wait for it. Calls are
/// retried only under a service config's retry policy ([`Endpoint::service_config`]). Over the
/// `wasi:http` transports each call is a request the host sends on connections it manages.
/// Cheap to clone (clones share the connection). Not `Send`: guests are single-threaded.
///
/// ```no_run
/// # async fn f() -> Result<(), grpc_wasi::Status> {
/// use grpc_wasi::{Channel, Transport};
/// let sockets = Channel::from_static("http://127.0.0.1:50051").connect().await?;
/// let http = Channel::from_static("https://api.example.com")
///     .transport(Transport::WasiHttp)
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Channel {
    inner: Rc<Inner>,
}

struct Inner {
    /// `None` for a channel that failed at construction.
    authority: Option<Authority>,
    transport: Transport,
    connection: Connection,
    timeout: Option<Duration>,
    service_config: Option<Rc<ServiceConfig>>,
    /// The service config's retry throttling, if it has one.
    throttle: Option<Throttle>,
    /// The request bytes the channel's calls keep for retries.
    retry_kept: Rc<Cell<usize>>,
}

impl Inner {
    fn new(
        authority: Option<Authority>,
        transport: Transport,
        connection: Connection,
        endpoint: &Endpoint,
    ) -> Inner {
        let service_config = endpoint.service_config.clone();
        let throttle = service_config
            .as_ref()
            .and_then(|c| c.retry_throttling)
            .map(Throttle::new);
        Inner {
            authority,
            transport,
            connection,
            timeout: endpoint.timeout,
            service_config,
            throttle,
            retry_kept: Rc::default(),
        }
    }
}

enum Connection {
    #[cfg(feature = "sockets")]
    /// HTTP/2 over TCP (h2c), or over TLS in the guest.
    H2(Box<reconnect::Reconnect>),
    #[cfg(feature = "wasi-http")]
    WasiHttp {
        /// `https://`: the host makes the TLS connection.
        https: bool,
        /// gRPC-Web rather than gRPC.
        web: bool,
    },
    /// An endpoint [`Endpoint::connect_lazy`] could not make a channel of: every call fails
    /// with this status.
    Failed(Status),
    /// Several channels, calls spread over them round-robin ([`Channel::balance_list`], or
    /// `round_robin` over a name's addresses).
    Balanced(Box<balancer::Balancer>),
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("Channel");
        f.field("authority", &self.inner.authority)
            .field("transport", &self.inner.transport);
        match &self.inner.connection {
            Connection::Failed(status) => {
                f.field("failed", status);
            }
            Connection::Balanced(balancer) => {
                f.field("balanced", &balancer.channels());
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
        f.finish_non_exhaustive()
    }
}

impl Channel {
    /// An [`Endpoint`] for `uri`, such as `"http://127.0.0.1:50051"` or `"http://[::1]:50051"`:
    /// [`Endpoint::from_static`].
    pub fn from_static(uri: &'static str) -> Endpoint {
        Endpoint::from_static(uri)
    }

    /// An [`Endpoint`] for a URI given at run time: [`Endpoint::from_shared`].
    ///
    /// Errors: `InvalidArgument` if `uri` does not parse or is not `http(s)://HOST[:PORT]`.
    pub fn from_shared(uri: impl Into<String>) -> Result<Endpoint, Status> {
        Endpoint::from_shared(uri)
    }

    /// An [`Endpoint`] for a parsed URI (an invalid one fails as in [`Endpoint::from_static`]).
    pub fn builder(uri: Uri) -> Endpoint {
        Endpoint::with_uri(parse_uri(uri))
    }

    /// One channel over several servers, as tonic's `Channel::balance_list`: calls are spread
    /// round-robin over the servers that can be reached (gRPC's `round_robin` policy: one
    /// connection each, opened lazily; a server whose connection fails is left out until its
    /// connection backoff has passed, then tried again). The channel's deadline and service
    /// config are the first endpoint's; each server keeps its own transport, TLS and
    /// keepalive settings.
    ///
    /// Never fails itself: with no endpoint, every call fails with `InvalidArgument`; an
    /// endpoint that cannot make a channel (an invalid URI, say) is never picked, unless every
    /// one is unusable, when a call fails with the first one's error.
    pub fn balance_list(list: impl IntoIterator<Item = Endpoint>) -> Channel {
        let endpoints: Vec<Endpoint> = list.into_iter().collect();
        let Some(first) = endpoints.first() else {
            let none = Status::invalid_argument("Channel::balance_list was given no endpoint");
            return Endpoint::from_static("http://balance-list.invalid").failed_channel(none);
        };
        let balancer = balancer::Balancer::list(&endpoints);
        Channel {
            inner: Rc::new(Inner::new(
                None,
                first.transport,
                Connection::Balanced(Box::new(balancer)),
                first,
            )),
        }
    }

    /// False while this channel cannot take a call at once: its connection is in backoff
    /// after a failed attempt, or it failed at construction.
    fn usable(&self) -> bool {
        match &self.inner.connection {
            #[cfg(feature = "sockets")]
            Connection::H2(connection) => !connection.in_backoff(),
            Connection::Failed(_) => false,
            _ => true,
        }
    }

    /// Opens the sockets transport's connection if it is not open (the `wasi:http` transports
    /// have nothing to open).
    ///
    /// Errors: those of [`Endpoint::connect`].
    async fn open(&self) -> Result<(), Status> {
        match &self.inner.connection {
            #[cfg(feature = "sockets")]
            Connection::H2(connection) => connection.ready(false).await.map(|_| ()),
            Connection::Failed(status) => Err(status.clone()),
            _ => Ok(()),
        }
    }

    /// The deadline every call on this channel gets, if any ([`Endpoint::timeout`]).
    pub(crate) fn default_timeout(&self) -> Option<Duration> {
        self.inner.timeout
    }

    /// The service config's method config for `path`, if any.
    pub(crate) fn method_config(&self, path: &str) -> Option<&MethodConfig> {
        self.inner.service_config.as_ref()?.method_config(path)
    }

    /// The channel's retry throttling, if its service config sets one.
    pub(crate) fn throttle(&self) -> Option<&Throttle> {
        self.inner.throttle.as_ref()
    }

    /// The count of request bytes the channel's calls keep for retries.
    pub(crate) fn retry_kept(&self) -> Rc<Cell<usize>> {
        self.inner.retry_kept.clone()
    }

    /// Sends one call: the request headers (`metadata` plus the protocol headers of
    /// PROTOCOL-HTTP2 "Requests", or of PROTOCOL-WEB for gRPC-Web) and `body`, and returns the
    /// response head and body.
    pub(crate) async fn call(
        &self,
        path: &PathAndQuery,
        metadata: HeaderMap,
        body: RequestBody,
        timeout: Option<Duration>,
        wait_for_ready: bool,
    ) -> Result<(http::response::Parts, ResponseBody), Status> {
        if let Connection::Balanced(balancer) = &self.inner.connection {
            let channel = balancer.pick(wait_for_ready).await?;
            let call = channel.call(path, metadata, body, timeout, wait_for_ready);
            // Boxed: the call of a channel inside this one (never itself balanced).
            return Box::pin(call).await;
        }
        let mut headers = metadata;
        headers.insert("user-agent", HeaderValue::from_static(USER_AGENT));
        let authority = match (&self.inner.connection, &self.inner.authority) {
            (Connection::Failed(status), _) => return Err(status.clone()),
            (_, Some(authority)) => authority,
            (_, None) => return Err(Status::internal("a channel without an authority")),
        };
        match &self.inner.connection {
            Connection::Failed(status) => Err(status.clone()),
            Connection::Balanced(_) => Err(Status::internal("a balanced channel is not called")),
            #[cfg(feature = "sockets")]
            Connection::H2(connection) => {
                // The caller's deadline bounds the call; HTTP/2 has no per-request timeout.
                let _ = timeout;
                headers.insert("content-type", HeaderValue::from_static("application/grpc"));
                headers.insert("te", HeaderValue::from_static("trailers"));
                let uri = Uri::builder()
                    .scheme(connection.scheme())
                    .authority(authority.clone())
                    .path_and_query(path.clone())
                    .build()
                    .map_err(|e| Status::internal(format!("invalid method path {path}: {e}")))?;
                let mut request = http::Request::new(());
                *request.method_mut() = http::Method::POST;
                *request.uri_mut() = uri;
                *request.headers_mut() = headers;
                let ready = connection.ready(wait_for_ready).await?;
                let (parts, body) = h2::call(ready, request, body).await?;
                Ok((parts, ResponseBody::H2(body)))
            }
            #[cfg(feature = "wasi-http")]
            Connection::WasiHttp { https, web } => {
                // The host owns the connections: there is nothing to wait for here.
                let _ = wait_for_ready;
                if *web {
                    let content_type =
                        HeaderValue::from_static(crate::codec::grpc_web::CONTENT_TYPE);
                    headers.insert("content-type", content_type.clone());
                    headers.insert("accept", content_type);
                    headers.insert("x-grpc-web", HeaderValue::from_static("1"));
                } else {
                    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
                    headers.insert("te", HeaderValue::from_static("trailers"));
                }
                #[cfg(feature = "wasip3")]
                if crate::wasip3::active() {
                    let (parts, body) =
                        wasi_http_p3::call(*https, authority, path, &headers, body, timeout)
                            .await?;
                    refused_over_http1(*web, &parts)?;
                    return Ok((parts, ResponseBody::WasiHttp3 { body, web: *web }));
                }
                let (parts, body) =
                    wasi_http::call(*https, authority, path, &headers, body, timeout).await?;
                refused_over_http1(*web, &parts)?;
                Ok((parts, ResponseBody::WasiHttp { body, web: *web }))
            }
        }
    }
}

/// A gRPC (not gRPC-Web) response whose HTTP status says the server refused gRPC over
/// HTTP/1.1 (see [`wasi_http_shared::status_for_http1_refusal`]) fails with that status.
#[cfg(feature = "wasi-http")]
fn refused_over_http1(web: bool, parts: &http::response::Parts) -> Result<(), Status> {
    match wasi_http_shared::status_for_http1_refusal(parts.status) {
        Some(status) if !web => Err(status),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    #[test]
    fn transports_are_read_by_name() {
        for transport in [Transport::Sockets, Transport::WasiHttp, Transport::GrpcWeb] {
            assert_eq!(transport.name().parse::<Transport>().ok(), Some(transport));
        }
        let unknown = "http".parse::<Transport>().unwrap_err();
        assert_eq!(unknown.code(), Code::InvalidArgument);
        assert_eq!(
            unknown.message(),
            "unknown transport \"http\": use sockets, wasi-http or grpc-web"
        );
    }

    #[test]
    fn uris_are_checked() {
        assert!(
            Channel::from_static("http://127.0.0.1:50051")
                .uri()
                .is_some()
        );
        assert!(Channel::from_static("http://[::1]:50051").uri().is_some());
        assert!(Channel::from_static("https://example.com").uri().is_some());
        for bad in ["127.0.0.1:50051", "not a uri", "unix:///tmp/s", "ftp://x:1"] {
            let err = Channel::from_shared(bad).unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
        }
    }
}
