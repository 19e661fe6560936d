//! The in-process tier: the app's router called with `tower::ServiceExt::oneshot`, no socket,
//! no dev stack. [`TestApp`] builds the state as `AppState::from_vcap` would, but with signing
//! keys it holds itself (so it signs tokens in XSUAA's claim shapes) and S3 in memory
//! (`awslink::s3::MemoryS3`, credentials from `awslink`'s `StaticAssumeRole`). Route-level
//! rules (scopes, OData query options and errors, metric labels, redirects) are tested here;
//! the end-to-end tests in the other modules prove the real chain.

mod catalog;
/// Documents: metadata on both databases, bytes in the in-memory S3, the upload rules, the
/// outbox and reconcile.
mod documents;
mod hostile;
/// The job endpoints and the run history: idempotency, 202 and the run URL, `Runs` via
/// OData, database down, two instances on PostgreSQL.
mod jobs;
mod protected;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair as KeyPair,
    RsaPublicKeyComponents as PublicKeyComponents,
};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bridge::app::{AppState, AwsAccess, Limits, build_router};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use xsuaa::error::ValidationError;
use xsuaa::jwks::{JwkSet, KeySource};

/// The app's xsappname and client id in the test binding.
pub const XSAPPNAME: &str = "bridge!t1";
pub const CLIENTID: &str = "sb-bridge!t1";
/// The key id the test issuer signs with.
const KID: &str = "test-key-1";

/// One RSA key per test process (generating one takes a while in a debug build).
fn key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| KeyPair::generate(KeySize::Rsa2048).unwrap())
}

/// The test issuer's key set, for every zone.
struct FixedKeys(Arc<JwkSet>);

#[async_trait]
impl KeySource for FixedKeys {
    async fn keys(&self, _zid: Option<&str>) -> Result<Arc<JwkSet>, ValidationError> {
        Ok(self.0.clone())
    }

    async fn refresh(&self, _zid: Option<&str>) -> Result<Arc<JwkSet>, ValidationError> {
        Ok(self.0.clone())
    }
}

fn jwk_set() -> JwkSet {
    let public = PublicKeyComponents::<Vec<u8>>::from(key().public_key());
    let doc = json!({"keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
        "n": B64.encode(&public.n), "e": B64.encode(&public.e),
    }]});
    JwkSet::from_json(doc.to_string().as_bytes()).unwrap()
}

/// The `xsuaa` binding of the test app (its URLs are never called in this tier).
fn binding() -> cfenv::XsuaaBinding {
    let vcap = json!({"xsuaa": [{
        "label": "xsuaa", "name": "bridge-uaa", "plan": "application", "tags": ["xsuaa"],
        "credentials": {
            "clientid": CLIENTID, "clientsecret": "in-process-test-secret",
            "url": "https://test.authentication.localhost",
            "uaadomain": "authentication.localhost",
            "xsappname": XSAPPNAME, "identityzone": "test", "zoneid": "test-zone",
            "credential-type": "binding-secret",
        }
    }]});
    cfenv::Vcap::from_json(&vcap.to_string(), "VCAP_SERVICES")
        .unwrap()
        .xsuaa(None)
        .unwrap()
}

/// The app in process, with its in-memory S3 and its run history (SQLite in a temporary
/// directory by default).
pub struct TestApp {
    pub state: AppState,
    pub s3: Arc<awslink::s3::MemoryS3>,
    /// The app's database.
    pub store: runs::Store,
    /// Keeps the SQLite file's directory while the app lives.
    _data: Option<Arc<tempfile::TempDir>>,
}

