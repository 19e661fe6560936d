//! [`LogLine`]: the one JSON log line of an invocation (and of a failed cold start), in a shape
//! CloudWatch Logs Insights discovers fields from (a flat JSON object; "Supported logs and
//! discovered fields",
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html>):
//!
//! ```text
//! {"timestamp":"2026-12-02T05:00:00.123Z","level":"INFO","message":"invocation",
//!  "requestId":"…","schedule":"arn:aws:scheduler:…","scheduledTime":"2026-12-02T05:00:00Z",
//!  "idempotencyKey":"…","target":"GET /jobs/ping","attempt":1,"status":200,"attempts":1,
//!  "durationMs":42,"outcome":"success"}
//! ```
//!
//! A failure has `"level":"ERROR"`, `"outcome":"error"`, `errorType` and `errorMessage`; a
//! 202 has `run`. Fields the invocation never got to (the schedule of an event that did not
//! parse, the status when the app never answered) are `null`. The line holds no token, secret
//! or header value: it is built from the parsed event and [`CallerError`]'s messages, which
//! hold none (see `error.rs`).

use chrono::{SecondsFormat, Utc};
use serde::Serialize;

use crate::caller::Success;
use crate::error::CallerError;
use crate::event::Invocation;

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    /// When the line was written (RFC 3339, UTC, milliseconds).
    pub timestamp: String,
    /// `INFO` or `ERROR`.
    pub level: &'static str,
    /// `invocation`, or `init` for a failed cold start.
    pub message: &'static str,
    /// Lambda's request id (absent for `init`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The schedule's ARN.
    pub schedule: Option<String>,
    /// The occurrence's nominal time.
    pub scheduled_time: Option<String>,
    /// The occurrence's idempotency key.
    pub idempotency_key: Option<String>,
    /// `METHOD /path`.
    pub target: Option<String>,
    /// Scheduler's attempt number, when known.
    pub attempt: Option<u32>,
    /// The app's last HTTP status.
    pub status: Option<u16>,
    /// HTTP attempts made.
    pub attempts: u32,
    /// Duration of the invocation so far.
    pub duration_ms: u64,
    /// `success` or `error`.
    pub outcome: &'static str,
    /// The run URL of a 202.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The stable error type of a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<&'static str>,
    /// The failure's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl LogLine {
    /// A line for invocation `request_id`, before anything is known.
    pub fn new(request_id: &str) -> Self {
        Self {
            timestamp: String::new(),
            level: "INFO",
            message: "invocation",
            request_id: Some(request_id.to_owned()),
            schedule: None,
            scheduled_time: None,
            idempotency_key: None,
            target: None,
            attempt: None,
            status: None,
            attempts: 0,
            duration_ms: 0,
            outcome: "success",
            run: None,
            error_type: None,
            error_message: None,
        }
    }

    /// The line of a cold start that failed.
    pub fn init_failed(err: &CallerError, duration_ms: u64) -> Self {
        let mut line = Self::new("");
        line.message = "init";
        line.request_id = None;
        line.finish(&Err(err.clone()), duration_ms);
        line
    }

    /// Records what the event named.
    pub fn set_invocation(&mut self, inv: &Invocation) {
        self.schedule = Some(inv.schedule_arn.clone());
        self.scheduled_time = Some(inv.nominal_time());
        self.idempotency_key = Some(inv.idempotency_key());
        self.target = Some(inv.target.to_string());
        self.attempt = inv.attempt;
    }

    /// Records the outcome and stamps the line.
    pub fn finish(&mut self, result: &Result<Success, CallerError>, duration_ms: u64) {
        self.timestamp = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        self.duration_ms = duration_ms;
        match result {
            Ok(ok) => {
                self.level = "INFO";
                self.outcome = "success";
                self.status = Some(ok.status);
                self.attempts = ok.attempts;
                self.run = ok.run.clone();
            }
            Err(err) => {
                self.level = "ERROR";
                self.outcome = "error";
                self.status = err.status();
                self.attempts = err.attempts();
                self.error_type = Some(err.error_type());
                self.error_message = Some(err.to_string());
            }
        }
    }

    /// The line as one line of JSON.
    pub fn to_json(&self) -> String {
        // Serialising this struct cannot fail (strings, numbers and options only).
        serde_json::to_string(self).unwrap_or_else(|_| "{\"message\":\"invocation\"}".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_line_names_the_error_and_stays_flat() {
        let err = CallerError::Upstream {
            target: "GET /jobs/ping".into(),
            status: 503,
            attempts: 3,
        };
        let mut line = LogLine::new("req-1");
        line.finish(&Err(err), 1234);
        let v: serde_json::Value = serde_json::from_str(&line.to_json()).expect("json");
        assert_eq!(v["level"], "ERROR");
        assert_eq!(v["requestId"], "req-1");
        assert_eq!(v["errorType"], "Caller.Retryable.Upstream5xx");
        assert_eq!(v["status"], 503);
        assert_eq!(v["attempts"], 3);
        assert_eq!(v["durationMs"], 1234);
        assert!(v["schedule"].is_null());
        assert!(
            v.as_object()
                .expect("object")
                .values()
                .all(|x| !x.is_object() && !x.is_array())
        );
        assert!(!line.to_json().contains('\n'));
    }

    #[test]
    fn init_lines_have_no_request_id() {
        let line = LogLine::init_failed(&CallerError::config("BRIDGE_APP_URL", "missing"), 3);
        let v: serde_json::Value = serde_json::from_str(&line.to_json()).expect("json");
        assert_eq!(v["message"], "init");
        assert!(v.get("requestId").is_none());
        assert_eq!(v["errorType"], "Caller.Init.Config");
    }
}
