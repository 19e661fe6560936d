//! The XSUAA token client (docs/protocols.md §XSUAA token endpoint): client-credentials tokens
//! with a cache, and the uncached user grants (`authorization_code`, `refresh_token`, and the
//! resource owner `password` grant of RFC 6749 §4.3 for command-line clients:
//! `grant_type=password&username=…&password=…` with the client's own authentication, as in
//! SAP's "Password Grant" for XSUAA; the client's `grant-types` in `xs-security.json` must
//! list `password`).
//!
//! - **Secret bindings** (`binding-secret`, `instance-secret`): `POST {url}/oauth/token` with
//!   `grant_type=client_credentials&client_id=…&client_secret=…` in the form body, the variant
//!   xssec 4 and SAP recommend ([`ClientAuthStyle::Form`]). [`ClientAuthStyle::Basic`] sends
//!   HTTP Basic instead, following SAP's rule for secrets containing `+`: id and secret are
//!   URL-encoded before base64, and `X-CF-ENCODED-CREDENTIALS: true` says so.
//! - **X.509 bindings** (`x509`): `POST {certurl}/oauth/token` over mTLS with the binding's
//!   certificate and key; the body carries `client_id` but no secret.
//! - Optional: requested `scope`s (space-separated) and an `x-zid` header for another zone.
//! - **Cache**, keyed by (token URL, client id, zone id, sorted scopes): a token is served
//!   while more than the refresh margin of its lifetime remains (300 s by default, never more
//!   than half the lifetime). One caller refreshes at a time; the others wait and share its
//!   result. If the refresh fails while the cached token has not expired, the cached token is
//!   served (with a warning) and the refresh is retried after 10 s; an expired token is never
//!   served. Time is `tokio::time`, so tests run under a paused clock.
//!
//! Also home of the crate's reqwest client builder (rustls, extra roots, timeouts), shared
//! with [`crate::jwks`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cfenv::{Secret, XsuaaBinding, XsuaaCredentialType};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use tokio::time::Instant;
use url::Url;
use url::form_urlencoded;

use crate::error::TokenError;

/// Largest token endpoint response we read.
const MAX_RESPONSE: usize = 256 << 10;
/// Longest XSUAA error text we repeat.
const MAX_MESSAGE: usize = 200;
/// After a failed refresh while a valid token is cached, how long to keep serving it before
/// trying again (so an XSUAA outage does not make every caller wait for a timeout).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);
/// Longest token lifetime believed (one year).
const MAX_LIFETIME_S: u64 = 365 * 24 * 3600;
/// The header that says Basic credentials are URL-encoded.
pub const ENCODED_CREDENTIALS_HEADER: &str = "X-CF-ENCODED-CREDENTIALS";
/// The header that selects another identity zone.
pub const ZONE_HEADER: &str = "x-zid";

/// How a secret binding authenticates the client at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuthStyle {
    /// `client_id` and `client_secret` form fields (recommended; xssec 4 does this).
    #[default]
    Form,
    /// HTTP Basic with URL-encoded id and secret and `X-CF-ENCODED-CREDENTIALS: true`.
    Basic,
}

/// Settings for [`TokenClient`] that do not come from the binding.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Deadline for one token request (connect, send, receive).
    pub timeout: Duration,
    /// Extra trusted root certificates (PEM), e.g. the local dev CA.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// Refresh a cached token when less than this remains (capped at half its lifetime).
    pub refresh_margin: Duration,
    /// Client authentication for secret bindings (ignored for X.509).
    pub auth_style: ClientAuthStyle,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            extra_roots_pem: Vec::new(),
            refresh_margin: Duration::from_secs(300),
            auth_style: ClientAuthStyle::Form,
        }
    }
}

/// What to ask for beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// Scopes to request (a subset of the client's); empty = all the client has.
    pub scopes: Vec<String>,
    /// Another identity zone (sent as `x-zid`); `None` = the binding's zone.
    pub zone_id: Option<String>,
}

/// An access token from XSUAA.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The JWT. `Debug`/`Display` print `[redacted]`.
    pub token: Secret,
    /// When it expires, on the tokio clock (`expires_in` counted from when the request was sent).
    pub expires_at: Instant,
    /// When it expires, on the wall clock.
    pub expires_at_system: SystemTime,
    /// The granted scopes (the response's space-separated `scope`).
    pub scopes: Vec<String>,
}

