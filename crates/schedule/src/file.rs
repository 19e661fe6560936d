//! Schedule files: one schedule per JSON file, in the shape of EventBridge Scheduler's
//! `CreateSchedule` request — what `aws scheduler create-schedule --cli-input-json
//! file://…` takes (Amazon EventBridge Scheduler API Reference, CreateSchedule,
//! <https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html>). The
//! same files drive the local scheduler and the AWS template, so a schedule exists in exactly
//! one place.
//!
//! [`ScheduleFile::parse`] refuses unknown fields (a misspelt `ScheduleExpresion` must not be
//! ignored) and checks every field as the API does: lengths and patterns, the expression and
//! zone ([`crate::Schedule`]), `EndDate` after `StartDate`, the flexible window, the target's
//! ARNs, `Input` being JSON (Lambda targets take JSON), the retry policy's ranges, the
//! dead-letter queue being an SQS queue, `State` and `ActionAfterCompletion`. Timestamps are
//! epoch seconds or RFC 3339 strings, as the aws CLI accepts both.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::Schedule;
use crate::error::{Error, quote};

/// A schedule file, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ScheduleFile {
    /// `Name`: 1–64 of `[0-9a-zA-Z-_.]`.
    pub name: String,
    /// `GroupName` (default `default`).
    pub group_name: Option<String>,
    /// `ScheduleExpression`.
    pub schedule_expression: String,
    /// `ScheduleExpressionTimezone` (default UTC).
    pub schedule_expression_timezone: Option<String>,
    /// `StartDate`.
    pub start_date: Option<Timestamp>,
    /// `EndDate`.
    pub end_date: Option<Timestamp>,
    /// `Description`: up to 512 characters.
    pub description: Option<String>,
    /// `State`: `ENABLED` (default) or `DISABLED`.
    pub state: Option<String>,
    /// `ActionAfterCompletion`: `NONE` (default) or `DELETE`.
    pub action_after_completion: Option<String>,
    /// `FlexibleTimeWindow`.
    pub flexible_time_window: FlexibleTimeWindow,
    /// `Target`.
    pub target: Target,
    /// `KmsKeyArn`.
    pub kms_key_arn: Option<String>,
    /// `ClientToken`.
    pub client_token: Option<String>,
}

/// A timestamp as the aws CLI accepts it: epoch seconds or an RFC 3339 string.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Timestamp {
    /// Epoch seconds.
    Epoch(f64),
    /// RFC 3339 / ISO 8601.
    Text(String),
}

/// `FlexibleTimeWindow`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    /// `OFF` or `FLEXIBLE`.
    pub mode: String,
    /// 1–1440, required with `FLEXIBLE`.
    pub maximum_window_in_minutes: Option<u32>,
}

/// `Target` (the fields a Lambda target uses).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Target {
    /// The function's ARN (1–1600 characters).
    pub arn: String,
    /// The role Scheduler assumes to invoke it.
    pub role_arn: String,
    /// The payload, a JSON text (`<aws.scheduler.*>` placeholders allowed inside).
    pub input: Option<String>,
    /// `RetryPolicy`.
    pub retry_policy: Option<RetryPolicy>,
    /// `DeadLetterConfig`.
    pub dead_letter_config: Option<DeadLetterConfig>,
}

/// `RetryPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct RetryPolicy {
    /// 60–86400.
    pub maximum_event_age_in_seconds: Option<u32>,
    /// 0–185.
    pub maximum_retry_attempts: Option<u32>,
}

/// `DeadLetterConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    /// An SQS queue ARN.
    pub arn: Option<String>,
}

fn name_ok(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn timestamp(field: &str, t: &Timestamp) -> Result<DateTime<Utc>, Error> {
    match t {
        Timestamp::Epoch(secs) if secs.is_finite() => {
            DateTime::from_timestamp(secs.trunc() as i64, 0).ok_or_else(|| {
                Error::new(field, format!("{secs} is out of range"))
            })
        }
        Timestamp::Epoch(_) => Err(Error::new(field, "is not a number")),
        Timestamp::Text(text) => DateTime::parse_from_rfc3339(text)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| {
                Error::new(
                    field,
                    format!(
                        "{} is not a timestamp: use epoch seconds or RFC 3339 (2026-12-01T08:00:00Z)",
                        quote(text)
                    ),
                )
            }),
    }
}

