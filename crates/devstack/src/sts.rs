//! The local AWS STS: the Query protocol of `https://sts.{region}.amazonaws.com`
//! (docs/protocols.md §AWS STS AssumeRole) on its own HTTPS port, for the dev account of
//! [`crate::aws_identity`].
//!
//! - `POST /` with a form body (what the SDKs send) or `GET /?…`, `Version=2011-06-15`.
//! - `Action=AssumeRole`: parameters checked as the service model says (`ValidationError`
//!   with AWS's "N validation error(s) detected: …" wording); the caller must be signed in
//!   with SigV4 ([`crate::sigv4`]) as the IAM user or a role session (role chaining: at most
//!   one hour); the role's trust policy is evaluated with the caller's ARN and `sts:ExternalId`
//!   (and, when the trust policy names the account rather than the caller, the caller's
//!   identity policy must allow `sts:AssumeRole` on the role too). A denial and an unknown role
//!   both answer `AccessDenied`, `User: {caller} is not authorized to perform: sts:AssumeRole on
//!   resource: {role}`. `Tags`, `TransitiveTagKeys`, `PolicyArns`, `SourceIdentity`, MFA and
//!   `ProvidedContexts` are not supported and refused with `ValidationError`.
//! - `Action=GetCallerIdentity`: the caller's `UserId`, `Account` and `Arn`.
//!
//! Errors use STS's envelope (`ErrorResponse` / `Error` with `Type`, `Code`, `Message` /
//! `RequestId`), and every response carries `x-amzn-requestid`. `Refusal` is the one place
//! where failures become HTTP. Status codes: `InvalidClientTokenId`, `SignatureDoesNotMatch`,
//! `MissingAuthenticationToken`, `AccessDenied` 403; `IncompleteSignature`, `ValidationError`,
//! `MalformedPolicyDocument`, `InvalidAction`, `MissingAction` 400. `ExpiredToken` is 403:
//! AWS documents no status for it, but SDK error reports of real STS calls show
//! `StatusCode: 403, … api error ExpiredToken` (S3's own `ExpiredToken` is 400). A wrong region
//! in the credential scope (AWS: "Credential should be scoped to a valid region, not '…'."; we
//! add the expected region) and clock skew beyond 15 minutes are `SignatureDoesNotMatch` 403,
//! as at AWS. `MissingAuthenticationToken` is 403 and `IncompleteSignature` 400, as in AWS's
//! list of common errors (<https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html>).
//!
//! Each request is logged once: method, action (known ones only), status, error code, the
//! caller's ARN and the request id. Parameters, keys, tokens, signatures and bodies are
//! never logged.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use cfenv::text::prefix;

use crate::aws_identity::{
    AwsIdentity, Policy, Principal, PrincipalKind, ROLE_CHAINING_MAX, Role, SessionRequest,
};
use crate::sigv4::{self, PathRule, Service, SigV4Error};

/// The STS API version.
pub const API_VERSION: &str = "2011-06-15";

/// The XML namespace of STS responses.
pub const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Largest request body accepted (an inline policy is at most 2 048 characters).
const MAX_BODY: usize = 64 * 1024;

/// Default and bounds of `DurationSeconds`.
const DEFAULT_DURATION: u64 = 3600;
const MIN_DURATION: u64 = 900;
const MAX_DURATION: u64 = 43_200;

/// Largest inline session policy, in characters.
const MAX_POLICY_CHARS: usize = 2048;

/// Actions that may appear in the log line.
const ACTIONS: &[&str] = &["AssumeRole", "GetCallerIdentity"];

/// AssumeRole parameters the local STS does not implement.
const UNSUPPORTED: &[&str] = &[
    "PolicyArns",
    "Tags",
    "TransitiveTagKeys",
    "SourceIdentity",
    "SerialNumber",
    "TokenCode",
    "ProvidedContexts",
];

/// The local STS: routes over an [`AwsIdentity`].
#[derive(Clone, Debug)]
pub struct LocalSts {
    identity: AwsIdentity,
}

