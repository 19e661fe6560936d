//! `ApiError`: the one place where the app's failures become HTTP responses.
//!
//! Bodies use the OData V4 error shape, `{"error":{"code":…,"message":…}}`, on every route, so
//! UI5 and SAP tooling read them. Client errors carry a useful message; server errors carry a
//! generic message plus the request id, while the detail goes into an [`ErrorDetail`] response
//! extension that the request-log middleware records. `IntoResponse` itself logs nothing.
//! 401 and 403 carry an RFC 6750 `WWW-Authenticate: Bearer` header (clients must not depend on
//! it: apps using `@sap/xssec` omit it).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// What the request-log middleware records about a failed request (never sent to clients).
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

/// Every way a request can fail.
#[derive(Debug)]
pub enum ApiError {
    /// No usable credentials (no token, invalid token, expired session): 401.
    Unauthenticated {
        /// RFC 6750 `error` code, if a token was presented (`invalid_token`).
        oauth_error: Option<&'static str>,
        /// What is wrong, for the client.
        message: String,
    },
    /// A browser without a session asked for a page: send it to the login.
    LoginRequired {
        /// Where to come back to after the login (a local path).
        redirect: String,
    },
    /// Authenticated, but the token lacks the scope: 403.
    InsufficientScope {
        /// The fully qualified scope that is required.
        scope: String,
    },
    /// A state-changing request in a browser session without the CSRF token: 403.
    CsrfRequired,
    /// The client's request is malformed: 400.
    BadRequest(String),
    /// No such resource: 404.
    NotFound(String),
    /// A dependency (XSUAA, …) cannot be reached or answers badly: 503.
    Unavailable {
        /// Which dependency.
        dependency: &'static str,
        /// Internal detail, logged, not sent.
        detail: String,
    },
    /// An OData protocol error (bad path, bad query option, unknown entity): its own status
    /// and body, from the `odata` crate.
    OData(odata::Error),
    /// A dependency (S3, STS, Credential Store) refused (502), could not be reached (503) or
    /// did not answer in time (504); see [`super::upstream`].
    Upstream(UpstreamFailure),
    /// The whole request outlived the request deadline: 504 (decided in
    /// [`super::upstream::request_timed_out`]).
    RequestTimeout(String),
    /// A request with this `Idempotency-Key` is still being processed: 409
    /// (draft-ietf-httpapi-idempotency-key-header §2.6).
    Conflict(String),
    /// The app is at a bound of its own (e.g. too many jobs running): 503, to retry later.
    Busy(String),
    /// The `Idempotency-Key` was already used for a different request: 422 (same section).
    Unprocessable(String),
    /// The app's database failed: 503 when it cannot be reached (the client may retry), else
    /// 500 (a bug, or a row this version cannot read).
    Store(runs::Error),
    /// A bug or unexpected state: 500.
    Internal(String),
}

/// A failed call to a dependency, classified.
#[derive(Debug, Clone)]
pub struct UpstreamFailure {
    /// 502, 503 or 504.
    pub status: u16,
    /// Which dependency (`S3`, `STS`, `Credential Store`).
    pub dependency: &'static str,
    /// The dependency's error code (`AccessDenied`, `NoSuchBucket`, `NotFound`, …), if it
    /// answered with one.
    pub code: Option<String>,
    /// The HTTP status the dependency answered with, if known.
    pub upstream_status: Option<u16>,
    /// Internal detail for the log (never sent to the client; never holds a secret).
    pub detail: String,
}

impl UpstreamFailure {
    /// The dependency answered, refusing: 502.
    pub fn refused(
        dependency: &'static str,
        code: Option<String>,
        upstream_status: Option<u16>,
        detail: String,
    ) -> Self {
        Self {
            status: 502,
            dependency,
            code,
            upstream_status,
            detail,
        }
    }

    /// The dependency could not be reached or says it is unavailable: 503.
    pub fn unavailable(dependency: &'static str, code: Option<String>, detail: String) -> Self {
        Self {
            status: 503,
            dependency,
            code,
            upstream_status: None,
            detail,
        }
    }

