//! The job endpoints the scheduled caller calls (`/jobs/*`, `$XSAPPNAME.JobRunner`), and the
//! run history behind them.
//!
//! Every call is a run in the app's database ([`runs::Store`]): [`run_job`] claims the run of
//! the call's `Idempotency-Key`, runs the job once, and records outcome, status and duration.
//! The protocol follows the IETF draft "The Idempotency-Key HTTP Header Field"
//! (draft-ietf-httpapi-idempotency-key-header, §2 and §2.6):
//! - the key is a Structured Field string (`Idempotency-Key: "…"`; a bare token is accepted
//!   too), at most [`MAX_KEY_LEN`] printable characters; anything else is 400;
//! - the first call with a key runs the job; a later call with the same key gets the recorded
//!   result (the recorded status and the run as body) with `Idempotent-Replayed: true` (the
//!   header Stripe's API uses; the draft names none), and runs nothing;
//! - a call while the first is still running gets 409 Conflict with the run's `Location`;
//! - a key reused for another job gets 422 Unprocessable Content.
//!
//! A call without a key runs and is recorded with a generated id. When the caller names the
//! schedule (`X-Bridge-Schedule`) and the occurrence (`X-Bridge-Scheduled-Time`, RFC 3339)
//! but sends no key, the key is the occurrence's (`schedule::occurrence::key`), which is what
//! the Lambda caller sends anyway. `X-Bridge-Attempt` is the caller's attempt number.
//!
//! Long jobs: the handler waits [`Limits::job_wait`](super::Limits::job_wait) for the job; past
//! it the answer is `202 Accepted` with `Location: /jobs/runs/{id}`, and the job finishes in
//! the background and in the history. `GET /jobs/runs/{id}` (JobRunner or Read) shows a run.
//!
//! At most [`MAX_RUNNING_JOBS`](super::MAX_RUNNING_JOBS) jobs run at once per instance; a
//! call beyond it is 503 with `Retry-After` and records nothing.
//!
//! Without a store (route tests that build the state without one) the jobs run unrecorded.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use runs::{Claim, NewRun, Outcome, Run};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{Authorized, JobRunner, Principal};
use super::error::ApiError;

/// Longest accepted `Idempotency-Key` (characters).
pub const MAX_KEY_LEN: usize = 255;
/// Longest accepted `X-Bridge-Schedule` (a schedule ARN is at most 1600 characters).
pub const MAX_SCHEDULE_LEN: usize = 2048;
/// Longest `POST /jobs/sleep`.
pub const MAX_SLEEP_S: u64 = 3600;

/// The caller's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The schedule (ARN or name) the call belongs to.
pub const SCHEDULE: &str = "x-bridge-schedule";
/// The occurrence's nominal time (RFC 3339).
pub const SCHEDULED_TIME: &str = "x-bridge-scheduled-time";
/// The caller's attempt number (1 = first).
pub const ATTEMPT: &str = "x-bridge-attempt";
/// Set on answers replayed from the history.
pub const REPLAYED: &str = "idempotent-replayed";
/// The run id of every job answer.
pub const RUN_ID: &str = "x-bridge-run-id";

/// What a job produced.
#[derive(Debug, Clone)]
pub struct JobResult {
    /// The status to answer with (and record).
    pub status: StatusCode,
    /// The body.
    pub body: Value,
    /// Why it failed, for the history (no secrets).
    pub error: Option<String>,
}

impl JobResult {
    /// Success with `body`.
    pub fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            error: None,
        }
    }
}

/// `GET|POST /jobs/ping`: the seed's protected endpoint: who called and with which scopes.
pub async fn ping(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<JobRunner>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    tracing::info!(
        job.caller = principal.token.client_id().unwrap_or("-"),
        "job ping"
    );
    let body = json!({ "message": "pong", "caller": super::routes::caller(&principal) });
    run_job(&state, &principal, &headers, "ping", async move {
        JobResult::ok(body)
    })
    .await
}

/// The query of `POST /jobs/sleep`.
#[derive(Debug, serde::Deserialize)]
pub struct SleepQuery {
    /// How long to sleep, in seconds (fractions allowed), at most [`MAX_SLEEP_S`].
    #[serde(default)]
    seconds: Option<String>,
}

