//! One schedule's definition as the local Scheduler keeps it: the `CreateSchedule` fields,
//! checked by [`schedule::file::ScheduleFile`] (the same checks as `bridge schedule check` and
//! the schedule files), the parsed [`Schedule`], and the fields as `GetSchedule` returns them
//! (timestamps as epoch seconds).

use chrono::{DateTime, Utc};
use schedule::Schedule;
use schedule::file::ScheduleFile;
use serde_json::{Map, Value};

/// The only schedule group the local Scheduler has.
pub const DEFAULT_GROUP: &str = "default";

/// Default `RetryPolicy.MaximumRetryAttempts` when a schedule sets none ("RetryPolicy",
/// <https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html>).
pub const DEFAULT_MAX_RETRY_ATTEMPTS: u32 = 185;

/// Default `RetryPolicy.MaximumEventAgeInSeconds` (24 hours).
pub const DEFAULT_MAX_EVENT_AGE_S: u32 = 86_400;

/// A checked schedule definition.
#[derive(Debug, Clone)]
pub struct Definition {
    /// The request as checked.
    pub file: ScheduleFile,
    /// The schedule it describes.
    pub schedule: Schedule,
    /// The fields as stored and returned: the request's, without `Name` and `ClientToken`,
    /// with `StartDate`/`EndDate` as epoch seconds.
    pub fields: Map<String, Value>,
}

fn invalid(field: &str, message: impl Into<String>) -> schedule::Error {
    schedule::Error {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl Definition {
    /// The body of a `CreateSchedule` or `UpdateSchedule` request for the schedule `name` (the
    /// name is in the path, so the body's `Name`, if any, is ignored).
    pub fn from_request(name: &str, body: &[u8]) -> Result<Self, schedule::Error> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            invalid(
                "request body",
                format!(
                    "is not a JSON object (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let Value::Object(mut fields) = value else {
            return Err(invalid("request body", "is not a JSON object"));
        };
        fields.insert("Name".to_owned(), Value::String(name.to_owned()));
        Self::from_fields(fields).map_err(|mut e| {
            // serde's refusals (an unknown or missing field) are about the body as a whole.
            if e.field == "schedule file" {
                e.field = "request body".to_owned();
            }
            e
        })
    }

    /// A schedule file's (rendered) text.
    pub fn from_file_text(text: &str) -> Result<Self, schedule::Error> {
        let file = ScheduleFile::parse(text)?;
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) else {
            return Err(invalid("schedule file", "is not a JSON object"));
        };
        Self::checked(file, fields)
    }

    /// Stored fields (with `Name`), as [`Definition::fields`] plus the name.
    pub fn from_fields(fields: Map<String, Value>) -> Result<Self, schedule::Error> {
        let text = Value::Object(fields.clone()).to_string();
        let file = ScheduleFile::parse(&text)?;
        Self::checked(file, fields)
    }

    fn checked(
        file: ScheduleFile,
        mut fields: Map<String, Value>,
    ) -> Result<Self, schedule::Error> {
        let schedule = file.schedule()?;
        if let Some(group) = &file.group_name
            && group != DEFAULT_GROUP
        {
            return Err(invalid(
                "GroupName",
                format!(
                    "schedule group {group} does not exist (the local Scheduler has only 'default')"
                ),
            ));
        }
        fields.remove("ClientToken");
        fields.remove("Name");
        for (key, at) in [("StartDate", schedule.start), ("EndDate", schedule.end)] {
            if let Some(at) = at {
                fields.insert(key.to_owned(), Value::from(at.timestamp()));
            }
        }
        Ok(Self {
            file,
            schedule,
            fields,
        })
    }

    /// The schedule's name.
    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// `State` is not `DISABLED`.
    pub fn enabled(&self) -> bool {
        self.file.enabled()
    }

    /// `ActionAfterCompletion` is `DELETE`.
    pub fn delete_after_completion(&self) -> bool {
        self.file.action_after_completion.as_deref() == Some("DELETE")
    }

    /// `Target.Arn`.
    pub fn target_arn(&self) -> &str {
        &self.file.target.arn
    }

    /// `Target.Input`.
    pub fn input(&self) -> Option<&str> {
        self.file.target.input.as_deref()
    }

    /// `RetryPolicy.MaximumRetryAttempts`, defaulted.
    pub fn max_retry_attempts(&self) -> u32 {
        self.file
            .target
            .retry_policy
            .and_then(|p| p.maximum_retry_attempts)
            .unwrap_or(DEFAULT_MAX_RETRY_ATTEMPTS)
    }

    /// `RetryPolicy.MaximumEventAgeInSeconds`, defaulted.
    pub fn max_event_age_s(&self) -> u32 {
        self.file
            .target
            .retry_policy
            .and_then(|p| p.maximum_event_age_in_seconds)
            .unwrap_or(DEFAULT_MAX_EVENT_AGE_S)
    }

    /// `DeadLetterConfig.Arn`.
    pub fn dead_letter_arn(&self) -> Option<&str> {
        self.file
            .target
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.as_deref())
    }

    /// The `GetSchedule` response.
    pub fn describe(&self, arn: &str, created: DateTime<Utc>, modified: DateTime<Utc>) -> Value {
        let mut out = self.fields.clone();
        out.insert("Name".to_owned(), Value::from(self.name()));
        out.insert("GroupName".to_owned(), Value::from(DEFAULT_GROUP));
        out.insert("Arn".to_owned(), Value::from(arn));
        out.insert("CreationDate".to_owned(), Value::from(created.timestamp()));
        out.insert(
            "LastModificationDate".to_owned(),
            Value::from(modified.timestamp()),
        );
        out.entry("State").or_insert_with(|| Value::from("ENABLED"));
        Value::Object(out)
    }
}

/// The ARN of the schedule `name` in the default group.
pub fn schedule_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:scheduler:{region}:{account_id}:schedule/{DEFAULT_GROUP}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"ScheduleExpression":"rate(5 minutes)","FlexibleTimeWindow":{"Mode":"OFF"},
        "StartDate":"2026-12-01T08:00:00Z","ClientToken":"abc",
        "Target":{"Arn":"arn:aws:lambda:eu-central-1:000000000000:function:f","RoleArn":"arn:aws:iam::000000000000:role/r","Input":"{}"}}"#;

    #[test]
    fn request_fields_are_normalised() {
        let d = Definition::from_request("n1", BODY.as_bytes()).expect("valid");
        assert_eq!(d.name(), "n1");
        assert!(d.enabled());
        assert_eq!(d.fields["StartDate"], 1_796_112_000);
        assert!(!d.fields.contains_key("ClientToken"));
        let again = {
            let mut f = d.fields.clone();
            f.insert("Name".to_owned(), Value::from("n1"));
            Definition::from_fields(f).expect("stored fields load")
        };
        assert_eq!(again.schedule, d.schedule);
        assert_eq!(d.max_retry_attempts(), 185);
        assert_eq!(d.max_event_age_s(), 86_400);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = BODY.replace("rate(5 minutes)", "rate(0 minutes)");
        let e = Definition::from_request("n1", bad.as_bytes()).expect_err("invalid");
        assert_eq!(e.field, "ScheduleExpression");
        let e = Definition::from_request("n1", b"[1]").expect_err("invalid");
        assert_eq!(e.field, "request body");
        let other_group = BODY.replace("\"ClientToken\"", "\"GroupName\":\"g\",\"ClientToken\"");
        let e = Definition::from_request("n1", other_group.as_bytes()).expect_err("invalid");
        assert_eq!(e.field, "GroupName");
    }
}
