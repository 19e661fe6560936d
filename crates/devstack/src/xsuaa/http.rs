//! The local XSUAA's HTTP routes, and [`Refusal`], the one place where its failures become
//! HTTP responses: OAuth errors as `{"error":…,"error_description":…}` (401 with UAA's
//! `WWW-Authenticate` for client authentication), or a small HTML page on the browser-facing
//! login routes. A client's mistake is never a 500.
//!
//! Each request is logged once, by the middleware, from [`LogFields`] the handlers attach to
//! the response: method, path (known routes only), status, grant type and the authenticated
//! client id. Bodies, query strings, codes, passwords, secrets and tokens are never logged.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::claims::{self, Grant};
use super::users::User;
use super::{
    CODE_LIFETIME, Client, LocalXsuaa, MAX_PENDING_CODES, MAX_REFRESH_TOKENS, PendingCode,
    RefreshGrant, now,
};
use crate::tls::PeerCertificate;

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
const SUPPORTED_GRANTS: &[&str] = &["client_credentials", "authorization_code", "refresh_token"];

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

// ---------------------------------------------------------------------------------------------
// Refusal

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// An OAuth error body.
    Json,
    /// An OAuth error body with UAA's client-authentication challenge.
    ClientAuth,
    /// An OAuth error body with a bearer challenge (admin endpoint).
    AdminAuth,
    /// An HTML page (browser-facing routes).
    Page,
}

/// A refused request.
#[derive(Debug)]
pub(super) struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: String,
    kind: Kind,
}

