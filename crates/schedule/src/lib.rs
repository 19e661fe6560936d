//! EventBridge Scheduler schedules, pure: expressions, time zones, bounds and "the next N
//! occurrences after an instant". No IO, no clock: every function takes the instants it needs.
//!
//! - [`Expression`]: `rate(value unit)`, `cron(…)` ([`cron::Cron`]) and
//!   `at(yyyy-mm-ddThh:mm:ss)`, parsed with errors that name the field and say what is allowed.
//! - [`Schedule`]: an expression in an IANA time zone (`ScheduleExpressionTimezone`, default
//!   UTC) with `StartDate`/`EndDate` and a `FlexibleTimeWindow`; [`Schedule::next_after`] and
//!   [`Schedule::occurrences`].
//! - [`file::ScheduleFile`]: a schedule file in the `CreateSchedule` request shape
//!   (`deploy/aws/schedules/*.json`), checked field by field; [`file::render`] fills in its
//!   `${AccountId}`-style placeholders.
//! - [`occurrence`]: the idempotency key of one occurrence (schedule ARN + nominal time),
//!   shared by the caller, the app's run history and the local scheduler.
//! - [`error::Error`]: the one error type.
//!
//! Time zones and daylight saving time follow Scheduler ("Schedule types on EventBridge
//! Scheduler", <https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html>):
//! cron and `at()` are read in the schedule's zone; a local time that does not exist (the
//! spring-forward gap) is skipped; a local time that happens twice (fall back) fires once, at
//! its first instant; `rate()` is a fixed interval in absolute time, whatever the zone.
//! Occurrences fall on whole minutes (Scheduler fires within the minute).
//!
//! Decisions where AWS's documentation is silent: `rate()` accepts the singular and the
//! plural unit whatever the value (`rate(1 minutes)`, `rate(5 hour)`), as Scheduler's own
//! examples mix them; an `at()` that names a local time which does not exist in its zone is an
//! error, since it would never fire.

pub mod cron;
pub mod error;
pub mod file;
pub mod occurrence;

use std::str::FromStr as _;
use std::time::Duration;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone as _, Utc};
use chrono_tz::Tz;

pub use error::Error;

use crate::error::quote;

/// A schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    /// `rate(value unit)`: every `Duration` (at least a minute), from the schedule's start.
    Rate(Duration),
    /// `cron(…)`, read in the schedule's time zone.
    Cron(Box<cron::Cron>),
    /// `at(…)`: once, at this local time in the schedule's time zone.
    At(NaiveDateTime),
}

impl Expression {
    /// Parses a `ScheduleExpression`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        const FIELD: &str = "ScheduleExpression";
        if text.is_empty() || text.len() > 256 {
            return Err(Error::new(FIELD, "must be 1 to 256 characters long"));
        }
        let inner = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(')'))
                .map(str::trim)
        };
        if let Some(body) = inner("rate(") {
            return rate(body).map(Expression::Rate);
        }
        if let Some(body) = inner("cron(") {
            return cron::Cron::parse(body).map(|c| Expression::Cron(Box::new(c)));
        }
        if let Some(body) = inner("at(") {
            return NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
                .map(Expression::At)
                .map_err(|_| {
                    Error::new(
                        FIELD,
                        format!(
                            "{} is not a date and time: at() takes yyyy-mm-ddThh:mm:ss",
                            quote(body)
                        ),
                    )
                });
        }
        Err(Error::new(
            FIELD,
            format!(
                "{} is not rate(value unit), cron(minutes hours day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)",
                quote(text)
            ),
        ))
    }
}

fn rate(body: &str) -> Result<Duration, Error> {
    const FIELD: &str = "ScheduleExpression";
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::new(
            FIELD,
            format!(
                "rate({body}) is not rate(value unit): a whole number and minute(s), hour(s) or day(s)"
            ),
        ));
    };
    let n: u64 = value
        .parse()
        .ok()
        .filter(|n| *n >= 1 && value.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            Error::new(
                FIELD,
                format!(
                    "rate value {} is not a whole number of at least 1",
                    quote(value)
                ),
            )
        })?;
    let unit_s: u64 = match unit {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => {
            return Err(Error::new(
                FIELD,
                format!(
                    "rate unit {} is not minute(s), hour(s) or day(s)",
                    quote(unit)
                ),
            ));
        }
    };
    // Far beyond any useful schedule, and small enough that instants never overflow.
    let seconds = n
        .checked_mul(unit_s)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .ok_or_else(|| Error::new(FIELD, "rate is longer than 100 years"))?;
    Ok(Duration::from_secs(seconds))
}

