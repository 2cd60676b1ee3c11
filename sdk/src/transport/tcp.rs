//! TCP over `wasi:sockets`, as a tokio `AsyncRead + AsyncWrite` for the `h2` crate: WASI 0.2's
//! here, WASI 0.3's in `tcp_p3.rs` (inside [`crate::wasip3::run`], feature `wasip3`), behind
//! one [`TcpIo`].
//!
//! Names are resolved with `wasi:sockets/ip-name-lookup` (IP literals, IPv4 or IPv6, skip the
//! lookup); each address is tried in turn. Over WASI 0.2 a connection is `tcp.start-connect` /
//! `finish-connect` and its waits are `wasi:io/poll` pollables registered with `wstd`'s
//! reactor; over WASI 0.3 it is `tcp-socket.connect`, `send` and `receive`, with `stream<u8>`s.
//!
//! The HTTP/2 connection writes through `stream.rs`, which coalesces writes (see
//! `coalesce.rs`: why and when they are written) and hands each flush to
//! [`TcpIo::poll_write_all`] as one host write; TLS (feature `tls`) writes its records through
//! this type's `AsyncWrite`, which holds them until TLS flushes, for the same reason.

use std::cell::Cell;
use std::error::Error;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasip2::io::streams::{InputStream, OutputStream};
use wasip2::sockets::network::ErrorCode;
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};

use super::wasi_io::{ReadSize, Readiness, poll_read, poll_write_all, stream_error};
use crate::runtime::random_unit;
use crate::status::Status;

/// Bytes handed to h2 before a read returns `Pending` once (waking itself at once): 256 KiB.
/// h2's connection task reads frames for as long as reads succeed and writes what it queued
/// (SETTINGS ACK, WINDOW_UPDATE) only when a read returns `Pending`; tokio's sockets return
/// `Pending` after a budget, `wasi:sockets` streams do not. Without this, a server streaming
/// faster than the guest reads used up the whole stream window before the WINDOW_UPDATE left,
/// and Nagle's algorithm then held that frame for the server's delayed ACK (stalls of 6 to
/// 50 ms at the 8 MiB mark, seen in a packet capture).
const READ_BUDGET: usize = 256 * 1024;

/// The most bytes [`TcpIo`]'s `AsyncWrite` holds before writing them without a flush: 1 MiB.
const OUT_LIMIT: usize = 1024 * 1024;

/// A connected TCP stream.
pub(crate) struct TcpIo {
    /// Bytes read from the host that h2 has not taken yet.
    read_buf: Bytes,
    /// Bytes handed to h2 since a read last returned `Pending`.
    read_since_pending: usize,
    /// Bytes read from the host in all, shared with the keepalive.
    received: Rc<Cell<u64>>,
    /// Bytes written through `AsyncWrite` (TLS records), held until a flush.
    out: BytesMut,
    /// The address connected to.
    peer: SocketAddr,
    host: HostStreams,
}

/// The host's side of a connection: WASI 0.2's streams, or WASI 0.3's.
pub(crate) enum HostStreams {
    Wasi02(Wasi02Streams),
    #[cfg(feature = "wasip3")]
    Wasi03(Box<super::tcp_p3::Wasi03Streams>),
}

impl HostStreams {
    /// Reads what is available: `Some(bytes)` (never empty), or `None` at the end of the
    /// stream. Errors: the connection failed (reset, broken).
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Vec<u8>>>> {
        match self {
            HostStreams::Wasi02(host) => {
                let read = ready!(poll_read(
                    &host.input,
                    &mut host.read_ready,
                    &mut host.read_size,
                    cx
                ));
                Poll::Ready(read.map_err(stream_error))
            }
            #[cfg(feature = "wasip3")]
            HostStreams::Wasi03(host) => host.poll_read(cx),
        }
    }

    /// Hands all of `bytes` to the host; what was handed over is taken from the front of
    /// `bytes`. Errors: the connection failed, or the host stopped taking bytes.
    fn poll_write_all(
        &mut self,
        bytes: &mut BytesMut,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        match self {
            HostStreams::Wasi02(host) => {
                poll_write_all(&host.output, &mut host.write_ready, bytes, cx)
            }
            #[cfg(feature = "wasip3")]
            HostStreams::Wasi03(host) => host.poll_write_all(bytes, cx),
        }
    }

