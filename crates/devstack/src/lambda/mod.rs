//! The local AWS Lambda: functions whose code is a real `bootstrap` executable (the
//! `provided.al2023` custom runtime), run as child processes against a Runtime API per
//! execution environment ([`runtime`]), invoked through the Invoke API ([`api`]) or in process
//! ([`LocalLambda::invoke`], what the local Scheduler uses).
//!
//! What it does as Lambda does:
//! - one invocation at a time per execution environment; warm environments are reused, new
//!   ones started up to the function's concurrency;
//! - the function's timeout kills the environment and answers `Sandbox.Timedout`; a process
//!   that exits during an invocation or before its first `next` call answers
//!   `Runtime.ExitError`; an `/runtime/init/error` report answers with its own error type;
//! - synchronous invocations return the function's result, or its error document with
//!   `X-Amz-Function-Error: Unhandled`;
//! - asynchronous invocations ("How Lambda handles errors and retries with asynchronous
//!   invocation", <https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>)
//!   go to a queue; a function error is retried `MaximumRetryAttempts` times (default 2, about
//!   one minute and then two minutes apart; the delays are configurable for tests), an event
//!   older than `MaximumEventAgeInSeconds` (default 6 h) is dropped, and an event that failed
//!   for good goes to the on-failure destination, kept locally as Lambda's destination record
//!   ([`LocalLambda::failures`]).
//!
//! Every invocation attempt is reported to an [`InvocationSink`], so `bridge dev` can join the
//! Lambda's side of an occurrence with the app's run history.

pub mod api;
mod runtime;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::aws_identity::AwsIdentity;

/// Largest synchronous request and response payload (6 MB).
pub const SYNC_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// Largest asynchronous event (1 MB, Lambda's current limit).
pub const ASYNC_PAYLOAD_LIMIT: usize = 1024 * 1024;

/// How many events may wait in a function's asynchronous queue.
const QUEUE_LIMIT: usize = 10_000;

/// How many on-failure records a function keeps.
const FAILURES_KEPT: usize = 1000;

/// Fresh environment variables for each new execution environment: the execution role's
/// temporary credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
pub type CredentialSource = Arc<dyn Fn() -> Vec<(String, String)> + Send + Sync>;

/// A function.
#[derive(Clone)]
pub struct FunctionConfig {
    /// The function name.
    pub name: String,
    /// The executable Lambda runs (`bootstrap` at the root of the deployment package).
    pub bootstrap: PathBuf,
    /// The function's environment variables.
    pub env: Vec<(String, String)>,
    /// The execution role's credentials, asked for at each environment's start.
    pub credentials: Option<CredentialSource>,
    /// The function's timeout (Lambda: 1 to 900 s; default 3 s).
    pub timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB).
    pub memory_mb: u32,
    /// How many environments may run at once.
    pub concurrency: usize,
    /// Asynchronous invocation settings.
    pub event_invoke: EventInvokeConfig,
}

impl std::fmt::Debug for FunctionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionConfig")
            .field("name", &self.name)
            .field("bootstrap", &self.bootstrap)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl FunctionConfig {
    /// A function running `bootstrap`, with Lambda's defaults (3 s timeout, 128 MB, two
    /// retries of asynchronous events) and a concurrency of 10.
    pub fn new(name: impl Into<String>, bootstrap: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            bootstrap: bootstrap.into(),
            env: Vec::new(),
            credentials: None,
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            concurrency: 10,
            event_invoke: EventInvokeConfig::default(),
        }
    }
}

/// `PutFunctionEventInvokeConfig`'s settings, plus the retry delays.
#[derive(Debug, Clone)]
pub struct EventInvokeConfig {
    /// Retries after a function error (0 to 2; default 2).
    pub maximum_retry_attempts: u32,
    /// Events older than this are dropped (60 s to 6 h; default 6 h).
    pub maximum_event_age: Duration,
    /// The delay before the first and the second retry (Lambda: about 1 and 2 minutes).
    pub retry_delays: [Duration; 2],
}

impl Default for EventInvokeConfig {
    fn default() -> Self {
        Self {
            maximum_retry_attempts: 2,
            maximum_event_age: Duration::from_secs(6 * 3600),
            retry_delays: [Duration::from_secs(60), Duration::from_secs(120)],
        }
    }
}

