//! The local XSUAA's HTTP routes: the router, the request log and the answer to a method a
//! route lacks. Each endpoint lives in a module of its own, and [`Refusal`] is the one place
//! where failures become HTTP responses (OAuth error bodies, or an HTML page on the
//! browser-facing login routes). A client's mistake is never a 500.
//!
//! - `refusal`: [`Refusal`] and the JSON and HTML response helpers.
//! - `form`: form bodies and query strings.
//! - `token`: `POST /oauth/token` (client authentication and the four grants).
//! - `login`: `GET /oauth/authorize` and `POST /login.do` (the browser sign-in).
//! - `keys`: `GET /token_keys`, `GET /.well-known/openid-configuration`,
//!   `POST /admin/rotate-keys`.
//!
//! Each request is logged once, by the middleware, from [`LogFields`] the handlers attach to
//! the response: method, path (known routes only), status, grant type and the authenticated
//! client id. Bodies, query strings, codes, passwords, secrets and tokens are never logged.

mod form;
mod keys;
mod login;
mod refusal;
mod token;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use self::keys::{openid_configuration, rotate_keys, token_keys};
use self::login::{authorize, login};
use self::refusal::{Refusal, printable};
use self::token::token;
use super::LocalXsuaa;

/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// Routes whose path may appear in logs; anything else is logged as `(other)`.
const ROUTES: &[&str] = &[
    "/oauth/token",
    "/oauth/authorize",
    "/login.do",
    "/token_keys",
    "/.well-known/openid-configuration",
    "/admin/rotate-keys",
];

/// The grant types the local XSUAA implements.
const SUPPORTED_GRANTS: &[&str] = &[
    "client_credentials",
    "authorization_code",
    "refresh_token",
    "password",
];

pub(super) fn router(x: LocalXsuaa) -> Router {
    Router::new()
        .route("/oauth/token", post(token).fallback(method_not_allowed))
        .route(
            "/oauth/authorize",
            get(authorize).fallback(method_not_allowed),
        )
        .route("/login.do", post(login).fallback(method_not_allowed))
        .route("/token_keys", get(token_keys).fallback(method_not_allowed))
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration).fallback(method_not_allowed),
        )
        .route(
            "/admin/rotate-keys",
            post(rotate_keys).fallback(method_not_allowed),
        )
        .fallback(|| async {
            Refusal::json(StatusCode::NOT_FOUND, "not_found", "No such endpoint").into_response()
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(log_request))
        .with_state(x)
}

/// What the request log line says beyond method, path and status.
#[derive(Clone, Default)]
struct LogFields {
    client_id: Option<String>,
    grant_type: Option<&'static str>,
}

async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = ROUTES
        .iter()
        .find(|r| **r == req.uri().path())
        .copied()
        .unwrap_or("(other)");
    let started = Instant::now();
    let resp = next.run(req).await;
    let fields = resp
        .extensions()
        .get::<LogFields>()
        .cloned()
        .unwrap_or_default();
    let status = resp.status().as_u16();
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    // `None` fields are left out of the line.
    let client_id = fields.client_id.as_deref();
    let grant_type = fields.grant_type;
    if status >= 500 {
        tracing::warn!(http.method = %method, http.path = path, http.status = status,
            oauth.grant_type = grant_type, oauth.client_id = client_id, duration_ms,
            "local xsuaa request failed");
    } else {
        tracing::info!(http.method = %method, http.path = path, http.status = status,
            oauth.grant_type = grant_type, oauth.client_id = client_id, duration_ms,
            "local xsuaa request");
    }
    resp
}

/// A known route with a method it does not have: an OAuth error body (axum's own 405 has an
/// empty body), with axum's `Allow` header.
async fn method_not_allowed(method: axum::http::Method) -> Response {
    let refusal = Refusal::json(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "Request method '{}' is not supported",
            printable(method.as_str())
        ),
    );
    finish(Err(refusal), LogFields::default())
}

fn finish(result: Result<Response, Refusal>, log: LogFields) -> Response {
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    resp.extensions_mut().insert(log);
    resp
}
