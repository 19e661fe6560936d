//! Browser sign-in: `GET /oauth/authorize` checks the authorization request and shows the login
//! page; `POST /login.do` checks the user's password and redirects back to the app with a
//! single-use code.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::form::Form;
use super::refusal::{Kind, Refusal, escape, html};
use super::{LogFields, finish};
use crate::xsuaa::users::User;
use crate::xsuaa::{CODE_LIFETIME, LocalXsuaa, MAX_PENDING_CODES, PendingCode, now};

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

pub(super) async fn authorize(State(x): State<LocalXsuaa>, RawQuery(query): RawQuery) -> Response {
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

pub(super) async fn login(
    State(x): State<LocalXsuaa>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
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
    let code = crate::xsuaa::random_urlsafe(24);
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

/// The user `username` if `password` is theirs (compared in constant time; an unknown user
/// costs the same comparison).
pub(super) fn check_password<'a>(
    x: &'a LocalXsuaa,
    username: &str,
    password: &str,
) -> Option<&'a User> {
    let user = x.user(username);
    // Compare against something even for unknown users, so timing says little.
    let expected = user.map_or("\u{0}unknown user\u{0}", |u| u.password.expose());
    let equal =
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), password.as_bytes())
            .is_ok();
    user.filter(|_| equal)
}

pub(super) const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f5f6f7;\
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
        zone = crate::xsuaa::IDENTITY_ZONE,
        username = escape(username),
    );
    html(status, body)
}