/// What an invocation answered.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The function's result payload.
    Success(Bytes),
    /// A function error: its type and Lambda's error document.
    Error {
        /// `errorType` (`Sandbox.Timedout`, `Runtime.ExitError`, or the function's own).
        error_type: String,
        /// The error document `{"errorType","errorMessage",…}`.
        body: Bytes,
    },
}

/// How an invocation came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    /// `RequestResponse`.
    Sync,
    /// `Event`.
    Async,
}

/// One invocation attempt, for the [`InvocationSink`].
#[derive(Debug, Clone)]
pub struct InvocationRecord {
    /// The function name.
    pub function: String,
    /// The request id (the same for every attempt of one asynchronous event).
    pub request_id: String,
    /// Sync or async.
    pub invocation_type: InvocationType,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The event.
    pub payload: Bytes,
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// How long it ran.
    pub duration: Duration,
    /// Set when a new environment was started for it: spawn → first `next` call.
    pub init_duration: Option<Duration>,
    /// The result.
    pub outcome: Outcome,
    /// For asynchronous events: `Some(true)` when this attempt was the last (succeeded, or
    /// failed for good and went to the on-failure destination).
    pub last: bool,
}

/// Receives every invocation attempt.
pub trait InvocationSink: Send + Sync {
    /// One attempt ended.
    fn record(&self, record: &InvocationRecord);
}

/// A sink that keeps nothing.
#[derive(Debug, Default)]
pub struct NoSink;

impl InvocationSink for NoSink {
    fn record(&self, _: &InvocationRecord) {}
}

/// Counters of the local Lambda (for metrics and benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct LambdaCounters {
    /// Invocation attempts (sync and async).
    pub invocations: u64,
    /// Attempts that ended in a function error.
    pub errors: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Asynchronous retries scheduled.
    pub retries: u64,
    /// Asynchronous events sent to the on-failure destination.
    pub failed_events: u64,
    /// Requests refused because the asynchronous queue was full.
    pub throttles: u64,
    /// Execution environments started.
    pub cold_starts: u64,
}

#[derive(Default)]
struct Counters {
    invocations: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    retries: AtomicU64,
    failed_events: AtomicU64,
    throttles: AtomicU64,
    cold_starts: AtomicU64,
}

/// Why the local Lambda refused an invocation (before running anything).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// No such function (`ResourceNotFoundException`, 404).
    #[error("Function not found: {0}")]
    NotFound(String),
    /// The payload is not JSON (`InvalidRequestContentException`, 400).
    #[error("Could not parse request body into json: {0}")]
    InvalidContent(String),
    /// The payload is too large (`RequestTooLargeException`, 413).
    #[error("Request must be smaller than {0} bytes for the InvokeFunction operation")]
    TooLarge(usize),
    /// The asynchronous queue is full (`TooManyRequestsException`, 429).
    #[error("Rate Exceeded.")]
    Throttled,
}

impl InvokeError {
    /// Whether a caller should try again (Scheduler retries these).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled)
    }
}

/// An asynchronous event in the queue.
struct Event {
    request_id: String,
    payload: Bytes,
    received: Instant,
    attempt: u32,
}

/// A function with its environments and queue.
struct Function {
    config: FunctionConfig,
    arn: String,
    region: String,
    idle: Mutex<Vec<runtime::Instance>>,
    slots: Arc<Semaphore>,
    queue: mpsc::Sender<Event>,
    failures: Mutex<VecDeque<serde_json::Value>>,
}

struct Inner {
    region: String,
    account_id: String,
    identity: Option<AwsIdentity>,
    functions: HashMap<String, Arc<Function>>,
    sink: Arc<dyn InvocationSink>,
    counters: Counters,
}

