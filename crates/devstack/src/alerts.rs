//! The local SAP Alert Notification service: the producer API
//! (`POST /cf/producer/v1/resource-events`, a `ResourceEvent` JSON, 202 with the stored event
//! and its `id`), its OAuth token endpoint (`POST /oauth/token`, client credentials with HTTP
//! Basic, as the service key's `oauth_url`), and what was received, newest first, as the
//! consumer API's `GET /cf/consumer/v1/matched-events` lists it (`{"results": […]}`).
//!
//! Events are kept in memory (the last 1 000). Errors are JSON `{"message": …}` with 400
//! (not a resource event: names the missing field), 401 (no or a wrong token) and 413 (over
//! 64 KB). Tokens are random, valid for an hour, and never logged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::json;

use cfenv::Secret;

/// Largest event accepted.
const MAX_EVENT: usize = 64 * 1024;

/// How many events are kept.
const KEPT: usize = 1000;

/// How long a token lasts.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Fields a resource event must have.
const REQUIRED: [&str; 5] = ["eventType", "severity", "category", "subject", "body"];

struct Inner {
    client_id: String,
    client_secret: Secret,
    tokens: Mutex<VecDeque<(String, Instant)>>,
    events: Mutex<VecDeque<serde_json::Value>>,
}

/// The local Alert Notification service.
#[derive(Clone)]
pub struct LocalAlerts {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LocalAlerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalAlerts")
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

impl Default for LocalAlerts {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalAlerts {
    /// A service with a fresh random client (id and secret).
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                client_id: format!(
                    "sb-bridge-alerts!{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                ),
                client_secret: Secret::new(uuid::Uuid::new_v4().simple().to_string()),
                tokens: Mutex::new(VecDeque::new()),
                events: Mutex::new(VecDeque::new()),
            }),
        }
    }

    /// The `credentials` of a service key for this service at `url` (its origin).
    pub fn credentials(&self, url: &str) -> serde_json::Value {
        json!({
            "url": url,
            "client_id": self.inner.client_id,
            "client_secret": self.inner.client_secret.expose(),
            "oauth_url": format!("{url}/oauth/token?grant_type=client_credentials"),
        })
    }

    /// The events received, oldest first.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.inner
            .events
            .lock()
            .map(|e| e.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/oauth/token", post(token))
            .route("/cf/producer/v1/resource-events", post(produce))
            .route("/cf/consumer/v1/matched-events", get(consume))
            .fallback(|| async { refuse(StatusCode::NOT_FOUND, "no such resource") })
            .layer(DefaultBodyLimit::max(MAX_EVENT))
            .with_state(self.clone())
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
        else {
            return false;
        };
        let now = Instant::now();
        self.inner.tokens.lock().is_ok_and(|mut t| {
            t.retain(|(_, until)| *until > now);
            t.iter()
                .any(|(known, _)| eq(known.as_bytes(), token.as_bytes()))
        })
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

async fn token(State(s): State<LocalAlerts>, headers: HeaderMap) -> Response {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let ok = basic
        .as_deref()
        .and_then(|b| b.split_once(':'))
        .is_some_and(|(id, secret)| {
            id == s.inner.client_id
                && eq(secret.as_bytes(), s.inner.client_secret.expose().as_bytes())
        });
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({ "error": "invalid_client", "error_description": "Bad credentials" }),
            ),
        )
            .into_response();
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    if let Ok(mut t) = s.inner.tokens.lock() {
        if t.len() >= 100 {
            t.pop_front();
        }
        t.push_back((token.clone(), Instant::now() + TOKEN_LIFETIME));
    }
    axum::Json(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME.as_secs(),
    }))
    .into_response()
}

async fn produce(State(s): State<LocalAlerts>, headers: HeaderMap, body: Bytes) -> Response {
    if !s.authorized(&headers) {
        return refuse(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Ok(serde_json::Value::Object(mut event)) =
        serde_json::from_slice::<serde_json::Value>(&body)
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object (a resource event)",
        );
    };
    if let Some(missing) = REQUIRED
        .iter()
        .find(|f| !event.get(**f).is_some_and(serde_json::Value::is_string))
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("`{missing}` is required and must be a string"),
        );
    }
    if !event.get("resource").is_some_and(|r| {
        r.get("resourceName")
            .is_some_and(serde_json::Value::is_string)
    }) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "`resource.resourceName` is required",
        );
    }
    event.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
    let event = serde_json::Value::Object(event);
    tracing::info!(
        event_type = event["eventType"].as_str().unwrap_or("-"),
        severity = event["severity"].as_str().unwrap_or("-"),
        "local Alert Notification: event received"
    );
    if let Ok(mut e) = s.inner.events.lock() {
        if e.len() == KEPT {
            e.pop_front();
        }
        e.push_back(event.clone());
    }
    (StatusCode::ACCEPTED, axum::Json(event)).into_response()
}

async fn consume(State(s): State<LocalAlerts>, headers: HeaderMap) -> Response {
    if !s.authorized(&headers) {
        return refuse(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let mut events = s.events();
    events.reverse();
    axum::Json(json!({ "count": events.len(), "results": events })).into_response()
}

/// Compares in constant time.
fn eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}