impl Refusal {
    fn json(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            kind: Kind::Json,
        }
    }

    fn bad_credentials() -> Self {
        Self {
            kind: Kind::ClientAuth,
            ..Self::json(StatusCode::UNAUTHORIZED, "unauthorized", "Bad credentials")
        }
    }

    fn authentication_required() -> Self {
        Self {
            kind: Kind::ClientAuth,
            ..Self::json(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Full authentication is required to access this resource",
            )
        }
    }

    fn admin() -> Self {
        Self {
            kind: Kind::AdminAuth,
            ..Self::json(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "The admin secret (xsuaa/admin-secret in the data directory) is required as a bearer token",
            )
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::json(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::json(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn invalid_scope(description: impl Into<String>) -> Self {
        Self::json(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    fn internal() -> Self {
        Self::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal error",
        )
    }

    fn page(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            kind: Kind::Page,
            ..Self::json(status, "invalid_request", description)
        }
    }

    /// A request body axum could not read (larger than [`MAX_BODY`], or cut off): the same
    /// refusal in this route's format (`kind`: [`Kind::Json`] or [`Kind::Page`]) instead of
    /// axum's plain-text rejection.
    fn unreadable_body(rejection: &BytesRejection, kind: Kind) -> Self {
        let status = rejection.status();
        let description = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "The request body is larger than 64 KiB"
        } else {
            "The request body could not be read"
        };
        Self {
            kind,
            ..Self::json(status, "invalid_request", description)
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        if self.kind == Kind::Page {
            let body = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <title>Error - local XSUAA</title><style>{STYLE}</style></head><body><main>\
                 <h1>Something went wrong</h1><p class=\"error\" role=\"alert\">{}</p></main>\
                 </body></html>",
                escape(&self.description)
            );
            return html(self.status, body);
        }
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut resp = json_response(self.status, &body);
        let challenge = match self.kind {
            Kind::ClientAuth => Some("Basic realm=\"UAA/client\""),
            Kind::AdminAuth => Some("Bearer realm=\"UAA/admin\""),
            Kind::Json | Kind::Page => None,
        };
        if let Some(challenge) = challenge {
            let value = format!(
                "{challenge}, error=\"{}\", error_description=\"{}\"",
                self.error,
                self.description.replace('"', "'")
            );
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=UTF-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value a client sent, fit to quote in an error description: at most 100 printable
/// characters.
fn printable(s: &str) -> String {
    use cfenv::text::{Controls, Ellipsis};
    cfenv::text::cut(s, 100, Controls::Drop, Ellipsis::Never).replace('"', "'")
}

// ---------------------------------------------------------------------------------------------
// Form bodies and query strings

/// `application/x-www-form-urlencoded` parameters; a parameter sent twice is refused (RFC 6749
/// §3.1, §3.2).
#[derive(Default)]
struct Form(BTreeMap<String, String>);

impl Form {
    /// Parses `bytes`; `Err` names the repeated parameter.
    fn parse(bytes: &[u8]) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(bytes) {
            if map.insert(k.clone().into_owned(), v.into_owned()).is_some() {
                return Err(format!("Duplicate parameter: {}", printable(&k)));
            }
        }
        Ok(Self(map))
    }

    /// The parameter's value; empty values count as absent.
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Percent-decoding as Java's `URLDecoder` (and so UAA) does it: `+` is a space; a malformed
/// escape or invalid UTF-8 is an error.
fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------
// POST /oauth/token

async fn token(
    State(x): State<LocalXsuaa>,
    peer: Option<axum::Extension<Option<PeerCertificate>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let peer = peer.and_then(|axum::Extension(p)| p);
    let mut log = LogFields::default();
    let result = match body {
        Ok(body) => issue(&x, peer.as_ref(), &headers, &body, &mut log),
        Err(rejection) => Err(Refusal::unreadable_body(&rejection, Kind::Json)),
    };
    finish(result, log)
}

fn issue(
    x: &LocalXsuaa,
    peer: Option<&PeerCertificate>,
    headers: &HeaderMap,
    body: &[u8],
    log: &mut LogFields,
) -> Result<Response, Refusal> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let form = if is_form {
        Form::parse(body).map_err(Refusal::invalid_request)?
    } else {
        Form::default()
    };
    let client = authenticate(x, headers, &form, peer)?;
    log.client_id = Some(client.id.clone());
    if !is_form {
        return Err(Refusal::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| Refusal::invalid_request("Missing grant type"))?;
    let Some(grant) = SUPPORTED_GRANTS.iter().copied().find(|g| *g == grant_type) else {
        log.grant_type = Some("(other)");
        return Err(Refusal::json(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("Unsupported grant type: {}", printable(grant_type)),
        ));
    };
    log.grant_type = Some(grant);
    if !client.grant_types.iter().any(|g| g == grant) {
        return Err(Refusal::json(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            format!("Unauthorized grant type: {grant}"),
        ));
    }
    match grant {
        "client_credentials" => client_credentials(x, &client, &form),
        "authorization_code" => authorization_code(x, &client, &form),
        _ => refresh_token(x, &client, &form),
    }
}

/// Client authentication: HTTP Basic (URL-decoding id and secret after base64 when
/// `X-CF-ENCODED-CREDENTIALS: true`), else form `client_id` + `client_secret`, else a verified
/// client certificate registered for the form's `client_id`.
fn authenticate(
    x: &LocalXsuaa,
    headers: &HeaderMap,
    form: &Form,
    peer: Option<&PeerCertificate>,
) -> Result<Client, Refusal> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let encoded = headers
            .get(HeaderName::from_static("x-cf-encoded-credentials"))
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let (id, secret) =
            basic_credentials(value, encoded).ok_or_else(Refusal::bad_credentials)?;
        return check_secret(x, &id, &secret);
    }
    match (form.get("client_id"), form.get("client_secret"), peer) {
        (Some(id), Some(secret), _) => check_secret(x, id, secret),
        (Some(id), None, Some(peer)) => {
            let fingerprint = super::sha256(&peer.der);
            x.client(id)
                .filter(|c| c.certificates.contains(&fingerprint))
                .ok_or_else(Refusal::bad_credentials)
        }
        (Some(_), None, None) => Err(Refusal::bad_credentials()),
        (None, _, _) => Err(Refusal::authentication_required()),
    }
}

fn basic_credentials(value: &HeaderValue, encoded: bool) -> Option<(String, String)> {
    let value = value.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let rest = rest.trim();
    let bytes = STANDARD
        .decode(rest)
        .or_else(|_| STANDARD_NO_PAD.decode(rest))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (id, secret) = text.split_once(':')?;
    if encoded {
        Some((url_decode(id)?, url_decode(secret)?))
    } else {
        Some((id.to_owned(), secret.to_owned()))
    }
}

fn check_secret(x: &LocalXsuaa, id: &str, secret: &str) -> Result<Client, Refusal> {
    let client = x.client(id).ok_or_else(Refusal::bad_credentials)?;
    let expected = client
        .secret
        .as_ref()
        .ok_or_else(Refusal::bad_credentials)?;
    aws_lc_rs::constant_time::verify_slices_are_equal(
        expected.expose().as_bytes(),
        secret.as_bytes(),
    )
    .map_err(|_| Refusal::bad_credentials())?;
    Ok(client)
}

/// The scopes of a token: `allowed`, or the subset `requested` names (space-separated).
fn narrow(requested: Option<&str>, allowed: &[String]) -> Result<Vec<String>, Refusal> {
    let Some(requested) = requested else {
        return Ok(allowed.to_vec());
    };
    let mut out: Vec<String> = Vec::new();
    for scope in requested.split_whitespace() {
        if !allowed.iter().any(|a| a == scope) {
            return Err(Refusal::invalid_scope(format!(
                "Invalid scope: {}",
                printable(scope)
            )));
        }
        if !out.iter().any(|s| s == scope) {
            out.push(scope.to_owned());
        }
    }
    if out.is_empty() {
        return Ok(allowed.to_vec());
    }
    Ok(out)
}

fn client_credentials(x: &LocalXsuaa, client: &Client, form: &Form) -> Result<Response, Refusal> {
    let scopes = narrow(form.get("scope"), &client.authorities)?;
    let claims = claims::access(
        &x.inner,
        &Grant {
            client_id: &client.id,
            grant_type: "client_credentials",
            scopes: &scopes,
            user: None,
        },
        now(),
    );
    token_response(x, &claims, &scopes, None, None)
}

fn authorization_code(x: &LocalXsuaa, client: &Client, form: &Form) -> Result<Response, Refusal> {
    let code = form
        .get("code")
        .ok_or_else(|| Refusal::invalid_request("An authorization code must be supplied."))?;
    // A code is consumed by any attempt to redeem it, right or wrong.
    let pending = x
        .grants()
        .codes
        .remove(code)
        .filter(|p| p.created.elapsed() <= CODE_LIFETIME && p.client_id == client.id)
        .ok_or_else(|| Refusal::invalid_grant("Invalid authorization code"))?;
    if form.get("redirect_uri") != Some(pending.redirect_uri.as_str()) {
        return Err(Refusal::invalid_grant("Redirect URI mismatch."));
    }
    if let Some((challenge, method)) = &pending.challenge {
        let verifier = form
            .get("code_verifier")
            .ok_or_else(|| Refusal::invalid_grant("Code verifier required"))?;
        let computed = match method.as_str() {
            "S256" => URL_SAFE_NO_PAD.encode(super::sha256(verifier.as_bytes())),
            _ => verifier.to_owned(),
        };
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            computed.as_bytes(),
            challenge.as_bytes(),
        )
        .is_err()
        {
            return Err(Refusal::invalid_grant("Invalid code verifier"));
        }
    }
    let user = x
        .user(&pending.username)
        .ok_or_else(|| Refusal::invalid_grant("Invalid authorization code"))?;
    let refresh = new_refresh_token(
        x,
        RefreshGrant {
            client_id: client.id.clone(),
            username: user.username.clone(),
            scope: pending.scope.clone(),
            auth_time: pending.auth_time,
            expires_at: now() + i64::from(x.inner.descriptor.refresh_token_validity()),
            created: now(),
        },
    );
    let scopes = x.user_scopes(user, pending.scope.as_deref());
    user_tokens(
        x,
        &client.id,
        "authorization_code",
        user,
        &scopes,
        pending.auth_time,
        pending.nonce.as_deref(),
        &refresh,
    )
}

fn refresh_token(x: &LocalXsuaa, client: &Client, form: &Form) -> Result<Response, Refusal> {
    let token = form
        .get("refresh_token")
        .ok_or_else(|| Refusal::invalid_request("A refresh token must be supplied."))?;
    let grant = {
        let mut grants = x.grants();
        match grants.refresh.get(token) {
            Some(g) if g.expires_at > now() => g.clone(),
            Some(_) => {
                grants.refresh.remove(token);
                return Err(Refusal::invalid_grant("Invalid refresh token (expired)"));
            }
            None => return Err(Refusal::invalid_grant("Invalid refresh token")),
        }
    };
    if grant.client_id != client.id {
        return Err(Refusal::invalid_grant(
            "Wrong client for this refresh token",
        ));
    }
    let user = x
        .user(&grant.username)
        .ok_or_else(|| Refusal::invalid_grant("Invalid refresh token"))?;
    let granted = x.user_scopes(user, grant.scope.as_deref());
    let scopes = narrow(form.get("scope"), &granted)?;
    x.inner
        .refresh_grants
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    user_tokens(
        x,
        &client.id,
        "refresh_token",
        user,
        &scopes,
        grant.auth_time,
        None,
        token,
    )
}

fn new_refresh_token(x: &LocalXsuaa, grant: RefreshGrant) -> String {
    let token = format!("{}-r", super::random_hex(16));
    let mut grants = x.grants();
    let now = now();
    grants.refresh.retain(|_, g| g.expires_at > now);
    if grants.refresh.len() >= MAX_REFRESH_TOKENS
        && let Some(oldest) = grants
            .refresh
            .iter()
            .min_by_key(|(_, g)| g.created)
            .map(|(k, _)| k.clone())
    {
        grants.refresh.remove(&oldest);
    }
    grants.refresh.insert(token.clone(), grant);
    token
}

#[allow(clippy::too_many_arguments)]
fn user_tokens(
    x: &LocalXsuaa,
    client_id: &str,
    grant_type: &str,
    user: &User,
    scopes: &[String],
    auth_time: i64,
    nonce: Option<&str>,
    refresh: &str,
) -> Result<Response, Refusal> {
    let now = now();
    let access = claims::access(
        &x.inner,
        &Grant {
            client_id,
            grant_type,
            scopes,
            user: Some((user, auth_time)),
        },
        now,
    );
    let id_token = scopes
        .iter()
        .any(|s| s == "openid")
        .then(|| claims::id_token(&x.inner, client_id, grant_type, user, auth_time, nonce, now));
    token_response(x, &access, scopes, Some(refresh), id_token.as_ref())
}

/// `{access_token, token_type, expires_in, scope, jti[, refresh_token, id_token]}`, signed
/// with the active key.
fn token_response(
    x: &LocalXsuaa,
    access: &Value,
    scopes: &[String],
    refresh: Option<&str>,
    id_token: Option<&Value>,
) -> Result<Response, Refusal> {
    let key = x.inner.keys.active();
    let header = claims::header(&x.inner.url, &key.kid);
    let sign = |claims: &Value| {
        super::encode_jwt(&key, &header, claims).map_err(|e| {
            tracing::error!(error = %e, "local xsuaa cannot sign a token");
            Refusal::internal()
        })
    };
    let mut body = json!({
        "access_token": sign(access)?,
        "token_type": "bearer",
        "expires_in": x.inner.descriptor.token_validity().saturating_sub(1),
        "scope": scopes.join(" "),
        "jti": access["jti"],
    });
    if let Some(id_token) = id_token {
        body["id_token"] = sign(id_token)?.into();
    }
    if let Some(refresh) = refresh {
        body["refresh_token"] = refresh.into();
    }
    Ok(json_response(StatusCode::OK, &body))
}

// ---------------------------------------------------------------------------------------------
// GET /oauth/authorize, POST /login.do

/// A validated authorization request.
struct AuthorizeRequest {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    scope: Option<Vec<String>>,
    nonce: Option<String>,
    challenge: Option<(String, String)>,
}

fn check_authorize(x: &LocalXsuaa, p: &Form) -> Result<AuthorizeRequest, Refusal> {
    let bad = |msg: &str| Refusal::page(StatusCode::BAD_REQUEST, msg);
    let client_id = p
        .get("client_id")
        .ok_or_else(|| bad("The request has no client_id."))?;
    let client = x
        .client(client_id)
        .ok_or_else(|| bad("No client with the requested id."))?;
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(bad(
            "This client may not use the authorization code flow (grant-types).",
        ));
    }
    let redirect_uri = p
        .get("redirect_uri")
        .ok_or_else(|| bad("The request has no redirect_uri."))?;
    let well_formed = url::Url::parse(redirect_uri)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.fragment().is_none());
    if !well_formed || !x.inner.descriptor.redirect_uri_allowed(redirect_uri) {
        return Err(bad(
            "The redirect_uri does not match any of the redirect-uris in xs-security.json.",
        ));
    }
    if p.get("response_type") != Some("code") {
        return Err(bad("Only response_type=code is supported."));
    }
    let challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => return Err(bad("code_challenge_method without code_challenge.")),
        (Some(c), method) => {
            let method = method.unwrap_or("plain");
            if !matches!(method, "S256" | "plain") {
                return Err(bad("code_challenge_method must be S256 or plain."));
            }
            if !(43..=128).contains(&c.len()) {
                return Err(bad("code_challenge must be 43 to 128 characters."));
            }
            Some((c.to_owned(), method.to_owned()))
        }
    };
    Ok(AuthorizeRequest {
        client_id: client.id,
        redirect_uri: redirect_uri.to_owned(),
        state: p.get("state").map(str::to_owned),
        scope: p
            .get("scope")
            .map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .filter(|s| !s.is_empty()),
        nonce: p.get("nonce").map(str::to_owned),
        challenge,
    })
}

