//! The awslink crate's one error type, [`Error`].
//!
//! Policy:
//!
//! - One enum for the crate, because callers branch on what went wrong: bad configuration
//!   (fix the binding, exit 2) is not an STS refusal (fix IAM), and neither is an outage
//!   (retry later, [`Error::is_transient`]).
//! - Context sits in typed fields, not in formatted strings: the config instance and field,
//!   the Credential Store namespace and name, the role ARN, the endpoint.
//! - STS refusals keep the STS error code (`AccessDenied`, `ExpiredToken`,
//!   `RegionDisabledException`, …) so health checks and alerts can match on it
//!   ([`Error::sts_code`]); service messages are cut to 200 characters.
//! - **No variant ever carries a secret**: no secret access key, no session token, no
//!   long-term key, no request or response body. Access key ids, ARNs, account ids and
//!   endpoints are identifiers, not secrets, and may appear.
//! - The type is `Clone` (sources from other crates sit in `Arc`s) because the credential
//!   cache hands the error of one failed refresh to every caller that waited for it.
//! - S3 refusals keep S3's error code and HTTP status; [`Error::is_not_found`] and
//!   [`Error::is_invalid_range`] name the two the app answers itself (404, 416).
//! - Uploads have a second, small enum, [`crate::s3::PutError`]: a failed upload is either
//!   the app's own body failing (handed back as it was, for the app to recognise) or this
//!   [`Error`].
//! - Nothing is logged here; the caller that handles an error decides.

use std::sync::Arc;

/// Longest service message repeated in an error.
pub(crate) const MAX_MESSAGE: usize = 200;

/// Everything that can go wrong between the bridge and AWS.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Cloud Foundry environment could not be read, or a binding is missing, ambiguous or
    /// broken (the wrapped error names the instance and the field path).
    #[error("AWS settings: {0}")]
    Vcap(#[source] Arc<cfenv::Error>),

    /// A field of the AWS config service (`aws-config`) is present but unusable.
    #[error("AWS settings: service instance `{instance}`: credentials.{field}: {reason}")]
    Config {
        /// The config service instance's name.
        instance: String,
        /// The JSON key, e.g. `sessionDurationSeconds`.
        field: &'static str,
        /// What is wrong (fixed wording plus limits, never the value of a secret).
        reason: String,
    },

    /// A setting outside the config service is unusable (extra root certificates, options).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was given, e.g. `extra root certificates`.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// The long-term AWS keys could not be read from the Credential Store.
    #[error(
        "cannot read the AWS keys {name:?} from Credential Store namespace {namespace:?}: {source}"
    )]
    Keys {
        /// Credential Store namespace.
        namespace: String,
        /// Credential name.
        name: String,
        /// What the store said.
        #[source]
        source: Arc<credstore::Error>,
    },

    /// The credential with the long-term keys exists but is not usable as AWS keys.
    #[error("AWS keys {name:?} in Credential Store namespace {namespace:?}: {reason}")]
    KeysInvalid {
        /// Credential Store namespace.
        namespace: String,
        /// Credential name.
        name: String,
        /// What is wrong (fixed wording).
        reason: &'static str,
    },

    /// STS answered AssumeRole with an error.
    #[error("STS refused AssumeRole of {role_arn}: {code}{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Sts {
        /// The role that was to be assumed.
        role_arn: String,
        /// The STS error code (`AccessDenied`, `ExpiredToken`, `InvalidClientTokenId`, …).
        code: String,
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// The service's message, cut to 200 characters.
        message: String,
    },

    /// STS could not be reached (DNS, connect, TLS).
    #[error("STS at {endpoint} unreachable: {reason}")]
    StsUnreachable {
        /// The STS endpoint (no secrets: URLs carry none).
        endpoint: String,
        /// Why, as the HTTP stack describes it.
        reason: String,
    },

    /// STS answered, but not with what the API promises.
    #[error("unexpected STS response from {endpoint}: {reason}")]
    StsResponse {
        /// The STS endpoint.
        endpoint: String,
        /// What was wrong with it (never the body).
        reason: String,
    },

    /// STS did not answer within the SDK's timeouts (connect, attempt or operation).
    #[error("STS at {endpoint} did not answer in time: {reason}")]
    StsTimeout {
        /// The STS endpoint.
        endpoint: String,
        /// Which timeout, as the HTTP stack describes it.
        reason: String,
    },

    /// S3 answered an operation with an error.
    #[error("S3 refused {operation}: {code}{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    S3 {
        /// The S3 operation, e.g. `ListBuckets`.
        operation: &'static str,
        /// S3's error code (`AccessDenied`, `NoSuchBucket`, `SlowDown`, …).
        code: String,
        /// The HTTP status, when there was a response.
        status: Option<u16>,
        /// The service's message, cut to 200 characters.
        message: String,
    },

    /// S3 could not be reached (DNS, connect, TLS).
    #[error("S3 at {endpoint} unreachable during {operation}: {reason}")]
    S3Unreachable {
        /// The S3 operation.
        operation: &'static str,
        /// The S3 endpoint.
        endpoint: String,
        /// Why, as the HTTP stack describes it.
        reason: String,
    },

    /// S3 did not answer within the SDK's timeouts.
    #[error("S3 at {endpoint} did not answer {operation} in time: {reason}")]
    S3Timeout {
        /// The S3 operation.
        operation: &'static str,
        /// The S3 endpoint.
        endpoint: String,
        /// Which timeout.
        reason: String,
    },

    /// S3 answered, but not with what the API promises.
    #[error("unexpected S3 response to {operation}: {reason}")]
    S3Response {
        /// The S3 operation.
        operation: &'static str,
        /// What was wrong with it (never the body).
        reason: String,
    },

    /// An AssumeRole call did not finish within the cache's deadline.
    #[error("AssumeRole of {role_arn} did not finish within {timeout_ms} ms")]
    Timeout {
        /// The role.
        role_arn: String,
        /// The deadline.
        timeout_ms: u64,
    },

    /// No valid temporary credentials: the last refresh failed and the cache is backing off
    /// before the next attempt. `last` is that refresh's error.
    #[error(
        "no valid AWS credentials (next AssumeRole attempt in {retry_in_ms} ms); last attempt: {last}"
    )]
    Unavailable {
        /// How long until the next attempt is allowed.
        retry_in_ms: u64,
        /// The error of the last attempt.
        #[source]
        last: Box<Error>,
    },
}