    /// Shuts the sending side down (a FIN), once what was handed over is written.
    #[cfg_attr(not(feature = "wasip3"), allow(unused_variables))]
    fn poll_shutdown_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            HostStreams::Wasi02(host) => {
                // The peer may already be gone; there is nothing more to do about it here.
                let _ = host.socket.shutdown(ShutdownType::Send);
                Poll::Ready(Ok(()))
            }
            #[cfg(feature = "wasip3")]
            HostStreams::Wasi03(host) => host.poll_shutdown_send(cx),
        }
    }
}

/// A WASI 0.2 connection's streams and socket.
///
/// Field order is drop order: pollables before the streams they watch, streams before the
/// socket that owns them.
pub(crate) struct Wasi02Streams {
    read_ready: Readiness,
    write_ready: Readiness,
    /// How much the next host read asks for.
    read_size: ReadSize,
    input: InputStream,
    output: OutputStream,
    socket: TcpSocket,
}

/// Opens a TCP connection to `host:port`: to the first of the name's addresses that accepts
/// one, in the resolver's order or, with `shuffle`, in a random order (gRFC A61's pick_first,
/// A62's `shuffleAddressList`). Inside [`crate::wasip3::run`] with a WASI 0.3 host, with
/// `wasi:sockets@0.3.0`.
///
/// `host` is a DNS name, an IPv4 literal, or an IPv6 literal with or without brackets.
/// Errors: `Unavailable` when the name does not resolve or no address accepts the
/// connection (refused, unreachable, timed out); `PermissionDenied`, naming the address,
/// when the host did not grant the guest access to it.
pub(crate) async fn connect(host: &str, port: u16, shuffle: bool) -> Result<TcpIo, Status> {
    let mut ips = match ip_literal(host) {
        Some(ip) => vec![ip],
        None => resolve(host).await?,
    };
    if shuffle {
        // Fisher-Yates.
        for i in (1..ips.len()).rev() {
            let j = ((random_unit() * (i + 1) as f64) as usize).min(i);
            ips.swap(i, j);
        }
    }
    let mut last_err = None;
    for ip in ips {
        let addr = SocketAddr::new(ip, port);
        #[cfg(feature = "wasip3")]
        let connected = if crate::wasip3::active() {
            super::tcp_p3::connect_addr(addr).await
        } else {
            connect_addr(addr).await
        };
        #[cfg(not(feature = "wasip3"))]
        let connected = connect_addr(addr).await;
        match connected {
            Ok(host) => return Ok(TcpIo::new(host, addr)),
            Err(status) => {
                debug!("TCP connect to {addr} failed: {status}");
                last_err = Some(status);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| Status::internal("no address was tried")))
}

/// `host` as an IP address if it is an IPv4 or IPv6 literal (with or without brackets), `None`
/// for a DNS name.
pub(crate) fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Resolves `name` (a DNS name, not an IP literal) with `wasi:sockets/ip-name-lookup` (WASI
/// 0.3's inside [`crate::wasip3::run`]): its addresses in the resolver's order, at least one.
///
/// Errors: `Unavailable` when the lookup fails (with a hint when the host granted none) or
/// the name has no address.
pub(crate) async fn resolve(name: &str) -> Result<Vec<IpAddr>, Status> {
    #[cfg(feature = "wasip3")]
    let ips = if crate::wasip3::active() {
        super::tcp_p3::resolve(name).await?
    } else {
        resolve_wasi_02(name).await?
    };
    #[cfg(not(feature = "wasip3"))]
    let ips = resolve_wasi_02(name).await?;
    if ips.is_empty() {
        return Err(Status::unavailable(format!(
            "name {name:?} resolved to no address"
        )));
    }
    debug!("name {name:?} resolved to {ips:?}");
    Ok(ips)
}

/// The status of a failed lookup of `name`; `refused` when the host answered as it does for
/// a name it did not grant (no resolver, or access denied), which adds how to grant one.
pub(crate) fn lookup_failed(
    name: &str,
    refused: bool,
    e: impl Error + Send + Sync + 'static,
) -> Status {
    let hint = if refused {
        " (is name lookup granted? wasmtime: -S allow-ip-name-lookup; grpc-wasi-harness: \
         --allow NAME:PORT; Spin grants none: use an IP literal and a tcp:// \
         allowed_outbound_hosts; wasmCloud: allowedHosts)"
    } else {
        ""
    };
    let status = Status::unavailable(format!("name lookup of {name:?} failed: {e}{hint}"));
    debug!("{}", status.message());
    status.with_source(e)
}

/// Why a connection to `addr` could not be made: the host `denied` it (not granted), the
/// server `refused` it, or `e` said otherwise.
pub(crate) fn connect_failed(
    addr: SocketAddr,
    denied: bool,
    refused: bool,
    e: impl Error + Send + Sync + 'static,
) -> Status {
    let status = if denied {
        Status::permission_denied(format!(
            "the host did not grant access to {addr}: wasi:sockets denied the connection \
             (wasmtime: -S inherit-network; grpc-wasi-harness: --allow {addr}; Spin: \
             allowed_outbound_hosts tcp://{addr}; wasmCloud: allowedHosts)"
        ))
    } else if refused {
        Status::unavailable(format!("connection to {addr} refused"))
    } else {
        Status::unavailable(format!("could not connect to {addr}: {e}"))
    };
    status.with_source(e)
}

/// `socket_address` (a `SocketAddr` as `wasi:sockets` spells it, with its address family) and
/// `ip_addr` (the other way) for the `wasi:sockets` types in the module `$types` (WASI 0.2's
/// `network`, WASI 0.3's `types`: the same shapes).
macro_rules! socket_address_fns {
    ($($types:ident)::+) => {
        /// `addr` as `wasi:sockets` spells it, with its address family.
        fn socket_address(
            addr: std::net::SocketAddr,
        ) -> ($($types)::+::IpAddressFamily, $($types)::+::IpSocketAddress) {
            use $($types)::+ as types;
            match addr {
                std::net::SocketAddr::V4(a) => {
                    let [a0, a1, a2, a3] = a.ip().octets();
                    let address = types::IpSocketAddress::Ipv4(types::Ipv4SocketAddress {
                        port: a.port(),
                        address: (a0, a1, a2, a3),
                    });
                    (types::IpAddressFamily::Ipv4, address)
                }
                std::net::SocketAddr::V6(a) => {
                    let [s0, s1, s2, s3, s4, s5, s6, s7] = a.ip().segments();
                    let address = types::IpSocketAddress::Ipv6(types::Ipv6SocketAddress {
                        port: a.port(),
                        flow_info: a.flowinfo(),
                        address: (s0, s1, s2, s3, s4, s5, s6, s7),
                        scope_id: a.scope_id(),
                    });
                    (types::IpAddressFamily::Ipv6, address)
                }
            }
        }

        /// A resolved `wasi:sockets` address as an `IpAddr`.
        fn ip_addr(address: $($types)::+::IpAddress) -> std::net::IpAddr {
            match address {
                $($types)::+::IpAddress::Ipv4((a, b, c, d)) => std::net::IpAddr::from([a, b, c, d]),
                $($types)::+::IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
                    std::net::IpAddr::from([a, b, c, d, e, f, g, h])
                }
            }
        }
    };
}
#[cfg(feature = "wasip3")]
pub(crate) use socket_address_fns;

socket_address_fns!(wasip2::sockets::network);

/// Resolves `name` with WASI 0.2's `wasi:sockets/ip-name-lookup`: its addresses in the
/// resolver's order. Errors: the lookup failed ([`lookup_failed`]).
async fn resolve_wasi_02(name: &str) -> Result<Vec<IpAddr>, Status> {
    let failed = |e: ErrorCode| {
        let refused = matches!(
            e,
            ErrorCode::PermanentResolverFailure | ErrorCode::AccessDenied
        );
        lookup_failed(name, refused, e)
    };
    let network = wasip2::sockets::instance_network::instance_network();
    let stream =
        wasip2::sockets::ip_name_lookup::resolve_addresses(&network, name).map_err(failed)?;
    let mut readiness = Readiness::default();
    let mut ips = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(address)) => ips.push(ip_addr(address)),
            Ok(None) => break,
            Err(ErrorCode::WouldBlock) => readiness.ready(|| stream.subscribe()).await,
            Err(e) => return Err(failed(e)),
        }
    }
    Ok(ips)
}

