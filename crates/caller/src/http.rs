//! The function's two HTTP clients, both rustls on aws-lc-rs trusting the platform's roots plus
//! the extra roots of `BRIDGE_EXTRA_CA_CERTS` (read once per process by `tlsroots`); neither
//! ever switches verification off.
//!
//! - [`sdk_client`]: for the Secrets Manager SDK client (aws-smithy-http-client; speaks plain
//!   `http://` too, for local endpoints).
//! - [`app_client`]: reqwest, for the app. Redirects are not followed (a bearer token goes to
//!   the configured app and nowhere else; a 3xx is a final answer), the connect timeout is
//!   short, and each attempt sets its own total timeout from the invocation's deadline.

use std::time::Duration;

use aws_sdk_secretsmanager::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

use crate::error::CallerError;
use crate::settings::EXTRA_CA_CERTS;

/// Longest time to establish a connection to the app (TCP + TLS).
pub const APP_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP client of the SDK.
pub fn sdk_client(extra_roots_pem: &[Vec<u8>]) -> Result<SharedHttpClient, CallerError> {
    let roots = tlsroots::with_extra(extra_roots_pem)
        .map_err(|e| CallerError::config(EXTRA_CA_CERTS, e.reason))?;
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(tlsroots::to_pem(&roots));
    let tls_context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| CallerError::config(EXTRA_CA_CERTS, format!("TLS settings: {e}")))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls_context)
        .build_https())
}

/// The HTTP client for the app.
pub fn app_client(extra_roots_pem: &[Vec<u8>]) -> Result<reqwest::Client, CallerError> {
    let roots = tlsroots::with_extra(extra_roots_pem)
        .map_err(|e| CallerError::config(EXTRA_CA_CERTS, e.reason))?
        .iter()
        .map(|der| reqwest::Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| CallerError::config(EXTRA_CA_CERTS, "certificates are not usable"))?;
    reqwest::Client::builder()
        .tls_certs_only(roots)
        .connect_timeout(APP_CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("btp-aws-bridge-caller/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            CallerError::config(
                EXTRA_CA_CERTS,
                format!(
                    "cannot build the HTTP client: {}",
                    cfenv::text::root_cause(&e)
                ),
            )
        })
}
