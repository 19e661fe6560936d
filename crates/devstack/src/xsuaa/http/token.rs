//! `POST /oauth/token`: client authentication (HTTP Basic, form secret or a registered client
//! certificate) and the `client_credentials`, `authorization_code`, `refresh_token` and
//! `password` grants, answered with signed tokens.
//!
//! The resource owner password grant (RFC 6749 §4.3) takes the client's authentication plus
//! `username` and `password` form fields, and answers the same tokens as a sign-in through the
//! login page would (access token with the user's role-collection scopes, refresh token, ID
//! token), with `grant_type` `password`. Like every grant it is refused with
//! `unauthorized_client` when the client's grant types (the descriptor's `grant-types`) do not
//! list it. A wrong password or an unknown user is UAA's answer, a 401 `unauthorized` "Name or
//! password mismatch" (UAA deliberately answers 401 rather than RFC 6749's 400
//! `invalid_grant`: <https://github.com/cloudfoundry/uaa/issues/599>).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::form::{Form, url_decode};
use super::login::check_password;
use super::refusal::{Kind, Refusal, json_response, printable};
use super::{LogFields, SUPPORTED_GRANTS, finish};
use crate::tls::PeerCertificate;
use crate::xsuaa::claims::{self, Grant};
use crate::xsuaa::users::User;
use crate::xsuaa::{CODE_LIFETIME, Client, LocalXsuaa, MAX_REFRESH_TOKENS, RefreshGrant, now};

pub(super) async fn token(
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
        "password" => password(x, &client, &form),
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
            let fingerprint = crate::xsuaa::sha256(&peer.der);
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
            "S256" => URL_SAFE_NO_PAD.encode(crate::xsuaa::sha256(verifier.as_bytes())),
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

/// The resource owner password grant: the user's own credentials in the form, checked like the
/// login page checks them (in constant time, unknown users too).
fn password(x: &LocalXsuaa, client: &Client, form: &Form) -> Result<Response, Refusal> {
    let (Some(username), Some(password)) = (form.get("username"), form.get("password")) else {
        return Err(Refusal::invalid_request(
            "A username and a password must be supplied.",
        ));
    };
    let user = check_password(x, username, password).ok_or_else(Refusal::name_or_password)?;
    let granted = x.user_scopes(user, None);
    let scopes = narrow(form.get("scope"), &granted)?;
    let auth_time = now();
    let refresh = new_refresh_token(
        x,
        RefreshGrant {
            client_id: client.id.clone(),
            username: user.username.clone(),
            scope: form.get("scope").map(|_| scopes.clone()),
            auth_time,
            expires_at: auth_time + i64::from(x.inner.descriptor.refresh_token_validity()),
            created: auth_time,
        },
    );
    user_tokens(
        x, &client.id, "password", user, &scopes, auth_time, None, &refresh,
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
    let token = format!("{}-r", crate::xsuaa::random_hex(16));
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
        crate::xsuaa::encode_jwt(&key, &header, claims).map_err(|e| {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

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
}
