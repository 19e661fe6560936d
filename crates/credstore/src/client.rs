//! The HTTP client for the SAP Credential Store REST API: basic or mTLS authentication, the
//! `sapcp-credstore-namespace` header, JWE bodies both ways, conditional writes, paginated
//! lists, and a timeout on every call (docs/protocols.md §SAP Credential Store).

use std::time::Duration;

use async_trait::async_trait;
use cfenv::text::{Controls, Ellipsis, json_error, root_cause};
use cfenv::{CredStoreAuth, CredStoreBinding};
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderValue, IF_MATCH, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::error::Error;
use crate::jwe::{self, IatPolicy, PrivateKey, PublicKey};
use crate::model::{
    Credential, CredentialMeta, CredentialType, NewCredential, Page, WireCredential, validate_name,
    validate_namespace,
};
use crate::{CredentialStore, WriteMode};

/// The namespace header every call carries.
pub const NAMESPACE_HEADER: &str = "sapcp-credstore-namespace";
/// Largest response body we read; anything bigger is refused.
const MAX_BODY: usize = 4 << 20;
/// Longest store message we repeat in an error.
const MAX_MESSAGE: usize = 200;

/// Settings for [`Client`] that do not come from the binding.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Deadline for one whole call (connect, send, receive).
    pub timeout: Duration,
    /// Extra trusted root certificates (PEM), e.g. the local dev CA.
    pub extra_roots_pem: Vec<Vec<u8>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            extra_roots_pem: Vec::new(),
        }
    }
}

struct Crypto {
    /// Ours: decrypts what the store sends.
    client_key: PrivateKey,
    /// The store's: encrypts what we send.
    server_key: PublicKey,
}