    /// The dependency did not answer in time: 504.
    pub fn timeout(dependency: &'static str, detail: String) -> Self {
        Self {
            status: 504,
            dependency,
            code: None,
            upstream_status: None,
            detail,
        }
    }

    /// The message for the client: names the dependency and its error code.
    pub fn message(&self) -> String {
        let d = self.dependency;
        match (self.status, &self.code) {
            (504, _) => format!("Gateway timeout: {d} did not answer in time"),
            (503, Some(code)) => format!("Service unavailable: {d} is unavailable ({code})"),
            (503, None) => format!("Service unavailable: {d} cannot be reached"),
            (_, Some(code)) => match self.upstream_status {
                Some(s) => format!("Bad gateway: {d} refused the request: {code} (HTTP {s})"),
                None => format!("Bad gateway: {d} refused the request: {code}"),
            },
            (_, None) => format!("Bad gateway: {d} refused the request"),
        }
    }
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            ApiError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            ApiError::InsufficientScope { .. } | ApiError::CsrfRequired => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable { .. } | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream(f) => {
                StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            ApiError::OData(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::RequestTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Store(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

fn odata_body(status: StatusCode, message: &str) -> serde_json::Value {
    serde_json::json!({ "error": { "code": status.as_u16().to_string(), "message": message } })
}

/// The OData error body of an upstream failure: `target` is the dependency, `details` carry its
/// own error code.
fn upstream_body(f: &UpstreamFailure) -> serde_json::Value {
    let mut error = serde_json::json!({
        "code": f.status.to_string(),
        "message": f.message(),
        "target": f.dependency,
    });
    if let Some(code) = &f.code {
        error["details"] = serde_json::json!([{
            "code": code,
            "message": format!("{} error code", f.dependency),
            "target": f.dependency,
        }]);
    }
    serde_json::json!({ "error": error })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, detail, www_authenticate): (String, Option<String>, Option<String>) =
            match &self {
                ApiError::Unauthenticated {
                    oauth_error,
                    message,
                } => {
                    let challenge = match oauth_error {
                        Some(code) => format!(
                            "Bearer realm=\"bridge\", error=\"{code}\", error_description=\"{}\"",
                            message.replace('"', "'")
                        ),
                        None => "Bearer realm=\"bridge\"".to_owned(),
                    };
                    (message.clone(), None, Some(challenge))
                }
                ApiError::LoginRequired { redirect } => {
                    // A path too long to return to after sign-in returns to the start page
                    // (`/login` refuses longer ones).
                    let redirect = if redirect.len() > super::login::MAX_REDIRECT_LEN {
                        "/"
                    } else {
                        redirect.as_str()
                    };
                    let target = format!(
                        "/login?redirect={}",
                        url::form_urlencoded::byte_serialize(redirect.as_bytes())
                            .collect::<String>()
                    );
                    return Redirect::to(&target).into_response();
                }
                ApiError::InsufficientScope { scope } => (
                    format!("Forbidden: the token lacks scope {scope}"),
                    None,
                    Some(format!(
                        "Bearer realm=\"bridge\", error=\"insufficient_scope\", scope=\"{scope}\""
                    )),
                ),
                ApiError::CsrfRequired => (
                    "Forbidden: CSRF token missing or invalid; fetch one with X-CSRF-Token: Fetch"
                        .to_owned(),
                    None,
                    None,
                ),
                ApiError::BadRequest(m)
                | ApiError::NotFound(m)
                | ApiError::Conflict(m)
                | ApiError::Unprocessable(m) => (m.clone(), None, None),
                ApiError::Busy(m) => (m.clone(), Some(m.clone()), None),
                ApiError::Store(e) => (
                    if e.is_unavailable() {
                        "Service unavailable: the database cannot be reached".to_owned()
                    } else {
                        "Internal server error".to_owned()
                    },
                    Some(format!("database: {e}")),
                    None,
                ),
                ApiError::Unavailable { dependency, detail } => (
                    format!("Service unavailable: {dependency} cannot be reached"),
                    Some(format!("{dependency}: {detail}")),
                    None,
                ),
                ApiError::OData(e) => {
                    let mut resp = (
                        status,
                        [(header::CONTENT_TYPE, "application/json")],
                        e.to_json(),
                    )
                        .into_response();
                    resp.headers_mut()
                        .insert("odata-version", HeaderValue::from_static("4.0"));
                    if status.is_server_error() {
                        resp.extensions_mut()
                            .insert(ErrorDetail(format!("OData: {}", e.message)));
                    }
                    return resp;
                }
                ApiError::Upstream(f) => {
                    let mut resp = (status, axum::Json(upstream_body(f))).into_response();
                    resp.headers_mut()
                        .insert("odata-version", HeaderValue::from_static("4.0"));
                    let detail = match &f.code {
                        Some(code) => format!("{} {code}: {}", f.dependency, f.detail),
                        None => format!("{}: {}", f.dependency, f.detail),
                    };
                    resp.extensions_mut().insert(ErrorDetail(detail));
                    return resp;
                }
                ApiError::RequestTimeout(m) => (m.clone(), Some(m.clone()), None),
                ApiError::Internal(detail) => (
                    "Internal server error".to_owned(),
                    Some(detail.clone()),
                    None,
                ),
            };
        let mut resp = (status, axum::Json(odata_body(status, &message))).into_response();
        let headers = resp.headers_mut();
        headers.insert("odata-version", HeaderValue::from_static("4.0"));
        if let Some(challenge) = www_authenticate.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if matches!(self, ApiError::CsrfRequired) {
            headers.insert("x-csrf-token", HeaderValue::from_static("Required"));
        }
        if let Some(detail) = detail {
            resp.extensions_mut().insert(ErrorDetail(detail));
        }
        resp
    }
}

impl From<runs::Error> for ApiError {
    /// The store's verdicts on a document request are the client's answers (404, 409, 412,
    /// the OData 400 of an untranslatable query); everything else is the database's failure.
    fn from(e: runs::Error) -> Self {
        let odata = |status: u16, message: String| {
            ApiError::OData(odata::Error::new(status, message).with_code(status.to_string()))
        };
        match e {
            runs::Error::Query(e) => ApiError::OData(e),
            runs::Error::DocumentNotFound(id) => odata(404, format!("No document with ID {id}")),
            runs::Error::DocumentExists(id) => odata(
                409,
                format!("A document with ID {id} or its object key exists already"),
            ),
            runs::Error::Conflict { id, status } => odata(
                409,
                format!(
                    "The document {id} is {}; this change is not possible now",
                    status.as_str()
                ),
            ),
            runs::Error::VersionMismatch { id, .. } => odata(
                412,
                format!("The document {id} has changed; read it again (If-Match)"),
            ),
            runs::Error::Invalid { field, detail } => {
                odata(400, format!("Invalid {field}: {detail}"))
            }
            e => ApiError::Store(e),
        }
    }
}

impl ApiError {
    /// A one-line description for logs and the run history (never a secret: the variants hold
    /// none, and dependency messages are already cut).
    pub fn detail(&self) -> String {
        match self {
            ApiError::Upstream(f) => format!("{}: {}", f.dependency, f.detail),
            ApiError::Store(e) => format!("database: {e}"),
            ApiError::OData(e) => format!("{} {}", e.status, e.message),
            ApiError::Unavailable { dependency, detail } => format!("{dependency}: {detail}"),
            ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::Unprocessable(m)
            | ApiError::Busy(m)
            | ApiError::RequestTimeout(m)
            | ApiError::Internal(m) => m.clone(),
            other => other.status().to_string(),
        }
    }
}

impl From<odata::Error> for ApiError {
    fn from(e: odata::Error) -> Self {
        ApiError::OData(e)
    }
}

impl From<super::session::NoRandomness> for ApiError {
    fn from(_: super::session::NoRandomness) -> Self {
        ApiError::Internal("the system random number generator failed".into())
    }
}

impl From<xsuaa::error::ValidationError> for ApiError {
    fn from(e: xsuaa::error::ValidationError) -> Self {
        if e.is_client_error() {
            ApiError::Unauthenticated {
                oauth_error: Some("invalid_token"),
                message: format!("Unauthorized: {}", e.oauth_error_description()),
            }
        } else {
            ApiError::Unavailable {
                dependency: "XSUAA",
                detail: e.to_string(),
            }
        }
    }
}
