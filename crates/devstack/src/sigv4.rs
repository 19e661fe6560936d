//! Server-side verification of AWS Signature Version 4 (`AWS4-HMAC-SHA256`), for the local AWS
//! stand-ins: the `Authorization` header form and, for completeness, query-string presigning
//! (`X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…&X-Amz-Signature=…`).
//!
//! Written by hand on aws-lc-rs (`hmac`, `digest`, `constant_time`) because nothing we can use
//! verifies: the `aws-sigv4` crate *signs* outgoing requests (it is the reference the tests sign
//! with), and the verifier inside s3s is bound to S3's rules and request types. The verifier is
//! generic over the service (name, region, path rules) and the key lookup, so STS, a local S3
//! or any Query/JSON service can share it; mapping a [`SigV4Error`] to a protocol's error code
//! is the caller's job.
//!
//! What [`verify`] checks, in this order:
//! 1. the credentials are there and well formed (`Credential`, `SignedHeaders` with `host`,
//!    `Signature`), with a date (`x-amz-date`, else `Date`);
//! 2. the scope: terminator `aws4_request`, the service, the configured region (a wrong region
//!    is an error, as at AWS's regional endpoints), and the date matching the request time;
//! 3. the time: within 15 minutes of now for header signatures; for presigned URLs not more
//!    than 15 minutes in the future and not past `X-Amz-Expires` (at most 7 days);
//! 4. the key exists; a temporary key (one with a session token) requires
//!    `x-amz-security-token`, signed, equal to the session's token; a long-term key must not
//!    carry one;
//! 5. the signature: canonical request (for non-S3 services the path is normalised and
//!    URI-encoded a second time; S3 takes it as sent), string to sign, the HMAC-SHA256 key
//!    chain, compared in constant time;
//! 6. a temporary key's session has not expired.
//!
//! Nothing here logs: the canonical request contains the session token and the signature is a
//! credential in its own right.

use std::borrow::Cow;
use std::fmt;

use aws_lc_rs::{constant_time, digest, hmac};
use axum::http::HeaderMap;
use cfenv::text::prefix;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far the request time may be from the server's clock.
pub const MAX_SKEW: TimeDelta = TimeDelta::minutes(15);

/// The longest `X-Amz-Expires` of a presigned request (7 days).
pub const MAX_PRESIGN_EXPIRES: i64 = 604_800;

/// The header that carries a temporary key's session token.
pub const SECURITY_TOKEN_HEADER: &str = "x-amz-security-token";

/// Hex SHA-256 of the empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// How a service canonicalises the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRule {
    /// Every service but S3: remove `.`/`..` and empty segments, then URI-encode the (already
    /// encoded) path once more.
    NormalizeAndDoubleEncode,
    /// S3: the path exactly as sent.
    AsSent,
}

/// The service the verifier speaks for.
#[derive(Debug, Clone, Copy)]
pub struct Service<'a> {
    /// The signing name, e.g. `sts` or `s3`.
    pub name: &'a str,
    /// The one region the service accepts in the credential scope.
    pub region: &'a str,
    /// How the path is canonicalised.
    pub path_rule: PathRule,
}

/// A received request, as much of it as the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path as received (still percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The request target's authority, used for `host` when there is no `Host` header
    /// (HTTP/2 sends `:authority` instead).
    pub authority: Option<&'a str>,
    /// All headers.
    pub headers: &'a HeaderMap,
    /// The payload hash the client signed: the hex SHA-256 of the body ([`payload_hash`]), or
    /// what the service takes from `x-amz-content-sha256` (`UNSIGNED-PAYLOAD`, …).
    pub payload_hash: &'a str,
}

/// What the verifier needs to know about an access key.
pub trait SigningKey {
    /// The secret access key.
    fn secret_access_key(&self) -> &str;
    /// The session token of a temporary key; `None` for a long-term key.
    fn session_token(&self) -> Option<&str>;
    /// When a temporary key's session ends; `None`: never.
    fn expiration(&self) -> Option<DateTime<Utc>>;
}

