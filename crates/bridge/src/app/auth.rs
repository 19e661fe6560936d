//! Who is calling, and may they: the [`Principal`] extractor accepts a bearer token (a client,
//! or an approuter forwarding the user's token) or a browser session cookie, validates the
//! token with `xsuaa`, and [`Authorized`] adds the scope check. No credentials → 401 (or, for a
//! browser asking for a page, a redirect to the login); invalid token → 401; valid token
//! without the scope → 403. The CSRF rule for browser sessions is the [`csrf`] middleware.

use std::marker::PhantomData;
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use tokio::time::Instant;
use xsuaa::validate::Token;

use super::AppState;
use super::error::ApiError;
use super::session::{SESSION_COOKIE, Session};

/// A validated caller.
pub struct Principal {
    /// The validated XSUAA token.
    pub token: Token,
    /// Set when the caller is a browser session (not a bearer token).
    pub via_session: bool,
}

/// Refresh a session's access token when less than this is left.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = bearer(value)?;
            let token = state.validator.validate(token).await?;
            return Ok(Principal {
                token,
                via_session: false,
            });
        }
        let jar = CookieJar::from_headers(&parts.headers);
        if let Some(id) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned())
            && let Some(session) = state.sessions.get(&id)
        {
            match fresh_access_token(state, &session).await {
                Ok(access) => {
                    let token = state.validator.validate(&access).await?;
                    return Ok(Principal {
                        token,
                        via_session: true,
                    });
                }
                Err(e) => {
                    tracing::info!(session.user = %session.user, error = %e, "session ended: token refresh failed");
                    state.sessions.remove(&id);
                }
            }
        }
        if wants_html(&parts.method, &parts.headers) {
            let redirect = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            return Err(ApiError::LoginRequired { redirect });
        }
        Err(ApiError::Unauthenticated {
            oauth_error: None,
            message: "Unauthorized: send a bearer token or sign in".into(),
        })
    }
}

/// The token of an `Authorization: Bearer …` header (scheme case-insensitive, as RFC 6750).
fn bearer(value: &HeaderValue) -> Result<&str, ApiError> {
    let invalid = |message: &str| ApiError::Unauthenticated {
        oauth_error: Some("invalid_request"),
        message: message.to_owned(),
    };
    let value = value
        .to_str()
        .map_err(|_| invalid("Unauthorized: malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(invalid("Unauthorized: use Authorization: Bearer <token>")),
    }
}

/// A browser navigating (GET, HTML accepted) gets the login page instead of a 401.
fn wants_html(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

/// The session's access token, refreshed first if it is about to expire. The session's token
/// lock makes concurrent requests share one refresh.
async fn fresh_access_token(state: &AppState, session: &Session) -> Result<String, String> {
    let mut tokens = session.tokens.lock().await;
    if tokens.expires_at.saturating_duration_since(Instant::now()) > REFRESH_MARGIN {
        return Ok(tokens.access.expose().to_owned());
    }
    let Some(refresh) = tokens.refresh.clone() else {
        return Err("access token expired and no refresh token".into());
    };
    let fresh = state
        .tokens
        .refresh(&refresh)
        .await
        .map_err(|e| e.to_string())?;
    tokens.expires_at = Instant::now() + Duration::from_secs(fresh.expires_in);
    tokens.access = fresh.access_token;
    if let Some(r) = fresh.refresh_token {
        tokens.refresh = Some(r);
    }
    Ok(tokens.access.expose().to_owned())
}

/// A scope the app's routes require, named locally (`Read` means `<xsappname>.Read`).
pub trait Scope: Send + Sync + 'static {
    /// The local name, as in `xs-security.json` after `$XSAPPNAME.`.
    const LOCAL: &'static str;
}

/// `$XSAPPNAME.Read`: read business data.
pub struct Read;
impl Scope for Read {
    const LOCAL: &'static str = "Read";
}

/// `$XSAPPNAME.Write`: change business data.
pub struct Write;
impl Scope for Write {
    const LOCAL: &'static str = "Write";
}

/// `$XSAPPNAME.JobRunner`: machine-only, for the scheduled caller.
pub struct JobRunner;
impl Scope for JobRunner {
    const LOCAL: &'static str = "JobRunner";
}

/// A [`Principal`] whose token carries scope `S`.
pub struct Authorized<S: Scope>(pub Principal, pub PhantomData<S>);

impl<S: Scope> FromRequestParts<AppState> for Authorized<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if principal.token.has_local_scope(S::LOCAL) {
            Ok(Authorized(principal, PhantomData))
        } else {
            Err(ApiError::InsufficientScope {
                scope: format!("{}.{}", state.xsappname, S::LOCAL),
            })
        }
    }
}

/// The SAP CSRF convention for browser sessions: `X-CSRF-Token: Fetch` on a safe request
/// returns the session's token in `X-CSRF-Token`; any other method must send it back.
/// Requests with a bearer token (an approuter in front does its own CSRF check) pass.
pub async fn csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.headers().contains_key(header::AUTHORIZATION) {
        return next.run(req).await;
    }
    let jar = CookieJar::from_headers(req.headers());
    let Some(session) = jar
        .get(SESSION_COOKIE)
        .and_then(|c| state.sessions.get(c.value()))
    else {
        return next.run(req).await;
    };
    let sent = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe {
        let fetch = sent
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("fetch"));
        let mut resp = next.run(req).await;
        if fetch && let Ok(v) = HeaderValue::from_str(&session.csrf) {
            resp.headers_mut().insert("x-csrf-token", v);
        }
        return resp;
    }
    let matches = sent.is_some_and(|s| {
        aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), session.csrf.as_bytes())
            .is_ok()
    });
    if matches {
        next.run(req).await
    } else {
        ApiError::CsrfRequired.into_response()
    }
}
