//! The local XSUAA: an OAuth 2.0 authorization server that issues tokens in XSUAA's exact shapes
//! (docs/protocols.md §XSUAA) for the app's `xs-security.json`, so that `@sap/xssec`, our
//! `xsuaa` crate and any other XSUAA client accept them unchanged.
//!
//! - `POST /oauth/token`: `client_credentials` (HTTP Basic, honouring
//!   `X-CF-ENCODED-CREDENTIALS`; form `client_id`+`client_secret`; or mTLS with a dev-CA
//!   certificate and form `client_id`), `authorization_code`, `refresh_token` and `password`
//!   (the resource owner password grant: a user's token without the login page, for command
//!   line clients), each only for clients whose grant types list it.
//! - `GET /oauth/authorize` → a login page; `POST /login.do` → `302` back to the app with a
//!   single-use code (5 minutes). Redirect URIs must match the descriptor's `redirect-uris`.
//! - `GET /token_keys` (JWKS; `zid` ignored), `GET /.well-known/openid-configuration`.
//! - `POST /admin/rotate-keys` (bearer: the admin secret in `xsuaa/admin-secret`).
//!
//! The app's client is `sb-<xsappname>!t1`; its client-credentials tokens carry the
//! descriptor's `authorities` (plus `uaa.resource`, as real ones do), and users' tokens the
//! scopes of their role collections plus `openid`. Users come from a JSON file, or are the
//! default `alice` (Bridge Editor) and `bob` (Bridge Viewer) with random passwords, sealed in
//! the data directory like the signing keys and the client secret ([`crate::vault::Vault`]).
//! Authorization codes, refresh tokens and clients added with [`LocalXsuaa::register_client`]
//! live in memory only: a restart forgets them.
//!
//! Modules: `keys` (RSA signing keys, rotation, JWKS), `users` (the users file and default
//! users), `claims` (token claims), `http` (routes, one module per endpoint group, and the
//! single error→HTTP mapping).
//! Nothing here logs a secret, password, code or token; each request is logged once, by path,
//! status, grant type and (authenticated) client id.

mod claims;
mod http;
mod keys;
mod users;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::Router;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cfenv::Secret;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use xsuaa::descriptor::{SecurityDescriptor, expand_xsappname};

use crate::error::DevError;
use crate::files;
use crate::vault::Vault;

use self::keys::KeyRing;
use self::users::User;

/// The security descriptor built into the binary (`deploy/btp/xs-security.json`), used when
/// [`XsuaaConfig::descriptor_path`] is `None`.
pub const EMBEDDED_DESCRIPTOR: &str = include_str!("../../../deploy/btp/xs-security.json");

/// The instance name of the generated `xsuaa` binding.
pub const XSUAA_INSTANCE: &str = "bridge-uaa";

/// The identity zone (subaccount subdomain) of the local XSUAA: `ext_attr.zdn` in tokens.
pub const IDENTITY_ZONE: &str = "dev";

/// The zone, tenant and subaccount GUID of the local XSUAA: `zid` in tokens.
pub const ZONE_ID: &str = "6d1f6a2e-3b8c-4e0f-9a57-2c4d8e1b7f30";

/// What the local broker appends to `xsappname` (plan `application`): `bridge` → `bridge!t1`.
pub const XSAPPNAME_SUFFIX: &str = "!t1";

/// The identity provider origin of local users (`origin` claim).
pub const ORIGIN: &str = "sap.default";

/// How long a rotated-out signing key stays published by default.
pub const DEFAULT_KEY_GRACE: Duration = Duration::from_secs(3600);

/// How long an authorization code can be redeemed.
const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// At most this many codes and refresh tokens are kept; the oldest go first.
const MAX_PENDING_CODES: usize = 1_000;
const MAX_REFRESH_TOKENS: usize = 10_000;

/// Settings of the local XSUAA.
#[derive(Debug, Clone)]
pub struct XsuaaConfig {
    /// Where keys, the client secret, default users and the admin secret live
    /// (`<data>/xsuaa`).
    pub dir: PathBuf,
    /// The HTTPS origin the server is reachable at, e.g. `https://127.0.0.1:4012`: the
    /// binding's `url`, and the base of `iss` and `jku`.
    pub url: String,
    /// The `xs-security.json` to serve; `None`: [`EMBEDDED_DESCRIPTOR`].
    pub descriptor_path: Option<PathBuf>,
    /// A users file, a JSON array of `{"username", "password", "email", "given_name",
    /// "family_name", "role_collections": […], "attributes": {"Country": ["DE"]}}` (only the
    /// first two required); `None`: the default users, created on first start.
    pub users_path: Option<PathBuf>,
    /// How long a rotated-out signing key stays published.
    pub key_grace: Duration,
}

