//! The app's own routes (besides sign-in and the catalog): liveness, readiness, metrics, the
//! job endpoint the scheduled caller hits, who-am-I for UIs, and the index page with its
//! assets.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use super::auth::{Authorized, Principal, Read};
use super::error::ApiError;
use super::metrics::MetricsAccess;

/// `GET /health`: liveness, no authentication.
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "UP" }))
}

/// `GET /health/ready`: readiness. Checks XSUAA's signing keys (cached or fetched) and the
/// AWS credentials (cached, or one AssumeRole through the Credential Store). 200 when all are
/// usable, else 503; the body says which check failed, with the dependency's error code, and
/// how long the AWS credentials have left. Unauthenticated (no secrets in it), so platforms
/// can probe it.
pub async fn ready(State(state): State<AppState>) -> Response {
    let mut up = true;
    let xsuaa = match state.keys.keys(state.zone_id.as_deref()).await {
        Ok(_) => serde_json::json!({ "status": "UP" }),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: XSUAA keys unavailable");
            up = false;
            serde_json::json!({ "status": "DOWN" })
        }
    };
    let mut checks = serde_json::json!({ "xsuaa": xsuaa });
    {
        let aws = &state.aws;
        let result = super::upstream::credentials(aws, state.limits.upstream_timeout).await;
        let status = aws.credentials.status();
        let expires_in = status.expiry.map(|e| {
            e.duration_since(std::time::SystemTime::now())
                .map_or(0, |d| d.as_secs())
        });
        checks["aws"] = match result {
            Ok(_) => serde_json::json!({
                "status": "UP",
                "role": aws.credentials.role_arn(),
                "credentialsExpireInSeconds": expires_in,
                "assumeRoleCalls": status.refreshes,
                "assumeRoleFailures": status.failures,
            }),
            Err(e) => {
                up = false;
                let (dependency, code) = match &e {
                    ApiError::Upstream(f) => (f.dependency, f.code.clone()),
                    _ => ("AWS", None),
                };
                tracing::warn!(
                    error.dependency = dependency,
                    error.code = code.as_deref().unwrap_or(""),
                    "not ready: no AWS credentials"
                );
                serde_json::json!({
                    "status": "DOWN",
                    "dependency": dependency,
                    "code": code,
                    "role": aws.credentials.role_arn(),
                })
            }
        };
    }
    let body = serde_json::json!({ "status": if up { "UP" } else { "DOWN" }, "checks": checks });
    let code = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text format; who may read it is [`MetricsAccess`].
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match &state.metrics.access {
        MetricsAccess::Open => {}
        MetricsAccess::Disabled => {
            return ApiError::NotFound("no such resource".into()).into_response();
        }
        MetricsAccess::Token(expected) => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if !constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) {
                return ApiError::Unauthenticated {
                    oauth_error: if given.is_empty() {
                        None
                    } else {
                        Some("invalid_token")
                    },
                    message: "Unauthorized: /metrics needs the metrics token".into(),
                }
                .into_response();
            }
        }
    }
    match state.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => ApiError::Internal("metrics could not be encoded".into()).into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn caller(p: &Principal) -> serde_json::Value {
    let t = &p.token;
    serde_json::json!({
        "client_id": t.client_id(),
        "user_name": t.user_name(),
        "email": t.email(),
        "grant_type": t.grant_type(),
        "zone_id": t.zone_id(),
        "scopes": t.scopes(),
        "via": if p.via_session { "session" } else { "bearer" },
    })
}

/// `GET /api/me`: the signed-in user or calling client and its scopes. Needs Read.
pub async fn me(Authorized(principal, _): Authorized<Read>) -> Json<serde_json::Value> {
    Json(caller(&principal))
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const INDEX_JS: &str = include_str!("assets/index.js");
const INDEX_CSS: &str = include_str!("assets/index.css");

/// The index page's Content-Security-Policy: its script and style are files of this app, and
/// it only talks to this app.
const INDEX_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// `GET /`: the seed's index page for signed-in users (Read): Catalog, Metadata, Load Buckets.
/// Small and dependency-free: one HTML file, one script, one style sheet.
pub async fn index(Authorized(principal, _): Authorized<Read>) -> Response {
    let who = principal
        .token
        .user_name()
        .or(principal.token.client_id())
        .unwrap_or("unknown");
    (
        [
            (header::CONTENT_SECURITY_POLICY, INDEX_CSP),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(INDEX_HTML.replace("{{USER}}", &escape(who))),
    )
        .into_response()
}

/// `GET /assets/index.js`: the index page's script (public: it holds no data).
pub async fn index_js() -> Response {
    asset("text/javascript; charset=utf-8", INDEX_JS)
}

/// `GET /assets/index.css`: the index page's style sheet (public).
pub async fn index_css() -> Response {
    asset("text/css; charset=utf-8", INDEX_CSS)
}

/// `GET /favicon.ico`: none; 204 so browsers stop asking (and log no error).
pub async fn favicon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
        .into_response()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Minimal HTML escaping for text nodes.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