impl LocalSts {
    /// The STS of `identity`'s account, answering for its region.
    pub fn new(identity: AwsIdentity) -> Self {
        Self { identity }
    }

    /// The account behind it.
    pub fn identity(&self) -> &AwsIdentity {
        &self.identity
    }

    /// The HTTP routes (everything is on `/`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", any(handle))
            .fallback(handle)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// Refusal

/// A refused request: the one place where the local STS's failures become HTTP responses.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    fn access_denied(caller: &str, role_arn: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!(
                "User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            ),
        )
    }

    fn into_response(self, request_id: &str) -> Response {
        let kind = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{XMLNS}\">\n  <Error>\n    <Type>{kind}</Type>\n    \
             <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  \
             <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
            self.code,
            xml(&self.message)
        );
        let mut resp = xml_response(self.status, body, request_id);
        resp.extensions_mut().insert(ErrorCode(self.code));
        resp
    }
}

impl From<SigV4Error> for Refusal {
    fn from(e: SigV4Error) -> Self {
        let (status, code) = match &e {
            SigV4Error::Missing => (StatusCode::FORBIDDEN, "MissingAuthenticationToken"),
            SigV4Error::Malformed(_) | SigV4Error::TokenNotSigned => {
                (StatusCode::BAD_REQUEST, "IncompleteSignature")
            }
            SigV4Error::Scope(_)
            | SigV4Error::Skewed(_)
            | SigV4Error::PresignExpired
            | SigV4Error::Mismatch => (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"),
            SigV4Error::UnknownKey | SigV4Error::InvalidToken => {
                (StatusCode::FORBIDDEN, "InvalidClientTokenId")
            }
            SigV4Error::ExpiredToken => (StatusCode::FORBIDDEN, "ExpiredToken"),
        };
        Self::new(status, code, e.to_string())
    }
}

/// The error code of a refused request, for the log line.
#[derive(Clone, Copy)]
struct ErrorCode(&'static str);

/// The caller's ARN, for the log line.
#[derive(Clone)]
struct CallerArn(String);

fn xml_response(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// Escapes text for XML element content (quotes need no escaping there, and AWS leaves them
/// as they are in its messages). The local S3's error documents use it too.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Handler

/// The handler of every request. The body is taken as a `Result`, so that axum's plain-text
/// rejection of a body over [`MAX_BODY`] (or a cut-off one) becomes an STS error document too
/// (<https://docs.rs/axum/0.8/axum/extract/index.html#optional-extractors>).
async fn handle(
    State(sts): State<LocalSts>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = body.map_err(|rejection| unreadable_body(&rejection));
    let params = params(&method, &uri, &headers, body.as_deref().unwrap_or_default());
    let action = params
        .get("Action")
        .and_then(|a| ACTIONS.iter().find(|k| **k == a.as_str()).copied());

    let resp = match body
        .and_then(|body| serve(&sts, &method, &uri, &headers, &body, &params, &request_id))
    {
        Ok(r) => r,
        Err(refusal) => refusal.into_response(&request_id),
    };

    let status = resp.status().as_u16();
    let code = resp.extensions().get::<ErrorCode>().map(|c| c.0);
    let caller = resp.extensions().get::<CallerArn>().map(|c| c.0.clone());
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if status >= 500 {
        tracing::warn!(http.method = %method, sts.action = action, http.status = status,
            aws.error_code = code, aws.caller_arn = caller.as_deref(),
            aws.request_id = %request_id, duration_ms, "local sts request failed");
    } else {
        tracing::info!(http.method = %method, sts.action = action, http.status = status,
            aws.error_code = code, aws.caller_arn = caller.as_deref(),
            aws.request_id = %request_id, duration_ms, "local sts request");
    }
    resp
}

/// A body axum could not read. AWS documents no STS error for an oversized request (its
/// common errors, <https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html>,
/// have none), so this keeps the HTTP status and uses a code of our own choosing
/// (`RequestEntityTooLarge`), or `ValidationError` for a cut-off body.
fn unreadable_body(rejection: &BytesRejection) -> Refusal {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The request body is larger than 64 KiB.",
        )
    } else {
        Refusal::validation("The request body could not be read.")
    }
}

/// The request's parameters: the query string, and for a form POST the body on top.
fn params(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if *method == Method::POST && is_form {
        params.extend(url::form_urlencoded::parse(body).into_owned());
    }
    params
}

fn serve(
    sts: &LocalSts,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    params: &BTreeMap<String, String>,
    request_id: &str,
) -> Result<Response, Refusal> {
    if *method != Method::POST && *method != Method::GET {
        return Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "InvalidAction",
            "Only POST and GET are supported.",
        ));
    }
    let identity = &sts.identity;
    let payload_hash = sigv4::payload_hash(body);
    let request = sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        authority: uri.authority().map(|a| a.as_str()),
        headers,
        payload_hash: &payload_hash,
    };
    let service = Service {
        name: "sts",
        region: identity.region(),
        path_rule: PathRule::NormalizeAndDoubleEncode,
    };
    let caller = sigv4::verify(&request, &service, identity.now(), |id| identity.lookup(id))?.key;

    let Some(action) = params.get("Action") else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "MissingAction",
            "Missing Action",
        ));
    };
    let version = params
        .get("Version")
        .map_or("NO_VERSION_SPECIFIED", String::as_str);
    let result = match (action.as_str(), version) {
        ("AssumeRole", API_VERSION) => assume_role(identity, &caller, params, request_id),
        ("GetCallerIdentity", API_VERSION) => Ok(get_caller_identity(&caller, request_id)),
        _ => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!(
                "Could not find operation {} for version {}",
                prefix(action, 64),
                prefix(version, 32)
            ),
        )),
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(refusal) => refusal.into_response(request_id),
    };
    resp.extensions_mut().insert(CallerArn(caller.arn.clone()));
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// Actions

