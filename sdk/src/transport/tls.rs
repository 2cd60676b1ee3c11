//! TLS for the sockets transport (feature `tls`, or `tls-no-roots` without Mozilla's roots):
//! rustls 0.23 in the guest over the
//! `wasi:sockets` TCP stream, HTTP/2 on top, configured as tonic's `ClientTlsConfig`.
//!
//! The handshake offers TLS 1.3 and 1.2 and ALPN `h2` (PROTOCOL-HTTP2: gRPC over TLS is
//! HTTP/2 negotiated by ALPN, RFC 7301; grpc-go servers since 1.67 refuse clients that offer
//! no ALPN). SNI is the URI's host name, or [`ClientTlsConfig::domain_name`]; a URI whose
//! host is an IP literal is checked against the certificate's IP SANs (RFC 6125 §6.2).
//! Cryptography is RustCrypto's pure-Rust provider (`rustls-rustcrypto`): it builds for
//! `wasm32-wasip2` with no C compiler; with the `tls-ring` feature it is ring's (smaller and
//! faster, but it needs clang). Randomness comes from `wasi:random`, the time a
//! certificate is checked against from `wasi:clocks/wall-clock` (through Rust's `std`).

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, CertificateError, ClientConfig, RootCertStore};
use tokio_rustls::client::TlsStream;

use super::tcp::TcpIo;
use crate::status::Status;

/// One or more X.509 certificates in PEM (RFC 7468 `-----BEGIN CERTIFICATE-----` blocks), as
/// tonic's `Certificate`: a CA to trust ([`ClientTlsConfig::ca_certificate`]) or the chain of
/// an [`Identity`]. The bytes are kept as given; they are parsed, and their errors reported
/// (`InvalidArgument`), by [`Endpoint::tls_config`](crate::Endpoint::tls_config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pem: Vec<u8>,
}

impl Certificate {
    /// The certificates in `pem`: the bytes of one or more PEM blocks, text outside them
    /// ignored. Never fails here.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Certificate {
        Certificate {
            pem: pem.as_ref().to_vec(),
        }
    }

    /// The PEM bytes.
    pub fn get_ref(&self) -> &[u8] {
        &self.pem
    }

    /// The PEM bytes.
    pub fn into_inner(self) -> Vec<u8> {
        self.pem
    }
}

/// A client identity for mutual TLS (the client's Certificate and CertificateVerify, RFC 8446
/// §4.4): a certificate chain and its private key, both PEM (RFC 7468), as tonic's
/// `Identity`. The key is PKCS#8 (`BEGIN PRIVATE KEY`), SEC1 (`BEGIN EC PRIVATE
/// KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`); ECDSA P-256/P-384, Ed25519 and RSA keys sign.
#[derive(Clone)]
pub struct Identity {
    cert: Certificate,
    key: Vec<u8>,
}

