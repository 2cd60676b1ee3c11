//! TLS for the test servers: a throw-away PKI made with rcgen when asked for (so nothing that
//! expires is checked in), and rustls server configurations: TLS 1.3 and 1.2 or 1.2 only,
//! the ALPN protocols offered, client certificates required or not.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_lite::{Stream, StreamExt};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct CertifiedKey {
    /// The certificate (`BEGIN CERTIFICATE`).
    pub cert_pem: String,
    /// Its private key (PKCS#8, ECDSA P-256).
    pub key_pem: String,
}

/// A test CA and what it signed, made fresh by [`TestPki::generate`].
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA's certificate: what a client trusts.
    pub ca_pem: String,
    /// The server's: for `localhost`, `127.0.0.1` and `::1`, signed by the CA.
    pub server: CertifiedKey,
    /// The same names, signed by the CA, valid from 2020 to 2021: expired.
    pub expired_server: CertifiedKey,
    /// A client certificate (for mTLS), signed by the CA.
    pub client: CertifiedKey,
    /// A client certificate signed by [`TestPki::other_ca_pem`]'s CA: one a server trusting
    /// only [`TestPki::ca_pem`] refuses.
    pub untrusted_client: CertifiedKey,
    /// Another CA, which signed none of the server certificates: the wrong CA to trust.
    pub other_ca_pem: String,
}

/// The names the server certificates are for.
const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

impl TestPki {
    /// Makes a CA, server and client certificates (ECDSA P-256). Errors: rcgen fails.
    pub fn generate() -> anyhow::Result<TestPki> {
        let ca = make_ca("grpc-wasi test CA")?;
        let other_ca = make_ca("grpc-wasi other CA")?;
        let server_names: Vec<String> = SERVER_NAMES.iter().map(|s| s.to_string()).collect();
        let mut expired = CertificateParams::new(server_names.clone())?;
        expired.not_before = rcgen::date_time_ymd(2020, 1, 1);
        expired.not_after = rcgen::date_time_ymd(2021, 1, 1);
        Ok(TestPki {
            ca_pem: ca.pem(),
            server: leaf(
                CertificateParams::new(server_names)?,
                ExtendedKeyUsagePurpose::ServerAuth,
                &ca,
            )?,
            expired_server: leaf(expired, ExtendedKeyUsagePurpose::ServerAuth, &ca)?,
            client: leaf(
                CertificateParams::new(vec!["grpc-wasi test client".to_owned()])?,
                ExtendedKeyUsagePurpose::ClientAuth,
                &ca,
            )?,
            untrusted_client: leaf(
                CertificateParams::new(vec!["grpc-wasi other client".to_owned()])?,
                ExtendedKeyUsagePurpose::ClientAuth,
                &other_ca,
            )?,
            other_ca_pem: other_ca.pem(),
        })
    }
}

fn make_ca(name: &str) -> anyhow::Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(CertifiedIssuer::self_signed(params, KeyPair::generate()?)?)
}

fn leaf(
    mut params: CertificateParams,
    usage: ExtendedKeyUsagePurpose,
    ca: &CertifiedIssuer<'static, KeyPair>,
) -> anyhow::Result<CertifiedKey> {
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, ca)?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// How a test server speaks TLS.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server's certificate chain, PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
    /// Require client certificates signed by this CA (mTLS).
    pub client_ca_pem: Option<String>,
    /// Offer TLS 1.2 only (default: 1.3 and 1.2).
    pub tls12_only: bool,
    /// The ALPN protocols the server selects from (default: `h2`, `http/1.1`).
    pub alpn: Vec<Vec<u8>>,
}

impl ServerTls {
    /// TLS 1.3 and 1.2 with `cert`, ALPN `h2` and `http/1.1`, no client certificates.
    pub fn new(cert: &CertifiedKey) -> ServerTls {
        ServerTls {
            cert_pem: cert.cert_pem.clone(),
            key_pem: cert.key_pem.clone(),
            client_ca_pem: None,
            tls12_only: false,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        }
    }

    /// The rustls configuration (ring). Errors: PEM that does not parse, a key that does not
    /// match its certificate.
    pub fn config(&self) -> anyhow::Result<Arc<ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = if self.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)?;
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                grpc_wasi_host::pem::add_certificates(&mut roots, ca.as_bytes())
                    .context("client CA")?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let chain = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .context("server certificate")?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).context("server key")?;
        let mut config = builder.with_single_cert(chain, key)?;
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }
}

/// How long a client may take over its TLS handshake before the server gives up on it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS connections made over the TCP connections of `incoming` with `config`, several
/// handshakes at once; a failed handshake yields its error (tonic logs it and goes on).
pub(crate) fn accept<S, IO>(
    incoming: S,
    config: Arc<ServerConfig>,
) -> impl Stream<Item = std::io::Result<TlsStream<IO>>> + Send + 'static
where
    S: Stream<Item = std::io::Result<IO>> + Send + 'static,
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let handshakes = incoming.map(move |tcp| handshake(acceptor.clone(), tcp));
    futures::StreamExt::buffer_unordered(handshakes, 64)
}

async fn handshake<IO>(
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: std::io::Result<IO>,
) -> std::io::Result<TlsStream<IO>>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let accept = acceptor.accept(tcp?);
    tokio::time::timeout(HANDSHAKE_TIMEOUT, accept)
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)?
}