fn get_caller_identity(caller: &Principal, request_id: &str) -> Response {
    let body = format!(
        "<GetCallerIdentityResponse xmlns=\"{XMLNS}\">\n  <GetCallerIdentityResult>\n    \
         <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n  \
         </GetCallerIdentityResult>\n  <ResponseMetadata>\n    \
         <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n\
         </GetCallerIdentityResponse>\n",
        xml(&caller.arn),
        xml(&caller.user_id),
        xml(&caller.account_id)
    );
    xml_response(StatusCode::OK, body, request_id)
}

/// The checked AssumeRole parameters.
struct AssumeRoleParams<'a> {
    role_arn: &'a str,
    session_name: &'a str,
    duration: Option<u64>,
    external_id: Option<&'a str>,
    policy: Option<&'a str>,
}

fn assume_role(
    identity: &AwsIdentity,
    caller: &Principal,
    params: &BTreeMap<String, String>,
    request_id: &str,
) -> Result<Response, Refusal> {
    let p = validate(params)?;

    let role = identity
        .role_by_arn(p.role_arn)
        .filter(|role| trust_allows(role, caller, &p))
        .ok_or_else(|| Refusal::access_denied(&caller.arn, p.role_arn))?;

    let chained = matches!(caller.kind, PrincipalKind::RoleSession { .. });
    let duration = p.duration.unwrap_or(DEFAULT_DURATION);
    if chained && duration > ROLE_CHAINING_MAX.as_secs() {
        return Err(Refusal::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed \
             by role chaining.",
        ));
    }
    if duration > role.max_session_duration.as_secs() {
        return Err(Refusal::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let session_policy = p
        .policy
        .map(|json| {
            Policy::session(json).map_err(|e| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "MalformedPolicyDocument",
                    e.to_string(),
                )
            })
        })
        .transpose()?;
    let packed = p.policy.map(|json| {
        // A stand-in for AWS's compressed size: plain characters against the 2 048 limit.
        (json.chars().count() * 100).div_ceil(MAX_POLICY_CHARS)
    });

    let creds = identity.issue(SessionRequest {
        session_name: p.session_name.to_owned(),
        duration: Duration::from_secs(duration),
        session_policy,
    });
    let packed = packed
        .map(|n| format!("    <PackedPolicySize>{n}</PackedPolicySize>\n"))
        .unwrap_or_default();
    let body = format!(
        "<AssumeRoleResponse xmlns=\"{XMLNS}\">\n  <AssumeRoleResult>\n    \
         <AssumedRoleUser>\n      <AssumedRoleId>{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    \
         </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      \
         <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      \
         <Expiration>{}</Expiration>\n    </Credentials>\n{packed}  </AssumeRoleResult>\n  \
         <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n\
         </AssumeRoleResponse>\n",
        xml(&role.session_user_id(p.session_name)),
        xml(&role.session_arn(p.session_name)),
        creds.access_key_id,
        xml(creds.secret_access_key.expose()),
        xml(creds.session_token.expose()),
        creds.expiration.format("%Y-%m-%dT%H:%M:%SZ")
    );
    Ok(xml_response(StatusCode::OK, body, request_id))
}