/// `POST /jobs/sleep?seconds=N`: a job that takes `N` seconds, for long-running-job behaviour
/// (202 and the run URL) until real long jobs exist.
pub async fn sleep(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<JobRunner>,
    headers: HeaderMap,
    query: Result<Query<SleepQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let raw = query
        .map_err(|_| ApiError::BadRequest("malformed query string".into()))?
        .0
        .seconds
        .unwrap_or_else(|| "1".into());
    let seconds = raw
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && (0.0..=MAX_SLEEP_S as f64).contains(s))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "seconds: expected a number from 0 to {MAX_SLEEP_S}"
            ))
        })?;
    let wait = Duration::from_secs_f64(seconds);
    run_job(&state, &principal, &headers, "sleep", async move {
        tokio::time::sleep(wait).await;
        JobResult::ok(json!({ "slept": seconds }))
    })
    .await
}

/// `GET /jobs/runs/{id}`: one run of the history (JobRunner or Read).
pub async fn run_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !(principal.token.has_local_scope("JobRunner") || principal.token.has_local_scope("Read")) {
        return Err(ApiError::InsufficientScope {
            scope: format!("{}.Read", state.xsappname),
        });
    }
    let store = store(&state)?;
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::NotFound(format!("no run {}", cut(&id, 64))))?;
    let run = store
        .get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no run {id}")))?;
    Ok(Json(run_json(&run)).into_response())
}

fn store(state: &AppState) -> Result<&runs::Store, ApiError> {
    state.store.as_ref().ok_or_else(|| ApiError::Unavailable {
        dependency: "database",
        detail: "the app runs without a run history".into(),
    })
}

/// Runs `work` as job `job` under the idempotency protocol of the module docs.
pub async fn run_job<F>(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    job: &'static str,
    work: F,
) -> Result<Response, ApiError>
where
    F: Future<Output = JobResult> + Send + 'static,
{
    let mut new = new_run(headers, job)?;
    new.caller_client_id = principal.token.client_id().map(str::to_owned);
    if let Some(nominal) = new.nominal_time
        && let Ok(late) = (new.received_at - nominal).to_std()
    {
        state.metrics.job_lateness(job, late);
    }
    let Ok(slot) = state.job_slots.clone().try_acquire_owned() else {
        let mut resp = ApiError::Busy(format!(
            "Service unavailable: {} jobs are running; retry later",
            super::MAX_RUNNING_JOBS
        ))
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return Ok(resp);
    };
    let Some(store) = state.store.clone() else {
        let _slot = slot;
        let started = Instant::now();
        let result = work.await;
        state
            .metrics
            .job_run(job, outcome_of(&result), started.elapsed());
        return Ok((result.status, Json(result.body)).into_response());
    };
    let run = match store.claim(&new).await? {
        Claim::Started(run) => run,
        Claim::InProgress(run) => {
            state.metrics.job_duplicate(job);
            same_job(&run, job)?;
            let mut resp = ApiError::Conflict(format!(
                "a request with this Idempotency-Key is still running (run {})",
                run.id
            ))
            .into_response();
            set_run_headers(&mut resp, &run);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Ok(resp);
        }
        Claim::Finished(run) => {
            state.metrics.job_duplicate(job);
            same_job(&run, job)?;
            let status = run
                .http_status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            let mut resp = (
                status,
                Json(json!({ "replayed": true, "run": run_json(&run) })),
            )
                .into_response();
            set_run_headers(&mut resp, &run);
            resp.headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            return Ok(resp);
        }
    };
    tracing::info!(job.name = job, run.id = %run.id, idempotency.key = run.idempotency_key.as_deref().unwrap_or("-"), "job run started");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let metrics = state.metrics.clone();
    let id = run.id;
    // The job runs in its own task so that it finishes (and is recorded) even when the
    // answer was a 202, the caller went away or the request deadline passed.
    tokio::spawn(async move {
        let _slot = slot;
        let started = Instant::now();
        let result = work.await;
        let elapsed = started.elapsed();
        let outcome = outcome_of(&result);
        metrics.job_run(job, outcome, elapsed);
        let recorded = store
            .finish(
                id,
                outcome,
                Some(result.status.as_u16()),
                result.error.as_deref(),
                elapsed,
            )
            .await;
        if let Err(e) = &recorded {
            tracing::warn!(job.name = job, run.id = %id, error.detail = %e, "job run not recorded");
        }
        let _ = tx.send((result, recorded.ok()));
    });
    match tokio::time::timeout(state.limits.job_wait, rx).await {
        Ok(Ok((result, run))) => {
            let mut resp = (result.status, Json(result.body)).into_response();
            if let Some(run) = run {
                set_run_headers(&mut resp, &run);
            }
            Ok(resp)
        }
        Ok(Err(_)) => Err(ApiError::Internal(format!("job {job} task ended early"))),
        Err(_) => {
            let mut resp = (StatusCode::ACCEPTED, Json(run_json(&run))).into_response();
            set_run_headers(&mut resp, &run);
            if let Ok(v) = HeaderValue::from_str(&format!("/jobs/runs/{}", run.id)) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            Ok(resp)
        }
    }
}