/// Connects to `addr` with WASI 0.2's `tcp.start-connect` / `finish-connect`.
/// Errors: [`connect_failed`].
async fn connect_addr(addr: SocketAddr) -> Result<HostStreams, Status> {
    let failed = |e: ErrorCode| {
        let denied = matches!(e, ErrorCode::AccessDenied);
        let refused = matches!(e, ErrorCode::ConnectionRefused);
        connect_failed(addr, denied, refused, e)
    };
    let (family, remote) = socket_address(addr);
    let socket = wasip2::sockets::tcp_create_socket::create_tcp_socket(family).map_err(failed)?;
    let network = wasip2::sockets::instance_network::instance_network();
    socket.start_connect(&network, remote).map_err(failed)?;
    let (input, output) = {
        let mut readiness = Readiness::default();
        loop {
            match socket.finish_connect() {
                Ok(streams) => break streams,
                Err(ErrorCode::WouldBlock) => readiness.ready(|| socket.subscribe()).await,
                Err(e) => return Err(failed(e)),
            }
        }
    };
    Ok(HostStreams::Wasi02(Wasi02Streams {
        read_ready: Readiness::default(),
        write_ready: Readiness::default(),
        read_size: ReadSize::adaptive(),
        input,
        output,
        socket,
    }))
}

