//! The local certificate authority and TLS serving for the dev stack.
//!
//! Real BTP services are HTTPS only, and some clients insist on it (`@sap/xssec` fetches keys
//! only over `https://`). So the dev stack serves TLS with certificates from a CA it creates on
//! first start in the data directory (`ca.pem`, `ca-key.pem` mode 0600). Clients trust that CA
//! through `BRIDGE_EXTRA_CA_CERTS` (ours) or `NODE_EXTRA_CA_CERTS` (Node). The same CA issues
//! client certificates for mTLS bindings.
//!
//! [`serve_tls`] serves a router through `httpserve` (the accept loop with connection limits
//! and timeouts that the app uses too) rather than `axum-server`, because handlers need the
//! verified client certificate of the connection (mTLS authentication), which is attached to
//! every request as a [`PeerCertificate`].

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use crate::error::DevError;
use crate::files;

/// The subject of a verified client certificate, attached to each request of an mTLS
/// connection.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    /// The DER of the leaf certificate the client presented (already verified against the CA).
    pub der: Vec<u8>,
}

/// The dev stack's certificate authority.
pub struct DevCa {
    cert_pem: String,
    key: KeyPair,
}

fn ca_params() -> Result<CertificateParams, DevError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "btp-aws-bridge dev stack");
    dn.push(DnType::CommonName, "btp-aws-bridge local CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

fn tls_err(e: impl std::fmt::Display) -> DevError {
    DevError::Tls(e.to_string())
}

impl DevCa {
    /// Loads the CA from `dir`, or creates it there on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, DevError> {
        let cert_path = crate::layout::ca_cert(dir);
        let key_path = crate::layout::ca_key(dir);
        if cert_path.exists() && key_path.exists() {
            let cert_pem = files::read_string(&cert_path)?;
            let key = KeyPair::from_pem(&files::read_string(&key_path)?).map_err(|e| {
                DevError::Corrupt {
                    path: key_path.clone(),
                    reason: e.to_string(),
                }
            })?;
            return Ok(Self { cert_pem, key });
        }
        let key = KeyPair::generate().map_err(tls_err)?;
        let mut params = ca_params()?;
        let now = time_now();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key).map_err(tls_err)?;
        files::write_private(&key_path, key.serialize_pem().as_bytes())?;
        files::write_public(&cert_path, cert.pem().as_bytes())?;
        Ok(Self {
            cert_pem: cert.pem(),
            key,
        })
    }

    /// The CA certificate (PEM), for clients to trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    fn issue(&self, params: CertificateParams) -> Result<(String, String), DevError> {
        let key = KeyPair::generate().map_err(tls_err)?;
        let issuer = Issuer::new(ca_params()?, &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(tls_err)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Issues a server certificate for `names` (DNS names or IP addresses); returns
    /// (certificate PEM, key PEM).
    pub fn issue_server(&self, names: &[&str]) -> Result<(String, String), DevError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName((*n).try_into().map_err(tls_err)?)),
            })
            .collect::<Result<_, DevError>>()?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("localhost"),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = time_now();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(365);
        self.issue(params)
    }

    /// Issues a client certificate with common name `cn`, valid for `days`; returns
    /// (certificate PEM, key PEM).
    pub fn issue_client(&self, cn: &str, days: i64) -> Result<(String, String), DevError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let now = time_now();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(days);
        self.issue(params)
    }

    /// A rustls server configuration for `names`. Client certificates issued by this CA are
    /// verified when presented; connections without one are still accepted (the service then
    /// asks for another kind of authentication).
    pub fn server_config(&self, names: &[&str]) -> Result<Arc<ServerConfig>, DevError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (cert_pem, key_pem) = self.issue_server(names)?;
        let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(tls_err)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(tls_err)?;
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(self.cert_pem.as_bytes()) {
            roots.add(ca.map_err(tls_err)?).map_err(tls_err)?;
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(tls_err)?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(tls_err)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// The connection limits of every stand-in: `httpserve`'s defaults (2048 connections, 10 s for
/// headers and for the TLS handshake, 60 s idle), with five seconds for open requests when the
/// stack stops, so Ctrl-C never waits on a client.
pub fn server_limits() -> httpserve::Limits {
    httpserve::Limits {
        shutdown_grace: Duration::from_secs(5),
        ..httpserve::Limits::default()
    }
}

/// Serves `app` over TLS on `listener` under `limits` until `shutdown` resolves. Each request carries the
/// connection's verified client certificate, if any, as an `Extension<Option<PeerCertificate>>`.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    config: Arc<ServerConfig>,
    limits: httpserve::Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    httpserve::serve(
        listener,
        httpserve::Transport::Tls(config),
        limits,
        move |peer| {
            let cert = peer.client_cert.clone().map(|der| PeerCertificate { der });
            app.clone().layer(axum::Extension(cert))
        },
        shutdown,
    )
    .await;
}