fn outcome_of(result: &JobResult) -> Outcome {
    if result.status.is_success() {
        Outcome::Succeeded
    } else {
        Outcome::Failed
    }
}

fn same_job(run: &Run, job: &str) -> Result<(), ApiError> {
    if run.job == job {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(format!(
            "this Idempotency-Key was used for job {}",
            run.job
        )))
    }
}

fn set_run_headers(resp: &mut Response, run: &Run) {
    if let Ok(v) = HeaderValue::from_str(&run.id.to_string()) {
        resp.headers_mut().insert(RUN_ID, v);
    }
    if run.outcome == Outcome::Running
        && let Ok(v) = HeaderValue::from_str(&format!("/jobs/runs/{}", run.id))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
}

/// The run as the job endpoints show it (the history's field names, camelCase).
pub fn run_json(run: &Run) -> Value {
    serde_json::to_value(run).unwrap_or(Value::Null)
}

/// The run a call would start, from its headers.
pub fn new_run(headers: &HeaderMap, job: &str) -> Result<NewRun, ApiError> {
    let key = header_text(headers, IDEMPOTENCY_KEY, MAX_KEY_LEN)?
        .map(|k| sf_string(&k).ok_or(k))
        .map(|k| {
            k.or_else(|bare| {
                if bare.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
                    Ok(bare)
                } else {
                    Err(ApiError::BadRequest(
                        "Idempotency-Key: expected a string (\"…\") of printable characters".into(),
                    ))
                }
            })
        })
        .transpose()?;
    if key.as_deref() == Some("") {
        return Err(ApiError::BadRequest("Idempotency-Key: empty".into()));
    }
    let schedule = header_text(headers, SCHEDULE, MAX_SCHEDULE_LEN)?;
    let nominal = header_text(headers, SCHEDULED_TIME, 64)?
        .map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::BadRequest(format!(
                        "{}: expected an RFC 3339 date-time such as 2026-03-01T12:00:00Z",
                        "X-Bridge-Scheduled-Time"
                    ))
                })
        })
        .transpose()?;
    let attempt = header_text(headers, ATTEMPT, 10)?
        .map(|a| {
            a.parse::<u32>().ok().filter(|a| *a >= 1).ok_or_else(|| {
                ApiError::BadRequest("X-Bridge-Attempt: expected a whole number from 1".into())
            })
        })
        .transpose()?;
    let key = key.or_else(|| match (&schedule, nominal) {
        (Some(s), Some(t)) => Some(schedule::occurrence::key(s, t)),
        _ => None,
    });
    Ok(NewRun {
        idempotency_key: key,
        schedule,
        nominal_time: nominal,
        attempt,
        ..NewRun::new(job)
    })
}

/// Header `name` as text: absent is `None`; repeated, too long or not visible ASCII is 400.
fn header_text(headers: &HeaderMap, name: &str, max: usize) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let display = display_name(name);
    if values.next().is_some() {
        return Err(ApiError::BadRequest(format!(
            "{display}: sent more than once"
        )));
    }
    let text = value
        .to_str()
        .ok()
        .filter(|t| t.bytes().all(|b| (0x20..0x7f).contains(&b)))
        .ok_or_else(|| ApiError::BadRequest(format!("{display}: not printable ASCII")))?
        .trim();
    if text.len() > max {
        return Err(ApiError::BadRequest(format!(
            "{display}: longer than {max} characters"
        )));
    }
    Ok(Some(text.to_owned()))
}

fn display_name(name: &str) -> &'static str {
    match name {
        IDEMPOTENCY_KEY => "Idempotency-Key",
        SCHEDULE => "X-Bridge-Schedule",
        SCHEDULED_TIME => "X-Bridge-Scheduled-Time",
        _ => "X-Bridge-Attempt",
    }
}

/// An RFC 8941 sf-string (`"…"` with `\"` and `\\` escapes), unquoted; `None` if `s` is not
/// one.
fn sf_string(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\')) => out.push(e),
                _ => return None,
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

fn cut(s: &str, max: usize) -> String {
    cfenv::text::cut(
        s,
        max,
        cfenv::text::Controls::Drop,
        cfenv::text::Ellipsis::WhenCut,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_strings_and_bare_tokens() {
        assert_eq!(sf_string(r#""abc""#).as_deref(), Some("abc"));
        assert_eq!(sf_string(r#""a\"b\\c""#).as_deref(), Some("a\"b\\c"));
        assert_eq!(sf_string(r#""a\nb""#), None);
        assert_eq!(sf_string(r#""a"b""#), None);
        assert_eq!(sf_string("abc"), None);
    }
}
