//! The local SAP Credential Store: the same REST API as the real service, on loopback, for
//! `bridge dev` and tests (docs/protocols.md §SAP Credential Store).
//!
//! - `GET|POST|DELETE /api/v1/credentials/{password|key}` and `GET /api/v1/credentials/{passwords|keys}`
//!   (paginated: `content`, `last`, `number`, `totalElements`, `?page=`).
//! - Namespace from the `sapcp-credstore-namespace` header; a namespace exists once something
//!   was written into it (the real service creates them in the cockpit).
//! - Basic authentication with the generated binding's user and password, or mTLS with a client
//!   certificate issued by the dev CA.
//! - Payload encryption always on: requests are JWE (RSA-OAEP-256/A256GCM) to the server key and
//!   must carry an `iat` at most 2 minutes old; responses are JWE to the client key.
//! - Conditional requests: `If-None-Match` on reads and writes, `If-Match` on writes.
//! - Everything is kept in `credstore/store.bin`, sealed by [`crate::vault::Vault`].
//!
//! Error bodies are plain JSON `{"status":…,"error":…,"message":…}`. The real service's error
//! schema is unpublished; we chose the Spring Boot default shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cfenv::Secret;
use cfenv::text::{Controls, Ellipsis};
use credstore::client::NAMESPACE_HEADER;
use credstore::jwe::{IatPolicy, PrivateKey, PublicKey};
use credstore::model::{
    CredentialMeta, CredentialType, NewCredential, Page, WireCredential, validate_name,
    validate_namespace,
};
use serde::{Deserialize, Serialize};

use crate::error::DevError;
use crate::files;
use crate::tls::PeerCertificate;
use crate::vault::Vault;

/// Largest request body accepted.
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    id: String,
    etag: String,
    modified_at: String,
    value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<String>,
}

/// namespace → type → name → credential.
type Data = BTreeMap<String, BTreeMap<CredentialType, BTreeMap<String, Stored>>>;

#[derive(Serialize, Deserialize)]
struct Identity {
    username: String,
    password: String,
    server_private_key: String,
    client_private_key: String,
}

struct Inner {
    data: Mutex<Data>,
    vault: Vault,
    store_path: PathBuf,
    username: String,
    password: Secret,
    server_key: PrivateKey,
    client_key_b64: Secret,
    server_public_b64: String,
    client_public: PublicKey,
    page_size: usize,
    reads: std::sync::atomic::AtomicU64,
}

/// The local Credential Store: its keys, its data and its HTTP routes.
#[derive(Clone)]
pub struct LocalCredStore {
    inner: Arc<Inner>,
}

/// Settings of the local Credential Store.
#[derive(Debug, Clone)]
pub struct CredStoreConfig {
    /// Where keys and data live (`<data>/credstore`).
    pub dir: PathBuf,
    /// Credentials per list page.
    pub page_size: usize,
}