/// Checks the parameters against the service model, collecting every violation into one
/// `ValidationError` as AWS does.
fn validate(params: &BTreeMap<String, String>) -> Result<AssumeRoleParams<'_>, Refusal> {
    if let Some(name) = params.keys().find_map(|k| {
        let base = k.split('.').next().unwrap_or(k);
        UNSUPPORTED.iter().find(|u| **u == base)
    }) {
        return Err(Refusal::validation(format!(
            "The local STS does not support the AssumeRole parameter {name}."
        )));
    }

    let mut errors: Vec<String> = Vec::new();
    let mut violation = |value: Option<&str>, field: &str, constraint: &str| {
        let value = match value {
            Some(v) => format!("'{}'", prefix(v, 128)),
            None => "null".to_owned(),
        };
        errors.push(format!(
            "Value {value} at '{field}' failed to satisfy constraint: Member {constraint}"
        ));
    };
    let get = |k: &str| params.get(k).map(String::as_str);

    let role_arn = get("RoleArn");
    match role_arn {
        None => violation(None, "roleArn", "must not be null"),
        Some(v) => {
            length(v, 20, 2048, |c| violation(Some(v), "roleArn", c));
            if !v.chars().all(|c| {
                matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}'
                    | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
            }) {
                violation(
                    Some(v),
                    "roleArn",
                    "must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+",
                );
            }
        }
    }

    let session_name = get("RoleSessionName");
    match session_name {
        None => violation(None, "roleSessionName", "must not be null"),
        Some(v) => {
            length(v, 2, 64, |c| violation(Some(v), "roleSessionName", c));
            if !v
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || "+=,.@-".contains(c))
            {
                violation(
                    Some(v),
                    "roleSessionName",
                    "must satisfy regular expression pattern: [\\w+=,.@-]*",
                );
            }
        }
    }

    let mut duration = None;
    if let Some(v) = get("DurationSeconds") {
        match v.parse::<u64>() {
            Ok(d) if d < MIN_DURATION => violation(
                Some(v),
                "durationSeconds",
                &format!("must have value greater than or equal to {MIN_DURATION}"),
            ),
            Ok(d) if d > MAX_DURATION => violation(
                Some(v),
                "durationSeconds",
                &format!("must have value less than or equal to {MAX_DURATION}"),
            ),
            Ok(d) => duration = Some(d),
            Err(_) => violation(Some(v), "durationSeconds", "must be an integer"),
        }
    }

    let external_id = get("ExternalId");
    if let Some(v) = external_id {
        length(v, 2, 1224, |c| violation(Some(v), "externalId", c));
        if !v
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || "+=,.@:/-".contains(c))
        {
            violation(
                Some(v),
                "externalId",
                "must satisfy regular expression pattern: [\\w+=,.@:\\/-]*",
            );
        }
    }

    let policy = get("Policy");
    if let Some(v) = policy {
        length(v, 1, MAX_POLICY_CHARS, |c| violation(Some(v), "policy", c));
        if !v
            .chars()
            .all(|c| matches!(c, '\t' | '\n' | '\r' | ' '..='\u{FF}'))
        {
            violation(
                Some(v),
                "policy",
                "must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
            );
        }
    }

    match (role_arn, session_name, errors.len()) {
        (Some(role_arn), Some(session_name), 0) => Ok(AssumeRoleParams {
            role_arn,
            session_name,
            duration,
            external_id,
            policy,
        }),
        (_, _, n) => Err(Refusal::validation(format!(
            "{n} validation error{} detected: {}",
            if n == 1 { "" } else { "s" },
            errors.join("; ")
        ))),
    }
}