impl Error {
    /// The STS error code, when STS refused (directly or as the cause of [`Error::Unavailable`]).
    pub fn sts_code(&self) -> Option<&str> {
        match self {
            Error::Sts { code, .. } => Some(code),
            Error::Unavailable { last, .. } => last.sts_code(),
            _ => None,
        }
    }

    /// True when S3 said the object does not exist: `NoSuchKey`, or a 404 without a body
    /// (HeadObject's `NotFound`). A missing bucket (`NoSuchBucket`) is not "not found" but a
    /// configuration error; only HeadObject cannot tell the two apart (no body, no code).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::S3 { code, status, .. } => {
                code == "NoSuchKey"
                    || code == "NotFound"
                    || (*status == Some(404)
                        && !matches!(code.as_str(), "NoSuchBucket" | "NoSuchUpload"))
            }
            _ => false,
        }
    }

    /// True when S3 refused a GetObject range as unsatisfiable (`InvalidRange`, 416).
    pub fn is_invalid_range(&self) -> bool {
        matches!(self, Error::S3 { code, status, .. } if code == "InvalidRange" || *status == Some(416))
    }

    /// True for failures that may go away by themselves (outages, timeouts, throttling, 5xx),
    /// false for those that need a change of configuration or IAM policy.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::StsUnreachable { .. }
            | Error::StsTimeout { .. }
            | Error::Timeout { .. }
            | Error::StsResponse { .. }
            | Error::S3Unreachable { .. }
            | Error::S3Timeout { .. }
            | Error::S3Response { .. } => true,
            Error::S3 { code, status, .. } => {
                status.is_some_and(|s| s >= 500)
                    || matches!(code.as_str(), "SlowDown" | "ServiceUnavailable")
            }
            Error::Sts { code, status, .. } => {
                status.is_some_and(|s| s >= 500)
                    || matches!(
                        code.as_str(),
                        "Throttling" | "ThrottlingException" | "RequestLimitExceeded"
                    )
            }
            Error::Keys { source, .. } => source.is_transient(),
            Error::Unavailable { last, .. } => last.is_transient(),
            Error::Vcap(_) | Error::Config { .. } | Error::Invalid { .. } => false,
            Error::KeysInvalid { .. } => false,
        }
    }

    pub(crate) fn config(instance: &str, field: &'static str, reason: impl Into<String>) -> Self {
        Error::Config {
            instance: instance.to_owned(),
            field,
            reason: reason.into(),
        }
    }
}

impl From<cfenv::Error> for Error {
    fn from(e: cfenv::Error) -> Self {
        Error::Vcap(Arc::new(e))
    }
}

/// Cuts a service message to [`MAX_MESSAGE`] characters (`…` marks a cut).
pub(crate) fn cut(message: &str) -> String {
    use cfenv::text::{Controls, Ellipsis};
    cfenv::text::cut(message, MAX_MESSAGE, Controls::Keep, Ellipsis::WhenCut)
}