impl Identity {
    /// The identity of the certificate chain `cert` (PEM, leaf first) with the private key
    /// `key` (PEM). Never fails here: [`Endpoint::tls_config`](crate::Endpoint::tls_config)
    /// parses both and fails with `InvalidArgument` for a missing or unusable one, or a key
    /// that does not match the certificate.
    pub fn from_pem(cert: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Identity {
        Identity {
            cert: Certificate::from_pem(cert),
            key: key.as_ref().to_vec(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

/// How a [`Transport::Sockets`](crate::Transport::Sockets) channel to an `https://` URI makes
/// its TLS connection, as tonic's `ClientTlsConfig`: the CAs it trusts, the client identity
/// (mTLS), the name the server's certificate must have. Given to
/// [`Endpoint::tls_config`](crate::Endpoint::tls_config); an `https://` endpoint without one
/// uses `ClientTlsConfig::new()`.
///
/// Trusted roots: the CAs added with [`ClientTlsConfig::ca_certificate`], plus Mozilla's
/// (compiled in from `webpki-roots`) with [`ClientTlsConfig::with_webpki_roots`]; with no CA
/// added at all, Mozilla's. The connection is TLS 1.3 (RFC 8446) or 1.2 (RFC 5246), offers
/// ALPN `h2` (RFC 7301; PROTOCOL-HTTP2 requires HTTP/2 over TLS), sends the server name as SNI
/// (RFC 6066 §3) and checks the certificate against it (RFC 6125; an IP address against the
/// IP SANs). Every method only records a setting: errors come from
/// [`Endpoint::tls_config`](crate::Endpoint::tls_config).
///
/// ```no_run
/// # async fn f(ca_pem: &[u8], cert_pem: &[u8], key_pem: &[u8]) -> Result<(), grpc_wasi::Status> {
/// use grpc_wasi::{Certificate, Channel, ClientTlsConfig, Identity};
/// let tls = ClientTlsConfig::new()
///     .ca_certificate(Certificate::from_pem(ca_pem))
///     .identity(Identity::from_pem(cert_pem, key_pem))
///     .domain_name("echo.example");
/// let channel = Channel::from_static("https://10.0.0.7:50051")
///     .tls_config(tls)?
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct ClientTlsConfig {
    domain: Option<String>,
    cas: Vec<Certificate>,
    identity: Option<Identity>,
    webpki_roots: bool,
    assume_http2: bool,
}

impl ClientTlsConfig {
    /// A configuration trusting Mozilla's roots (until a CA is added), with no client
    /// identity, checking the certificate against the URI's host.
    pub fn new() -> ClientTlsConfig {
        ClientTlsConfig::default()
    }

    /// The name sent as SNI and checked against the server's certificate, instead of the
    /// URI's host (a DNS name, or an IP address checked against IP SANs, brackets allowed). A
    /// name that is neither fails `tls_config` with `InvalidArgument`.
    pub fn domain_name(mut self, domain_name: impl Into<String>) -> Self {
        self.domain = Some(domain_name.into());
        self
    }

    /// Trusts the CA certificate(s) in `ca` (in addition to the others added; Mozilla's roots
    /// only with [`ClientTlsConfig::with_webpki_roots`]).
    pub fn ca_certificate(mut self, ca: Certificate) -> Self {
        self.cas.push(ca);
        self
    }

    /// Trusts each of `cas` ([`ClientTlsConfig::ca_certificate`]).
    pub fn ca_certificates(mut self, cas: impl IntoIterator<Item = Certificate>) -> Self {
        self.cas.extend(cas);
        self
    }

    /// Presents `identity` when the server asks for a client certificate (mutual TLS).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Trusts Mozilla's root CAs (compiled in from the `webpki-roots` crate) as well as the
    /// CAs added. Built with the `tls-no-roots` feature instead of `tls`, the build has no
    /// such roots and the configuration fails with `InvalidArgument`.
    pub fn with_webpki_roots(mut self) -> Self {
        self.webpki_roots = true;
        self
    }

    /// Trusts the roots this build has: Mozilla's (as tonic's `with_enabled_roots`).
    pub fn with_enabled_roots(self) -> Self {
        self.with_webpki_roots()
    }

    /// Accepts a server that selects no ALPN protocol, speaking HTTP/2 to it anyway (default
    /// `false`: such a server fails the connection, as in tonic). A server that selects
    /// another protocol (`http/1.1`) always fails it.
    pub fn assume_http2(mut self, assume_http2: bool) -> Self {
        self.assume_http2 = assume_http2;
        self
    }

    /// The rustls configuration: roots, identity, TLS 1.3 and 1.2, ALPN `h2`.
    ///
    /// Errors: `InvalidArgument` for PEM that holds no certificate or key, or one rustls
    /// cannot use (a CA that is not a valid certificate, a key of an unsupported kind, a key
    /// that does not match the certificate), or a domain name that is neither a DNS name nor
    /// an IP address.
    pub(crate) fn connector(&self) -> Result<TlsConnector, Status> {
        let invalid = |what: &str, e: &dyn fmt::Display| {
            Status::invalid_argument(format!("TLS configuration: {what}: {e}"))
        };
        let mut roots = RootCertStore::empty();
        for ca in &self.cas {
            let certs = certificates(ca).map_err(|e| invalid("CA certificate", &e))?;
            for cert in certs {
                roots.add(cert).map_err(|e| invalid("CA certificate", &e))?;
            }
        }
        if self.webpki_roots || self.cas.is_empty() {
            #[cfg(feature = "tls")]
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            #[cfg(not(feature = "tls"))]
            return Err(Status::invalid_argument(
                "TLS configuration: Mozilla's roots are not in this build (grpc-wasi's `tls` \
                 feature has them, `tls-no-roots` not): add the server's CA with \
                 ClientTlsConfig::ca_certificate",
            ));
        }
        #[cfg(not(feature = "tls-ring"))]
        let mut provider = rustls_rustcrypto::provider();
        #[cfg(feature = "tls-ring")]
        let mut provider = rustls::crypto::ring::default_provider();
        prefer_chacha20(&mut provider.cipher_suites);
        let provider = Arc::new(provider);
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Status::internal(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let chain =
                    certificates(&identity.cert).map_err(|e| invalid("client certificate", &e))?;
                let key = PrivateKeyDer::from_pem_slice(&identity.key)
                    .map_err(|e| invalid("client private key", &e))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| invalid("client identity", &e))?
            }
        };
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        let domain = self.domain.as_deref().map(server_name).transpose()?;
        Ok(TlsConnector {
            config: Arc::new(config),
            domain,
            assume_http2: self.assume_http2,
        })
    }
}

/// Orders `suites` TLS 1.3 first, and ChaCha20-Poly1305 first within each version: WebAssembly
/// has no AES instructions, and ChaCha20 in software is faster than AES-GCM in software (the
/// choice clients without AES hardware make; servers that honour the client's order, rustls's
/// and Go's among them, then pick it).
fn prefer_chacha20(suites: &mut [rustls::SupportedCipherSuite]) {
    use rustls::CipherSuite as S;
    suites.sort_by_key(|suite| {
        let chacha = matches!(
            suite.suite(),
            S::TLS13_CHACHA20_POLY1305_SHA256
                | S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                | S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        );
        (suite.tls13().is_none(), !chacha)
    });
}

/// The ALPN protocol ID of HTTP/2 over TLS (RFC 9113 §3.2).
const ALPN_H2: &[u8] = b"h2";

/// The certificates of `pem`. Errors: none in it, or a malformed block.
fn certificates(pem: &Certificate) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(&pem.pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block in the PEM".into());
    }
    Ok(certs)
}

/// `name` as a TLS server name: an IP address (brackets allowed) or a DNS name.
///
/// Errors: `InvalidArgument` when it is neither.
fn server_name(name: &str) -> Result<ServerName<'static>, Status> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned())
        .map_err(|e| Status::invalid_argument(format!("TLS server name {name:?}: {e}")))
}

/// A channel's TLS settings, made once by [`ClientTlsConfig`] and shared by its connections.
#[derive(Clone)]
pub(crate) struct TlsConnector {
    config: Arc<ClientConfig>,
    /// The name to check instead of the URI's host.
    domain: Option<ServerName<'static>>,
    assume_http2: bool,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("domain", &self.domain)
            .field("assume_http2", &self.assume_http2)
            .finish_non_exhaustive()
    }
}