impl TcpIo {
    fn new(host: HostStreams, peer: SocketAddr) -> TcpIo {
        TcpIo {
            read_buf: Bytes::new(),
            read_since_pending: 0,
            received: Rc::default(),
            out: BytesMut::new(),
            peer,
            host,
        }
    }

    /// The address this connection is to.
    pub(crate) fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The count of bytes read from the host so far, kept up to date.
    pub(crate) fn received(&self) -> Rc<Cell<u64>> {
        self.received.clone()
    }

    /// Hands all of `bytes` to the host, as few host writes as its write permits allow (one,
    /// usually); what was handed over is taken from the front of `bytes`.
    pub(crate) fn poll_write_all(
        &mut self,
        bytes: &mut BytesMut,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        self.host.poll_write_all(bytes, cx)
    }

    /// Hands what `AsyncWrite` holds to the host.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.host.poll_write_all(&mut self.out, cx)
    }

    /// Shuts the sending side down, after writing what `AsyncWrite` holds.
    pub(crate) fn poll_shutdown_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_out(cx))?;
        self.host.poll_shutdown_send(cx)
    }
}

impl AsyncRead for TcpIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read_since_pending >= READ_BUDGET {
            this.read_since_pending = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if this.read_buf.is_empty() {
            // Ask the host for as much as it has (up to the read size), whatever h2's buffer
            // holds: fewer host calls for large messages. End of stream is a read of zero
            // bytes.
            let Poll::Ready(read) = this.host.poll_read(cx) else {
                this.read_since_pending = 0;
                return Poll::Pending;
            };
            match read? {
                Some(bytes) => {
                    let total = this.received.get().wrapping_add(bytes.len() as u64);
                    this.received.set(total);
                    this.read_buf = Bytes::from(bytes);
                }
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = this.read_buf.len().min(buf.remaining());
        buf.put_slice(&this.read_buf.split_to(n));
        this.read_since_pending += n;
        Poll::Ready(Ok(()))
    }
}

/// Leaves the output stream and the socket to the host when dropping them could block.
///
/// wasmtime's `drop` of a TCP output stream waits until the host could write again (its write
/// in flight has ended): for a peer that stopped reading, for ever, and the guest with it. A
/// socket cannot be dropped before its streams. So when the host has a write in flight or
/// cannot take one (`check-write` is 0), both handles are given up instead of dropped: the
/// host frees them, and closes the connection, when the instance ends. The input stream and
/// the pollables are dropped as usual.
impl Drop for Wasi02Streams {
    fn drop(&mut self) {
        if matches!(self.output.check_write(), Ok(0)) {
            self.write_ready = Readiness::default();
            // Taking a handle out of its owner leaves the owner's drop nothing to do.
            let _ = self.output.take_handle();
            let _ = self.socket.take_handle();
        }
    }
}

/// Writes are held until a flush (or [`OUT_LIMIT`]) and then handed to the host at once: TLS
/// writes a flush's records one by one, and each written alone would be a TCP segment of its
/// own (with Nagle's algorithm on, a second small one waits for the server's delayed ACK).
impl AsyncWrite for TcpIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.out.len() >= OUT_LIMIT {
            ready!(this.poll_write_out(cx))?;
        }
        this.out.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_out(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_shutdown_send(cx)
    }
}
