//! [`TestServer`]: a test server (tonic, or the h2 fault server) on its own thread and
//! runtime, bound before it starts (so clients connect at once, no waiting), stopped when
//! dropped; over plain TCP or over TLS ([`crate::servers::tls::ServerTls`]).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use std::task::{Context, Poll};

use anyhow::Context as _;
use futures_lite::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::servers::tls::ServerTls;

/// How long a stopping server waits for open connections to finish before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The serve future of a test server (for tonic:
/// `Server::builder()…serve_with_incoming_shutdown`).
pub(crate) type Serve = Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>>;

/// The accepted connections handed to [`TestServer::start`]'s `serve`, with `TCP_NODELAY` set
/// (as tonic's own listener does): without it every response would wait on Nagle's algorithm.
pub(crate) type Incoming = Pin<Box<dyn Stream<Item = std::io::Result<ServerIo>> + Send>>;

/// An accepted connection: plain TCP, or TLS over it for a server started with
/// [`TestServer::start_tls`].
pub(crate) enum ServerIo {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl ServerIo {
    fn tcp(&self) -> &TcpStream {
        match self {
            ServerIo::Tcp(tcp) => tcp,
            ServerIo::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl Connected for ServerIo {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.tcp().connect_info()
    }
}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ServerIo::Tcp(tcp) => Pin::new(tcp).poll_read(cx, buf),
            ServerIo::Tls(tls) => Pin::new(&mut **tls).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            ServerIo::Tcp(tcp) => Pin::new(tcp).poll_write(cx, buf),
            ServerIo::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ServerIo::Tcp(tcp) => Pin::new(tcp).poll_flush(cx),
            ServerIo::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ServerIo::Tcp(tcp) => Pin::new(tcp).poll_shutdown(cx),
            ServerIo::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
        }
    }
}

/// The shutdown signal handed to [`TestServer::start`]'s `serve`.
pub(crate) type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running test server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    /// It speaks TLS: its URI is `https://`.
    https: bool,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Binds `addr`, then runs `serve(incoming, shutdown)` on a new thread named `name`.
    ///
    /// Errors: the address cannot be bound, or the runtime cannot start.
    pub(crate) fn start(
        addr: SocketAddr,
        name: &str,
        serve: impl FnOnce(Incoming, Shutdown) -> Serve + Send + 'static,
    ) -> anyhow::Result<TestServer> {
        TestServer::start_with(addr, name, None, serve)
    }

    /// [`TestServer::start`] for a server that speaks TLS as `tls` says: `serve` gets the
    /// connections whose handshake succeeded, and the server's URI is `https://`.
    ///
    /// Errors: as [`TestServer::start`], and a TLS configuration rustls cannot use.
    pub(crate) fn start_tls(
        addr: SocketAddr,
        name: &str,
        tls: &ServerTls,
        serve: impl FnOnce(Incoming, Shutdown) -> Serve + Send + 'static,
    ) -> anyhow::Result<TestServer> {
        let mut server = TestServer::start_with(addr, name, Some(tls.config()?), serve)?;
        server.https = true;
        Ok(server)
    }

    fn start_with(
        addr: SocketAddr,
        name: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
        serve: impl FnOnce(Incoming, Shutdown) -> Serve + Send + 'static,
    ) -> anyhow::Result<TestServer> {
        let listener =
            std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let (shutdown, stop) = watch::channel(false);
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let stopped = |mut stop: watch::Receiver<bool>| async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        let thread = std::thread::Builder::new()
            .name(format!("{name} {addr}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let tcp = TcpListenerStream::new(listener).map(move |stream| {
                        let stream = stream?;
                        counter.fetch_add(1, Ordering::Relaxed);
                        stream.set_nodelay(true)?;
                        Ok(stream)
                    });
                    let incoming: Incoming = match tls {
                        None => Box::pin(tcp.map(|tcp| tcp.map(ServerIo::Tcp))),
                        Some(config) => Box::pin(
                            crate::servers::tls::accept(tcp, config)
                                .map(|tls| tls.map(|tls| ServerIo::Tls(Box::new(tls)))),
                        ),
                    };
                    let serve = serve(incoming, Box::pin(stopped(stop.clone())));
                    tokio::select! {
                        _ = serve => {}
                        _ = async {
                            stopped(stop).await;
                            tokio::time::sleep(SHUTDOWN_GRACE).await;
                        } => {}
                    }
                });
            })?;
        Ok(TestServer {
            addr,
            accepted,
            https: false,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many TCP connections the server has accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// The server's URI, `http://ADDR`, or `https://ADDR` for a TLS server (IPv6 addresses
    /// in brackets).
    pub fn uri(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
