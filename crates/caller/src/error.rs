//! [`CallerError`], the one error type of the crate, and its stable Lambda `errorType`s.
//!
//! Policy:
//!
//! - Every failure of an invocation or of the cold start is one variant, and every variant maps
//!   to one stable `errorType` ([`CallerError::error_type`]), which is what Lambda reports
//!   (`X-Amz-Function-Error` plus the error body of the Runtime API), what alarms and on-failure
//!   destinations filter on, and what the log line carries. The set is small and documented in
//!   the crate docs; a new variant needs a new entry there.
//! - The prefix says what a retry can do: `Caller.Retryable.*` failures may succeed when the
//!   occurrence is delivered again (Lambda's asynchronous retries, a later attempt of
//!   Scheduler), everything else will fail the same way again until someone changes the
//!   configuration, the secret, the schedule's `Input` or the app.
//! - **No message contains a token, a secret, a key, an `Authorization` header or a response
//!   body.** Text taken from outside is limited to: AWS error codes and messages of Secrets
//!   Manager (cut to 200 characters, one line), XSUAA's OAuth `error`/`error_description`
//!   (already cut by `xsuaa`), the innermost cause of a transport error, HTTP status codes, and
//!   the method and path of the target (from the schedule's `Input`, which holds no secrets).
//! - Nothing here logs: the handler writes the one log line of the invocation.

use xsuaa::error::TokenError;

/// Why the caller could not start, or why one invocation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    /// An environment variable is missing or unusable. `Caller.Init.Config`.
    #[error("environment variable {variable}: {reason}")]
    Config {
        /// The variable, e.g. `BRIDGE_APP_URL`.
        variable: &'static str,
        /// What is wrong (our own wording; never the value of a secret variable).
        reason: String,
    },
    /// The secret could not be read from Secrets Manager, or it is not a usable XSUAA service
    /// key. `Caller.Init.Secret`.
    #[error("secret {secret_id}: {reason}")]
    Secret {
        /// The secret's name or ARN (`BRIDGE_SECRET_ID`).
        secret_id: String,
        /// What went wrong: the AWS error code and message, or the service key field at fault.
        reason: String,
    },
    /// The event is neither a usable Scheduler `Input` nor a usable EventBridge scheduled
    /// event. `Caller.BadEvent`.
    #[error("bad event: {field}: {reason}")]
    BadEvent {
        /// The field at fault, e.g. `time`, `path`, `scheduleArn`.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// XSUAA could not be reached, timed out, or answered 5xx/429. `Caller.Retryable.Token`.
    #[error("no token: {0}")]
    TokenUnavailable(TokenError),
    /// XSUAA refused the client (wrong credentials) or answered something that is not a token
    /// response (an HTML page, say). `Caller.Token.Failed`.
    #[error("no token: {0}")]
    TokenFailed(TokenError),
    /// The app answered 502, 503 or 504 on every attempt. `Caller.Retryable.Upstream5xx`.
    #[error("{target}: HTTP {status} after {attempts} attempt(s)")]
    Upstream {
        /// `METHOD /path`.
        target: String,
        /// The last status.
        status: u16,
        /// HTTP attempts made.
        attempts: u32,
    },
    /// The app answered 429 on every attempt (or asked to wait past the deadline).
    /// `Caller.Retryable.Throttled`.
    #[error("{target}: HTTP 429 after {attempts} attempt(s){}", retry_after_s.map(|s| format!(", Retry-After {s} s")).unwrap_or_default())]
    Throttled {
        /// `METHOD /path`.
        target: String,
        /// HTTP attempts made.
        attempts: u32,
        /// The last `Retry-After`, in seconds, when the app sent one.
        retry_after_s: Option<u64>,
    },
    /// The app could not be reached (DNS, connect, TLS, connection reset) on every attempt.
    /// `Caller.Retryable.Unreachable`.
    #[error("{target}: app unreachable after {attempts} attempt(s): {reason}")]
    Unreachable {
        /// `METHOD /path`.
        target: String,
        /// HTTP attempts made.
        attempts: u32,
        /// The innermost cause of the last failure (names no URL).
        reason: String,
    },
    /// The invocation's deadline (minus the margin kept for reporting) ran out before the app
    /// answered. `Caller.Retryable.Timeout`.
    #[error(
        "{target}: no answer within the invocation's deadline ({budget_ms} ms) after {attempts} attempt(s)"
    )]
    Timeout {
        /// `METHOD /path`.
        target: String,
        /// HTTP attempts made (the last one timed out).
        attempts: u32,
        /// The time the invocation had for the call.
        budget_ms: u64,
    },
    /// The app answered a status that no retry will change: a 4xx other than 429 (a 401 only
    /// after one token refresh), a 3xx, or a 5xx other than 502/503/504.
    /// `Caller.Rejected.4xx`, `Caller.Rejected.3xx`, `Caller.Rejected.5xx`.
    #[error("{target}: HTTP {status}")]
    Rejected {
        /// `METHOD /path`.
        target: String,
        /// The status.
        status: u16,
        /// HTTP attempts made.
        attempts: u32,
    },
}

