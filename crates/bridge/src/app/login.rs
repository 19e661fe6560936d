//! Sign-in for browsers, as the SAP approuter does it for UI5 apps: the OAuth 2.0
//! authorization-code flow against XSUAA, then a server-side session behind an HttpOnly,
//! SameSite=Lax cookie (Secure when the request came over HTTPS).
//!
//! - `GET /login?redirect=/path`: remember where to return, bind a random `state` to the
//!   browser (cookie) and send it to XSUAA's `/oauth/authorize`.
//! - `GET /login/callback?code&state`: check the state, exchange the code, validate the token,
//!   start the session, return to the remembered path.
//! - `GET /logout`: end the session and clear the cookie.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;
use tokio::time::Instant;

use super::AppState;
use super::error::ApiError;
use super::session::{LOGIN_COOKIE, SESSION_COOKIE, Tokens};

/// Query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    redirect: Option<String>,
}

/// Query of `GET /login/callback`.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The scheme and host the browser used, as the Cloud Foundry router forwards them.
pub fn external_origin(headers: &HeaderMap) -> String {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = get("x-forwarded-proto")
        .map(|p| p.split(',').next().unwrap_or(p).trim())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    let host = get("x-forwarded-host")
        .or_else(|| get("host"))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

fn is_https(headers: &HeaderMap) -> bool {
    external_origin(headers).starts_with("https://")
}

/// Only local paths: `/x`, never `//host` or `https://…` (no open redirect).
fn local_path(p: Option<&str>) -> String {
    match p {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

fn cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    secure: bool,
    max_age: Option<Duration>,
) -> Cookie<'static> {
    let mut c = Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path(path)
        .build();
    if let Some(age) = max_age {
        c.set_max_age(time::Duration::seconds(
            i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
        ));
    }
    c
}

/// `GET /login`.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    let redirect = local_path(q.redirect.as_deref());
    let login_state = state.sessions.begin_login(redirect)?;
    let callback = format!("{}/login/callback", external_origin(&headers));
    let mut authorize = state.xsuaa_url.clone();
    authorize.set_path("/oauth/authorize");
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &state.clientid)
        .append_pair("redirect_uri", &callback)
        .append_pair("state", &login_state);
    let jar = jar.add(cookie(
        LOGIN_COOKIE,
        login_state,
        "/login",
        is_https(&headers),
        Some(Duration::from_secs(600)),
    ));
    Ok((jar, Redirect::to(authorize.as_str())).into_response())
}

/// `GET /login/callback`.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    if let Some(error) = q.error {
        return Err(ApiError::Unauthenticated {
            oauth_error: None,
            message: format!(
                "Sign-in failed at XSUAA: {}",
                error.chars().take(100).collect::<String>()
            ),
        });
    }
    let (Some(code), Some(login_state)) = (q.code, q.state) else {
        return Err(ApiError::BadRequest(
            "login callback needs code and state".into(),
        ));
    };
    let bound = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned());
    if bound.as_deref() != Some(login_state.as_str()) {
        return Err(ApiError::BadRequest(
            "login state does not match this browser; start again at /login".into(),
        ));
    }
    let Some(redirect) = state.sessions.finish_login(&login_state) else {
        return Err(ApiError::BadRequest(
            "login expired or unknown; start again at /login".into(),
        ));
    };
    let callback = format!("{}/login/callback", external_origin(&headers));
    let tokens = state
        .tokens
        .authorization_code(&code, &callback)
        .await
        .map_err(|e| ApiError::Unauthenticated {
            oauth_error: None,
            message: format!("Sign-in failed: {e}"),
        })?;
    let token = state
        .validator
        .validate(tokens.access_token.expose())
        .await?;
    let user = token
        .user_name()
        .map(str::to_owned)
        .unwrap_or_else(|| "unknown".to_owned());
    tracing::info!(user.name = %user, "user signed in");
    let id = state.sessions.create(
        user,
        Tokens {
            access: tokens.access_token,
            refresh: tokens.refresh_token,
            expires_at: Instant::now() + Duration::from_secs(tokens.expires_in),
        },
    )?;
    let secure = is_https(&headers);
    let jar = jar
        .remove(Cookie::build(LOGIN_COOKIE).path("/login").build())
        .add(cookie(SESSION_COOKIE, id, "/", secure, None));
    Ok((jar, Redirect::to(&redirect)).into_response())
}

/// `GET /logout`.
pub async fn logout(State(state): State<AppState>, jar: CookieJar) -> Response {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        state.sessions.remove(c.value());
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    (
        jar,
        Html("<!doctype html><html><head><meta charset=\"utf-8\"><title>Signed out</title></head>\
              <body><p>You are signed out.</p><p><a href=\"/login\">Sign in again</a></p></body></html>"),
    )
        .into_response()
}
