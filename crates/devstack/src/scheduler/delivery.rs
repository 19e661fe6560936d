//! The seams of the local Scheduler to the rest of the stack: [`Invoker`] (how a target is
//! invoked: Lambda's asynchronous `Invoke`, implemented by the local Lambda), [`DeliverySink`]
//! (where every firing, delivery attempt, retry, dead letter and skipped occurrence is reported,
//! so it can be joined with the app's run history on [`Delivery::idempotency_key`]), the dead
//! letters kept locally ([`DeadLetter`]) and the counters for metrics ([`MetricsSnapshot`]).
//!
//! [`render_input`] fills in the context attributes of `Target.Input` ("Adding context
//! attributes", <https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html>).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Why an invocation was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeFailure {
    /// Whether Scheduler retries it: throttling, a service that is unavailable or failing
    /// (Lambda's `TooManyRequestsException`, 5xx). Not retryable: the function does not exist,
    /// the request is invalid, access is denied.
    pub retryable: bool,
    /// The error code, e.g. `TooManyRequestsException` or `ResourceNotFoundException`.
    pub code: String,
    /// A message for people (no payload, no secret).
    pub message: String,
}

impl InvokeFailure {
    /// A failure Scheduler retries.
    pub fn retryable(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            retryable: true,
            code: code.into(),
            message: message.into(),
        }
    }

    /// A failure Scheduler does not retry.
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            code: code.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for InvokeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// How the Scheduler invokes its targets. Scheduler invokes Lambda asynchronously
/// (`InvocationType: Event`); its retries and dead-letter queue cover failures to deliver,
/// while errors of the function itself are Lambda's asynchronous retries' business.
#[async_trait::async_trait]
pub trait Invoker: Send + Sync {
    /// Lambda's asynchronous invocation (`InvocationType: Event`) of `function_arn` with
    /// `payload`; `Ok` when Lambda accepted the event (202), with the invocation's request id
    /// if the target has one (reported in [`Outcome::Accepted`], for joining with the
    /// Lambda's own records).
    async fn invoke_event(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
    ) -> Result<Option<String>, InvokeFailure>;
}

/// What happened to one occurrence (or one attempt of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outcome {
    /// The occurrence fired (its first attempt follows). `lateness_ms`: how long after the
    /// nominal time (a flexible window's delay included).
    Fired {
        /// Milliseconds after the nominal time.
        lateness_ms: u64,
    },
    /// The target accepted this attempt.
    Accepted {
        /// The invocation's request id (the local Lambda's), if any.
        request_id: Option<String>,
    },
    /// This attempt failed; `retry_in` is when the next one follows (`None`: no more).
    Failed {
        /// The invoker's error (`code: message`).
        error: String,
        /// The delay before the next attempt, if any.
        #[serde(rename = "retryInMs", serialize_with = "millis")]
        retry_in: Option<Duration>,
    },
    /// The retries are exhausted (or the failure was not retryable): the event went to the
    /// dead-letter queue, kept locally ([`DeadLetter`]).
    DeadLettered {
        /// The last error.
        error: String,
        /// The `DeadLetterConfig.Arn`.
        queue_arn: String,
    },
    /// As `DeadLettered`, but the schedule has no dead-letter queue: the event is dropped
    /// (Scheduler's `InvocationDroppedCount`).
    Dropped {
        /// The last error.
        error: String,
    },
    /// The occurrence was not fired: missed while the stack was down and not caught up.
    Skipped {
        /// Why.
        reason: String,
    },
}

fn millis<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        None => s.serialize_none(),
    }
}

/// One record of the delivery of one occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The schedule's name.
    pub schedule_name: String,
    /// The schedule's ARN.
    pub schedule_arn: String,
    /// The target's ARN.
    pub target_arn: String,
    /// The occurrence's nominal time.
    pub nominal_time: DateTime<Utc>,
    /// `schedule::occurrence::key(schedule_arn, nominal_time)`: the `Idempotency-Key` the
    /// caller sends and the app's run history is keyed on.
    pub idempotency_key: String,
    /// The execution (a fresh UUID per firing, the `<aws.scheduler.execution-id>`); `None` for
    /// a skipped occurrence.
    pub execution_id: Option<String>,
    /// The attempt (1 = first); 0 for `Fired` and `Skipped`.
    pub attempt: u32,
    /// What happened.
    pub outcome: Outcome,
    /// When.
    pub at: DateTime<Utc>,
}

/// Where deliveries are reported. Called on the scheduler's own task: keep it quick.
pub trait DeliverySink: Send + Sync {
    /// Records one delivery event.
    fn record(&self, delivery: &Delivery);
}

/// A sink that forgets everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSink;

impl DeliverySink for NoSink {
    fn record(&self, _delivery: &Delivery) {}
}

/// A sink that keeps the latest `capacity` records in memory (for tests and for showing recent
/// deliveries).
#[derive(Debug)]
pub struct MemorySink {
    capacity: usize,
    records: Mutex<VecDeque<Delivery>>,
}

impl MemorySink {
    /// A sink keeping at most `capacity` records (the oldest go first).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            records: Mutex::new(VecDeque::new()),
        }
    }

    /// The records kept, oldest first.
    pub fn records(&self) -> Vec<Delivery> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