async fn authorize(State(x): State<LocalXsuaa>, RawQuery(query): RawQuery) -> Response {
    let mut log = LogFields::default();
    let result = Form::parse(query.unwrap_or_default().as_bytes())
        .map_err(|e| Refusal::page(StatusCode::BAD_REQUEST, e))
        .and_then(|p| check_authorize(&x, &p))
        .map(|req| {
            log.client_id = Some(req.client_id.clone());
            login_page(StatusCode::OK, &req, "", None)
        });
    finish(result, log)
}

async fn login(State(x): State<LocalXsuaa>, body: Result<Bytes, BytesRejection>) -> Response {
    let mut log = LogFields::default();
    let result = match body {
        Ok(body) => sign_in(&x, &body, &mut log),
        Err(rejection) => Err(Refusal::unreadable_body(&rejection, Kind::Page)),
    };
    finish(result, log)
}

fn sign_in(x: &LocalXsuaa, body: &[u8], log: &mut LogFields) -> Result<Response, Refusal> {
    let form = Form::parse(body).map_err(|e| Refusal::page(StatusCode::BAD_REQUEST, e))?;
    let req = check_authorize(x, &form)?;
    log.client_id = Some(req.client_id.clone());
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    let Some(user) = check_password(x, username, password) else {
        return Ok(login_page(
            StatusCode::UNAUTHORIZED,
            &req,
            username,
            Some("Unable to verify the user name or password. Please try again."),
        ));
    };
    let code = super::random_urlsafe(24);
    let pending = PendingCode {
        client_id: req.client_id.clone(),
        username: user.username.clone(),
        redirect_uri: req.redirect_uri.clone(),
        scope: req.scope.clone(),
        nonce: req.nonce.clone(),
        challenge: req.challenge.clone(),
        auth_time: now(),
        created: Instant::now(),
    };
    let location = {
        let mut url = url::Url::parse(&req.redirect_uri).map_err(|_| {
            Refusal::page(StatusCode::BAD_REQUEST, "The redirect_uri is not a URL.")
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("code", &code);
            if let Some(state) = &req.state {
                q.append_pair("state", state);
            }
        }
        String::from(url)
    };
    {
        let mut grants = x.grants();
        grants
            .codes
            .retain(|_, c| c.created.elapsed() <= CODE_LIFETIME);
        if grants.codes.len() >= MAX_PENDING_CODES
            && let Some(oldest) = grants
                .codes
                .iter()
                .min_by_key(|(_, c)| c.created)
                .map(|(k, _)| k.clone())
        {
            grants.codes.remove(&oldest);
        }
        grants.codes.insert(code, pending);
    }
    let mut resp = StatusCode::FOUND.into_response();
    let location = HeaderValue::from_str(&location).map_err(|_| {
        Refusal::page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not a valid header value.",
        )
    })?;
    resp.headers_mut().insert(header::LOCATION, location);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

fn check_password<'a>(x: &'a LocalXsuaa, username: &str, password: &str) -> Option<&'a User> {
    let user = x.user(username);
    // Compare against something even for unknown users, so timing says little.
    let expected = user.map_or("\u{0}unknown user\u{0}", |u| u.password.expose());
    let equal =
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), password.as_bytes())
            .is_ok();
    user.filter(|_| equal)
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f5f6f7;\
color:#32363a;margin:0}main{max-width:22rem;margin:4rem auto;background:#fff;padding:2rem;\
border-radius:.5rem;box-shadow:0 1px 4px rgba(0,0,0,.15)}h1{font-size:1.4rem;margin:0 0 .5rem}\
.hint{color:#6a6d70;font-size:.9rem}label{display:block;margin:.9rem 0 .25rem}\
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.55rem;\
border:1px solid #89919a;border-radius:.25rem;font-size:1rem}button{margin-top:1.4rem;width:100%;\
padding:.65rem;background:#0a6ed1;color:#fff;border:0;border-radius:.25rem;font-size:1rem;\
cursor:pointer}.error{color:#bb0000;background:#ffebeb;padding:.5rem;border-radius:.25rem}";

fn login_page(
    status: StatusCode,
    req: &AuthorizeRequest,
    username: &str,
    error: Option<&str>,
) -> Response {
    let mut hidden = String::new();
    let mut field = |name: &str, value: &str| {
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        ));
    };
    field("response_type", "code");
    field("client_id", &req.client_id);
    field("redirect_uri", &req.redirect_uri);
    if let Some(state) = &req.state {
        field("state", state);
    }
    if let Some(scope) = &req.scope {
        field("scope", &scope.join(" "));
    }
    if let Some(nonce) = &req.nonce {
        field("nonce", nonce);
    }
    if let Some((challenge, method)) = &req.challenge {
        field("code_challenge", challenge);
        field("code_challenge_method", method);
    }
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Sign in - local XSUAA</title><style>{STYLE}</style></head><body><main>\
         <h1>Sign in</h1><p class=\"hint\">to <b>{client}</b> on the local XSUAA (zone \
         <b>{zone}</b>)</p>{error}\
         <form method=\"post\" action=\"/login.do\">{hidden}\
         <label for=\"username\">User name</label>\
         <input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" \
         value=\"{username}\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form></main></body></html>",
        client = escape(&req.client_id),
        zone = super::IDENTITY_ZONE,
        username = escape(username),
    );
    html(status, body)
}