/// A request whose signature checked out.
#[derive(Debug)]
pub struct Verified<K> {
    /// The access key id that signed.
    pub access_key_id: String,
    /// What the lookup returned for it.
    pub key: K,
    /// The request time (`x-amz-date`).
    pub signed_at: DateTime<Utc>,
    /// Whether the signature came in the query string.
    pub presigned: bool,
}

/// Why a request is not authenticated. `Display` gives a message in AWS's wording (where
/// known); none of them contains a secret, a token or a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor presigning parameters.
    Missing,
    /// The signature parameters are incomplete or malformed (AWS: `IncompleteSignature`).
    Malformed(String),
    /// The credential scope names another region, service or date, or a bad terminator.
    Scope(String),
    /// The request time is more than 15 minutes from now.
    Skewed(String),
    /// A presigned request's `X-Amz-Expires` has passed.
    PresignExpired,
    /// No such access key.
    UnknownKey,
    /// The session token is missing, wrong, or sent with a long-term key.
    InvalidToken,
    /// A session token was sent but not signed.
    TokenNotSigned,
    /// The signature does not match.
    Mismatch,
    /// The temporary key's session has expired.
    ExpiredToken,
}

impl fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("Request is missing Authentication Token"),
            Self::Malformed(m) | Self::Scope(m) | Self::Skewed(m) => f.write_str(m),
            Self::PresignExpired => f.write_str("Request has expired"),
            Self::UnknownKey | Self::InvalidToken => {
                f.write_str("The security token included in the request is invalid.")
            }
            Self::TokenNotSigned => f.write_str(
                "The security token must be signed: add x-amz-security-token to SignedHeaders.",
            ),
            Self::Mismatch => f.write_str(
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details.",
            ),
            Self::ExpiredToken => {
                f.write_str("The security token included in the request is expired")
            }
        }
    }
}

impl std::error::Error for SigV4Error {}

impl SigV4Error {
    /// The error code AWS's JSON protocols (Lambda, EventBridge Scheduler, Secrets Manager)
    /// answer this refusal with, in `X-Amzn-ErrorType` or `__type`.
    pub fn json_code(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationTokenException",
            Self::Malformed(_) | Self::TokenNotSigned => "IncompleteSignatureException",
            Self::Scope(_) | Self::Skewed(_) | Self::PresignExpired | Self::Mismatch => {
                "InvalidSignatureException"
            }
            Self::UnknownKey | Self::InvalidToken => "UnrecognizedClientException",
            Self::ExpiredToken => "ExpiredTokenException",
        }
    }

    /// The status the REST-JSON services (Lambda, EventBridge Scheduler) answer with: 400 for
    /// an incomplete signature, else 403.
    pub fn rest_json_status(&self) -> axum::http::StatusCode {
        match self {
            Self::Malformed(_) | Self::TokenNotSigned => axum::http::StatusCode::BAD_REQUEST,
            _ => axum::http::StatusCode::FORBIDDEN,
        }
    }
}

/// The hex SHA-256 of a body, the payload hash of Query/JSON protocol requests.
pub fn payload_hash(body: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, body).as_ref())
}

/// The signature parameters, from the header or the query string.
struct Parts<'a> {
    access_key_id: Cow<'a, str>,
    scope_date: Cow<'a, str>,
    scope_region: Cow<'a, str>,
    scope_service: Cow<'a, str>,
    scope_terminator: Cow<'a, str>,
    signed_headers: Vec<String>,
    signature: String,
    /// `x-amz-date` (or the converted `Date` header) as sent.
    amz_date: String,
    signed_at: DateTime<Utc>,
    /// Presigning: the lifetime in seconds.
    expires: Option<i64>,
    /// The session token, from the header or the query.
    token: Option<String>,
    /// Whether the token is covered by the signature.
    token_signed: bool,
}