impl LocalCredStore {
    /// Opens the store in `config.dir`, creating keys, basic-auth credentials and the master
    /// key on first start.
    pub fn open(config: &CredStoreConfig) -> Result<Self, DevError> {
        files::ensure_private_dir(&config.dir)?;
        let vault = Vault::open(&config.dir)?;
        let id_path = config.dir.join("identity.bin");
        let identity: Identity = vault.load_or_create_json(&id_path, || {
            let key_b64 = |k: &PrivateKey| -> Result<String, DevError> {
                let der = k.to_pkcs8().map_err(|_| DevError::Crypto {
                    what: "RSA key encoding",
                })?;
                Ok(STANDARD.encode(der))
            };
            let generate = || {
                PrivateKey::generate().map_err(|_| DevError::Crypto {
                    what: "RSA key generation",
                })
            };
            let server = generate()?;
            let client = generate()?;
            Ok(Identity {
                username: format!("{}.0.dev", uuid::Uuid::new_v4()),
                password: random_password(),
                server_private_key: key_b64(&server)?,
                client_private_key: key_b64(&client)?,
            })
        })?;
        let corrupt = |reason: String| DevError::Corrupt {
            path: id_path.clone(),
            reason,
        };
        let server_key = PrivateKey::from_base64_der(&identity.server_private_key)
            .map_err(|e| corrupt(e.to_string()))?;
        let client_key = PrivateKey::from_base64_der(&identity.client_private_key)
            .map_err(|e| corrupt(e.to_string()))?;
        let store_path = config.dir.join("store.bin");
        let data: Data = vault.open_json(&store_path)?.unwrap_or_default();
        Ok(Self {
            inner: Arc::new(Inner {
                data: Mutex::new(data),
                vault,
                store_path,
                username: identity.username,
                password: Secret::new(identity.password),
                server_public_b64: server_key
                    .public_key_base64_der()
                    .map_err(|e| corrupt(e.to_string()))?,
                client_public: client_key
                    .public_key()
                    .map_err(|e| corrupt(e.to_string()))?,
                server_key,
                client_key_b64: Secret::new(identity.client_private_key),
                page_size: config.page_size.max(1),
                reads: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// The `credentials` object of a basic-auth `credstore` binding for this store at `url`
    /// (`…/api/v1/credentials`). It holds secrets: write it only to private files.
    pub fn basic_binding(&self, url: &str) -> serde_json::Value {
        let mut c = self.common_binding(url);
        c["password"] = self.inner.password.expose().into();
        c
    }

    /// The `credentials` object of an mTLS `credstore` binding, with a client certificate and
    /// key issued by the dev CA.
    pub fn mtls_binding(
        &self,
        url: &str,
        certificate_pem: &str,
        key_pem: &str,
    ) -> serde_json::Value {
        let mut c = self.common_binding(url);
        c["certificate"] = certificate_pem.into();
        c["key"] = key_pem.into();
        c
    }

    fn common_binding(&self, url: &str) -> serde_json::Value {
        let expires = chrono::Utc::now() + chrono::Duration::days(60);
        serde_json::json!({
            "url": url,
            "username": self.inner.username,
            "expires_at": expires.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "encryption": {
                "client_private_key": self.inner.client_key_b64.expose(),
                "server_public_key": self.inner.server_public_b64,
            },
            "parameters": {
                "authorization": { "default_permissions": ["list", "read", "write"] }
            }
        })
    }

    /// The HTTP routes, to be served under the origin the binding's `url` names.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/api/v1/credentials/{kind}",
                get(handle).post(handle).delete(handle).fallback(|| async {
                    error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here").into_response()
                }),
            )
            .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint").into_response() })
            .layer(DefaultBodyLimit::max(MAX_REQUEST))
            .with_state(self.clone())
    }

    fn persist(&self, data: &Data) -> Result<(), Refusal> {
        let bytes = serde_json::to_vec(data).map_err(|_| internal())?;
        self.inner
            .vault
            .seal_to(&self.inner.store_path, &bytes)
            .map_err(|e| {
                tracing::error!(error = %e, "local credential store cannot persist");
                internal()
            })
    }

    /// Stores a password credential on behalf of the dev stack itself (the IAM user's keys),
    /// replacing one with the same name; an identical one is left alone, so its id and ETag
    /// stay stable across restarts.
    pub(crate) fn put_password(
        &self,
        namespace: &str,
        name: &str,
        username: &str,
        value: &Secret,
        metadata: Option<String>,
    ) -> Result<(), DevError> {
        let mut data = data(self);
        let existing = data
            .get(namespace)
            .and_then(|n| n.get(&CredentialType::Password))
            .and_then(|t| t.get(name));
        if let Some(s) = existing
            && s.value == value.expose()
            && s.username.as_deref() == Some(username)
            && s.metadata == metadata
        {
            return Ok(());
        }
        let stored = Stored {
            id: existing.map_or_else(|| uuid::Uuid::new_v4().to_string(), |s| s.id.clone()),
            etag: format!("\"{}\"", uuid::Uuid::new_v4()),
            modified_at: chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            value: value.expose().to_owned(),
            username: Some(username.to_owned()),
            format: None,
            metadata,
        };
        let mut next = data.clone();
        next.entry(namespace.to_owned())
            .or_default()
            .entry(CredentialType::Password)
            .or_default()
            .insert(name.to_owned(), stored);
        self.inner.vault.seal_json(&self.inner.store_path, &next)?;
        *data = next;
        Ok(())
    }

    /// How many single-credential reads this store has answered (for tests and metrics).
    pub fn read_count(&self) -> u64 {
        self.inner.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Where the sealed data lives.
    pub fn store_path(&self) -> &Path {
        &self.inner.store_path
    }
}

fn random_password() -> String {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 24];
    // Fall back to a UUID if the system RNG fails (it does not on supported platforms).
    if SystemRandom::new().fill(&mut b).is_err() {
        return uuid::Uuid::new_v4().to_string();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: u16,
    error: &'a str,
    message: &'a str,
}

/// A refused request: the one place where the local store's failures become HTTP responses.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            status: self.status.as_u16(),
            error: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"credstore\""),
            );
        }
        resp
    }
}