// ---------------------------------------------------------------------------------------------
// GET /token_keys, GET /.well-known/openid-configuration, POST /admin/rotate-keys

async fn token_keys(State(x): State<LocalXsuaa>, headers: HeaderMap) -> Response {
    let body = x.token_keys().to_string();
    let digest = super::sha256(body.as_bytes());
    let etag = format!(
        "\"{}\"",
        digest[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let mut resp = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut resp = (StatusCode::OK, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
        resp
    };
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

async fn openid_configuration(State(x): State<LocalXsuaa>) -> Response {
    let url = x.url();
    let body = json!({
        "issuer": format!("{url}/oauth/token"),
        "authorization_endpoint": format!("{url}/oauth/authorize"),
        "token_endpoint": format!("{url}/oauth/token"),
        "jwks_uri": format!("{url}/token_keys"),
        "mtls_endpoint_aliases": { "token_endpoint": format!("{url}/oauth/token") },
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "tls_client_auth"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "grant_types_supported": SUPPORTED_GRANTS,
        "code_challenge_methods_supported": ["S256", "plain"],
        "scopes_supported": ["openid"],
        "claims_supported": ["sub", "user_name", "origin", "iss", "auth_time", "amr", "acr",
            "client_id", "aud", "zid", "grant_type", "user_id", "azp", "scope", "exp", "iat",
            "jti", "rev_sig", "cid", "given_name", "family_name", "email",
            "xs.user.attributes", "xs.system.attributes"],
        "claim_types_supported": ["normal"],
        "ui_locales_supported": ["en-US"],
    });
    let mut resp = json_response(StatusCode::OK, &body);
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    resp.headers_mut().remove(header::PRAGMA);
    resp
}

async fn rotate_keys(State(x): State<LocalXsuaa>, headers: HeaderMap) -> Response {
    let result = rotate(&x, &headers).await;
    finish(result, LogFields::default())
}

async fn rotate(x: &LocalXsuaa, headers: &HeaderMap) -> Result<Response, Refusal> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(Refusal::admin)?;
    aws_lc_rs::constant_time::verify_slices_are_equal(
        presented.as_bytes(),
        x.inner.admin_secret.expose().as_bytes(),
    )
    .map_err(|_| Refusal::admin())?;
    // RSA key generation blocks for a while.
    let worker = x.clone();
    let kid = tokio::task::spawn_blocking(move || worker.rotate_keys())
        .await
        .map_err(|_| Refusal::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "local xsuaa cannot rotate its signing keys");
            Refusal::internal()
        })?;
    tracing::info!(xsuaa.kid = %kid, "local xsuaa signing key rotated");
    Ok(json_response(
        StatusCode::OK,
        &json!({ "active_kid": kid, "published_kids": x.published_kids() }),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn url_decoding_follows_java() {
        assert_eq!(url_decode("a%2Bb+c%24").unwrap(), "a+b c$");
        assert_eq!(url_decode("sb-bridge%21t1").unwrap(), "sb-bridge!t1");
        assert!(url_decode("%zz").is_none());
        assert!(url_decode("%2").is_none());
        assert!(url_decode("%ff").is_none(), "invalid UTF-8");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let v = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("id:se:cret"))).unwrap();
        assert_eq!(
            basic_credentials(&v, false).unwrap(),
            ("id".to_owned(), "se:cret".to_owned())
        );
        let v = HeaderValue::from_static("Bearer abc");
        assert!(basic_credentials(&v, false).is_none());
    }

    #[test]
    fn forms_refuse_repeated_parameters() {
        assert!(Form::parse(b"a=1&b=2").is_ok());
        assert_eq!(
            Form::parse(b"a=1&a=2").err().unwrap(),
            "Duplicate parameter: a"
        );
        assert_eq!(Form::parse(b"a=&b=2").unwrap().get("a"), None);
    }
}