/// Verifies the SigV4 signature of `req` for `service` at time `now`, looking the access key up
/// with `lookup`.
pub fn verify<K: SigningKey>(
    req: &Request<'_>,
    service: &Service<'_>,
    now: DateTime<Utc>,
    lookup: impl FnOnce(&str) -> Option<K>,
) -> Result<Verified<K>, SigV4Error> {
    let query: Vec<(Cow<'_, str>, Cow<'_, str>)> =
        url::form_urlencoded::parse(req.query.unwrap_or("").as_bytes()).collect();
    let presigned = query.iter().any(|(k, _)| k == "X-Amz-Algorithm");
    let parts = if presigned {
        from_query(&query)?
    } else {
        from_header(req)?
    };

    check_scope(&parts, service)?;
    check_time(&parts, now)?;

    let key = lookup(&parts.access_key_id).ok_or(SigV4Error::UnknownKey)?;
    match (key.session_token(), parts.token.as_deref()) {
        (None, None) => {}
        (Some(expected), Some(sent)) => {
            if !parts.token_signed {
                return Err(SigV4Error::TokenNotSigned);
            }
            constant_time::verify_slices_are_equal(expected.as_bytes(), sent.as_bytes())
                .map_err(|_| SigV4Error::InvalidToken)?;
        }
        _ => return Err(SigV4Error::InvalidToken),
    }

    let creq = canonical_request(req, service, &parts, &query, presigned);
    let scope = format!(
        "{}/{}/{}/{}",
        parts.scope_date, parts.scope_region, parts.scope_service, parts.scope_terminator
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        parts.amz_date,
        payload_hash(creq.as_bytes())
    );
    let signing_key = derive_key(
        key.secret_access_key(),
        &parts.scope_date,
        &parts.scope_region,
        &parts.scope_service,
    );
    let expected = hex(hmac::sign(&signing_key, string_to_sign.as_bytes()).as_ref());
    constant_time::verify_slices_are_equal(expected.as_bytes(), parts.signature.as_bytes())
        .map_err(|_| SigV4Error::Mismatch)?;

    if key.expiration().is_some_and(|e| now >= e) {
        return Err(SigV4Error::ExpiredToken);
    }
    Ok(Verified {
        access_key_id: parts.access_key_id.into_owned(),
        key,
        signed_at: parts.signed_at,
        presigned,
    })
}

fn malformed(m: impl Into<String>) -> SigV4Error {
    SigV4Error::Malformed(m.into())
}

fn from_header<'a>(req: &Request<'a>) -> Result<Parts<'a>, SigV4Error> {
    let Some(value) = req.headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(SigV4Error::Missing);
    };
    let value = value
        .to_str()
        .map_err(|_| malformed("Authorization header is not ASCII"))?;
    let Some(rest) = value.strip_prefix(ALGORITHM).filter(|r| r.starts_with(' ')) else {
        let algorithm = value.split(' ').next().unwrap_or("");
        return Err(malformed(format!(
            "Unsupported AWS 'algorithm': '{}' (only {ALGORITHM} is accepted)",
            prefix(algorithm, 40)
        )));
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let field = field.trim();
        if field.is_empty() {
            continue;
        }
        let Some((name, v)) = field.split_once('=') else {
            return Err(malformed(format!(
                "Authorization header parameter is not name=value: '{}'",
                prefix(field.split('=').next().unwrap_or(""), 40)
            )));
        };
        match name.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(malformed(missing.join(" ")));
    };

    let (amz_date, signed_at, date_header) = match header_str(req.headers, "x-amz-date") {
        Some(d) => (d.to_owned(), parse_amz_date(d)?, "x-amz-date"),
        None => match header_str(req.headers, "date") {
            Some(d) => {
                let t = DateTime::parse_from_rfc2822(d)
                    .map_err(|_| malformed("The Date header is not an RFC 1123 date"))?
                    .with_timezone(&Utc);
                (t.format(DATE_FORMAT).to_string(), t, "date")
            }
            None => {
                return Err(malformed(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a \
                     'Date' header.",
                ));
            }
        },
    };
    let signed_headers = parse_signed_headers(signed_headers)?;
    if !signed_headers.iter().any(|h| h == date_header) {
        return Err(malformed(format!(
            "'{date_header}' must be a 'SignedHeader' in the AWS Authorization."
        )));
    }
    let token = header_str(req.headers, SECURITY_TOKEN_HEADER).map(str::to_owned);
    let token_signed = signed_headers.iter().any(|h| h == SECURITY_TOKEN_HEADER);
    let (access_key_id, d, r, s, t) = split_credential(credential)?;
    Ok(Parts {
        access_key_id: Cow::Borrowed(access_key_id),
        scope_date: Cow::Borrowed(d),
        scope_region: Cow::Borrowed(r),
        scope_service: Cow::Borrowed(s),
        scope_terminator: Cow::Borrowed(t),
        signed_headers,
        signature: signature.to_owned(),
        amz_date,
        signed_at,
        expires: None,
        token,
        token_signed,
    })
}

