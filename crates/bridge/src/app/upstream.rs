//! Calls to dependencies (S3 through `awslink`'s seam, and the credential chain behind it:
//! Credential Store → STS), each under a deadline, timed for the metrics, and their failures
//! classified into [`ApiError::Upstream`] — the one place that decides 502, 503 and 504:
//!
//! | what happened | status | example |
//! |---|---|---|
//! | the dependency answered with a refusal | 502 | STS `AccessDenied`, S3 `AccessDenied`, Credential Store 404 |
//! | the dependency answered 503 / throttles | 503 | S3 `SlowDown` |
//! | it could not be reached (connect, DNS, TLS) | 503 | S3 stopped |
//! | it did not answer in time: the upstream deadline ([`call`], [`credentials`]), the SDK's own timeouts (`awslink`'s `StsTimeout`, `S3Timeout`), the credential cache's call deadline | 504 | S3 or STS hangs |
//! | the whole request took longer than the request deadline ([`request_timed_out`]) | 504 | — |
//!
//! The client-facing message names the dependency and its error code only; the log detail adds
//! the service's message (AWS and Credential Store messages never carry credentials; ours are
//! cut to 200 characters by `awslink` / `credstore`).

use std::future::Future;
use std::time::{Duration, Instant};

use super::AwsAccess;
use super::error::{ApiError, UpstreamFailure};
use super::metrics::Metrics;

/// The dependency names used in errors and metrics.
pub mod dependency {
    /// Amazon S3 (through Private Link).
    pub const S3: &str = "S3";
    /// AWS STS (AssumeRole).
    pub const STS: &str = "STS";
    /// SAP Credential Store (the long-term AWS keys).
    pub const CREDSTORE: &str = "Credential Store";
}

/// Runs `call` under `deadline`, records it in the metrics as `dependency`/`operation`, and
/// classifies a failure with `classify`.
pub async fn call<T, E, F>(
    metrics: &Metrics,
    dependency: &'static str,
    operation: &'static str,
    deadline: Duration,
    call: F,
    classify: impl FnOnce(&E) -> ApiError,
) -> Result<T, ApiError>
where
    F: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let result = tokio::time::timeout(deadline, call).await;
    let (outcome, result) = match result {
        Ok(Ok(v)) => ("ok", Ok(v)),
        Ok(Err(e)) => {
            let err = classify(&e);
            (outcome_of(&err), Err(err))
        }
        Err(_) => (
            "timeout",
            Err(ApiError::Upstream(UpstreamFailure::timeout(
                dependency,
                format!(
                    "{operation} did not finish within {} ms",
                    deadline.as_millis()
                ),
            ))),
        ),
    };
    metrics.upstream(dependency, operation, outcome, started.elapsed());
    result
}

fn outcome_of(err: &ApiError) -> &'static str {
    match err {
        ApiError::Upstream(f) => match f.status {
            502 => "refused",
            504 => "timeout",
            _ => "unreachable",
        },
        _ => "refused",
    }
}

/// Valid AWS credentials within `deadline`: cached (no call), or from a refresh (Credential
/// Store, then STS AssumeRole). Asked before an S3 call so that a failure names Credential
/// Store or STS rather than S3. Not counted as an upstream call: the credential cache's own
/// figures (`bridge_sts_assume_role_total`) count the real AssumeRole calls.
pub async fn credentials(aws: &AwsAccess, deadline: Duration) -> Result<(), ApiError> {
    match tokio::time::timeout(deadline, aws.credentials.credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(aws_error(&e)),
        Err(_) => Err(ApiError::Upstream(UpstreamFailure::timeout(
            dependency::STS,
            format!(
                "no AWS credentials within {} ms (Credential Store, then STS AssumeRole)",
                deadline.as_millis()
            ),
        ))),
    }
}

