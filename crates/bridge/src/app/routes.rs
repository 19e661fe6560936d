//! The app's own routes (besides sign-in): health, the job endpoint the scheduled caller hits,
//! and who-am-I for UIs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use super::auth::{Authorized, JobRunner, Principal, Read};

/// `GET /health`: liveness, no authentication.
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "UP" }))
}

/// `GET /health/ready`: readiness: XSUAA's signing keys can be had (cached or fetched).
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.keys.keys(state.zone_id.as_deref()).await {
        Ok(_) => {
            Json(serde_json::json!({ "status": "UP", "checks": { "xsuaa": "UP" } })).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "not ready: XSUAA keys unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "DOWN", "checks": { "xsuaa": "DOWN" } })),
            )
                .into_response()
        }
    }
}

fn caller(p: &Principal) -> serde_json::Value {
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

/// `GET|POST /jobs/ping`: the seed's protected endpoint: who called and with which scopes.
/// Needs `$XSAPPNAME.JobRunner`.
pub async fn ping(Authorized(principal, _): Authorized<JobRunner>) -> Json<serde_json::Value> {
    tracing::info!(
        job.caller = principal.token.client_id().unwrap_or("-"),
        "job ping"
    );
    Json(serde_json::json!({ "message": "pong", "caller": caller(&principal) }))
}

/// `GET /api/me`: the signed-in user or calling client and its scopes. Needs Read.
pub async fn me(Authorized(principal, _): Authorized<Read>) -> Json<serde_json::Value> {
    Json(caller(&principal))
}

/// `GET /`: a small signed-in landing page. Needs Read.
pub async fn index(Authorized(principal, _): Authorized<Read>) -> Html<String> {
    let who = principal
        .token
        .user_name()
        .or(principal.token.client_id())
        .unwrap_or("unknown");
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>btp-aws-bridge</title></head>\
         <body><h1>btp-aws-bridge</h1><p>Signed in as <b>{}</b>.</p>\
         <p><a href=\"/api/me\">Who am I</a> · <a href=\"/logout\">Sign out</a></p></body></html>",
        escape(who)
    ))
}

/// Minimal HTML escaping for text nodes.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
