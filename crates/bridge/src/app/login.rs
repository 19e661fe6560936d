//! Sign-in for browsers, as the SAP approuter does it for UI5 apps: the OAuth 2.0
//! authorization-code flow against XSUAA, then a server-side session behind an HttpOnly,
//! SameSite=Lax cookie (Secure when the request came over HTTPS).
//!
//! - `GET /login?redirect=/path`: check where to return ([`local_redirect`]), bind a random
//!   `state` and that path to the browser (a sealed, short-lived cookie: the server keeps
//!   nothing) and send it to XSUAA's `/oauth/authorize`.
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
use super::session::{LOGIN_COOKIE, LOGIN_TIMEOUT, SESSION_COOKIE, Tokens};

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

/// Longest `redirect` accepted by `/login` (bytes, as received); longer is a 400. Browsers
/// and the Cloud Foundry router handle URLs far longer, but a path to return to after sign-in
/// has no business being longer, and it travels in a cookie (browsers keep at most 4096 bytes
/// per cookie, RFC 6265 §6.1).
pub const MAX_REDIRECT_LEN: usize = 2048;

/// Where to send a browser after sign-in: `requested` if it is a path on this app, else `/`.
///
/// Browsers are lenient with `Location` (the WHATWG URL parser drops tabs and newlines and
/// reads `\` as `/`), so `/\t/evil.example` would take them to `//evil.example`, off-site. So
/// the target is refused, in its received and its percent-decoded form, when its path does not
/// start with exactly one `/` or holds whitespace or a backslash, or when it holds a control
/// character anywhere. What is
/// returned is rebuilt from the parsed URL (path and query, percent-encoded), never the raw
/// string, so it is always a valid header value that names this app.
pub fn local_redirect(requested: Option<&str>) -> String {
    const ROOT: &str = "/";
    let Some(raw) = requested else {
        return ROOT.to_owned();
    };
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    // The path decides where a browser goes: exactly one leading `/`, and nothing a browser
    // would drop or reinterpret. The query only needs to be free of control characters (it
    // is re-encoded below; `$filter=name eq 'a'` is a fine place to return to).
    let plain = |p: &str| {
        let path = p.split(['?', '#']).next().unwrap_or("");
        path.starts_with('/')
            && !path[1..].starts_with('/')
            && !path.chars().any(|c| c.is_whitespace() || c == '\\')
            && !p.chars().any(char::is_control)
    };
    if !plain(raw) || !plain(&decoded) {
        return ROOT.to_owned();
    }
    let Ok(base) = url::Url::parse("http://app.invalid/") else {
        return ROOT.to_owned();
    };
    match base.join(raw) {
        Ok(u) if u.origin() == base.origin() => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        },
        _ => ROOT.to_owned(),
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
    if q.redirect
        .as_ref()
        .is_some_and(|r| r.len() > MAX_REDIRECT_LEN)
    {
        return Err(ApiError::BadRequest(format!(
            "The query option 'redirect' is longer than {MAX_REDIRECT_LEN} bytes"
        )));
    }
    let redirect = local_redirect(q.redirect.as_deref());
    let (login_state, sealed) = state.sessions.begin_login(&redirect)?;
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
        sealed,
        "/login",
        is_https(&headers),
        Some(LOGIN_TIMEOUT),
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
                cfenv::text::prefix(&error, 100)
            ),
        });
    }
    let (Some(code), Some(login_state)) = (q.code, q.state) else {
        return Err(ApiError::BadRequest(
            "login callback needs code and state".into(),
        ));
    };
    let Some(bound) = jar.get(LOGIN_COOKIE) else {
        return Err(ApiError::BadRequest(
            "no login in progress in this browser; start again at /login".into(),
        ));
    };
    let Some(redirect) = state.sessions.finish_login(bound.value(), &login_state) else {
        return Err(ApiError::BadRequest(
            "login state does not match this browser, or the login expired; start again at \
             /login"
                .into(),
        ));
    };
    // Checked when the login began and sealed since; checked again so that nothing but a
    // local path can ever reach the `Location` header.
    let redirect = local_redirect(Some(&redirect));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::local_redirect;

    #[test]
    fn redirects_stay_on_this_app() {
        let cases: &[(&str, &str)] = &[
            ("/", "/"),
            ("/catalog/Buckets", "/catalog/Buckets"),
            (
                "/catalog/Buckets?$top=1&$filter=name eq 'a'",
                "/catalog/Buckets?$top=1&$filter=name%20eq%20%27a%27",
            ),
            ("/a/../b", "/b"),
            ("/%C3%BC", "/%C3%BC"),
            ("/ü", "/%C3%BC"),
            // Off-site or broken: back to the start page.
            ("//evil.example", "/"),
            ("/\t/evil.example", "/"),
            ("/%09/evil.example", "/"),
            ("/\\evil.example", "/"),
            ("/%5Cevil.example", "/"),
            ("/%2F/evil.example", "/"),
            ("/%2f%2fevil.example", "/"),
            ("/a\nb", "/"),
            ("/a%0Ab", "/"),
            ("/a%0D%0ASet-Cookie:x=y", "/"),
            ("/a b", "/"),
            ("/a%20b", "/"),
            ("/a\u{7f}", "/"),
            ("/\u{85}x", "/"),
            ("/\u{2028}x", "/"),
            ("/x?a=%0A", "/"),
            ("/x?a=\r\nb", "/"),
            ("/x?a=%5C%2F%2Fb", "/x?a=%5C%2F%2Fb"),
            ("/%3Fx", "/%3Fx"),
            ("https://evil.example/", "/"),
            ("evil.example", "/"),
            ("", "/"),
            ("javascript:alert(1)", "/"),
            ("/%ZZ", "/%ZZ"),
        ];
        for (input, want) in cases {
            assert_eq!(local_redirect(Some(input)), *want, "{input:?}");
            let got = local_redirect(Some(input));
            assert!(
                axum::http::HeaderValue::from_str(&got).is_ok(),
                "{input:?} gives a valid header value"
            );
        }
        assert_eq!(local_redirect(None), "/");
    }
}
