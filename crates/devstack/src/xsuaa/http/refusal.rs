//! [`Refusal`], the one place where the local XSUAA's failures become HTTP responses: OAuth
//! errors as `{"error":…,"error_description":…}` (401 with UAA's `WWW-Authenticate` for client
//! authentication), or a small HTML page on the browser-facing login routes; and the response
//! helpers every route uses (JSON with `no-store`, HTML with a strict CSP, escaping, client
//! values cut for quoting).

use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::login::STYLE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
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
    pub(super) fn json(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            kind: Kind::Json,
        }
    }

    pub(super) fn bad_credentials() -> Self {
        Self {
            kind: Kind::ClientAuth,
            ..Self::json(StatusCode::UNAUTHORIZED, "unauthorized", "Bad credentials")
        }
    }

    pub(super) fn authentication_required() -> Self {
        Self {
            kind: Kind::ClientAuth,
            ..Self::json(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Full authentication is required to access this resource",
            )
        }
    }

    /// A password grant with a wrong password or an unknown user: UAA's 401 (it does not say
    /// which of the two was wrong).
    pub(super) fn name_or_password() -> Self {
        Self::json(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Name or password mismatch",
        )
    }

    pub(super) fn admin() -> Self {
        Self {
            kind: Kind::AdminAuth,
            ..Self::json(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "The admin secret (xsuaa/admin-secret in the data directory) is required as a bearer token",
            )
        }
    }

    pub(super) fn invalid_request(description: impl Into<String>) -> Self {
        Self::json(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(super) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::json(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub(super) fn invalid_scope(description: impl Into<String>) -> Self {
        Self::json(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub(super) fn internal() -> Self {
        Self::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal error",
        )
    }

    pub(super) fn page(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            kind: Kind::Page,
            ..Self::json(status, "invalid_request", description)
        }
    }

    /// A request body axum could not read (larger than [`MAX_BODY`](super::MAX_BODY), or cut
    /// off): the same refusal in this route's format (`kind`: [`Kind::Json`] or [`Kind::Page`])
    /// instead of axum's plain-text rejection.
    pub(super) fn unreadable_body(rejection: &BytesRejection, kind: Kind) -> Self {
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

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
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

pub(super) fn html(status: StatusCode, body: String) -> Response {
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
pub(super) fn escape(s: &str) -> String {
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
pub(super) fn printable(s: &str) -> String {
    use cfenv::text::{Controls, Ellipsis};
    cfenv::text::cut(s, 100, Controls::Drop, Ellipsis::Never).replace('"', "'")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
