//! The trusted root certificates of every outbound TLS client (XSUAA, Credential Store, STS,
//! S3): the platform's roots, read **once per process**, plus the configured extra roots
//! (`BRIDGE_EXTRA_CA_CERTS`, the dev CA).
//!
//! Why a crate: each HTTP client library would otherwise read the platform's roots itself when
//! it is built (reqwest's platform verifier, the AWS SDK's native roots). `bridge serve` builds
//! four clients at start-up, and each read scans `/etc/ssl/certs` and parses every certificate
//! in it, about 4–5 ms of CPU each on our CI machines: most of the start-up time. Here they are
//! read once ([`platform`]) and handed to each client as an explicit root list, which gives the
//! same verification as before (on Linux the platform verifier is webpki over these very roots).
//!
//! The platform's roots come from `rustls-native-certs`, so `SSL_CERT_FILE` and `SSL_CERT_DIR`
//! are honoured. Certificates that are not usable as trust anchors are skipped, as the platform
//! verifier does (a client given an explicit root list would otherwise refuse to build).

use std::sync::OnceLock;

use base64::Engine as _;
pub use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

/// A configured extra root bundle that is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("extra root certificates #{index}: {reason}")]
pub struct Error {
    /// Which bundle of the list (0-based).
    pub index: usize,
    /// What is wrong with it (never its content).
    pub reason: &'static str,
}

/// The platform's trusted roots, read on first use and kept for the life of the process.
pub fn platform() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        rustls_native_certs::load_native_certs()
            .certs
            .into_iter()
            .filter(|cert| rustls::RootCertStore::empty().add(cert.clone()).is_ok())
            .collect()
    })
}

/// The platform's roots followed by every certificate of every PEM bundle in `extra_pem`.
/// A bundle without certificates, or with a malformed one, is an error naming its position.
pub fn with_extra(extra_pem: &[Vec<u8>]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut roots = platform().to_vec();
    roots.extend(extra(extra_pem)?);
    Ok(roots)
}

/// Every certificate of every PEM bundle in `extra_pem` (without the platform's roots).
pub fn extra(extra_pem: &[Vec<u8>]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut out = Vec::new();
    for (index, pem) in extra_pem.iter().enumerate() {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error {
                index,
                reason: "not a PEM certificate bundle",
            })?;
        if certs.is_empty() {
            return Err(Error {
                index,
                reason: "holds no certificate",
            });
        }
        out.extend(certs);
    }
    Ok(out)
}

/// `certs` as one PEM bundle, for clients that take roots as PEM.
pub fn to_pem(certs: &[CertificateDer<'_>]) -> Vec<u8> {
    let mut out = String::with_capacity(certs.iter().map(|c| c.len() * 4 / 3 + 70).sum());
    for cert in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUQ3n8mFk3L9yQm1m4q6bUq3G7FrMwCgYIKoZIzj0EAwIw
ETEPMA0GA1UEAwwGdGVzdGNhMB4XDTI0MDEwMTAwMDAwMFoXDTM0MDEwMTAwMDAw
MFowETEPMA0GA1UEAwwGdGVzdGNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
-----END CERTIFICATE-----
";

    #[test]
    fn platform_roots_are_read_once() {
        let a = platform().as_ptr();
        let b = platform().as_ptr();
        assert_eq!(a, b);
    }

    #[test]
    fn extra_bundles_are_parsed_and_bad_ones_named() {
        let one = extra(&[CERT.as_bytes().to_vec()]).unwrap();
        assert_eq!(one.len(), 1);
        let two = extra(&[CERT.repeat(2).into_bytes()]).unwrap();
        assert_eq!(two.len(), 2);
        let err = extra(&[CERT.as_bytes().to_vec(), b"no pem here".to_vec()]).unwrap_err();
        assert_eq!(err.index, 1);
        assert_eq!(err.reason, "holds no certificate");
        let err =
            extra(&[b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n".to_vec()])
                .unwrap_err();
        assert_eq!(err.reason, "not a PEM certificate bundle");
        assert!(!err.to_string().contains("!!!"));
    }

    #[test]
    fn pem_round_trips() {
        let certs = extra(&[CERT.repeat(3).into_bytes()]).unwrap();
        let pem = to_pem(&certs);
        assert_eq!(extra(&[pem]).unwrap(), certs);
        let all = with_extra(&[CERT.as_bytes().to_vec()]).unwrap();
        assert_eq!(all.len(), platform().len() + 1);
    }
}