/// What one channel's connections make their TLS connections with: the connector and the
/// server name for the URI's host.
#[derive(Clone, Debug)]
pub(crate) struct TlsTarget {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl TlsConnector {
    /// The target for a server at `host` (the URI's; [`ClientTlsConfig::domain_name`] wins).
    ///
    /// Errors: `InvalidArgument` when `host` is not a valid server name.
    pub(crate) fn target(self, host: &str) -> Result<TlsTarget, Status> {
        let name = match &self.domain {
            Some(domain) => domain.clone(),
            None => server_name(host)?,
        };
        Ok(TlsTarget {
            connector: self,
            name,
        })
    }
}

impl TlsTarget {
    /// Makes the TLS connection over `io`, to the server `peer` (`HOST:PORT`, for messages),
    /// and checks that it selected HTTP/2.
    ///
    /// Errors: `Unavailable` with rustls's reason when the handshake fails (the server's
    /// certificate is not trusted, is for another name, has expired or has a bad signature;
    /// the server refused the client certificate or sent an alert; the connection broke), or
    /// when the server did not select `h2` by ALPN.
    pub(crate) async fn connect(&self, io: TcpIo, peer: &str) -> Result<TlsStream<TcpIo>, Status> {
        let connector = tokio_rustls::TlsConnector::from(self.connector.config.clone());
        let stream = connector
            .connect(self.name.clone(), io)
            .await
            .map_err(|e| handshake_error(peer, e))?;
        match stream.get_ref().1.alpn_protocol() {
            Some(ALPN_H2) => Ok(stream),
            None if self.connector.assume_http2 => Ok(stream),
            selected => {
                let selected = match selected {
                    Some(protocol) => {
                        format!("it selected {:?}", String::from_utf8_lossy(protocol))
                    }
                    None => "it selected no protocol".to_owned(),
                };
                Err(Status::unavailable(format!(
                    "TLS connection to {peer}: the server did not select HTTP/2 (ALPN h2), \
                     {selected}; gRPC needs HTTP/2 (ClientTlsConfig::assume_http2 accepts a \
                     server that selects none)"
                )))
            }
        }
    }
}

/// The status of a failed TLS handshake with `peer`: `Unavailable`, with rustls's reason (and
/// what to do about the common ones) in the message.
fn handshake_error(peer: &str, e: io::Error) -> Status {
    let message = match rustls_error(&e) {
        Some(tls) => format!("TLS handshake with {peer} failed: {tls}{}", hint(tls)),
        None => format!("TLS handshake with {peer} failed: {e}"),
    };
    Status::unavailable(message).with_source(e)
}

/// The message for an established connection's I/O error `e` if TLS caused it (with TLS 1.3,
/// a server refuses a client certificate only after the client's handshake is done, so its
/// alert arrives as a read error of the HTTP/2 connection).
pub(crate) fn describe_io_error(e: &io::Error) -> Option<String> {
    let tls = rustls_error(e)?;
    Some(format!("TLS error: {tls}{}", hint(tls)))
}

/// The rustls error inside `e`: tokio-rustls reports them as io errors that wrap them.
fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// What to check after the TLS error `e`, when there is an obvious thing.
fn hint(e: &rustls::Error) -> &'static str {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            " (the server's certificate is not signed by a trusted CA: add its CA with \
             ClientTlsConfig::ca_certificate)"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => " (the certificate is for another name: see ClientTlsConfig::domain_name)",
        rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol) => {
            " (the server does not speak HTTP/2 over TLS: ALPN h2)"
        }
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown,
        ) => {
            " (the server refused the client certificate, or needs one: ClientTlsConfig::identity)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::Code;

    /// The code `config` fails with, if it does.
    fn code_of(config: ClientTlsConfig) -> Option<Code> {
        config.connector().err().map(|status| status.code())
    }

    #[test]
    fn pem_without_a_certificate_or_key_is_invalid_argument() {
        let not_pem = Certificate::from_pem("not a certificate");
        assert_eq!(
            code_of(ClientTlsConfig::new().ca_certificate(not_pem)),
            Some(Code::InvalidArgument)
        );
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let status = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(garbage))
            .connector()
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("CA certificate"), "{status}");
        let identity = Identity::from_pem("no cert", "no key");
        assert_eq!(
            code_of(ClientTlsConfig::new().identity(identity)),
            Some(Code::InvalidArgument)
        );
    }

    #[test]
    fn a_domain_name_must_be_a_dns_name_or_an_ip_address() {
        assert_eq!(
            code_of(ClientTlsConfig::new().domain_name("not a name!")),
            Some(Code::InvalidArgument)
        );
        assert!(server_name("[::1]").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("echo.example").is_ok());
    }

    #[test]
    fn tls13_and_chacha20_come_first() {
        let mut suites = rustls_rustcrypto::provider().cipher_suites;
        prefer_chacha20(&mut suites);
        assert_eq!(
            suites[0].suite(),
            rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
        );
        let first_tls12 = suites.iter().position(|s| s.tls13().is_none()).unwrap();
        assert!(suites[first_tls12..].iter().all(|s| s.tls13().is_none()));
    }

    #[cfg(feature = "tls")]
    #[test]
    fn no_ca_means_mozillas_roots() {
        assert!(ClientTlsConfig::new().connector().is_ok());
        let connector = ClientTlsConfig::new()
            .assume_http2(true)
            .connector()
            .unwrap();
        assert!(connector.assume_http2);
        assert_eq!(
            connector.config.alpn_protocols,
            vec![b"h2".to_vec()],
            "ALPN offers h2 only"
        );
    }
}