impl CallerError {
    /// The stable Lambda `errorType` of this failure (see the crate docs for the list).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Config { .. } => "Caller.Init.Config",
            Self::Secret { .. } => "Caller.Init.Secret",
            Self::BadEvent { .. } => "Caller.BadEvent",
            Self::TokenUnavailable(_) => "Caller.Retryable.Token",
            Self::TokenFailed(_) => "Caller.Token.Failed",
            Self::Upstream { .. } => "Caller.Retryable.Upstream5xx",
            Self::Throttled { .. } => "Caller.Retryable.Throttled",
            Self::Unreachable { .. } => "Caller.Retryable.Unreachable",
            Self::Timeout { .. } => "Caller.Retryable.Timeout",
            Self::Rejected { status, .. } => match status / 100 {
                3 => "Caller.Rejected.3xx",
                5 => "Caller.Rejected.5xx",
                _ => "Caller.Rejected.4xx",
            },
        }
    }

    /// True when delivering the occurrence again may succeed (`Caller.Retryable.*`).
    pub fn is_retryable(&self) -> bool {
        self.error_type().starts_with("Caller.Retryable.")
    }

    /// HTTP attempts made at the app before this failure (0 when none was made).
    pub fn attempts(&self) -> u32 {
        match self {
            Self::Upstream { attempts, .. }
            | Self::Throttled { attempts, .. }
            | Self::Unreachable { attempts, .. }
            | Self::Timeout { attempts, .. }
            | Self::Rejected { attempts, .. } => *attempts,
            Self::Config { .. }
            | Self::Secret { .. }
            | Self::BadEvent { .. }
            | Self::TokenUnavailable(_)
            | Self::TokenFailed(_) => 0,
        }
    }

    /// The app's last HTTP status, when it answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Upstream { status, .. } | Self::Rejected { status, .. } => Some(*status),
            Self::Throttled { .. } => Some(429),
            _ => None,
        }
    }

    /// A token failure, classified: XSUAA not there (retryable) or XSUAA refusing.
    pub(crate) fn token(err: TokenError) -> Self {
        if err.is_transient() {
            Self::TokenUnavailable(err)
        } else {
            Self::TokenFailed(err)
        }
    }

    pub(crate) fn config(variable: &'static str, reason: impl Into<String>) -> Self {
        Self::Config {
            variable,
            reason: reason.into(),
        }
    }

    pub(crate) fn bad_event(field: &'static str, reason: impl Into<String>) -> Self {
        Self::BadEvent {
            field,
            reason: reason.into(),
        }
    }
}

impl From<CallerError> for lambda_runtime::Diagnostic {
    fn from(err: CallerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(status: u16) -> CallerError {
        CallerError::Rejected {
            target: "GET /jobs/ping".into(),
            status,
            attempts: 1,
        }
    }

    #[test]
    fn error_types_are_stable_and_say_whether_a_retry_helps() {
        let cases: Vec<(CallerError, &str, bool)> = vec![
            (
                CallerError::config("BRIDGE_APP_URL", "missing"),
                "Caller.Init.Config",
                false,
            ),
            (
                CallerError::Secret {
                    secret_id: "s".into(),
                    reason: "ResourceNotFoundException".into(),
                },
                "Caller.Init.Secret",
                false,
            ),
            (
                CallerError::bad_event("time", "missing"),
                "Caller.BadEvent",
                false,
            ),
            (
                CallerError::token(TokenError::Timeout {
                    host: "uaa:443".into(),
                    timeout_ms: 5000,
                }),
                "Caller.Retryable.Token",
                true,
            ),
            (
                CallerError::token(TokenError::InvalidResponse("not a JSON token response")),
                "Caller.Token.Failed",
                false,
            ),
            (
                CallerError::Upstream {
                    target: "GET /x".into(),
                    status: 503,
                    attempts: 3,
                },
                "Caller.Retryable.Upstream5xx",
                true,
            ),
            (
                CallerError::Throttled {
                    target: "GET /x".into(),
                    attempts: 2,
                    retry_after_s: Some(30),
                },
                "Caller.Retryable.Throttled",
                true,
            ),
            (
                CallerError::Unreachable {
                    target: "GET /x".into(),
                    attempts: 3,
                    reason: "connection refused".into(),
                },
                "Caller.Retryable.Unreachable",
                true,
            ),
            (
                CallerError::Timeout {
                    target: "GET /x".into(),
                    attempts: 1,
                    budget_ms: 2500,
                },
                "Caller.Retryable.Timeout",
                true,
            ),
            (rejected(400), "Caller.Rejected.4xx", false),
            (rejected(401), "Caller.Rejected.4xx", false),
            (rejected(302), "Caller.Rejected.3xx", false),
            (rejected(500), "Caller.Rejected.5xx", false),
        ];
        for (err, ty, retryable) in cases {
            assert_eq!(err.error_type(), ty, "{err}");
            assert_eq!(err.is_retryable(), retryable, "{err}");
            let diagnostic = lambda_runtime::Diagnostic::from(err.clone());
            assert_eq!(diagnostic.error_type, ty);
            assert_eq!(diagnostic.error_message, err.to_string());
        }
    }

    #[test]
    fn messages_name_target_status_and_attempts() {
        let err = CallerError::Throttled {
            target: "POST /jobs/x".into(),
            attempts: 4,
            retry_after_s: Some(120),
        };
        assert_eq!(
            err.to_string(),
            "POST /jobs/x: HTTP 429 after 4 attempt(s), Retry-After 120 s"
        );
        assert_eq!(err.status(), Some(429));
        assert_eq!(err.attempts(), 4);
    }
}