impl DeliverySink for MemorySink {
    fn record(&self, delivery: &Delivery) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() >= self.capacity {
            records.pop_front();
        }
        records.push_back(delivery.clone());
    }
}

/// An event that went to a schedule's dead-letter queue, kept locally in place of the SQS
/// message. The fields are those of Scheduler's dead-letter message: the body is the rendered
/// `Input`, and the message attributes carry the error, the execution and the attempts
/// ("Configuring a dead-letter queue",
/// <https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The `DeadLetterConfig.Arn`.
    pub queue_arn: String,
    /// The schedule's name.
    pub schedule_name: String,
    /// The schedule's ARN.
    pub schedule_arn: String,
    /// The target's ARN.
    pub target_arn: String,
    /// The occurrence's nominal time.
    pub nominal_time: DateTime<Utc>,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// The execution id.
    pub execution_id: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// The last error's code.
    pub error_code: String,
    /// The last error's message.
    pub error_message: String,
    /// The event (the rendered `Input` of the last attempt).
    pub body: String,
    /// When it was dead-lettered.
    pub at: DateTime<Utc>,
}

/// The counters behind the metrics, with the recent lateness values.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) fires: AtomicU64,
    pub(crate) attempts: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) failed_attempts: AtomicU64,
    pub(crate) dead_letters: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) timer_wakes: AtomicU64,
    lateness: Mutex<VecDeque<u64>>,
}

/// How many lateness values the metrics keep.
const LATENESS_KEPT: usize = 10_000;

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn lateness(&self, ms: u64) {
        let mut l = self.lateness.lock().unwrap_or_else(|e| e.into_inner());
        if l.len() >= LATENESS_KEPT {
            l.pop_front();
        }
        l.push_back(ms);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            fires: get(&self.fires),
            attempts: get(&self.attempts),
            retries: get(&self.retries),
            accepted: get(&self.accepted),
            failed_attempts: get(&self.failed_attempts),
            dead_letters: get(&self.dead_letters),
            dropped: get(&self.dropped),
            skipped: get(&self.skipped),
            timer_wakes: get(&self.timer_wakes),
            recent_lateness_ms: self
                .lateness
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .copied()
                .collect(),
        }
    }
}

/// The scheduler's counters at one moment (for Prometheus: fires, invocations, retries, dead
/// letters, lateness).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSnapshot {
    /// Occurrences fired (catch-up fires included).
    pub fires: u64,
    /// Invocation attempts (first attempts and retries).
    pub attempts: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Attempts the target accepted.
    pub accepted: u64,
    /// Attempts that failed.
    pub failed_attempts: u64,
    /// Events sent to a dead-letter queue.
    pub dead_letters: u64,
    /// Events dropped (failed for good without a dead-letter queue).
    pub dropped: u64,
    /// Occurrences skipped (missed while down and not caught up).
    pub skipped: u64,
    /// How often the engine's timer loop woke up (a due occurrence, a change, a state save,
    /// the system clock's once-a-minute look): idle, it does not wake at all.
    pub timer_wakes: u64,
    /// The lateness of the latest fires (at most 10 000), in milliseconds after the nominal
    /// time, oldest first.
    pub recent_lateness_ms: Vec<u64>,
}

/// `Target.Input` with its context attributes filled in: `<aws.scheduler.schedule-arn>`,
/// `<aws.scheduler.scheduled-time>` (RFC 3339, UTC, whole seconds), `<aws.scheduler.execution-id>`
/// and `<aws.scheduler.attempt-number>`. Without an `Input`, the payload is `{}` (AWS documents
/// no default payload for Lambda targets; our schedule files always set one).
pub fn render_input(
    input: Option<&str>,
    schedule_arn: &str,
    nominal: DateTime<Utc>,
    execution_id: &str,
    attempt: u32,
) -> String {
    let Some(input) = input else {
        return "{}".to_owned();
    };
    input
        .replace("<aws.scheduler.schedule-arn>", schedule_arn)
        .replace(
            "<aws.scheduler.scheduled-time>",
            &schedule::occurrence::nominal_time(nominal),
        )
        .replace("<aws.scheduler.execution-id>", execution_id)
        .replace("<aws.scheduler.attempt-number>", &attempt.to_string())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn input_gets_every_context_attribute() {
        let t = Utc
            .with_ymd_and_hms(2022, 3, 22, 18, 59, 43)
            .single()
            .expect("time");
        let out = render_input(
            Some(
                r#"{"a":"<aws.scheduler.schedule-arn>","t":"<aws.scheduler.scheduled-time>","e":"<aws.scheduler.execution-id>","n":<aws.scheduler.attempt-number>}"#,
            ),
            "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/x",
            t,
            "e-1",
            3,
        );
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(
            v["a"],
            "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/x"
        );
        assert_eq!(v["t"], "2022-03-22T18:59:43Z");
        assert_eq!(v["e"], "e-1");
        assert_eq!(v["n"], 3);
        assert_eq!(render_input(None, "a", t, "e", 1), "{}");
    }
}