fn error(status: StatusCode, message: &str) -> Refusal {
    Refusal {
        status,
        message: message.to_owned(),
    }
}

fn too_large() -> Refusal {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request body larger than 64 KiB",
    )
}

/// Text from a client's request (or about it), fit for an error message: at most 200
/// printable characters.
fn printable(s: &str) -> String {
    cfenv::text::cut(s, 200, Controls::Drop, Ellipsis::Never)
}

fn internal() -> Refusal {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

#[derive(Deserialize)]
struct Params {
    name: Option<String>,
    page: Option<String>,
}

/// The route's handler. The extractors that can fail are taken as `Result`s, so that their
/// rejections (axum answers those in plain text) get the store's JSON error shape too
/// (<https://docs.rs/axum/0.8/axum/extract/index.html#optional-extractors>).
async fn handle(
    State(store): State<LocalCredStore>,
    method: Method,
    kind: Result<UrlPath<String>, PathRejection>,
    params: Result<Query<Params>, QueryRejection>,
    peer: Option<axum::Extension<Option<PeerCertificate>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let peer = peer.and_then(|axum::Extension(p)| p);
    let kind = kind.map_or_else(|_| String::new(), |UrlPath(k)| k);
    let resp = match (params, body) {
        (Ok(Query(params)), Ok(body)) => serve(
            &store,
            &method,
            &kind,
            &params,
            peer.is_some(),
            &headers,
            &body,
        ),
        (Err(rejection), _) => Err(error(
            rejection.status(),
            &printable(&rejection.body_text()),
        )),
        (_, Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(too_large())
        }
        (_, Err(rejection)) => Err(error(
            rejection.status(),
            "the request body could not be read",
        )),
    };
    let resp = match resp {
        Ok(r) => r,
        Err(refusal) => refusal.into_response(),
    };
    tracing::info!(
        http.method = %method,
        credential.type = kind.as_str(),
        credstore.namespace = headers.get(NAMESPACE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or(""),
        http.status = resp.status().as_u16(),
        "local credstore request"
    );
    resp
}

fn serve(
    store: &LocalCredStore,
    method: &Method,
    kind: &str,
    params: &Params,
    mtls: bool,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Refusal> {
    authenticate(store, mtls, headers)?;
    let (ty, list) = match kind {
        "password" => (CredentialType::Password, false),
        "key" => (CredentialType::Key, false),
        "passwords" => (CredentialType::Password, true),
        "keys" => (CredentialType::Key, true),
        "keyring" | "keyrings" => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "keyrings are not supported by the local credential store",
            ));
        }
        _ => return Err(error(StatusCode::NOT_FOUND, "unknown credential type")),
    };
    let namespace = headers
        .get(NAMESPACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "header sapcp-credstore-namespace is required",
            )
        })?;
    validate_namespace(namespace).map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))?;

    match (method.clone(), list) {
        (Method::GET, true) => list_page(store, ty, namespace, params),
        (Method::GET, false) => read(store, ty, namespace, params, headers),
        (Method::POST, false) => write(store, ty, namespace, headers, body),
        (Method::DELETE, false) => delete(store, ty, namespace, params),
        _ => Err(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed here",
        )),
    }
}