/// Reports a length outside `min..=max` (in characters).
fn length(v: &str, min: usize, max: usize, mut report: impl FnMut(&str)) {
    let n = v.chars().count();
    if n < min {
        report(&format!("must have length greater than or equal to {min}"));
    } else if n > max {
        report(&format!("must have length less than or equal to {max}"));
    }
}

/// Whether `caller` may assume `role`, by `iam::assume_role`: the trust policy with the
/// caller's ARN and the condition keys `sts:ExternalId` and `sts:RoleSessionName`, plus the
/// caller's identity policies where the trust policy names only the account (see
/// docs/protocols.md §AssumeRole authorization). A chaining caller's own session policy is not
/// applied here.
fn trust_allows(role: &Role, caller: &Principal, p: &AssumeRoleParams<'_>) -> bool {
    let mut ctx = caller
        .request("sts:AssumeRole", &role.arn)
        .with_key("sts:RoleSessionName", p.session_name);
    if let Some(external_id) = p.external_id {
        ctx = ctx.with_key("sts:ExternalId", external_id);
    }
    let identity: Vec<&iam::PolicyDocument> =
        caller.policies.iter().map(Policy::document).collect();
    iam::assume_role(role.trust_policy.document(), &identity, &ctx).is_allowed()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn check(pairs: &[(&str, &str)]) -> Result<(), String> {
        let params: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        validate(&params).map(|_| ()).map_err(|r| r.message)
    }

    const ARN: &str = "arn:aws:iam::000000000000:role/x";

    #[test]
    fn validation_messages_follow_aws_wording() {
        assert_eq!(
            check(&[("RoleArn", ARN), ("RoleSessionName", "ok")]),
            Ok(())
        );
        assert_eq!(
            check(&[("RoleArn", ARN), ("RoleSessionName", "a")]).unwrap_err(),
            "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy \
             constraint: Member must have length greater than or equal to 2"
        );
        assert_eq!(
            check(&[("RoleArn", ARN)]).unwrap_err(),
            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy \
             constraint: Member must not be null"
        );
        let two = check(&[
            ("RoleArn", ARN),
            ("RoleSessionName", "has space"),
            ("DurationSeconds", "899"),
        ])
        .unwrap_err();
        assert!(
            two.starts_with("2 validation errors detected: Value 'has space' at 'roleSessionName'"),
            "{two}"
        );
        assert!(two.contains("; Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"), "{two}");
        assert!(
            check(&[
                ("RoleArn", ARN),
                ("RoleSessionName", "ok"),
                ("ExternalId", "a b")
            ])
            .is_err()
        );
        assert!(
            check(&[
                ("RoleArn", ARN),
                ("RoleSessionName", "ok"),
                ("Tags.member.1.Key", "k")
            ])
            .unwrap_err()
            .contains("Tags")
        );
    }

    #[test]
    fn xml_escapes() {
        assert_eq!(xml("a<b>&\"'"), "a&lt;b&gt;&amp;\"'");
    }
}
