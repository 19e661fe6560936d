//! The crate's error types: [`ValidationError`] for incoming tokens, [`TokenError`] for the
//! token client.
//!
//! Policy:
//!
//! - Two enums, because their callers are different and branch differently. An HTTP handler
//!   validating a bearer token needs exactly one decision from a [`ValidationError`]: is this the
//!   client's fault (401) or ours (503, [`ValidationError::KeysUnavailable`])? That is
//!   [`ValidationError::is_client_error`]. A caller fetching a token from XSUAA needs to know
//!   whether XSUAA refused (wrong credentials, [`TokenError::Rejected`]) or was not there
//!   ([`TokenError::is_transient`]). (`descriptor` errors belong to that module.)
//! - Variants name the check that failed, in the words of `@sap/xssec` 4 where it has one
//!   (`MissingKidError` → [`ValidationError::MissingKid`], …), so the verdict tables in the
//!   tests read like xssec's own.
//! - **No message ever contains a token, a client secret, a key or a response body.** The only
//!   text taken from outside is: the token's `alg` value (cut to 32 characters, control
//!   characters dropped), XSUAA's OAuth `error` and `error_description` fields (cut to 200
//!   characters), host names and the innermost cause of a transport error (which names no
//!   URL). Token and JWKS URLs carry no secrets.
//! - [`ValidationError::oauth_error_description`] is the fixed, short text for
//!   `WWW-Authenticate: Bearer error="invalid_token", error_description="…"`; it never echoes
//!   input at all.
//! - Nothing here logs. The caller that handles an error logs it once.

/// Why an incoming bearer token was refused.
///
/// Every variant except [`ValidationError::KeysUnavailable`] is the client's fault: callers
/// answer 401. `KeysUnavailable` means we could not get XSUAA's signing keys: answer 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The token is not a well-formed compact JWS or a claim has the wrong type. The text is
    /// our own fixed wording (which part, which claim), never a piece of the token.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The token is longer than 16 KiB; refused before any decoding.
    #[error("token larger than 16 KiB")]
    Oversized,
    /// `exp` is more than the 60 s leeway in the past.
    #[error("token expired")]
    Expired,
    /// `nbf` is more than 60 s in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// No audience candidate matches this application's client id or xsappname.
    #[error("token audience does not match this application")]
    WrongAudience,
    /// The token header has no `kid`.
    #[error("token header has no kid")]
    MissingKid,
    /// No key with the token's `kid` in the JWKS, even after a refresh.
    #[error("no signing key with the token's kid")]
    UnknownKid,
    /// The `alg` is not one of RS256/384/512, PS256/384/512, ES256/384/512 (e.g. `none`,
    /// `HS256`). Carries the header value, sanitised.
    #[error("unsupported token algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The signature does not verify with the key (or the key does not fit the algorithm).
    #[error("token signature invalid")]
    InvalidSignature,
    /// XSUAA's signing keys could not be fetched (and none are cached). Not the client's fault.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
    /// The token names an identity zone whose keys are not cached, while fetches for new zones
    /// are at their limit. The zone comes from the unverified token, so this is what a flood
    /// of made-up zones gets: a 401, not a 503 (the fault is not XSUAA's, and nothing is
    /// fetched). A real token of a new tenant succeeds once the flood subsides.
    #[error("the token's identity zone is not known yet and new zones are being fetched too often")]
    ZoneNotAdmitted,
}

impl ValidationError {
    /// Builds [`ValidationError::UnsupportedAlgorithm`] from an untrusted `alg` value: at most
    /// 32 characters, no control characters.
    pub(crate) fn unsupported_alg(alg: &str) -> Self {
        use cfenv::text::{Controls, Ellipsis};
        Self::UnsupportedAlgorithm(cfenv::text::cut(alg, 32, Controls::Drop, Ellipsis::WhenCut))
    }

    /// True when the client sent a bad token (answer 401); false when the fault is ours or
    /// XSUAA's ([`ValidationError::KeysUnavailable`], answer 503).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::KeysUnavailable(_))
    }

    /// A short fixed text for the `error_description` of a
    /// `WWW-Authenticate: Bearer error="invalid_token"` header. Contains no quotes or
    /// backslashes and never echoes the token.
    pub fn oauth_error_description(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "The token is malformed",
            Self::Oversized => "The token is too large",
            Self::Expired => "The token has expired",
            Self::NotYetValid => "The token is not yet valid",
            Self::WrongAudience => "The token is not intended for this application",
            Self::MissingKid => "The token header has no key id",
            Self::UnknownKid => "The token was signed with an unknown key",
            Self::UnsupportedAlgorithm(_) => "The token algorithm is not supported",
            Self::InvalidSignature => "The token signature is invalid",
            Self::KeysUnavailable(_) => "The token signing keys are temporarily unavailable",
            Self::ZoneNotAdmitted => "The token identity zone is not known yet; try again shortly",
        }
    }
}

/// Why the token client could not get a token from XSUAA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// XSUAA answered with an error status, usually with an OAuth error body
    /// (`{"error":"unauthorized","error_description":"Bad credentials"}`).
    #[error(
        "XSUAA refused the token request (HTTP {status}): {}{}",
        error.as_deref().unwrap_or("no OAuth error code"),
        error_description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code (`unauthorized`, `invalid_client`, `invalid_grant`, …), if
        /// the body had one. At most 200 characters.
        error: Option<String>,
        /// The OAuth `error_description`, if the body had one. At most 200 characters.
        error_description: Option<String>,
    },
    /// XSUAA could not be reached (DNS, connect, TLS, connection reset).
    #[error("XSUAA at {host} unreachable: {reason}")]
    Unreachable {
        /// Host and port of the token endpoint.
        host: String,
        /// The innermost cause (names no URL and no secret).
        reason: String,
    },
    /// No answer within the client's timeout.
    #[error("XSUAA at {host} did not answer within {timeout_ms} ms")]
    Timeout {
        /// Host and port of the token endpoint.
        host: String,
        /// The timeout.
        timeout_ms: u64,
    },
    /// A 2xx answer that is not the documented token response.
    #[error("unexpected XSUAA token response: {0}")]
    InvalidResponse(&'static str),
    /// The binding (or the client options) cannot be used to build a client.
    #[error("xsuaa binding: {field}: {reason}")]
    Binding {
        /// The binding field or option, e.g. `credentials.key`.
        field: &'static str,
        /// What is wrong with it (our own wording, no value).
        reason: String,
    },
}

impl TokenError {
    /// True for failures worth retrying later: unreachable, timeout, HTTP 5xx, 429 and 408.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Rejected { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Self::InvalidResponse(_) | Self::Binding { .. } => false,
        }
    }
}