/// Tokens from a user grant (`authorization_code`, `refresh_token`, `password`).
#[derive(Debug, Clone)]
pub struct UserTokens {
    /// The access token (JWT).
    pub access_token: Secret,
    /// The refresh token, if XSUAA issued one.
    pub refresh_token: Option<Secret>,
    /// The OpenID Connect ID token, if XSUAA issued one.
    pub id_token: Option<Secret>,
    /// Lifetime of the access token in seconds, as XSUAA sent it (`expires_in`).
    pub expires_in: u64,
    /// The granted scopes.
    pub scopes: Vec<String>,
}

enum Auth {
    Secret {
        secret: Secret,
        style: ClientAuthStyle,
    },
    X509,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    token_url: String,
    client_id: String,
    zone_id: Option<String>,
    scopes: Vec<String>,
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
    failed_at: Option<Instant>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// The token client for one `xsuaa` binding.
pub struct TokenClient {
    http: reqwest::Client,
    token_url: String,
    host: String,
    client_id: String,
    auth: Auth,
    timeout: Duration,
    refresh_margin: Duration,
    cache: Mutex<HashMap<CacheKey, Slot>>,
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            Auth::Secret {
                style: ClientAuthStyle::Form,
                ..
            } => "secret (form)",
            Auth::Secret {
                style: ClientAuthStyle::Basic,
                ..
            } => "secret (basic)",
            Auth::X509 => "x509",
        };
        f.debug_struct("TokenClient")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("auth", &auth)
            .finish_non_exhaustive()
    }
}

impl TokenClient {
    /// Builds a client for the binding: secret auth against `{url}/oauth/token`, or mTLS
    /// against `{certurl}/oauth/token` for `x509`.
    pub fn from_binding(
        binding: &XsuaaBinding,
        options: &ClientOptions,
    ) -> Result<Self, TokenError> {
        let use_x509 = match &binding.credential_type {
            XsuaaCredentialType::X509 => true,
            XsuaaCredentialType::BindingSecret | XsuaaCredentialType::InstanceSecret => false,
            XsuaaCredentialType::Other(_) => binding.clientsecret.is_none(),
        };
        let (base, auth, identity) = if use_x509 {
            let (Some(cert), Some(key), Some(certurl)) =
                (&binding.certificate, &binding.key, &binding.certurl)
            else {
                return Err(TokenError::Binding {
                    field: "credentials",
                    reason: format!(
                        "credential-type `{}` needs a client secret, or certificate, key and \
                         certurl in the binding",
                        binding.credential_type
                    ),
                });
            };
            let mut pem = cert.expose().as_bytes().to_vec();
            pem.push(b'\n');
            pem.extend_from_slice(key.expose().as_bytes());
            let identity = reqwest::Identity::from_pem(&pem).map_err(|_| TokenError::Binding {
                field: "credentials.certificate",
                reason: "certificate and key are not a usable PEM client identity".into(),
            })?;
            (certurl, Auth::X509, Some(identity))
        } else {
            let Some(secret) = &binding.clientsecret else {
                return Err(TokenError::Binding {
                    field: "credentials.clientsecret",
                    reason: "missing".into(),
                });
            };
            let auth = Auth::Secret {
                secret: secret.clone(),
                style: options.auth_style,
            };
            (&binding.url, auth, None)
        };
        let http =
            http_client(options.timeout, &options.extra_roots_pem, identity).map_err(|reason| {
                TokenError::Binding {
                    field: "credentials",
                    reason,
                }
            })?;
        Ok(Self {
            http,
            token_url: format!("{}/oauth/token", base.as_str().trim_end_matches('/')),
            host: host_of(base),
            client_id: binding.clientid.clone(),
            auth,
            timeout: options.timeout,
            refresh_margin: options.refresh_margin,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The token endpoint, `{url or certurl}/oauth/token`.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The OAuth client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// A client-credentials token with the client's default scopes in its own zone, from the
    /// cache when possible.
    pub async fn access_token(&self) -> Result<AccessToken, TokenError> {
        self.access_token_for(&TokenRequest::default()).await
    }

    /// A client-credentials token for `request` (scopes, zone), from the cache when possible.
    pub async fn access_token_for(
        &self,
        request: &TokenRequest,
    ) -> Result<AccessToken, TokenError> {
        let mut scopes = request.scopes.clone();
        scopes.sort();
        scopes.dedup();
        let slot = self.slot(CacheKey {
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            zone_id: request.zone_id.clone(),
            scopes: scopes.clone(),
        });
        // Holding the slot's lock across the request makes the refresh single-flight.
        let mut cached = slot.lock().await;
        let now = Instant::now();
        if let Some(c) = cached.as_ref() {
            let backing_off = c
                .failed_at
                .is_some_and(|at| now.duration_since(at) < RETRY_AFTER_FAILURE);
            if now < c.refresh_at || (backing_off && now < c.token.expires_at) {
                return Ok(c.token.clone());
            }
        }
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if !scopes.is_empty() {
            form.push(("scope", scopes.join(" ")));
        }
        let started = Instant::now();
        match self.send(form, request.zone_id.as_deref()).await {
            Ok(resp) => {
                // Capped so that `Instant + lifetime` cannot overflow on a silly value.
                let lifetime = Duration::from_secs(resp.expires_in.min(MAX_LIFETIME_S));
                let margin = self.refresh_margin.min(lifetime / 2);
                let token = AccessToken {
                    token: Secret::new(resp.access_token),
                    expires_at: started + lifetime,
                    expires_at_system: SystemTime::now() + lifetime,
                    scopes: split_scopes(resp.scope.as_deref()),
                };
                tracing::debug!(
                    oauth.client_id = %self.client_id,
                    expires_in_s = resp.expires_in,
                    duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "fetched client-credentials token"
                );
                *cached = Some(Cached {
                    token: token.clone(),
                    refresh_at: started + (lifetime - margin),
                    failed_at: None,
                });
                Ok(token)
            }
            Err(err) => match cached.as_mut() {
                Some(c) if Instant::now() < c.token.expires_at => {
                    let left = c.token.expires_at.duration_since(Instant::now());
                    tracing::warn!(
                        oauth.client_id = %self.client_id,
                        remaining_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
                        error = %err,
                        "token refresh failed; serving the cached token until it expires"
                    );
                    c.failed_at = Some(Instant::now());
                    Ok(c.token.clone())
                }
                _ => {
                    *cached = None;
                    Err(err)
                }
            },
        }
    }

    /// Exchanges an authorization code for user tokens (uncached).
    pub async fn authorization_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<UserTokens, TokenError> {
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
        ];
        self.send(form, None).await.and_then(user_tokens)
    }

    /// Exchanges a refresh token for new user tokens (uncached).
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<UserTokens, TokenError> {
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token.expose().to_owned()),
        ];
        self.send(form, None).await.and_then(user_tokens)
    }