/// `text` with every `${Name}` of `vars` replaced (the files' placeholders, such as
/// `${AccountId}` and `${Region}`, which the AWS template and the local stack fill in); an
/// unknown placeholder is an error naming it.
pub fn render(text: &str, vars: &[(&str, &str)]) -> Result<String, Error> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(close) = after.find('}') else {
            return Err(Error::new(
                "schedule file",
                "a '${' placeholder is not closed",
            ));
        };
        let name = &after[..close];
        match vars.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => out.push_str(v),
            None => {
                return Err(Error::new(
                    "schedule file",
                    format!(
                        "unknown placeholder ${{{name}}} (known: {})",
                        vars.iter()
                            .map(|(k, _)| format!("${{{k}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl ScheduleFile {
    /// Parses and checks a file's text; errors name the field (`Target.RetryPolicy.…`).
    pub fn parse(json: &str) -> Result<Self, Error> {
        let file: ScheduleFile = serde_json::from_str(json).map_err(|e| {
            // serde's message names the unknown or missing field; the position helps find it.
            Error::new(
                "schedule file",
                format!(
                    "{} (line {}, column {})",
                    cut_serde(&e),
                    e.line(),
                    e.column()
                ),
            )
        })?;
        file.check()?;
        Ok(file)
    }

    /// The schedule it describes.
    pub fn schedule(&self) -> Result<Schedule, Error> {
        let start = self
            .start_date
            .as_ref()
            .map(|t| timestamp("StartDate", t))
            .transpose()?;
        let end = self
            .end_date
            .as_ref()
            .map(|t| timestamp("EndDate", t))
            .transpose()?;
        let window = match self.flexible_time_window.mode.as_str() {
            "OFF" => None,
            "FLEXIBLE" => Some(
                self.flexible_time_window
                    .maximum_window_in_minutes
                    .ok_or_else(|| {
                        Error::new(
                            "FlexibleTimeWindow.MaximumWindowInMinutes",
                            "is required when Mode is FLEXIBLE (1 to 1440)",
                        )
                    })?,
            ),
            other => {
                return Err(Error::new(
                    "FlexibleTimeWindow.Mode",
                    format!("{} is not OFF or FLEXIBLE", quote(other)),
                ));
            }
        };
        Schedule::new(
            &self.schedule_expression,
            self.schedule_expression_timezone.as_deref(),
        )?
        .with_bounds(start, end)?
        .with_window(window)
    }

    /// True unless `State` is `DISABLED`.
    pub fn enabled(&self) -> bool {
        self.state.as_deref() != Some("DISABLED")
    }

    fn check(&self) -> Result<(), Error> {
        if !name_ok(&self.name) {
            return Err(Error::new(
                "Name",
                format!("{} is not 1 to 64 of 0-9 a-z A-Z - _ .", quote(&self.name)),
            ));
        }
        if let Some(g) = &self.group_name
            && !name_ok(g)
        {
            return Err(Error::new(
                "GroupName",
                format!("{} is not 1 to 64 of 0-9 a-z A-Z - _ .", quote(g)),
            ));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 512)
        {
            return Err(Error::new("Description", "is longer than 512 characters"));
        }
        if let Some(s) = &self.state
            && s != "ENABLED"
            && s != "DISABLED"
        {
            return Err(Error::new(
                "State",
                format!("{} is not ENABLED or DISABLED", quote(s)),
            ));
        }
        if let Some(a) = &self.action_after_completion
            && a != "NONE"
            && a != "DELETE"
        {
            return Err(Error::new(
                "ActionAfterCompletion",
                format!("{} is not NONE or DELETE", quote(a)),
            ));
        }
        if let Some(t) = &self.client_token
            && !((1..=64).contains(&t.len())
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return Err(Error::new(
                "ClientToken",
                "is not 1 to 64 of 0-9 a-z A-Z - _",
            ));
        }
        let target = &self.target;
        if !(1..=1600).contains(&target.arn.len()) || !target.arn.starts_with("arn:") {
            return Err(Error::new(
                "Target.Arn",
                "must be an ARN of 1 to 1600 characters",
            ));
        }
        if !role_arn_ok(&target.role_arn) {
            return Err(Error::new(
                "Target.RoleArn",
                format!(
                    "{} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)",
                    quote(&target.role_arn)
                ),
            ));
        }
        if let Some(input) = &target.input {
            if input.is_empty() {
                return Err(Error::new("Target.Input", "must not be empty"));
            }
            if serde_json::from_str::<serde_json::Value>(input).is_err() {
                return Err(Error::new(
                    "Target.Input",
                    "is not JSON (a Lambda target receives it as its event)",
                ));
            }
        }
        if let Some(p) = &target.retry_policy {
            if let Some(age) = p.maximum_event_age_in_seconds
                && !(60..=86_400).contains(&age)
            {
                return Err(Error::new(
                    "Target.RetryPolicy.MaximumEventAgeInSeconds",
                    format!("{age} is not 60 to 86400"),
                ));
            }
            if let Some(n) = p.maximum_retry_attempts
                && n > 185
            {
                return Err(Error::new(
                    "Target.RetryPolicy.MaximumRetryAttempts",
                    format!("{n} is not 0 to 185"),
                ));
            }
        }
        if let Some(dlq) = target
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.as_ref())
            && !(dlq.starts_with("arn:aws:sqs:") || dlq.starts_with("arn:aws-"))
        {
            return Err(Error::new(
                "Target.DeadLetterConfig.Arn",
                format!("{} is not an SQS queue ARN", quote(dlq)),
            ));
        }
        self.schedule().map(|_| ())
    }
}

fn role_arn_ok(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws") else {
        return false;
    };
    let rest = match rest.strip_prefix('-') {
        Some(r) => match r.split_once(':') {
            Some((partition, r)) if partition.bytes().all(|b| b.is_ascii_lowercase()) => r,
            _ => return false,
        },
        None => match rest.strip_prefix(':') {
            Some(r) => r,
            None => return false,
        },
    };
    let Some(rest) = rest.strip_prefix("iam::") else {
        return false;
    };
    let Some((account, role)) = rest.split_once(":role/") else {
        return false;
    };
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !role.is_empty()
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@/_-".contains(&b))
}

/// serde's message without the input it may quote (an `Input` string could be long): the
/// part before `" at line"`, cut to 200 characters.
fn cut_serde(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text);
    text.chars().take(400).collect()
}