/// A Credential Store client built from a `credstore` binding.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    host: String,
    basic: Option<(String, cfenv::Secret)>,
    crypto: Option<Crypto>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("basic_auth", &self.basic.is_some())
            .field("encryption", &self.crypto.is_some())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client for the binding: basic or mTLS auth, payload encryption when the binding
    /// has encryption keys.
    pub fn from_binding(
        binding: &CredStoreBinding,
        options: &ClientOptions,
    ) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("btp-aws-bridge/", env!("CARGO_PKG_VERSION")));
        // The platform's roots come from `tlsroots`, read once per process, not per client.
        let not_pem = |_| Error::Binding {
            field: "BRIDGE_EXTRA_CA_CERTS",
            reason: "not a PEM certificate bundle".into(),
        };
        let roots = tlsroots::with_extra(&options.extra_roots_pem).map_err(not_pem)?;
        let roots = roots
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::Binding {
                field: "BRIDGE_EXTRA_CA_CERTS",
                reason: "a certificate is not usable as a root".into(),
            })?;
        builder = builder.tls_certs_only(roots);
        let basic = match &binding.auth {
            CredStoreAuth::Basic { password } => Some((binding.username.clone(), password.clone())),
            CredStoreAuth::Mtls { certificate, key } => {
                let mut pem = certificate.expose().as_bytes().to_vec();
                pem.push(b'\n');
                pem.extend_from_slice(key.expose().as_bytes());
                let identity = reqwest::Identity::from_pem(&pem).map_err(|_| Error::Binding {
                    field: "credentials.certificate",
                    reason: "certificate and key are not a usable PEM client identity".into(),
                })?;
                builder = builder.identity(identity);
                None
            }
            CredStoreAuth::OAuthMtls { .. } | CredStoreAuth::OAuthKey { .. } => {
                return Err(Error::Binding {
                    field: "credentials",
                    reason: "authentication types oauth:mtls and oauth:key are not supported yet; \
                             bind with basic or mtls"
                        .into(),
                });
            }
        };
        let crypto = match &binding.encryption {
            Some(enc) => Some(Crypto {
                client_key: PrivateKey::from_base64_der(enc.client_private_key.expose()).map_err(
                    |e| Error::Binding {
                        field: "credentials.encryption.client_private_key",
                        reason: e.to_string(),
                    },
                )?,
                server_key: PublicKey::from_base64_der(&enc.server_public_key).map_err(|e| {
                    Error::Binding {
                        field: "credentials.encryption.server_public_key",
                        reason: e.to_string(),
                    }
                })?,
            }),
            None => None,
        };
        let http = builder.build().map_err(|e| Error::Binding {
            field: "credentials",
            reason: format!("cannot build HTTP client: {}", root_cause(&e)),
        })?;
        let host = match (binding.url.host_str(), binding.url.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => binding.url.to_string(),
        };
        Ok(Self {
            http,
            base: binding.url.clone(),
            host,
            basic,
            crypto,
            timeout: options.timeout,
        })
    }

    /// The base URL (`…/api/v1/credentials`).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, segment: &str) -> String {
        format!("{}/{segment}", self.base.as_str().trim_end_matches('/'))
    }

    async fn call(
        &self,
        method: Method,
        segment: &str,
        namespace: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        extra: &[(reqwest::header::HeaderName, String)],
    ) -> Result<Reply, Error> {
        validate_namespace(namespace)?;
        let mut req = self
            .http
            .request(method, self.url(segment))
            .header(NAMESPACE_HEADER, namespace)
            .query(query);
        if let Some((user, pass)) = &self.basic {
            req = req.basic_auth(user, Some(pass.expose()));
        }
        for (name, value) in extra {
            req = req.header(name, value);
        }
        if let Some(body) = body {
            let (ct, body) = match &self.crypto {
                Some(c) => (
                    jwe::CONTENT_TYPE,
                    c.server_key.encrypt(&body, now())?.into_bytes(),
                ),
                None => ("application/json", body),
            };
            req = req.header(CONTENT_TYPE, ct).body(body);
        }
        let mut resp = req.send().await.map_err(|e| self.transport(&e))?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let is_jose = resp.headers().get(CONTENT_TYPE).is_some_and(is_jose);
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(&e))? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(Error::InvalidResponse(
                    "response body larger than 4 MiB".into(),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            etag,
            is_jose,
            body: bytes,
        })
    }

    fn transport(&self, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout {
                host: self.host.clone(),
                timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            }
        } else {
            Error::Unreachable {
                host: self.host.clone(),
                reason: root_cause(e),
            }
        }
    }

    /// Decrypts (if the store encrypted it) and parses a success body.
    fn payload<T: serde::de::DeserializeOwned>(&self, reply: &Reply) -> Result<T, Error> {
        let plain = if reply.is_jose {
            let crypto = self.crypto.as_ref().ok_or_else(|| {
                Error::InvalidResponse(
                    "store sent an encrypted payload but the binding has no encryption keys".into(),
                )
            })?;
            let text = std::str::from_utf8(&reply.body)
                .map_err(|_| Error::InvalidResponse("JWE body is not text".into()))?;
            crypto
                .client_key
                .decrypt(text, IatPolicy::RESPONSE, now())?
        } else {
            if self.crypto.is_some() {
                // The binding says payloads are encrypted; a plaintext answer is not trusted.
                return Err(Error::InvalidResponse(
                    "expected an encrypted (application/jose) payload, got plaintext".into(),
                ));
            }
            reply.body.clone()
        };
        serde_json::from_slice(&plain).map_err(|e| {
            Error::InvalidResponse(format!(
                "payload is not the expected JSON: {}",
                json_error(&e)
            ))
        })
    }

    fn failure(&self, reply: &Reply, kind: CredentialType, namespace: &str, name: &str) -> Error {
        let message = store_message(&reply.body);
        match reply.status {
            StatusCode::NOT_FOUND if message.to_ascii_lowercase().contains("namespace") => {
                Error::NoNamespace {
                    namespace: namespace.to_owned(),
                    message,
                }
            }
            StatusCode::NOT_FOUND => Error::NotFound {
                kind,
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            },
            StatusCode::UNAUTHORIZED => Error::Unauthorized { message },
            StatusCode::FORBIDDEN => Error::Forbidden {
                namespace: namespace.to_owned(),
                message,
            },
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => Error::Precondition {
                kind,
                name: name.to_owned(),
                status: reply.status.as_u16(),
                message,
            },
            s => Error::Rejected {
                status: s.as_u16(),
                message,
            },
        }
    }
}

struct Reply {
    status: StatusCode,
    etag: Option<String>,
    is_jose: bool,
    body: Vec<u8>,
}

