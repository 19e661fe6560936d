//! Key publication and rotation: `GET /token_keys` (the JWKS, with an ETag),
//! `GET /.well-known/openid-configuration` and `POST /admin/rotate-keys` (bearer: the admin
//! secret).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::refusal::{Refusal, json_response};
use super::{LogFields, SUPPORTED_GRANTS, finish};
use crate::xsuaa::LocalXsuaa;

pub(super) async fn token_keys(State(x): State<LocalXsuaa>, headers: HeaderMap) -> Response {
    let body = x.token_keys().to_string();
    let digest = crate::xsuaa::sha256(body.as_bytes());
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

pub(super) async fn openid_configuration(State(x): State<LocalXsuaa>) -> Response {
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

pub(super) async fn rotate_keys(State(x): State<LocalXsuaa>, headers: HeaderMap) -> Response {
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