fn from_query<'a>(query: &[(Cow<'a, str>, Cow<'a, str>)]) -> Result<Parts<'a>, SigV4Error> {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    };
    let algorithm = get("X-Amz-Algorithm").unwrap_or("");
    if algorithm != ALGORITHM {
        return Err(malformed(format!(
            "Unsupported AWS 'algorithm': '{}' (only {ALGORITHM} is accepted)",
            prefix(algorithm, 40)
        )));
    }
    let mut missing = Vec::new();
    for p in [
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ] {
        if get(p).is_none() {
            missing.push(format!(
                "Query-string authentication requires the {p} parameter."
            ));
        }
    }
    if !missing.is_empty() {
        return Err(malformed(missing.join(" ")));
    }
    let credential = get("X-Amz-Credential").unwrap_or("");
    let amz_date = get("X-Amz-Date").unwrap_or("");
    let signed_at = parse_amz_date(amz_date)?;
    let expires: i64 = get("X-Amz-Expires")
        .unwrap_or("")
        .parse()
        .map_err(|_| malformed("X-Amz-Expires must be a non-negative integer"))?;
    if !(0..=MAX_PRESIGN_EXPIRES).contains(&expires) {
        return Err(malformed(format!(
            "X-Amz-Expires must be between 0 and {MAX_PRESIGN_EXPIRES} seconds"
        )));
    }
    let signed_headers = parse_signed_headers(get("X-Amz-SignedHeaders").unwrap_or(""))?;
    let (access_key_id, d, r, s, t) = split_credential(credential)?;
    let own = |s: &str| Cow::Owned(s.to_owned());
    Ok(Parts {
        access_key_id: own(access_key_id),
        scope_date: own(d),
        scope_region: own(r),
        scope_service: own(s),
        scope_terminator: own(t),
        signed_headers,
        signature: get("X-Amz-Signature").unwrap_or("").to_owned(),
        amz_date: amz_date.to_owned(),
        signed_at,
        expires: Some(expires),
        token: get("X-Amz-Security-Token").map(str::to_owned),
        // Query parameters are all part of the canonical request.
        token_signed: true,
    })
}

type CredentialParts<'s> = (&'s str, &'s str, &'s str, &'s str, &'s str);

fn split_credential(credential: &str) -> Result<CredentialParts<'_>, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, terminator] if !key.is_empty() => {
            Ok((key, date, region, service, terminator))
        }
        _ => Err(malformed(
            "Credential must have the form <access key id>/<date>/<region>/<service>/aws4_request",
        )),
    }
}

fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigV4Error> {
    let headers: Vec<String> = list
        .split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if !headers.iter().any(|h| h == "host") {
        return Err(malformed(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    Ok(headers)
}

fn parse_amz_date(s: &str) -> Result<DateTime<Utc>, SigV4Error> {
    // Exactly `yyyyMMdd'T'HHmmss'Z'` in ASCII. chrono alone is laxer: it skips whitespace
    // (Unicode whitespace too) before a numeric field, so `202501\u{2003}01T000000Z` parsed and
    // then broke the byte slicing of the scope check (found by `cargo xtask soak`, target
    // `sigv4`).
    let basic = s.len() == 16
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 => b == b'T',
            15 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    basic
        .then(|| NaiveDateTime::parse_from_str(s, DATE_FORMAT).ok())
        .flatten()
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            malformed(format!(
                "X-Amz-Date must be in the ISO 8601 basic format yyyyMMdd'T'HHmmss'Z', not '{}'",
                prefix(s, 40)
            ))
        })
}

fn check_scope(parts: &Parts<'_>, service: &Service<'_>) -> Result<(), SigV4Error> {
    let scope = |m: String| Err(SigV4Error::Scope(m));
    if parts.scope_terminator != "aws4_request" {
        return scope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            prefix(&parts.scope_terminator, 40)
        ));
    }
    if parts.scope_service != service.name {
        return scope(format!(
            "Credential should be scoped to correct service: '{}'.",
            service.name
        ));
    }
    if parts.scope_region != service.region {
        return scope(format!(
            "Credential should be scoped to a valid region, not '{}'. Expected '{}'.",
            prefix(&parts.scope_region, 40),
            service.region
        ));
    }
    let day = parts.amz_date.get(..8).unwrap_or(&parts.amz_date);
    if parts.scope_date != day {
        return scope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{}' != '{day}', from '{}'.",
            prefix(&parts.scope_date, 16),
            parts.amz_date
        ));
    }
    Ok(())
}

fn check_time(parts: &Parts<'_>, now: DateTime<Utc>) -> Result<(), SigV4Error> {
    let fmt = |t: DateTime<Utc>| t.format(DATE_FORMAT).to_string();
    if parts.signed_at > now + MAX_SKEW {
        return Err(SigV4Error::Skewed(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            parts.amz_date,
            fmt(now + MAX_SKEW),
            fmt(now)
        )));
    }
    match parts.expires {
        Some(expires) => {
            if now > parts.signed_at + TimeDelta::seconds(expires) {
                return Err(SigV4Error::PresignExpired);
            }
        }
        None => {
            if parts.signed_at < now - MAX_SKEW {
                return Err(SigV4Error::Skewed(format!(
                    "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                    parts.amz_date,
                    fmt(now - MAX_SKEW),
                    fmt(now)
                )));
            }
        }
    }
    Ok(())
}

fn canonical_request(
    req: &Request<'_>,
    service: &Service<'_>,
    parts: &Parts<'_>,
    query: &[(Cow<'_, str>, Cow<'_, str>)],
    presigned: bool,
) -> String {
    let path = match service.path_rule {
        PathRule::NormalizeAndDoubleEncode => encode(&normalize_path(req.path), true),
        PathRule::AsSent if req.path.is_empty() => "/".to_owned(),
        PathRule::AsSent => req.path.to_owned(),
    };

    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| (encode(k, false), encode(v, false)))
        .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");

    let mut headers = String::new();
    for name in &parts.signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| trim_all(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let value = if values.is_empty() && name == "host" {
            req.authority.unwrap_or("").to_owned()
        } else {
            values.join(",")
        };
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&value);
        headers.push('\n');
    }

    format!(
        "{}\n{path}\n{query}\n{headers}\n{}\n{}",
        req.method,
        parts.signed_headers.join(";"),
        req.payload_hash
    )
}