#[async_trait]
impl CredentialStore for Client {
    async fn read(
        &self,
        kind: CredentialType,
        namespace: &str,
        name: &str,
    ) -> Result<Credential, Error> {
        validate_name(name)?;
        let reply = self
            .call(
                Method::GET,
                kind.path(),
                namespace,
                &[("name", name.to_owned())],
                None,
                &[],
            )
            .await?;
        if !reply.status.is_success() {
            return Err(self.failure(&reply, kind, namespace, name));
        }
        let wire: WireCredential = self.payload(&reply)?;
        let mut cred = wire.into_credential(kind);
        cred.etag = reply.etag;
        Ok(cred)
    }

    async fn write(
        &self,
        kind: CredentialType,
        namespace: &str,
        credential: &NewCredential,
        mode: WriteMode,
    ) -> Result<Credential, Error> {
        credential.validate(kind)?;
        let body = serde_json::to_vec(&WireCredential::from_new(credential))
            .map_err(|e| Error::InvalidResponse(e.to_string()))?;
        let extra = match mode {
            WriteMode::Upsert => vec![],
            WriteMode::CreateOnly => vec![(IF_NONE_MATCH, "*".to_owned())],
            WriteMode::UpdateOnly => vec![(IF_MATCH, "*".to_owned())],
            WriteMode::IfMatch(etag) => vec![(IF_MATCH, etag)],
        };
        let reply = self
            .call(
                Method::POST,
                kind.path(),
                namespace,
                &[],
                Some(body),
                &extra,
            )
            .await?;
        if !reply.status.is_success() {
            return Err(self.failure(&reply, kind, namespace, &credential.name));
        }
        if reply.body.is_empty() {
            // Some deployments answer a write without a body; report what we sent, minus id.
            let mut cred = WireCredential::from_new(credential).into_credential(kind);
            cred.etag = reply.etag;
            return Ok(cred);
        }
        let wire: WireCredential = self.payload(&reply)?;
        let mut cred = wire.into_credential(kind);
        cred.etag = reply.etag;
        Ok(cred)
    }

    async fn delete(&self, kind: CredentialType, namespace: &str, name: &str) -> Result<(), Error> {
        validate_name(name)?;
        let reply = self
            .call(
                Method::DELETE,
                kind.path(),
                namespace,
                &[("name", name.to_owned())],
                None,
                &[],
            )
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(self.failure(&reply, kind, namespace, name))
        }
    }

    async fn list(
        &self,
        kind: CredentialType,
        namespace: &str,
    ) -> Result<Vec<CredentialMeta>, Error> {
        let mut all = Vec::new();
        // Bounded: a store that never says `last` cannot keep us looping.
        for page in 0..10_000u32 {
            let reply = self
                .call(
                    Method::GET,
                    kind.list_path(),
                    namespace,
                    &[("page", page.to_string())],
                    None,
                    &[],
                )
                .await?;
            if !reply.status.is_success() {
                return Err(self.failure(&reply, kind, namespace, ""));
            }
            let value: serde_json::Value = self.payload(&reply)?;
            if value.is_array() {
                // Unpaginated form: a plain array of metadata.
                let items: Vec<CredentialMeta> = serde_json::from_value(value).map_err(|e| {
                    Error::InvalidResponse(format!("list payload: {}", json_error(&e)))
                })?;
                all.extend(items);
                return Ok(all);
            }
            let page: Page = serde_json::from_value(value)
                .map_err(|e| Error::InvalidResponse(format!("list page: {}", json_error(&e))))?;
            let last = page.last || page.content.is_empty();
            all.extend(page.content);
            if last {
                return Ok(all);
            }
        }
        Err(Error::InvalidResponse(
            "list did not end after 10000 pages".into(),
        ))
    }
}

fn is_jose(v: &HeaderValue) -> bool {
    v.to_str()
        .map(|s| s.trim().to_ascii_lowercase().starts_with(jwe::CONTENT_TYPE))
        .unwrap_or(false)
}

/// The store's `message` (or `error`) field from an error body, cut short; never the raw body.
fn store_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let msg = parsed
        .as_ref()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("error_description"))
                .or_else(|| v.get("error"))
        })
        .and_then(|m| m.as_str())
        .unwrap_or("(no message)");
    cfenv::text::cut(msg, MAX_MESSAGE, Controls::Drop, Ellipsis::WhenLonger)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