/// A user that can sign in, as `bridge dev` shows it.
#[derive(Debug, Clone)]
pub struct DevUser {
    /// The login name, e.g. `alice`.
    pub username: String,
    /// The password.
    pub password: Secret,
    /// The role collections assigned, e.g. `Bridge Editor`.
    pub role_collections: Vec<String>,
}

/// An extra OAuth client for tests (see [`LocalXsuaa::register_client`]).
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// The client id, e.g. `sb-other!t1`.
    pub client_id: String,
    /// The secret; `None`: a generated one, returned by `register_client`.
    pub secret: Option<Secret>,
    /// Scopes of its client-credentials tokens; `$XSAPPNAME` is expanded.
    pub authorities: Vec<String>,
    /// Grant types it may use.
    pub grant_types: Vec<String>,
}

impl ClientSpec {
    /// A client-credentials-only client with no scopes and a generated secret.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            secret: None,
            authorities: Vec::new(),
            grant_types: vec!["client_credentials".to_owned()],
        }
    }

    /// The same client with these authorities.
    pub fn with_authorities(mut self, authorities: &[&str]) -> Self {
        self.authorities = authorities.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// The same client with these grant types.
    pub fn with_grant_types(mut self, grant_types: &[&str]) -> Self {
        self.grant_types = grant_types.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// The same client with this secret.
    pub fn with_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.secret = Some(secret.into());
        self
    }
}

/// Why [`LocalXsuaa::sign_jwt`] could not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// No published key has this `kid`.
    #[error("no published signing key with kid `{0}`")]
    UnknownKey(String),
    /// The header or claims could not be serialised, or the signature failed.
    #[error("signing failed")]
    Crypto,
}

/// An OAuth client of the local XSUAA.
#[derive(Clone)]
struct Client {
    id: String,
    secret: Option<Secret>,
    authorities: Vec<String>,
    grant_types: Vec<String>,
    /// SHA-256 of the DER of client certificates that authenticate as this client (mTLS).
    certificates: Vec<Vec<u8>>,
}

/// What is sealed in `xsuaa/identity.bin`.
#[derive(Serialize, Deserialize)]
struct Identity {
    client_secret: String,
}

/// An authorization code waiting to be redeemed.
struct PendingCode {
    client_id: String,
    username: String,
    redirect_uri: String,
    scope: Option<Vec<String>>,
    nonce: Option<String>,
    /// `(challenge, method)` for PKCE.
    challenge: Option<(String, String)>,
    auth_time: i64,
    created: Instant,
}

/// A refresh token's grant.
#[derive(Clone)]
struct RefreshGrant {
    client_id: String,
    username: String,
    scope: Option<Vec<String>>,
    auth_time: i64,
    expires_at: i64,
    created: i64,
}

#[derive(Default)]
struct Grants {
    codes: HashMap<String, PendingCode>,
    refresh: HashMap<String, RefreshGrant>,
}

struct Inner {
    url: String,
    descriptor: SecurityDescriptor,
    xsappname: String,
    client_id: String,
    vault: Vault,
    keys: KeyRing,
    clients: RwLock<BTreeMap<String, Client>>,
    users: Vec<User>,
    grants: Mutex<Grants>,
    admin_secret: Secret,
    admin_secret_path: PathBuf,
    /// Refresh-token grants answered (for tests: a session refreshes its access token).
    refresh_grants: std::sync::atomic::AtomicU64,
}

/// The app client's grant types locally: the descriptor's, plus the password grant, so that
/// `bridge docs --user` works against `bridge dev` out of the box. The deployed descriptor
/// does not enable it (SAP advises against the password grant; a deployed app's users pass a
/// token with `--token`, or an operator adds the grant to `xs-security.json` deliberately).
fn dev_grant_types(mut grant_types: Vec<String>) -> Vec<String> {
    if !grant_types.iter().any(|g| g == "password") {
        grant_types.push("password".to_owned());
    }
    grant_types
}

/// The local XSUAA: descriptor, keys, clients, users and HTTP routes.
#[derive(Clone)]
pub struct LocalXsuaa {
    inner: Arc<Inner>,
}

