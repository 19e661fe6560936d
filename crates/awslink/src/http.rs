//! The one HTTP client every SDK client of this crate uses: hyper + rustls on aws-lc-rs (the
//! workspace's TLS stack), trusting the platform's roots plus extra root certificates given
//! as PEM (the local dev CA, as `BRIDGE_EXTRA_CA_CERTS` names it for the other clients).
//! Verification is never switched off.
//!
//! It speaks plain `http://` too, for local emulators (moto in the tests); whether a URL is
//! `https` is the configuration's choice. It does not read `HTTP(S)_PROXY`: Private Link and
//! STS are reached directly from Cloud Foundry.
//!
//! An optional DNS override ([`http_client`]'s `resolve`) maps every host name ending in a
//! suffix to one address: the dev stack uses it for the Private Link wildcard name
//! (`*.vpce-dev.s3.<region>.localhost`), which no DNS server answers, as AWS's wildcard DNS
//! does for a real endpoint. Other names go to the system resolver. Production passes none.
//!
//! The PEM is checked here, before the SDK sees it, because aws-smithy-http-client only
//! parses it when the first connection is made, and panics if it is not a certificate.

use std::net::IpAddr;
use std::time::Duration;

use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};

use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::Error;

/// Timeouts of one SDK client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection (TCP + TLS).
    pub connect: Duration,
    /// One attempt, until the response head arrives (uploads: including the body).
    pub attempt: Duration,
    /// The whole operation, all retries included.
    pub operation: Duration,
}

impl Timeouts {
    /// For STS: small requests, answered fast.
    pub const STS: Timeouts = Timeouts {
        connect: Duration::from_secs(5),
        attempt: Duration::from_secs(10),
        operation: Duration::from_secs(25),
    };

    /// For S3: an attempt may carry a large upload.
    pub const S3: Timeouts = Timeouts {
        connect: Duration::from_secs(5),
        attempt: Duration::from_secs(120),
        operation: Duration::from_secs(300),
    };

    pub(crate) fn config(&self) -> aws_sdk_s3::config::timeout::TimeoutConfig {
        aws_sdk_s3::config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// Builds the HTTP client, trusting the platform's roots and every certificate in
/// `extra_roots_pem` (each entry a PEM bundle of one or more certificates). `resolve` maps
/// host-name suffixes to addresses (see the module doc); empty: the system resolver only.
pub fn http_client(
    extra_roots_pem: &[Vec<u8>],
    resolve: &[(String, IpAddr)],
) -> Result<SharedHttpClient, Error> {
    for (i, pem) in extra_roots_pem.iter().enumerate() {
        check_roots(pem).map_err(|reason| Error::Invalid {
            what: "extra root certificates",
            reason: format!("bundle {}: {reason}", i + 1),
        })?;
    }
    // The platform's roots come from `tlsroots`, read once per process, not per client.
    let roots = tlsroots::with_extra(extra_roots_pem).map_err(|e| Error::Invalid {
        what: "extra root certificates",
        reason: e.to_string(),
    })?;
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(tlsroots::to_pem(&roots));
    let tls_context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| Error::Invalid {
            what: "TLS settings",
            reason: e.to_string(),
        })?;
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls_context);
    if resolve.is_empty() {
        return Ok(builder.build_https());
    }
    let overrides = resolve
        .iter()
        .map(|(suffix, ip)| {
            let suffix = suffix.trim_start_matches("*.").trim_start_matches('.');
            if suffix.is_empty() {
                return Err(Error::Invalid {
                    what: "DNS override",
                    reason: "empty host suffix".to_owned(),
                });
            }
            Ok((suffix.to_ascii_lowercase(), *ip))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(builder.build_with_resolver(OverrideResolver {
        overrides: overrides.into(),
    }))
}

/// Host names equal to or ending in `.<suffix>` resolve to the override's address; others
/// through the system resolver.
#[derive(Debug, Clone)]
struct OverrideResolver {
    overrides: std::sync::Arc<[(String, IpAddr)]>,
}

impl OverrideResolver {
    fn lookup(&self, name: &str) -> Option<IpAddr> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.overrides.iter().find_map(|(suffix, ip)| {
            let hit = name == *suffix
                || name
                    .strip_suffix(suffix.as_str())
                    .is_some_and(|rest| rest.ends_with('.'));
            hit.then_some(*ip)
        })
    }
}

impl ResolveDns for OverrideResolver {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        if let Some(ip) = self.lookup(name) {
            return DnsFuture::ready(Ok(vec![ip]));
        }
        DnsFuture::new(async move {
            tokio::net::lookup_host((name, 0))
                .await
                .map(|addrs| addrs.map(|a| a.ip()).collect())
                .map_err(ResolveDnsError::new)
        })
    }
}

/// At least one certificate, each one usable as a trust anchor.
fn check_roots(pem: &[u8]) -> Result<(), String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "not PEM".to_owned())?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block".into());
    }
    let mut roots = rustls::RootCertStore::empty();
    for (n, cert) in certs.into_iter().enumerate() {
        roots
            .add(cert)
            .map_err(|e| format!("certificate {}: {e}", n + 1))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_is_not_a_certificate() {
        for bad in [
            &b"hello"[..],
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            let err = http_client(&[bad.to_vec()], &[]).err();
            assert!(
                matches!(
                    err,
                    Some(Error::Invalid {
                        what: "extra root certificates",
                        ..
                    })
                ),
                "{err:?}"
            );
        }
        assert!(http_client(&[], &[]).is_ok());
    }

    #[test]
    fn overrides_match_suffixes_only() {
        let ip: IpAddr = [127, 0, 0, 1].into();
        let r = OverrideResolver {
            overrides: vec![("vpce-dev.s3.eu-central-1.localhost".to_owned(), ip)].into(),
        };
        assert_eq!(
            r.lookup("docs.bucket.vpce-dev.s3.eu-central-1.localhost"),
            Some(ip)
        );
        assert_eq!(r.lookup("VPCE-DEV.s3.eu-central-1.localhost."), Some(ip));
        assert_eq!(r.lookup("xvpce-dev.s3.eu-central-1.localhost"), None);
        assert_eq!(r.lookup("example.com"), None);
        assert!(http_client(&[], &[("*.".to_owned(), ip)]).is_err());
    }
}