fn authenticate(store: &LocalCredStore, mtls: bool, headers: &HeaderMap) -> Result<(), Refusal> {
    if mtls {
        // The TLS layer verified the certificate against the dev CA.
        return Ok(());
    }
    let unauthorized = || error(StatusCode::UNAUTHORIZED, "Bad credentials");
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthorized)?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or_else(unauthorized)?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| unauthorized())?;
    let expected = format!("{}:{}", store.inner.username, store.inner.password.expose());
    aws_lc_rs::constant_time::verify_slices_are_equal(&decoded, expected.as_bytes())
        .map_err(|_| unauthorized())
}

fn data(store: &LocalCredStore) -> std::sync::MutexGuard<'_, Data> {
    store.inner.data.lock().unwrap_or_else(|e| e.into_inner())
}

fn required_name(params: &Params) -> Result<&str, Refusal> {
    let name = params.name.as_deref().ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "query parameter 'name' is required",
        )
    })?;
    validate_name(name).map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))?;
    Ok(name)
}

fn not_found(ty: CredentialType, namespace: &str, name: &str, data: &Data) -> Refusal {
    if data.contains_key(namespace) {
        error(
            StatusCode::NOT_FOUND,
            &format!("{ty} credential '{name}' not found"),
        )
    } else {
        error(
            StatusCode::NOT_FOUND,
            &format!("namespace '{namespace}' not found"),
        )
    }
}

fn encrypted(
    store: &LocalCredStore,
    status: StatusCode,
    json: &[u8],
    etag: Option<&str>,
) -> Response {
    let jwe = match store
        .inner
        .client_public
        .encrypt(json, chrono::Utc::now().timestamp())
    {
        Ok(j) => j,
        Err(_) => return internal().into_response(),
    };
    let mut resp = (status, jwe).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jose;charset=UTF-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert(header::ETAG, tag);
    }
    resp
}

fn wire(name: &str, s: &Stored) -> WireCredential {
    WireCredential {
        id: Some(s.id.clone()),
        name: name.to_owned(),
        modified_at: Some(s.modified_at.clone()),
        value: s.value.clone(),
        username: s.username.clone(),
        format: s.format.clone(),
        metadata: s.metadata.clone(),
    }
}

