//! The app server behind `bridge serve` (and inside `bridge dev`).
//!
//! - [`AppState`]: what handlers share (token validator, token client, sessions), built once
//!   from the bindings by [`AppState::from_bindings`].
//! - [`build_router`]: every route and middleware; [`serve`]: runs it on a bound listener until
//!   the shutdown future resolves.
//! - [`auth`]: the `Principal` / `Authorized<Scope>` extractors and the CSRF middleware.
//! - [`login`]: the browser sign-in (authorization code flow) and sign-out.
//! - [`session`]: server-side browser sessions.
//! - [`routes`]: health, `/jobs/ping`, `/api/me`, the landing page.
//! - [`error`]: `ApiError`, the one mapping from failures to HTTP.

pub mod auth;
pub mod error;
pub mod login;
pub mod routes;
pub mod session;

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use url::Url;

use self::error::{ApiError, ErrorDetail};
use self::session::SessionStore;

/// Shared state of the app.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// Validates XSUAA tokens (JWKS cached).
    pub validator: xsuaa::validate::Validator,
    /// The validator's key source, for the readiness check.
    pub keys: Arc<dyn xsuaa::jwks::KeySource>,
    /// The app's identity zone id, for the readiness check's JWKS lookup.
    pub zone_id: Option<String>,
    /// Gets tokens from XSUAA (code exchange, refresh).
    pub tokens: xsuaa::client::TokenClient,
    /// Browser sessions.
    pub sessions: SessionStore,
    /// XSUAA's base URL (the binding's `url`), for the authorize redirect.
    pub xsuaa_url: Url,
    /// The app's OAuth client id.
    pub clientid: String,
    /// The app's expanded xsappname (`bridge!t1`).
    pub xsappname: String,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// Builds the state from the `xsuaa` binding (validator with a JWKS cache, token client).
    /// `jwks.extra_roots_pem` are trusted for every XSUAA call.
    pub fn from_bindings(
        xsuaa: &cfenv::XsuaaBinding,
        jwks: xsuaa::jwks::JwksOptions,
    ) -> anyhow::Result<Self> {
        let extra_roots_pem = jwks.extra_roots_pem.clone();
        let keys: Arc<dyn xsuaa::jwks::KeySource> =
            Arc::new(xsuaa::jwks::JwksCache::new(&xsuaa.uaadomain, jwks)?);
        let validator = xsuaa::validate::Validator::new(
            xsuaa::validate::ValidatorConfig::from_binding(xsuaa),
            keys.clone(),
        );
        let tokens = xsuaa::client::TokenClient::from_binding(
            xsuaa,
            &xsuaa::client::ClientOptions {
                extra_roots_pem,
                ..xsuaa::client::ClientOptions::default()
            },
        )?;
        Ok(Self::new(Inner {
            validator,
            keys,
            zone_id: xsuaa.zoneid.clone(),
            tokens,
            sessions: SessionStore::new(Duration::from_secs(30 * 60), 10_000),
            xsuaa_url: xsuaa.url.clone(),
            clientid: xsuaa.clientid.clone(),
            xsappname: xsuaa.xsappname.clone(),
        }))
    }
}

/// Every route and middleware of the app.
pub fn build_router(state: AppState) -> Router {
    Router::new()
        .route("/", get(routes::index))
        .route("/health", get(routes::health))
        .route("/health/ready", get(routes::ready))
        .route("/jobs/ping", get(routes::ping).post(routes::ping))
        .route("/api/me", get(routes::me))
        .route("/login", get(login::login))
        .route("/login/callback", get(login::callback))
        .route("/logout", get(login::logout))
        .fallback(|| async { ApiError::NotFound("no such resource".into()) })
        .layer(middleware::from_fn_with_state(state.clone(), auth::csrf))
        .layer(middleware::from_fn(log_request))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(60),
        ))
        .with_state(state)
}

/// One log line per request: method, matched route (not the raw path, which may carry ids),
/// status, duration, request id; server errors with their detail at warn. Never headers or
/// bodies.
async fn log_request(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "<unmatched>".to_owned());
    let request_id = req
        .headers()
        .get("x-vcap-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map(str::to_owned)
        .or_else(|| session::random_id().ok().map(|id| id[..16].to_owned()))
        .unwrap_or_default();
    let mut resp = next.run(req).await;
    let status = resp.status().as_u16();
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let detail = resp.extensions().get::<ErrorDetail>().map(|d| d.0.clone());
    if status >= 500 {
        tracing::warn!(http.method = %method, http.route = %route, http.status = status, duration_ms, request.id = %request_id, error.detail = detail.as_deref().unwrap_or(""), "request failed");
    } else {
        tracing::info!(http.method = %method, http.route = %route, http.status = status, duration_ms, request.id = %request_id, "request");
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