impl LocalXsuaa {
    /// Opens the local XSUAA in `config.dir`: reads the descriptor and the users, and loads the
    /// signing keys, the client secret, the default users and the admin secret, creating them
    /// on first start.
    pub fn open(config: &XsuaaConfig) -> Result<Self, DevError> {
        let descriptor = load_descriptor(config.descriptor_path.as_deref())?;
        files::ensure_private_dir(&config.dir)?;
        let vault = Vault::open(&config.dir)?;
        let keys = KeyRing::open(&vault, &config.dir.join("keys.bin"), config.key_grace)?;
        let users = users::load(
            config.users_path.as_deref(),
            &config.dir.join("users.bin"),
            &vault,
            &descriptor,
        )?;

        let id_path = config.dir.join("identity.bin");
        let identity: Identity = vault.load_or_create_json(&id_path, || {
            Ok(Identity {
                client_secret: client_secret(),
            })
        })?;

        let admin_secret_path = crate::layout::xsuaa_admin_secret(&config.dir);
        let admin_secret = if admin_secret_path.exists() {
            files::read_string(&admin_secret_path)?.trim().to_owned()
        } else {
            let s = random_urlsafe(32);
            files::write_private(&admin_secret_path, s.as_bytes())?;
            s
        };
        if admin_secret.len() < 16 {
            return Err(DevError::Corrupt {
                path: admin_secret_path,
                reason: "the admin secret must be at least 16 characters".into(),
            });
        }

        let xsappname = format!("{}{XSAPPNAME_SUFFIX}", descriptor.xsappname);
        let client_id = format!("sb-{xsappname}");
        let mut authorities = descriptor.authorities(&xsappname);
        authorities.push("uaa.resource".to_owned());
        let app_client = Client {
            id: client_id.clone(),
            secret: Some(Secret::new(identity.client_secret)),
            authorities,
            grant_types: dev_grant_types(descriptor.grant_types()),
            certificates: Vec::new(),
        };
        let mut clients = BTreeMap::new();
        clients.insert(client_id.clone(), app_client);

        Ok(Self {
            inner: Arc::new(Inner {
                url: config.url.trim_end_matches('/').to_owned(),
                descriptor,
                xsappname,
                client_id,
                vault,
                keys,
                clients: RwLock::new(clients),
                users,
                grants: Mutex::new(Grants::default()),
                admin_secret: Secret::new(admin_secret),
                admin_secret_path,
                refresh_grants: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// The HTTP routes, to be served over HTTPS at [`LocalXsuaa::url`].
    pub fn router(&self) -> Router {
        http::router(self.clone())
    }

    /// The HTTPS origin, e.g. `https://127.0.0.1:4012`.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The expanded application name, e.g. `bridge!t1`.
    pub fn xsappname(&self) -> &str {
        &self.inner.xsappname
    }

    /// The app's OAuth client id, e.g. `sb-bridge!t1`.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The security descriptor being served.
    pub fn descriptor(&self) -> &SecurityDescriptor {
        &self.inner.descriptor
    }

    /// Where the admin secret for `POST /admin/rotate-keys` is kept (mode 0600).
    pub fn admin_secret_path(&self) -> &Path {
        &self.inner.admin_secret_path
    }

    /// The users that can sign in, with their passwords.
    pub fn dev_users(&self) -> Vec<DevUser> {
        self.inner
            .users
            .iter()
            .map(|u| DevUser {
                username: u.username.clone(),
                password: u.password.clone(),
                role_collections: u.role_collections.clone(),
            })
            .collect()
    }

    /// The `credentials` of a `binding-secret` `xsuaa` binding, with the fields of
    /// docs/protocols.md §Bindings we read. It holds the client secret: write it only to
    /// private files.
    pub fn binding(&self) -> serde_json::Value {
        let mut c = self.common_binding();
        c["credential-type"] = "binding-secret".into();
        if let Some(secret) = self.app_client().and_then(|c| c.secret) {
            c["clientsecret"] = secret.expose().into();
        }
        c
    }

    /// The `credentials` of an `x509` binding with the given client certificate and key
    /// (issued by the dev CA), which from now on authenticate as the app's client at
    /// `certurl` (the same origin). Fails if the certificate is not PEM.
    pub fn x509_binding(
        &self,
        certificate_pem: &str,
        key_pem: &str,
    ) -> Result<serde_json::Value, DevError> {
        let der = CertificateDer::from_pem_slice(certificate_pem.as_bytes())
            .map_err(|e| DevError::Tls(e.to_string()))?;
        let fingerprint = sha256(der.as_ref());
        {
            let mut clients = self.write_clients();
            if let Some(client) = clients.get_mut(&self.inner.client_id)
                && !client.certificates.contains(&fingerprint)
            {
                client.certificates.push(fingerprint);
            }
        }
        let mut c = self.common_binding();
        c["credential-type"] = "x509".into();
        c["certificate"] = certificate_pem.into();
        c["key"] = key_pem.into();
        c["certurl"] = self.inner.url.clone().into();
        Ok(c)
    }

    fn common_binding(&self) -> serde_json::Value {
        let url = &self.inner.url;
        let instance = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, XSUAA_INSTANCE.as_bytes());
        serde_json::json!({
            "apiurl": url,
            "clientid": self.inner.client_id,
            "identityzone": IDENTITY_ZONE,
            "identityzoneid": ZONE_ID,
            "sburl": url,
            "serviceInstanceId": instance.to_string(),
            "subaccountid": ZONE_ID,
            "tenantid": ZONE_ID,
            "tenantmode": self.inner.descriptor.tenant_mode().as_str(),
            "uaadomain": url.strip_prefix("https://").unwrap_or(url),
            "url": url,
            "verificationkey": self.inner.keys.active().pem.clone(),
            "xsappname": self.inner.xsappname,
            "zoneid": ZONE_ID,
        })
    }

    /// Adds (or replaces) an OAuth client, e.g. one with no scopes, and returns its secret.
    pub fn register_client(&self, spec: ClientSpec) -> Secret {
        let secret = spec.secret.unwrap_or_else(|| Secret::new(client_secret()));
        let client = Client {
            id: spec.client_id.clone(),
            secret: Some(secret.clone()),
            authorities: spec
                .authorities
                .iter()
                .map(|a| expand_xsappname(a, &self.inner.xsappname))
                .collect(),
            grant_types: spec.grant_types,
            certificates: Vec::new(),
        };
        self.write_clients().insert(spec.client_id, client);
        secret
    }

    /// Makes a new signing key the active one; the previous key stays published for the grace
    /// period. Returns the new key's `kid`.
    pub fn rotate_keys(&self) -> Result<String, DevError> {
        self.inner.keys.rotate(&self.inner.vault)
    }

    /// How many refresh-token grants this XSUAA has answered with new tokens.
    pub fn refresh_grants(&self) -> u64 {
        self.inner
            .refresh_grants
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The `kid` new tokens are signed with.
    pub fn active_kid(&self) -> String {
        self.inner.keys.active().kid.clone()
    }

    /// The `kid`s `/token_keys` publishes now, the active one first.
    pub fn published_kids(&self) -> Vec<String> {
        self.inner
            .keys
            .published()
            .iter()
            .map(|k| k.kid.clone())
            .collect()
    }

    /// The PEM public key of the active signing key (the binding's `verificationkey`).
    pub fn verification_key(&self) -> String {
        self.inner.keys.active().pem.clone()
    }

    /// The `/token_keys` document.
    pub fn token_keys(&self) -> serde_json::Value {
        self.inner.keys.jwks()
    }

    /// The JOSE header of tokens signed with `kid` (`None`: the active key):
    /// `{"alg":"RS256","jku":…,"kid":…,"typ":"JWT"}`.
    pub fn jwt_header(&self, kid: Option<&str>) -> serde_json::Value {
        let kid = kid.map_or_else(|| self.active_kid(), str::to_owned);
        claims::header(&self.inner.url, &kid)
    }

    /// The claims a client-credentials token for `client_id` would carry if issued now;
    /// `None` for an unknown client. Tests change them and sign with [`LocalXsuaa::sign_jwt`].
    pub fn client_claims(&self, client_id: &str) -> Option<serde_json::Value> {
        let client = self.client(client_id)?;
        Some(claims::access(
            &self.inner,
            &claims::Grant {
                client_id,
                grant_type: "client_credentials",
                scopes: &client.authorities,
                user: None,
            },
            now(),
        ))
    }

    /// The claims an `authorization_code` token of `username` for the app's client would
    /// carry if issued now; `None` for an unknown user.
    pub fn user_claims(&self, username: &str) -> Option<serde_json::Value> {
        let user = self.user(username)?;
        let scopes = self.user_scopes(user, None);
        let now = now();
        Some(claims::access(
            &self.inner,
            &claims::Grant {
                client_id: &self.inner.client_id,
                grant_type: "authorization_code",
                scopes: &scopes,
                user: Some((user, now)),
            },
            now,
        ))
    }

    /// Signs `header` and `claims` as given (no claim or header is added or checked) with the
    /// published key `kid`, or the active key for `None`: a compact JWS. For minting odd and
    /// malformed tokens in tests.
    pub fn sign_jwt(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
        kid: Option<&str>,
    ) -> Result<String, SignError> {
        let key = self.key(kid)?;
        encode_jwt(&key, header, claims)
    }

    /// The RS256 signature of `message` with the published key `kid` (or the active key), for
    /// tokens whose encoding a test wants to control byte by byte.
    pub fn sign(&self, kid: Option<&str>, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key(kid)?.sign(message).map_err(|_| SignError::Crypto)
    }

    fn key(&self, kid: Option<&str>) -> Result<Arc<keys::SigningKey>, SignError> {
        match kid {
            None => Ok(self.inner.keys.active()),
            Some(kid) => self
                .inner
                .keys
                .find(kid)
                .ok_or_else(|| SignError::UnknownKey(kid.to_owned())),
        }
    }

    fn app_client(&self) -> Option<Client> {
        self.client(&self.inner.client_id)
    }

    fn client(&self, id: &str) -> Option<Client> {
        self.inner
            .clients
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn write_clients(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Client>> {
        self.inner
            .clients
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn user(&self, username: &str) -> Option<&User> {
        self.inner.users.iter().find(|u| u.username == username)
    }

    /// `openid` and the scopes of the user's role collections, narrowed to `requested` when
    /// given.
    fn user_scopes(&self, user: &User, requested: Option<&[String]>) -> Vec<String> {
        let collections: Vec<&str> = user.role_collections.iter().map(String::as_str).collect();
        let mut scopes = vec!["openid".to_owned()];
        scopes.extend(
            self.inner
                .descriptor
                .scopes_for_role_collections(&collections, &self.inner.xsappname),
        );
        match requested {
            Some(requested) => scopes
                .into_iter()
                .filter(|s| requested.contains(s))
                .collect(),
            None => scopes,
        }
    }

    fn grants(&self) -> std::sync::MutexGuard<'_, Grants> {
        self.inner.grants.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `header` and `claims` as a compact JWS signed by `key`.
fn encode_jwt(
    key: &keys::SigningKey,
    header: &serde_json::Value,
    claims: &serde_json::Value,
) -> Result<String, SignError> {
    let header = serde_json::to_vec(header).map_err(|_| SignError::Crypto)?;
    let claims = serde_json::to_vec(claims).map_err(|_| SignError::Crypto)?;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = key.sign(input.as_bytes()).map_err(|_| SignError::Crypto)?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

fn load_descriptor(path: Option<&Path>) -> Result<SecurityDescriptor, DevError> {
    let (text, shown) = match path {
        Some(p) => (files::read_string(p)?, p.to_path_buf()),
        None => (
            EMBEDDED_DESCRIPTOR.to_owned(),
            PathBuf::from("deploy/btp/xs-security.json (built in)"),
        ),
    };
    SecurityDescriptor::from_json(&text).map_err(|e| DevError::Config {
        path: shown,
        reason: e.to_string(),
    })
}

/// Seconds since the epoch.
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Fills `buf` from the system RNG (falling back to UUID v4 bytes, which come from the OS RNG
/// too, should aws-lc's ever fail).
fn random_fill(buf: &mut [u8]) {
    if SystemRandom::new().fill(buf).is_err() {
        for chunk in buf.chunks_mut(16) {
            let u = uuid::Uuid::new_v4();
            chunk.copy_from_slice(&u.as_bytes()[..chunk.len()]);
        }
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    random_fill(&mut b);
    b
}

fn random_hex(n: usize) -> String {
    random_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

fn random_urlsafe(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(n))
}

/// A client secret in XSUAA's shape, `<uuid>$<base64>`, always with `$`, `+` and `=` so that
/// clients that mishandle them fail locally, not first in the cloud.
fn client_secret() -> String {
    let mut tail = STANDARD.encode(random_bytes(32));
    for _ in 0..64 {
        if tail.contains('+') {
            break;
        }
        tail = STANDARD.encode(random_bytes(32));
    }
    if !tail.contains('+') {
        tail.replace_range(0..1, "+");
    }
    format!("{}${tail}", uuid::Uuid::new_v4())
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secrets_look_like_real_ones() {
        for _ in 0..20 {
            let s = client_secret();
            let (id, tail) = s.split_once('$').expect("a `$`");
            assert!(uuid::Uuid::parse_str(id).is_ok());
            assert!(tail.contains('+') && tail.ends_with('='), "{tail}");
        }
    }
}