/// The local Lambda service.
#[derive(Clone)]
pub struct LocalLambda {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LocalLambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLambda")
            .field(
                "functions",
                &self.inner.functions.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl LocalLambda {
    /// The service for the dev account, with `functions`; every attempt is reported to
    /// `sink`. Starts each function's asynchronous queue (so it must be called inside a Tokio
    /// runtime). `identity` checks the Invoke API's signatures; `None` leaves the API
    /// unauthenticated (in-process tests only).
    pub fn new(
        identity: Option<AwsIdentity>,
        region: &str,
        account_id: &str,
        functions: Vec<FunctionConfig>,
        sink: Arc<dyn InvocationSink>,
    ) -> Self {
        let mut map = HashMap::new();
        let mut queues = Vec::new();
        for config in functions {
            let (tx, rx) = mpsc::channel(QUEUE_LIMIT);
            let f = Arc::new(Function {
                arn: format!(
                    "arn:aws:lambda:{region}:{account_id}:function:{}",
                    config.name
                ),
                region: region.to_owned(),
                slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
                config,
                idle: Mutex::new(Vec::new()),
                queue: tx,
                failures: Mutex::new(VecDeque::new()),
            });
            queues.push((f.clone(), rx));
            map.insert(f.config.name.clone(), f);
        }
        let lambda = Self {
            inner: Arc::new(Inner {
                region: region.to_owned(),
                account_id: account_id.to_owned(),
                identity,
                functions: map,
                sink,
                counters: Counters::default(),
            }),
        };
        for (f, rx) in queues {
            tokio::spawn(drain(Arc::downgrade(&lambda.inner), f, rx));
        }
        lambda
    }

    /// The function's ARN (`arn:aws:lambda:{region}:{account}:function:{name}`).
    pub fn function_arn(&self, name: &str) -> Option<String> {
        self.inner.functions.get(name).map(|f| f.arn.clone())
    }

    /// The names of the functions.
    pub fn function_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.functions.keys().cloned().collect();
        names.sort();
        names
    }

    /// Finds a function by name, full ARN or partial ARN (`{account}:function:{name}`), with
    /// an optional `:$LATEST` qualifier (no versions or aliases here).
    fn function(&self, name: &str) -> Result<Arc<Function>, InvokeError> {
        let not_found = || {
            InvokeError::NotFound(format!(
                "arn:aws:lambda:{}:{}:function:{}",
                self.inner.region,
                self.inner.account_id,
                cfenv::text::prefix(name, 140)
            ))
        };
        let full = format!(
            "arn:aws:lambda:{}:{}:function:",
            self.inner.region, self.inner.account_id
        );
        let partial = format!("{}:function:", self.inner.account_id);
        let rest = name
            .strip_prefix(&full)
            .or_else(|| name.strip_prefix(&partial))
            .unwrap_or(name);
        let base = match rest.split_once(':') {
            Some((base, "$LATEST")) => base,
            Some(_) => return Err(not_found()),
            None => rest,
        };
        self.inner
            .functions
            .get(base)
            .cloned()
            .ok_or_else(not_found)
    }

    /// A synchronous invocation (`RequestResponse`): runs the function and returns its
    /// request id, outcome and (for `X-Amz-Log-Type: Tail`) its log output.
    pub async fn invoke(
        &self,
        function: &str,
        payload: Bytes,
        client_context: Option<String>,
    ) -> Result<SyncResult, InvokeError> {
        let f = self.function(function)?;
        let payload = check_payload(payload, SYNC_PAYLOAD_LIMIT)?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let (outcome, log) = run(
            &self.inner,
            &f,
            &request_id,
            payload,
            client_context,
            InvocationType::Sync,
            1,
            true,
        )
        .await;
        Ok(SyncResult {
            request_id,
            outcome,
            log,
        })
    }

    /// An asynchronous invocation (`Event`): queues the event and returns its request id.
    pub fn invoke_async(&self, function: &str, payload: Bytes) -> Result<String, InvokeError> {
        let f = self.function(function)?;
        let payload = check_payload(payload, ASYNC_PAYLOAD_LIMIT)?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let event = Event {
            request_id: request_id.clone(),
            payload,
            received: Instant::now(),
            attempt: 1,
        };
        f.queue.try_send(event).map_err(|_| {
            self.inner
                .counters
                .throttles
                .fetch_add(1, Ordering::Relaxed);
            InvokeError::Throttled
        })?;
        Ok(request_id)
    }

    /// Checks that `function` exists and `payload` would be accepted (`DryRun`).
    pub fn dry_run(&self, function: &str, payload: Bytes) -> Result<(), InvokeError> {
        self.function(function)?;
        check_payload(payload, SYNC_PAYLOAD_LIMIT).map(|_| ())
    }

    /// The on-failure destination's records of `function`, oldest first (Lambda's
    /// destination record: `requestContext`, `requestPayload`, `responseContext`,
    /// `responsePayload`).
    pub fn failures(&self, function: &str) -> Result<Vec<serde_json::Value>, InvokeError> {
        let f = self.function(function)?;
        Ok(f.failures
            .lock()
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default())
    }

    /// The function's asynchronous invocation settings.
    pub fn event_invoke_config(
        &self,
        function: &str,
    ) -> Result<(String, EventInvokeConfig), InvokeError> {
        let f = self.function(function)?;
        Ok((f.arn.clone(), f.config.event_invoke.clone()))
    }

    /// The function's settings.
    pub fn function_config(&self, function: &str) -> Result<(String, FunctionConfig), InvokeError> {
        let f = self.function(function)?;
        Ok((f.arn.clone(), f.config.clone()))
    }

    /// The counters so far.
    pub fn counters(&self) -> LambdaCounters {
        let c = &self.inner.counters;
        LambdaCounters {
            invocations: c.invocations.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            failed_events: c.failed_events.load(Ordering::Relaxed),
            throttles: c.throttles.load(Ordering::Relaxed),
            cold_starts: c.cold_starts.load(Ordering::Relaxed),
        }
    }

    /// Stops every idle execution environment.
    pub fn shutdown(&self) {
        for f in self.inner.functions.values() {
            if let Ok(mut idle) = f.idle.lock() {
                idle.clear();
            }
        }
    }

    pub(crate) fn identity(&self) -> Option<&AwsIdentity> {
        self.inner.identity.as_ref()
    }

    pub(crate) fn region(&self) -> &str {
        &self.inner.region
    }
}

/// A synchronous invocation's answer.
#[derive(Debug, Clone)]
pub struct SyncResult {
    /// The request id.
    pub request_id: String,
    /// The result.
    pub outcome: Outcome,
    /// The invocation's log output (at most the last 4 KB).
    pub log: Vec<u8>,
}

fn check_payload(payload: Bytes, limit: usize) -> Result<Bytes, InvokeError> {
    if payload.len() > limit {
        return Err(InvokeError::TooLarge(limit));
    }
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&payload)
        .map_err(|e| InvokeError::InvalidContent(e.to_string()))?;
    Ok(payload)
}