/// The answer when a whole request outlived `limit`: 504, as an OData error.
pub fn request_timed_out(limit: Duration) -> ApiError {
    ApiError::RequestTimeout(format!(
        "Gateway timeout: the request did not finish within {} ms",
        limit.as_millis()
    ))
}

/// Classifies a failure of AWS access: getting credentials (Credential Store → STS → cache)
/// or an S3 call.
pub fn aws_error(e: &awslink::Error) -> ApiError {
    use awslink::Error as E;
    let s3 = dependency::S3;
    let f = match e {
        E::S3 {
            code,
            status,
            message,
            operation,
        } => {
            let detail = format!("{operation}: {code}: {message}");
            if *status == Some(503) || matches!(code.as_str(), "SlowDown" | "ServiceUnavailable") {
                UpstreamFailure::unavailable(s3, Some(code.clone()), detail)
            } else {
                UpstreamFailure::refused(s3, Some(code.clone()), *status, detail)
            }
        }
        E::S3Unreachable { .. } => UpstreamFailure::unavailable(s3, None, e.to_string()),
        E::S3Timeout { .. } => UpstreamFailure::timeout(s3, e.to_string()),
        E::S3Response { .. } => {
            UpstreamFailure::refused(s3, Some("InvalidResponse".into()), None, e.to_string())
        }
        E::StsTimeout { .. } => UpstreamFailure::timeout(dependency::STS, e.to_string()),
        E::Sts {
            code,
            status,
            message,
            role_arn,
        } => {
            let detail = format!("AssumeRole of {role_arn}: {code}: {message}");
            if *status == Some(503) || code.contains("Throttl") {
                UpstreamFailure::unavailable(dependency::STS, Some(code.clone()), detail)
            } else {
                UpstreamFailure::refused(dependency::STS, Some(code.clone()), *status, detail)
            }
        }
        E::StsUnreachable { reason, endpoint } => UpstreamFailure::unavailable(
            dependency::STS,
            None,
            format!("{endpoint} unreachable: {reason}"),
        ),
        E::StsResponse { reason, .. } => UpstreamFailure::refused(
            dependency::STS,
            Some("InvalidResponse".into()),
            None,
            reason.clone(),
        ),
        E::Timeout { .. } => UpstreamFailure::timeout(dependency::STS, e.to_string()),
        E::Keys { source, .. } => credstore_failure(source, e.to_string()),
        E::KeysInvalid { reason, .. } => UpstreamFailure::refused(
            dependency::CREDSTORE,
            Some("InvalidCredential".into()),
            None,
            (*reason).to_owned(),
        ),
        E::Unavailable { last, .. } => return aws_error(last),
        // Configuration is checked at start-up; reaching this is a bug.
        other => return ApiError::Internal(other.to_string()),
    };
    ApiError::Upstream(f)
}

fn credstore_failure(source: &credstore::Error, detail: String) -> UpstreamFailure {
    use credstore::Error as C;
    match source {
        C::Timeout { .. } => UpstreamFailure::timeout(dependency::CREDSTORE, detail),
        C::Unreachable { .. } => UpstreamFailure::unavailable(dependency::CREDSTORE, None, detail),
        C::Rejected { status, .. } if *status == 503 || *status == 429 => {
            UpstreamFailure::unavailable(dependency::CREDSTORE, Some(status.to_string()), detail)
        }
        other => {
            let code = match other {
                C::NotFound { .. } => "NotFound".to_owned(),
                C::NoNamespace { .. } => "NamespaceNotFound".to_owned(),
                C::Unauthorized { .. } => "Unauthorized".to_owned(),
                C::Forbidden { .. } => "Forbidden".to_owned(),
                C::Decrypt(_) => "DecryptionFailed".to_owned(),
                C::InvalidResponse(_) => "InvalidResponse".to_owned(),
                other => other
                    .status()
                    .map_or_else(|| "Error".to_owned(), |s| s.to_string()),
            };
            UpstreamFailure::refused(dependency::CREDSTORE, Some(code), other.status(), detail)
        }
    }
}