/// A schedule: an expression in a time zone, with optional bounds and a flexible window.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The expression.
    pub expression: Expression,
    /// `ScheduleExpressionTimezone`.
    pub timezone: Tz,
    /// `StartDate`: no occurrence before it (ignored by `at()`); a `rate()` counts from it.
    pub start: Option<DateTime<Utc>>,
    /// `EndDate`: no occurrence after it (ignored by `at()`).
    pub end: Option<DateTime<Utc>>,
    /// `FlexibleTimeWindow` in `FLEXIBLE` mode: each occurrence may run up to this much
    /// later. `None`: `OFF`.
    pub window: Option<Duration>,
}

impl Schedule {
    /// A schedule of `expression` in `timezone` (an IANA name; `None`: UTC), unbounded.
    pub fn new(expression: &str, timezone: Option<&str>) -> Result<Self, Error> {
        let expression = Expression::parse(expression)?;
        let timezone = match timezone {
            None => Tz::UTC,
            Some(name) => parse_timezone(name)?,
        };
        if let Expression::At(local) = &expression
            && matches!(timezone.from_local_datetime(local), LocalResult::None)
        {
            return Err(Error::new(
                "ScheduleExpression",
                format!(
                    "at({}) names a local time that does not exist in {} (a daylight saving time gap)",
                    local.format("%Y-%m-%dT%H:%M:%S"),
                    timezone.name()
                ),
            ));
        }
        Ok(Self {
            expression,
            timezone,
            start: None,
            end: None,
            window: None,
        })
    }

    /// The same with `StartDate` and `EndDate`.
    pub fn with_bounds(
        mut self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Self, Error> {
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            return Err(Error::new(
                "EndDate",
                format!(
                    "{} is not after StartDate {}",
                    e.to_rfc3339(),
                    s.to_rfc3339()
                ),
            ));
        }
        self.start = start;
        self.end = end;
        Ok(self)
    }

    /// The same with a flexible window of `minutes` (1–1440), or `OFF` for `None`.
    pub fn with_window(mut self, minutes: Option<u32>) -> Result<Self, Error> {
        self.window = match minutes {
            None => None,
            Some(m) if (1..=1440).contains(&m) => Some(Duration::from_secs(u64::from(m) * 60)),
            Some(m) => {
                return Err(Error::new(
                    "FlexibleTimeWindow.MaximumWindowInMinutes",
                    format!("{m} is not 1 to 1440"),
                ));
            }
        };
        Ok(self)
    }

    /// The first occurrence strictly after `after`, if any. `created` is when the schedule was
    /// made: a `rate()` without a `StartDate` counts from it, as Scheduler starts such a
    /// schedule at once.
    pub fn next_after(
        &self,
        after: DateTime<Utc>,
        created: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let found = match &self.expression {
            Expression::At(local) => {
                return self
                    .timezone
                    .from_local_datetime(local)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    .filter(|t| *t > after);
            }
            Expression::Rate(every) => {
                let anchor = self.start.unwrap_or(created);
                if after < anchor {
                    Some(anchor)
                } else {
                    let step = chrono::Duration::from_std(*every).ok()?;
                    let elapsed = (after - anchor).num_seconds();
                    let k = elapsed / step.num_seconds() + 1;
                    anchor.checked_add_signed(step.checked_mul(i32::try_from(k).ok()?)?)
                }
            }
            Expression::Cron(cron) => {
                let from = match self.start {
                    Some(s) if s > after => s - chrono::Duration::seconds(1),
                    _ => after,
                };
                let local_from = from.with_timezone(&self.timezone).date_naive();
                // The day before too: a zone west of UTC may have a matching local time on
                // the previous local date that is still after `from`.
                let first_day = local_from.pred_opt().unwrap_or(local_from);
                cron.local_times_from(first_day)
                    .filter_map(|local| match self.timezone.from_local_datetime(&local) {
                        // A repeated local time fires once, at its first instant.
                        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                            Some(t.with_timezone(&Utc))
                        }
                        // A local time in the gap does not exist: skipped.
                        LocalResult::None => None,
                    })
                    .find(|t| *t > from)
            }
        };
        found.filter(|t| self.end.is_none_or(|end| *t <= end))
    }

    /// The next `n` occurrences after `after` (fewer when the schedule ends).
    pub fn occurrences(
        &self,
        after: DateTime<Utc>,
        created: DateTime<Utc>,
        n: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n.min(1024));
        let mut cursor = after;
        while out.len() < n {
            match self.next_after(cursor, created) {
                Some(t) => {
                    out.push(t);
                    cursor = t;
                }
                None => break,
            }
        }
        out
    }
}

/// An IANA time zone name, as `ScheduleExpressionTimezone` takes it.
pub fn parse_timezone(name: &str) -> Result<Tz, Error> {
    if name.is_empty() || name.len() > 50 {
        return Err(Error::new(
            "ScheduleExpressionTimezone",
            "must be 1 to 50 characters long",
        ));
    }
    Tz::from_str(name).map_err(|_| {
        Error::new(
            "ScheduleExpressionTimezone",
            format!(
                "{} is not an IANA time zone name (such as UTC, Europe/Berlin, America/New_York)",
                quote(name)
            ),
        )
    })
}
