//! [`OutgoingHttp2`]: a `wasi:http` outgoing side whose `send_request` speaks HTTP/2, so
//! gRPC over `wasi:http` (the SDK's `Transport::WasiHttp`) works: h2c prior knowledge for
//! `http://` (in [`crate::h2c`]), TLS with ALPN `h2` for `https://` (hyper and rustls, trusting
//! Mozilla's roots and any CA given), connections reused across requests and guests, no `host`
//! header beside `:authority`, and every authority the [`NetworkPolicy`] does not grant
//! refused. (wasmtime's own `send_request` speaks HTTP/1.1 only, which carries gRPC-Web but not
//! gRPC.)
//!
//! With [`HttpVersion::Http1`] it speaks HTTP/1.1 instead, as stock `wasmtime run -S http`
//! does, so the HTTP/1.1-only path (gRPC-Web) can be tested too.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::NetworkPolicy;
use crate::h2c::{H2c, within};

/// Which HTTP version the host's `wasi:http` speaks to servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/2: h2c prior knowledge for `http://`, ALPN `h2` for `https://`.
    #[default]
    Http2,
    /// HTTP/1.1, as the stock wasmtime CLI does.
    Http1,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, WasiBody>;

/// The HTTP clients guests' `wasi:http` requests go out through, shared by every guest given
/// it (a clone shares the connections), so a connection to a server is opened once and reused
/// by later calls and later instances. Guests using it must run on a tokio runtime.
///
/// HTTP/2 (RFC 9113) as gRPC needs it (PROTOCOL-HTTP2): `http://` with prior knowledge
/// (RFC 9113 §3.3, h2c), `https://` with TLS 1.3 or 1.2 and ALPN `h2` (RFC 7301), trailers
/// passed through. A request to an authority the guest's [`NetworkPolicy`] does not grant
/// fails with `wasi:http`'s `HTTP-request-denied`; a server that resets the stream or sends
/// GOAWAY gives `internal-error` naming the frame and its error code, which the SDK maps to a
/// gRPC status.
#[derive(Clone)]
pub struct OutgoingHttp2 {
    clients: Arc<Clients>,
    version: HttpVersion,
}

/// The clients of an [`OutgoingHttp2`] and its clones.
struct Clients {
    /// HTTP/2 for `http://`.
    h2c: H2c,
    /// HTTP/2 for `https://`.
    http2: HttpClient,
    /// HTTP/1.1 for both.
    http1: HttpClient,
}

impl OutgoingHttp2 {
    /// HTTP/2 clients trusting Mozilla's roots (webpki-roots) for `https://`. Errors: rustls
    /// cannot be configured with the `ring` provider (not on the platforms wasmtime runs on).
    pub fn new() -> anyhow::Result<Self> {
        Self::build(rustls_roots())
    }

    /// HTTP/2 clients trusting Mozilla's roots and the CA certificates in `ca_pems` (each a
    /// PEM file's bytes, possibly several certificates) for `https://`, over HTTP/2 and
    /// HTTP/1.1 alike. Errors: a PEM that holds no valid certificate.
    pub fn trusting(ca_pems: &[Vec<u8>]) -> anyhow::Result<Self> {
        let mut roots = rustls_roots();
        for pem in ca_pems {
            crate::pem::add_certificates(&mut roots, pem).context("a CA certificate PEM")?;
        }
        Self::build(roots)
    }

    /// The same clients (and connections), speaking `version`.
    pub fn speaking(&self, version: HttpVersion) -> Self {
        OutgoingHttp2 {
            clients: self.clients.clone(),
            version,
        }
    }

    fn build(roots: rustls::RootCertStore) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = |h2: bool| {
            // Nagle's algorithm would hold a request's DATA until the HEADERS are ACKed.
            let mut tcp = HttpConnector::new();
            tcp.set_nodelay(true);
            tcp.enforce_http(false);
            // hyper-rustls sets the ALPN protocols: `h2` for HTTP/2, `http/1.1` for HTTP/1.1.
            let builder = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http();
            if h2 {
                builder.enable_http2().wrap_connector(tcp)
            } else {
                builder.enable_http1().wrap_connector(tcp)
            }
        };
        let clients = Clients {
            h2c: H2c::default(),
            http2: Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build(connector(true)),
            http1: Client::builder(TokioExecutor::new()).build(connector(false)),
        };
        Ok(OutgoingHttp2 {
            clients: Arc::new(clients),
            version: HttpVersion::Http2,
        })
    }

    /// The `wasi:http` hooks of one guest: its permissions and these clients.
    pub(crate) fn hooks(&self, policy: Arc<NetworkPolicy>) -> Hooks {
        Hooks {
            policy,
            outgoing: self.clone(),
        }
    }
}

/// Mozilla's roots.
fn rustls_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

/// The hooks of one guest: its permissions and the clients it sends through.
pub(crate) struct Hooks {
    policy: Arc<NetworkPolicy>,
    outgoing: OutgoingHttp2,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for Hooks {
    fn set_host_header(&mut self) -> bool {
        // `:authority` says it; HTTP/2 servers may reject a request that has both.
        false
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_error: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        if !self.policy.permits_http(request.uri()) {
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let timeout = options.and_then(|o| o.first_byte_timeout);
        let done =
            || -> Box<dyn Future<Output = Result<(), Error>> + Send> { Box::new(async { Ok(()) }) };
        let outgoing = &self.outgoing;
        if outgoing.version == HttpVersion::Http2
            && request.uri().scheme() == Some(&http::uri::Scheme::HTTP)
        {
            let h2c = outgoing.clients.h2c.clone();
            let connect_timeout = options.and_then(|o| o.connect_timeout);
            return Box::new(async move {
                let response = h2c.send(request, connect_timeout, timeout).await?;
                Ok((response, done()))
            });
        }
        let client = match outgoing.version {
            HttpVersion::Http2 => outgoing.clients.http2.clone(),
            HttpVersion::Http1 => outgoing.clients.http1.clone(),
        };
        Box::new(async move {
            let response = within(timeout, Error::HttpResponseTimeout, client.request(request))
                .await?
                .map_err(client_error)?;
            let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
            Ok((response, done()))
        })
    }
}

/// The `wasi:http` error code for a failed request.
fn client_error(e: hyper_util::client::legacy::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
                std::io::ErrorKind::TimedOut => Error::ConnectionTimeout,
                _ => Error::ConnectionTerminated,
            };
        }
        source = err.source();
    }
    if e.is_connect() {
        Error::DestinationUnavailable
    } else {
        Error::HttpProtocolError
    }
}
