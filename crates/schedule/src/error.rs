//! The schedule crate's one error type.
//!
//! Policy: every error names the field it is about (`ScheduleExpression`,
//! `ScheduleExpressionTimezone`, `StartDate`, …, and for cron expressions the cron field:
//! `Day-of-week`) and says what is allowed there, the way EventBridge Scheduler's
//! `ValidationException` does, so `bridge schedule check` and the local Scheduler API can show
//! it as it is. Inputs are quoted cut to 64 characters; schedules hold no secrets.

/// A schedule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Error {
    /// The field, e.g. `ScheduleExpression` or `cron Day-of-week`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Error {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `input` for an error message: at most 64 characters, control characters replaced.
pub(crate) fn quote(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if input.chars().count() > 64 {
        out.push('…');
    }
    format!("'{out}'")
}
