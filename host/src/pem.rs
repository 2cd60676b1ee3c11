//! Reading CA certificates from PEM files into a rustls root store.

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// Adds every `CERTIFICATE` block of `pem` (a PEM file's bytes) to `roots`.
///
/// Errors: a malformed PEM block, a certificate rustls rejects, or no certificate at all.
pub fn add_certificates(roots: &mut RootCertStore, pem: &[u8]) -> anyhow::Result<()> {
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert?)?;
        added += 1;
    }
    anyhow::ensure!(added > 0, "no CERTIFICATE block in the PEM");
    Ok(())
}