/// An answer of the router.
pub struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub fn bytes(self) -> Vec<u8> {
        self.body
    }

    pub async fn text(self) -> Result<String, std::string::FromUtf8Error> {
        String::from_utf8(self.body)
    }

    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl TestApp {
    /// The app with the default limits and the buckets `bridge-documents` and
    /// `bridge-archive`, as `bridge dev` creates them.
    pub fn new() -> Self {
        Self::with(|_| {}, bridge::app::metrics::MetricsAccess::Open)
    }

    /// The app with `limits` adjusted and `/metrics` access as given.
    pub fn with(
        adjust: impl FnOnce(&mut Limits),
        metrics: bridge::app::metrics::MetricsAccess,
    ) -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let config = runs::StoreConfig::Sqlite {
            path: dir.path().join("runs.db"),
        };
        let mut app = Self::with_database(adjust, metrics, &config);
        app._data = Some(dir);
        app
    }

    /// The app on the database `config` (e.g. a PostgreSQL URL shared by two apps).
    pub fn with_database(
        adjust: impl FnOnce(&mut Limits),
        metrics: bridge::app::metrics::MetricsAccess,
        config: &runs::StoreConfig,
    ) -> Self {
        testkit::logs::init();
        let s3 = Arc::new(awslink::s3::MemoryS3::new());
        let created = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        s3.add_bucket("bridge-documents", created);
        s3.add_bucket("bridge-archive", created + Duration::from_secs(60));
        let credentials = awslink::RoleCredentials::new(
            Arc::new(awslink::credentials::StaticAssumeRole::new()),
            awslink::AssumeRoleRequest::for_role("arn:aws:iam::000000000000:role/test"),
            awslink::RefreshOptions::default(),
        );
        let aws = AwsAccess {
            credentials,
            s3: s3.clone(),
        };
        let mut state = AppState::with_keys(
            &binding(),
            Arc::new(FixedKeys(Arc::new(jwk_set()))),
            &[],
            aws,
            metrics,
        )
        .unwrap();
        let mut limits = Limits::default();
        adjust(&mut limits);
        let store = runs::Store::connect_lazy(config).unwrap();
        state = state
            .with_limits(limits)
            .unwrap()
            .with_store(store.clone())
            .unwrap()
            .with_documents(
                bridge::app::documents::DocumentSettings::new("bridge-documents").unwrap(),
            )
            .unwrap();
        Self {
            state,
            s3,
            store,
            _data: None,
        }
    }

    /// The same app with other document settings (before any request).
    pub fn with_documents(mut self, settings: bridge::app::documents::DocumentSettings) -> Self {
        self.state = self.state.with_documents(settings).unwrap();
        self
    }

    /// Adds a bucket to the in-memory S3.
    pub fn add_bucket(&self, name: &str) {
        self.s3.add_bucket(name, SystemTime::now());
    }

    /// The bucket names the in-memory S3 holds, sorted.
    pub async fn bucket_names(&self) -> Vec<String> {
        use awslink::s3::S3Backend as _;
        let mut names: Vec<String> = self
            .s3
            .list_buckets()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.name)
            .collect();
        names.sort();
        names
    }

    /// A client-credentials token of client `client_id` with these scopes (local names like
    /// `Read` get the app's xsappname).
    pub fn token_for(&self, client_id: &str, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes
            .iter()
            .map(|s| {
                if s.contains('.') {
                    (*s).to_owned()
                } else {
                    format!("{XSAPPNAME}.{s}")
                }
            })
            .collect();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // As XSUAA does: the xsappnames of the scopes, and the client itself.
        let mut audience: Vec<String> = scopes
            .iter()
            .filter_map(|s| s.rsplit_once('.').map(|(app, _)| app.to_owned()))
            .collect();
        audience.sort();
        audience.dedup();
        audience.push(client_id.to_owned());
        let claims = json!({
            "jti": format!("{now}-{client_id}"), "sub": client_id, "client_id": client_id,
            "cid": client_id, "azp": client_id, "grant_type": "client_credentials",
            "authorities": scopes, "scope": scopes, "zid": "test-zone",
            "iss": "https://test.authentication.localhost/oauth/token",
            "aud": audience, "iat": now, "exp": now + 3600,
        });
        sign(&json!({"alg": "RS256", "typ": "JWT", "kid": KID}), &claims)
    }

    /// A token of a client with these scopes.
    pub fn token(&self, scopes: &[&str]) -> String {
        self.token_for("sb-test-client", scopes)
    }

    /// Sends one request through the router.
    pub async fn request(&self, req: Request<Body>) -> Resp {
        let resp = build_router(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .unwrap()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// `GET path` with an optional bearer token and extra headers.
    pub async fn get_with(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.request(req.body(Body::empty()).unwrap()).await
    }

    /// `POST path` with a bearer token and no body.
    pub async fn post(&self, path: &str, token: &str) -> Resp {
        self.post_with(path, token, &[]).await
    }

    /// `POST path` with a bearer token, extra headers and no body.
    pub async fn post_with(&self, path: &str, token: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = Request::post(path).header("authorization", format!("Bearer {token}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.request(req.body(Body::empty()).unwrap()).await
    }

    /// `GET path` with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.get_with(path, Some(token), &[]).await
    }
}

/// A compact JWS over `header.claims` with the test key.
pub fn sign(header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let mut sig = vec![0u8; key().public_modulus_len()];
    key()
        .sign(
            &RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
    format!("{input}.{}", B64.encode(sig))
}