/// RFC 3986 §5.2.4 dot-segment removal, also dropping empty segments (as the AWS SDKs do).
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut result = format!("/{}", out.join("/"));
    let trailing = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|s| path.ends_with(s));
    if trailing && !result.ends_with('/') {
        result.push('/');
    }
    result
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` if `keep_slash`),
/// with upper-case hex, as SigV4 wants.
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Trims spaces and collapses runs of spaces to one (SigV4's header value rule).
fn trim_all(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    for c in s.trim_matches(' ').chars() {
        if c == ' ' {
            if !last_space {
                out.push(c);
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out
}

fn derive_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let step = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = step(format!("AWS4{secret}").as_bytes(), date);
    let k_region = step(k_date.as_ref(), region);
    let k_service = step(k_region.as_ref(), service);
    let k_signing = step(k_service.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::http::HeaderValue;

    #[derive(Debug)]
    struct Key(&'static str, Option<&'static str>);

    impl SigningKey for Key {
        fn secret_access_key(&self) -> &str {
            self.0
        }
        fn session_token(&self) -> Option<&str> {
            self.1
        }
        fn expiration(&self) -> Option<DateTime<Utc>> {
            None
        }
    }

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn at(s: &str) -> DateTime<Utc> {
        parse_amz_date(s).unwrap()
    }

    /// `get-vanilla` from the AWS SigV4 test suite.
    fn vanilla(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        h.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={signature}"
        );
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        h
    }

    fn check(headers: &HeaderMap, now: &str) -> Result<Verified<Key>, SigV4Error> {
        let req = Request {
            method: "GET",
            path: "/",
            query: None,
            authority: None,
            headers,
            payload_hash: EMPTY_SHA256,
        };
        let service = Service {
            name: "service",
            region: "us-east-1",
            path_rule: PathRule::NormalizeAndDoubleEncode,
        };
        verify(&req, &service, at(now), |id| {
            (id == "AKIDEXAMPLE").then_some(Key(SECRET, None))
        })
    }

    const VANILLA: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn the_test_suite_vanilla_request_verifies() {
        let v = check(&vanilla(VANILLA), "20150830T123600Z").unwrap();
        assert_eq!(v.access_key_id, "AKIDEXAMPLE");
        assert!(!v.presigned);
    }

    #[test]
    fn one_changed_digit_is_a_mismatch() {
        let bad = VANILLA.replace("5fa0", "5fa1");
        assert_eq!(
            check(&vanilla(&bad), "20150830T123600Z").unwrap_err(),
            SigV4Error::Mismatch
        );
    }

    #[test]
    fn time_window_is_fifteen_minutes_each_way() {
        assert!(check(&vanilla(VANILLA), "20150830T125100Z").is_ok());
        assert!(matches!(
            check(&vanilla(VANILLA), "20150830T125101Z"),
            Err(SigV4Error::Skewed(m)) if m.starts_with("Signature expired: 20150830T123600Z")
        ));
        assert!(check(&vanilla(VANILLA), "20150830T122100Z").is_ok());
        assert!(matches!(
            check(&vanilla(VANILLA), "20150830T122059Z"),
            Err(SigV4Error::Skewed(m)) if m.starts_with("Signature not yet current")
        ));
    }

    #[test]
    fn paths_are_normalised_like_the_sdks() {
        for (input, want) in [
            ("", "/"),
            ("/", "/"),
            ("/a/./b/../c", "/a/c"),
            ("//a//b", "/a/b"),
            ("/a/b/..", "/a/"),
            ("/../x", "/x"),
            ("/a/.", "/a/"),
        ] {
            assert_eq!(normalize_path(input), want, "{input}");
        }
        assert_eq!(encode("/a b/%20~", true), "/a%20b/%2520~");
        assert_eq!(encode("a/b=c+", false), "a%2Fb%3Dc%2B");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        assert_eq!(trim_all("  a   b  c "), "a b c");
        assert_eq!(trim_all("\ta"), "\ta");
    }

    #[test]
    fn malformed_headers_say_what_is_missing() {
        let mut h = vanilla(VANILLA);
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
            ),
        );
        let Err(SigV4Error::Malformed(m)) = check(&h, "20150830T123600Z") else {
            panic!("expected Malformed");
        };
        assert!(
            m.contains("'Signature'") && m.contains("'SignedHeaders'"),
            "{m}"
        );

        h.insert(
            "authorization",
            HeaderValue::from_static("AWS AKIDEXAMPLE:abc"),
        );
        assert!(matches!(
            check(&h, "20150830T123600Z"),
            Err(SigV4Error::Malformed(_))
        ));
        h.remove("authorization");
        assert_eq!(
            check(&h, "20150830T123600Z").unwrap_err(),
            SigV4Error::Missing
        );
    }

    #[test]
    fn dates_outside_the_basic_format_are_malformed() {
        for bad in [
            "202501\u{2003}01T000000Z",
            "2025\u{3000}0101T000000Z",
            " 20250101T000000Z",
            "20250101T 00000Z",
            "+20250101T000000Z",
            "20250101t000000z",
            "2025-01-01T00:00:00Z",
            "20251301T000000Z",
        ] {
            assert!(
                matches!(parse_amz_date(bad), Err(SigV4Error::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(parse_amz_date("20241231T235959Z").is_ok());
        // The presigned form, where the date arrives percent-decoded and may be any UTF-8.
        let h = HeaderMap::new();
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request\
            &X-Amz-Date=201508%E2%80%8330T123600Z&X-Amz-Expires=60\
            &X-Amz-SignedHeaders=host&X-Amz-Signature=00";
        let req = Request {
            method: "GET",
            path: "/",
            query: Some(query),
            authority: Some("example.amazonaws.com"),
            headers: &h,
            payload_hash: EMPTY_SHA256,
        };
        let service = Service {
            name: "service",
            region: "us-east-1",
            path_rule: PathRule::NormalizeAndDoubleEncode,
        };
        let r = verify(&req, &service, at("20150830T123600Z"), |_| {
            Some(Key(SECRET, None))
        });
        assert!(matches!(r, Err(SigV4Error::Malformed(_))), "{r:?}");
    }

    #[test]
    fn unsigned_host_is_refused() {
        let mut h = vanilla(VANILLA);
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=x-amz-date, Signature={VANILLA}"
        );
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        assert!(matches!(
            check(&h, "20150830T123600Z"),
            Err(SigV4Error::Malformed(m)) if m.contains("'Host'")
        ));
    }

    #[test]
    fn token_rules() {
        let h = vanilla(VANILLA);
        let req = Request {
            method: "GET",
            path: "/",
            query: None,
            authority: None,
            headers: &h,
            payload_hash: EMPTY_SHA256,
        };
        let service = Service {
            name: "service",
            region: "us-east-1",
            path_rule: PathRule::NormalizeAndDoubleEncode,
        };
        // A temporary key without a token.
        let r = verify(&req, &service, at("20150830T123600Z"), |_| {
            Some(Key(SECRET, Some("tok")))
        });
        assert_eq!(r.unwrap_err(), SigV4Error::InvalidToken);
        // A long-term key with an (unsigned) token.
        let mut h2 = h.clone();
        h2.insert(SECURITY_TOKEN_HEADER, HeaderValue::from_static("tok"));
        let req2 = Request {
            headers: &h2,
            ..req
        };
        let r = verify(&req2, &service, at("20150830T123600Z"), |_| {
            Some(Key(SECRET, None))
        });
        assert_eq!(r.unwrap_err(), SigV4Error::InvalidToken);
        // A temporary key with an unsigned token.
        let r = verify(&req2, &service, at("20150830T123600Z"), |_| {
            Some(Key(SECRET, Some("tok")))
        });
        assert_eq!(r.unwrap_err(), SigV4Error::TokenNotSigned);
    }
}