fn read(
    store: &LocalCredStore,
    ty: CredentialType,
    namespace: &str,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Response, Refusal> {
    let name = required_name(params)?;
    store
        .inner
        .reads
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let data = data(store);
    let Some(s) = data
        .get(namespace)
        .and_then(|n| n.get(&ty))
        .and_then(|t| t.get(name))
    else {
        return Err(not_found(ty, namespace, name, &data));
    };
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && inm
            .split(',')
            .any(|t| t.trim() == s.etag || t.trim() == "*")
    {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(tag) = HeaderValue::from_str(&s.etag) {
            resp.headers_mut().insert(header::ETAG, tag);
        }
        return Ok(resp);
    }
    let json = serde_json::to_vec(&wire(name, s)).map_err(|_| internal())?;
    Ok(encrypted(store, StatusCode::OK, &json, Some(&s.etag)))
}

fn write(
    store: &LocalCredStore,
    ty: CredentialType,
    namespace: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Refusal> {
    if body.len() > MAX_REQUEST {
        return Err(too_large());
    }
    let is_jose = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/jose")
        });
    if !is_jose {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "payload encryption is enabled: send the credential as a JWE with Content-Type application/jose",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "JWE payload is not text"))?;
    let plain = store
        .inner
        .server_key
        .decrypt(text, IatPolicy::REQUEST, chrono::Utc::now().timestamp())
        .map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("invalid JWE payload: {e}"),
            )
        })?;
    let incoming: WireCredential = serde_json::from_slice(&plain).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("invalid credential JSON: {}", cfenv::text::json_error(&e)),
        )
    })?;
    let new = NewCredential {
        name: incoming.name,
        value: Secret::new(incoming.value),
        username: incoming.username,
        format: incoming.format,
        metadata: incoming.metadata,
    };
    new.validate(ty)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))?;

    let mut data = data(store);
    let existing = data
        .get(namespace)
        .and_then(|n| n.get(&ty))
        .and_then(|t| t.get(&new.name))
        .cloned();
    let header =
        |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok()).map(str::trim);
    let precondition = match (header(header::IF_NONE_MATCH), header(header::IF_MATCH)) {
        (Some("*"), _) if existing.is_some() => Some("credential already exists"),
        (_, Some("*")) if existing.is_none() => Some("credential does not exist"),
        (_, Some(tag)) if tag != "*" && existing.as_ref().map(|s| s.etag.as_str()) != Some(tag) => {
            Some("credential was changed (ETag does not match)")
        }
        _ => None,
    };
    if let Some(reason) = precondition {
        return Err(error(StatusCode::PRECONDITION_FAILED, reason));
    }
    let stored = Stored {
        id: existing
            .map(|s| s.id)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        etag: format!("\"{}\"", uuid::Uuid::new_v4()),
        modified_at: chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        value: new.value.expose().to_owned(),
        username: new.username.clone(),
        format: new.format.clone(),
        metadata: new.metadata.clone(),
    };
    let mut next = data.clone();
    next.entry(namespace.to_owned())
        .or_default()
        .entry(ty)
        .or_default()
        .insert(new.name.clone(), stored.clone());
    store.persist(&next)?;
    *data = next;
    let json = serde_json::to_vec(&wire(&new.name, &stored)).map_err(|_| internal())?;
    Ok(encrypted(store, StatusCode::OK, &json, Some(&stored.etag)))
}

fn delete(
    store: &LocalCredStore,
    ty: CredentialType,
    namespace: &str,
    params: &Params,
) -> Result<Response, Refusal> {
    let name = required_name(params)?;
    let mut data = data(store);
    let exists = data
        .get(namespace)
        .and_then(|n| n.get(&ty))
        .is_some_and(|t| t.contains_key(name));
    if !exists {
        return Err(not_found(ty, namespace, name, &data));
    }
    let mut next = data.clone();
    if let Some(t) = next.get_mut(namespace).and_then(|n| n.get_mut(&ty)) {
        t.remove(name);
    }
    store.persist(&next)?;
    *data = next;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn list_page(
    store: &LocalCredStore,
    ty: CredentialType,
    namespace: &str,
    params: &Params,
) -> Result<Response, Refusal> {
    let page: usize = match params.page.as_deref() {
        None => 0,
        Some(p) => p.parse().map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "query parameter 'page' must be a non-negative integer",
            )
        })?,
    };
    let data = data(store);
    let Some(ns) = data.get(namespace) else {
        return Err(error(
            StatusCode::NOT_FOUND,
            &format!("namespace '{namespace}' not found"),
        ));
    };
    let all: Vec<CredentialMeta> = ns
        .get(&ty)
        .map(|t| {
            t.iter()
                .map(|(name, s)| CredentialMeta {
                    id: Some(s.id.clone()),
                    name: name.clone(),
                    modified_at: Some(s.modified_at.clone()),
                    username: s.username.clone(),
                    format: s.format.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let size = store.inner.page_size;
    let start = page.saturating_mul(size).min(all.len());
    let end = (start + size).min(all.len());
    let body = Page {
        content: all[start..end].to_vec(),
        last: end >= all.len(),
        number: u32::try_from(page).unwrap_or(u32::MAX),
        total_elements: Some(all.len() as u64),
    };
    let json = serde_json::to_vec(&body).map_err(|_| internal())?;
    Ok(encrypted(store, StatusCode::OK, &json, None))
}