    /// A user's tokens with the resource owner password grant (uncached): the user's name and
    /// password go in the form next to the client's authentication. XSUAA answers a wrong
    /// password or an unknown user with a 401 `unauthorized` ([`TokenError::Rejected`]). The
    /// password appears in no error, log line or `Debug` output.
    pub async fn password(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<UserTokens, TokenError> {
        let form = vec![
            ("grant_type", "password".to_owned()),
            ("username", username.to_owned()),
            ("password", password.expose().to_owned()),
        ];
        self.send(form, None).await.and_then(user_tokens)
    }

    fn slot(&self, key: CacheKey) -> Slot {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.entry(key).or_default().clone()
    }

    /// POSTs the grant with the client's authentication and reads the token response.
    async fn send(
        &self,
        grant: Vec<(&'static str, String)>,
        zone_id: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        let mut req = self.http.post(&self.token_url);
        // Built in a block: the serializer is not `Send` and must not live across an await.
        let body = {
            let mut body = form_urlencoded::Serializer::new(String::new());
            let mut grant = grant.into_iter();
            if let Some((name, value)) = grant.next() {
                body.append_pair(name, &value);
            }
            match &self.auth {
                Auth::Secret {
                    secret,
                    style: ClientAuthStyle::Form,
                } => {
                    body.append_pair("client_id", &self.client_id);
                    body.append_pair("client_secret", secret.expose());
                }
                Auth::Secret {
                    secret,
                    style: ClientAuthStyle::Basic,
                } => {
                    let pair = format!(
                        "{}:{}",
                        url_encode(&self.client_id),
                        url_encode(secret.expose())
                    );
                    req = req
                        .header(AUTHORIZATION, format!("Basic {}", STANDARD.encode(pair)))
                        .header(ENCODED_CREDENTIALS_HEADER, "true");
                }
                Auth::X509 => {
                    body.append_pair("client_id", &self.client_id);
                }
            }
            for (name, value) in grant {
                body.append_pair(name, &value);
            }
            body.finish()
        };
        if let Some(zid) = zone_id {
            req = req.header(ZONE_HEADER, zid);
        }
        let mut resp = req
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport(&e))?;
        let status = resp.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(&e))? {
            if bytes.len() + chunk.len() > MAX_RESPONSE {
                return Err(TokenError::InvalidResponse("response larger than 256 KiB"));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(rejected(status.as_u16(), &bytes));
        }
        // serde errors are dropped on purpose: their text can quote the token.
        let resp: TokenResponse = serde_json::from_slice(&bytes)
            .map_err(|_| TokenError::InvalidResponse("not a JSON token response"))?;
        if resp.access_token.is_empty() {
            return Err(TokenError::InvalidResponse("empty access_token"));
        }
        if resp
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(TokenError::InvalidResponse("token_type is not bearer"));
        }
        Ok(resp)
    }

