//! Calls to dependencies (S3 through `awslink`, and the credential chain behind it: Credential
//! Store → STS), each under a deadline, timed for the metrics, and their failures classified
//! into [`ApiError::Upstream`]:
//!
//! | what happened | status | example |
//! |---|---|---|
//! | the dependency answered with a refusal | 502 | STS `AccessDenied`, S3 `AccessDenied`, Credential Store 404 |
//! | the dependency answered 503 / throttles | 503 | S3 `SlowDown` |
//! | it could not be reached (connect, DNS, TLS) | 503 | S3 stopped |
//! | it did not answer in time | 504 | S3 hangs |
//!
//! The client-facing message names the dependency and its error code only; the log detail adds
//! the service's message (AWS and Credential Store messages never carry credentials; ours are
//! cut to 200 characters by `awslink` / `credstore`).

use std::error::Error as StdError;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

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
pub async fn credentials(aws: &awslink::AwsLink, deadline: Duration) -> Result<(), ApiError> {
    match tokio::time::timeout(deadline, aws.credentials.credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(credentials_error(&e)),
        Err(_) => Err(ApiError::Upstream(UpstreamFailure::timeout(
            dependency::STS,
            format!(
                "no AWS credentials within {} ms (Credential Store, then STS AssumeRole)",
                deadline.as_millis()
            ),
        ))),
    }
}

/// Classifies a failure to get AWS credentials (Credential Store → STS → cache).
pub fn credentials_error(e: &awslink::Error) -> ApiError {
    use awslink::Error as E;
    let f = match e {
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
        E::Unavailable { last, .. } => return credentials_error(last),
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

/// Classifies a failed S3 call. A credential failure inside the SDK (the credentials provider
/// is `awslink`'s cache) is reported as that dependency's failure.
pub fn s3_error<E, R>(e: &SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: std::fmt::Debug + 'static,
{
    if let Some(inner) = find::<awslink::Error>(e) {
        return credentials_error(inner);
    }
    let s3 = dependency::S3;
    let f = match e {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown").to_owned();
            let message = se
                .err()
                .message()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect::<String>();
            let detail = format!("{code}: {message}");
            if matches!(code.as_str(), "SlowDown" | "ServiceUnavailable" | "503") {
                UpstreamFailure::unavailable(s3, Some(code), detail)
            } else {
                UpstreamFailure::refused(s3, Some(code), None, detail)
            }
        }
        SdkError::TimeoutError(_) => UpstreamFailure::timeout(s3, "the SDK's timeout".into()),
        SdkError::DispatchFailure(d) => {
            let detail = chain(e);
            if d.is_timeout() {
                UpstreamFailure::timeout(s3, detail)
            } else {
                UpstreamFailure::unavailable(s3, None, detail)
            }
        }
        SdkError::ResponseError(_) => {
            UpstreamFailure::refused(s3, Some("InvalidResponse".into()), None, chain(e))
        }
        _ => UpstreamFailure::unavailable(s3, None, chain(e)),
    };
    ApiError::Upstream(f)
}

/// The first error of type `T` in `e`'s source chain.
fn find<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// `e` and its causes on one line, cut to 400 characters.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        out.push_str(": ");
        out.push_str(&err.to_string());
        cur = err.source();
    }
    out.chars().take(400).collect()
}