/// Runs one attempt on a warm or new environment; returns the outcome and the log tail.
#[allow(clippy::too_many_arguments)]
async fn run(
    inner: &Inner,
    f: &Function,
    request_id: &str,
    payload: Bytes,
    client_context: Option<String>,
    invocation_type: InvocationType,
    attempt: u32,
    last_attempt: bool,
) -> (Outcome, Vec<u8>) {
    let started_at = Utc::now();
    let started = Instant::now();
    inner.counters.invocations.fetch_add(1, Ordering::Relaxed);
    let _slot = f.slots.clone().acquire_owned().await.ok();
    let warm = f.idle.lock().ok().and_then(|mut idle| {
        while let Some(i) = idle.pop() {
            if i.alive() {
                return Some(i);
            }
        }
        None
    });
    let (instance, init) = match warm {
        Some(i) => (Ok(i), None),
        None => {
            inner.counters.cold_starts.fetch_add(1, Ordering::Relaxed);
            let env = f
                .config
                .credentials
                .as_ref()
                .map(|c| c())
                .unwrap_or_default();
            match runtime::Instance::start(&f.config, &f.region, env).await {
                Ok(i) => {
                    let d = i.init_duration;
                    (Ok(i), Some(d))
                }
                Err(b) => (Err(b), None),
            }
        }
    };
    let (outcome, log, keep) = match instance {
        Err(broken) => {
            let text = match &broken {
                runtime::Broken::InitError { error_type, .. } => format!("init error {error_type}"),
                runtime::Broken::Exited(t) => t.clone(),
            };
            tracing::warn!(function = %f.config.name, request_id, "execution environment failed to start: {text}");
            (
                runtime::broken_outcome(&broken, request_id),
                Vec::new(),
                None,
            )
        }
        Ok(instance) => {
            let mark = instance.log_mark();
            instance.platform_line(
                &f.config.name,
                &format!("START RequestId: {request_id} Version: $LATEST"),
            );
            let deadline = Utc::now() + f.config.timeout;
            let (reply, _) = oneshot::channel();
            let pending = runtime::Pending {
                request_id: request_id.to_owned(),
                payload: payload.clone(),
                deadline_ms: deadline.timestamp_millis(),
                function_arn: f.arn.clone(),
                client_context,
                reply,
            };
            let result = instance.invoke(pending, f.config.timeout).await;
            let elapsed = started.elapsed();
            instance.platform_line(&f.config.name, &format!("END RequestId: {request_id}"));
            let init_text = init.map_or_else(String::new, |d| {
                format!("\tInit Duration: {:.2} ms", d.as_secs_f64() * 1000.0)
            });
            instance.platform_line(
                &f.config.name,
                &format!(
                    "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB{init_text}",
                    elapsed.as_secs_f64() * 1000.0,
                    elapsed.as_millis().max(1),
                    f.config.memory_mb
                ),
            );
            let log = instance.log_since(mark);
            match result {
                Ok(o) => (o, log, Some(instance)),
                Err(o) => (o, log, None),
            }
        }
    };
    if let Some(i) = keep
        && let Ok(mut idle) = f.idle.lock()
    {
        idle.push(i);
    }
    if let Outcome::Error { error_type, .. } = &outcome {
        inner.counters.errors.fetch_add(1, Ordering::Relaxed);
        if error_type == "Sandbox.Timedout" {
            inner.counters.timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }
    let last = match (&outcome, invocation_type) {
        (_, InvocationType::Sync) | (Outcome::Success(_), _) => true,
        (Outcome::Error { .. }, InvocationType::Async) => last_attempt,
    };
    inner.sink.record(&InvocationRecord {
        function: f.config.name.clone(),
        request_id: request_id.to_owned(),
        invocation_type,
        attempt,
        payload,
        started_at,
        duration: started.elapsed(),
        init_duration: init,
        outcome: outcome.clone(),
        last,
    });
    (outcome, log)
}

/// The asynchronous queue of one function: runs events as they come (up to the function's
/// concurrency), retries function errors after the configured delays, and sends events that
/// failed for good, or grew too old, to the on-failure destination.
async fn drain(inner: std::sync::Weak<Inner>, f: Arc<Function>, mut rx: mpsc::Receiver<Event>) {
    while let Some(event) = rx.recv().await {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let f = f.clone();
        let weak = inner.clone();
        tokio::spawn(async move {
            let config = &f.config.event_invoke;
            if event.received.elapsed() > config.maximum_event_age {
                to_destination(&strong, &f, &event, "EventAgeExceeded", None);
                return;
            }
            let last = event.attempt > config.maximum_retry_attempts;
            let (outcome, _) = run(
                &strong,
                &f,
                &event.request_id,
                event.payload.clone(),
                None,
                InvocationType::Async,
                event.attempt,
                last,
            )
            .await;
            if let Outcome::Error { .. } = &outcome {
                if last {
                    to_destination(&strong, &f, &event, "RetriesExhausted", Some(&outcome));
                    return;
                }
                strong.counters.retries.fetch_add(1, Ordering::Relaxed);
                let delay =
                    config.retry_delays[usize::try_from(event.attempt - 1).unwrap_or(0).min(1)];
                drop(strong);
                tokio::time::sleep(delay).await;
                if weak.upgrade().is_none() {
                    return;
                }
                let retry = Event {
                    attempt: event.attempt + 1,
                    ..event
                };
                let _ = f.queue.send(retry).await;
            }
        });
    }
}

/// Keeps Lambda's destination record of an event that failed for good.
fn to_destination(
    inner: &Inner,
    f: &Function,
    event: &Event,
    condition: &str,
    outcome: Option<&Outcome>,
) {
    inner.counters.failed_events.fetch_add(1, Ordering::Relaxed);
    let payload: serde_json::Value =
        serde_json::from_slice(&event.payload).unwrap_or(serde_json::Value::Null);
    let (function_error, response) = match outcome {
        Some(Outcome::Error { body, .. }) => (
            Some("Unhandled"),
            serde_json::from_slice(body).unwrap_or(serde_json::Value::Null),
        ),
        _ => (None, serde_json::Value::Null),
    };
    let mut record = serde_json::json!({
        "version": "1.0",
        "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": format!("{}:$LATEST", f.arn),
            "condition": condition,
            "approximateInvokeCount": if outcome.is_some() { event.attempt } else { event.attempt - 1 },
        },
        "requestPayload": payload,
    });
    if outcome.is_some() {
        record["responseContext"] = serde_json::json!({
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": function_error,
        });
        record["responsePayload"] = response;
    }
    tracing::warn!(
        function = %f.config.name,
        request_id = %event.request_id,
        condition,
        "asynchronous event sent to the on-failure destination"
    );
    if let Ok(mut q) = f.failures.lock() {
        if q.len() == FAILURES_KEPT {
            q.pop_front();
        }
        q.push_back(record);
    }
}