    fn transport(&self, e: &reqwest::Error) -> TokenError {
        if e.is_timeout() {
            TokenError::Timeout {
                host: self.host.clone(),
                timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            }
        } else {
            TokenError::Unreachable {
                host: self.host.clone(),
                reason: cfenv::text::root_cause(e),
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    expires_in: u64,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(serde::Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

fn rejected(status: u16, body: &[u8]) -> TokenError {
    let parsed: Option<OAuthError> = serde_json::from_slice(body).ok();
    let (error, error_description) = parsed
        .map(|e| (e.error, e.error_description))
        .unwrap_or_default();
    // Each field is cut to MAX_MESSAGE characters, on one line: it goes into errors and logs.
    let cut = |text: String| {
        use cfenv::text::{Controls, Ellipsis};
        cfenv::text::cut(&text, MAX_MESSAGE, Controls::Drop, Ellipsis::WhenCut)
    };
    TokenError::Rejected {
        status,
        error: error.map(cut),
        error_description: error_description.map(cut),
    }
}

fn user_tokens(resp: TokenResponse) -> Result<UserTokens, TokenError> {
    Ok(UserTokens {
        scopes: split_scopes(resp.scope.as_deref()),
        access_token: Secret::new(resp.access_token),
        refresh_token: resp.refresh_token.map(Secret::new),
        id_token: resp.id_token.map(Secret::new),
        expires_in: resp.expires_in,
    })
}

fn split_scopes(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `application/x-www-form-urlencoded` encoding of one value (`+` → `%2B`, `$` → `%24`,
/// `=` → `%3D`, space → `+`), which UAA decodes when `X-CF-ENCODED-CREDENTIALS` is set.
fn url_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A reqwest client with rustls, the platform's roots plus `extra_roots_pem`, the timeout, and
/// an optional client identity. `Err` is our own wording.
pub(crate) fn http_client(
    timeout: Duration,
    extra_roots_pem: &[Vec<u8>],
    identity: Option<reqwest::Identity>,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("btp-aws-bridge/", env!("CARGO_PKG_VERSION")));
    // The platform's roots come from `tlsroots`, read once per process, not per client.
    let roots = tlsroots::with_extra(extra_roots_pem)
        .map_err(|_| "extra root certificates are not a PEM bundle".to_owned())?;
    let roots = roots
        .iter()
        .map(|der| reqwest::Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "extra root certificates are not usable".to_owned())?;
    builder = builder.tls_certs_only(roots);
    if let Some(identity) = identity {
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build HTTP client: {}", cfenv::text::root_cause(&e)))
}

/// `host:port` of a URL, for error messages.
pub(crate) fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => "(no host)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encodes_credentials_the_way_uaa_decodes_them() {
        assert_eq!(url_encode("sb-a!t1|x"), "sb-a%21t1%7Cx");
        assert_eq!(url_encode("a+b$c=d/e f"), "a%2Bb%24c%3Dd%2Fe+f");
    }

    #[test]
    fn splits_space_separated_scopes() {
        assert_eq!(split_scopes(Some("a  b c")), ["a", "b", "c"]);
        assert!(split_scopes(None).is_empty());
    }

    #[test]
    fn keeps_only_the_oauth_fields_of_an_error_body() {
        let err = rejected(
            401,
            br#"{"error":"unauthorized","error_description":"Bad credentials","x":"y"}"#,
        );
        assert_eq!(
            err,
            TokenError::Rejected {
                status: 401,
                error: Some("unauthorized".into()),
                error_description: Some("Bad credentials".into()),
            }
        );
        assert_eq!(
            err.to_string(),
            "XSUAA refused the token request (HTTP 401): unauthorized (Bad credentials)"
        );
        let err = rejected(502, b"<html>secret-ish</html>");
        assert!(!err.to_string().contains("secret-ish"));
        assert!(err.is_transient());
    }
}
