//! `schedule`: what the scheduled path parses from outside. [`schedule::Expression::parse`]
//! and [`schedule::Schedule::new`] (expressions and IANA zones, as the Scheduler API and
//! `bridge schedule next` take them), [`schedule::Schedule::occurrences`] on what parses,
//! [`schedule::file::ScheduleFile::parse`] (schedule files and `CreateSchedule` bodies), and
//! [`caller::event::parse`] (what the Lambda function receives: a Scheduler `Input` or a
//! classic EventBridge Scheduled Event).
//!
//! Seeds: every expression form with every cron special character, the zones with
//! daylight-saving days, the seed's schedule file, and both event shapes. Mutations: token
//! edits on expressions, tree edits on the JSON documents with the shapes' member names.
//!
//! Properties: occurrences are strictly increasing, after the instant asked for, on or after
//! `StartDate` and not after `EndDate` (`at()` ignores both); an accepted event's path starts
//! with one `/` and has no dot segment, so the token goes to a path of the app only.

use chrono::{DateTime, TimeZone as _, Utc};
use fastrand::Rng;
use serde_json::{Value, json};

use super::keep_in;
use crate::harness::{Target, Verdict};
use crate::mutate::{self, Json, chance, pick};

const EXPRESSIONS: &[&str] = &[
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(2 hours)",
    "rate(1 day)",
    "cron(0 12 * * ? *)",
    "cron(0/5 8-17 ? * MON-FRI *)",
    "cron(15 10 ? * 6L 2019-2030)",
    "cron(0 9 L * ? *)",
    "cron(0 9 3W * ? *)",
    "cron(0 9 ? * 3#2 *)",
    "cron(30 2 * * ? *)",
    "cron(0 20-2 ? * SUN-SAT *)",
    "cron(0,15,30,45 * 29 FEB ? 2028-2040/4)",
    "at(2026-12-01T08:00:00)",
    "at(2026-03-29T02:30:00)",
];

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/St_Johns",
    "Etc/GMT+12",
    "Not/AZone",
    "",
];

const TOKENS: &[&str] = &[
    "rate(",
    "cron(",
    "at(",
    ")",
    " ",
    "*",
    "?",
    "/",
    "-",
    ",",
    "L",
    "W",
    "#",
    "0",
    "1",
    "7",
    "12",
    "23",
    "31",
    "59",
    "60",
    "2199",
    "1969",
    "JAN",
    "DEC",
    "MON",
    "SUN",
    "minute",
    "minutes",
    "hour",
    "days",
    "T",
    ":",
    "99999999999999999999",
];

const KEYS: &[&str] = &[
    "Name",
    "GroupName",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "EndDate",
    "FlexibleTimeWindow",
    "Mode",
    "MaximumWindowInMinutes",
    "State",
    "Target",
    "Arn",
    "RoleArn",
    "Input",
    "RetryPolicy",
    "MaximumEventAgeInSeconds",
    "MaximumRetryAttempts",
    "DeadLetterConfig",
    "ActionAfterCompletion",
    "method",
    "path",
    "body",
    "scheduleArn",
    "scheduledTime",
    "attempt",
    "detail-type",
    "source",
    "time",
    "resources",
    "detail",
];

const STRINGS: &[&str] = &[
    "FLEXIBLE",
    "OFF",
    "ENABLED",
    "DISABLED",
    "DELETE",
    "NONE",
    "GET",
    "POST",
    "TRACE",
    "/jobs/ping",
    "//evil.example/x",
    "/jobs/../admin",
    "/jobs/%2e%2e/x",
    "/jobs/ping?x=1#f",
    "http://evil.example/",
    "\\\\x",
    "<aws.scheduler.scheduled-time>",
    "2026-12-02T05:00:00Z",
    "2026-12-02T05:00:00+01:00",
    "9999-12-31T23:59:59Z",
    "Scheduled Event",
    "aws.events",
    "arn:aws:scheduler:eu-central-1:123456789012:schedule/default/x",
    "{\"method\":\"GET\"}",
    "not json",
];

const FILE: &str = include_str!("../../../../deploy/aws/schedules/ping.json");

fn seeds() -> Vec<Value> {
    let arn = "arn:aws:scheduler:eu-central-1:123456789012:schedule/default/bridge-ping";
    let file: Value = serde_json::from_str(FILE).unwrap_or(Value::Null);
    vec![
        file,
        json!({"method": "GET", "path": "/jobs/ping", "scheduleArn": arn,
               "scheduledTime": "2026-12-02T05:00:00Z", "attempt": "1"}),
        json!({"method": "POST", "path": "/jobs/sleep?seconds=1", "body": {"a": 1},
               "scheduleArn": arn, "scheduledTime": "2026-12-02T05:00:00Z", "attempt": 2}),
        json!({"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
               "detail-type": "Scheduled Event", "source": "aws.events",
               "account": "123456789012", "time": "2015-10-08T16:53:06Z",
               "region": "us-east-1",
               "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"],
               "detail": {}}),
    ]
}

/// One input: an expression with a zone and two instants, or a JSON document.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    /// An expression, a zone, an instant to start after and optional bounds (epoch seconds).
    Expression {
        /// `ScheduleExpression`.
        expression: String,
        /// `ScheduleExpressionTimezone`.
        zone: String,
        /// The instant to look after.
        after: i64,
        /// `StartDate`/`EndDate`.
        bounds: Option<(i64, i64)>,
    },
    /// A schedule file or an event, as text.
    Document(String),
}

pub(crate) struct ScheduleTarget {
    pool: Vec<Input>,
    docs: Vec<Value>,
}

impl ScheduleTarget {
    pub(crate) fn new() -> Self {
        Self {
            pool: Vec::new(),
            docs: seeds(),
        }
    }
}

fn instant(rng: &mut Rng) -> i64 {
    // 1970 … 2200, biased to the years around now.
    if chance(rng, 70) {
        rng.i64(1_700_000_000..1_900_000_000)
    } else {
        rng.i64(-100_000_000..7_300_000_000)
    }
}

fn mutate_expression(rng: &mut Rng, text: &str) -> String {
    let mut tokens: Vec<String> = text.split(' ').map(str::to_owned).collect();
    for _ in 0..mutate::small_count(rng) {
        match rng.u8(..4) {
            0 if !tokens.is_empty() => {
                let i = rng.usize(..tokens.len());
                tokens[i] = (*pick(rng, TOKENS)).to_owned();
            }
            1 => {
                let i = rng.usize(..=tokens.len());
                tokens.insert(i, (*pick(rng, TOKENS)).to_owned());
            }
            2 if !tokens.is_empty() => {
                let i = rng.usize(..tokens.len());
                tokens.remove(i);
            }
            _ => {
                let joined = tokens.join(" ");
                return mutate::text(rng, &joined, TOKENS, 300);
            }
        }
    }
    tokens.join(" ")
}

impl Target for ScheduleTarget {
    type Input = Input;

    const NAME: &'static str = "schedule";

    fn generate(&mut self, rng: &mut Rng) -> Input {
        if !self.pool.is_empty() && chance(rng, 30) {
            let base = pick(rng, &self.pool).clone();
            return match base {
                Input::Expression {
                    expression, zone, ..
                } => Input::Expression {
                    expression: mutate_expression(rng, &expression),
                    zone,
                    after: instant(rng),
                    bounds: None,
                },
                Input::Document(text) => Input::Document(mutate::text(rng, &text, STRINGS, 4096)),
            };
        }
        if chance(rng, 55) {
            let expression = if chance(rng, 20) {
                mutate::soup(rng, TOKENS, 80)
            } else {
                {
                    let base = *pick(rng, EXPRESSIONS);
                    mutate_expression(rng, base)
                }
            };
            let bounds = chance(rng, 30).then(|| {
                let a = instant(rng);
                (a, a + rng.i64(-86_400..86_400 * 400))
            });
            return Input::Expression {
                expression,
                zone: (*pick(rng, ZONES)).to_owned(),
                after: instant(rng),
                bounds,
            };
        }
        let mut doc = pick(rng, &self.docs).clone();
        let json = Json {
            keys: KEYS,
            strings: STRINGS,
        };
        json.mutate(rng, &mut doc, false);
        Input::Document(json.write(rng, &doc, STRINGS, 4096))
    }

    fn execute(&mut self, input: &Input) -> Verdict {
        match input {
            Input::Expression {
                expression,
                zone,
                after,
                bounds,
            } => expression_verdict(expression, zone, *after, *bounds),
            Input::Document(text) => document_verdict(text),
        }
    }

    fn keep(&mut self, input: Input, rng: &mut Rng) {
        keep_in(&mut self.pool, input, rng);
    }

    fn encode(input: &Input) -> Vec<u8> {
        let v = match input {
            Input::Expression {
                expression,
                zone,
                after,
                bounds,
            } => json!({"expression": expression, "zone": zone, "after": after, "bounds": bounds}),
            Input::Document(text) => json!({ "document": text }),
        };
        v.to_string().into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Input> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        if let Some(text) = v.get("document").and_then(Value::as_str) {
            return Some(Input::Document(text.to_owned()));
        }
        Some(Input::Expression {
            expression: v.get("expression")?.as_str()?.to_owned(),
            zone: v.get("zone")?.as_str()?.to_owned(),
            after: v.get("after")?.as_i64()?,
            bounds: v
                .get("bounds")
                .and_then(Value::as_array)
                .and_then(|b| Some((b.first()?.as_i64()?, b.get(1)?.as_i64()?))),
        })
    }
}

fn at(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

fn expression_verdict(
    expression: &str,
    zone: &str,
    after: i64,
    bounds: Option<(i64, i64)>,
) -> Verdict {
    let zone = (!zone.is_empty()).then_some(zone);
    let Ok(schedule) = schedule::Schedule::new(expression, zone) else {
        return Verdict::Rejected;
    };
    let schedule = match bounds {
        Some((start, end)) => match schedule.with_bounds(at(start), at(end)) {
            Ok(s) => s,
            Err(_) => return Verdict::Rejected,
        },
        None => schedule,
    };
    let Some(after) = at(after) else {
        return Verdict::Rejected;
    };
    let occurrences = schedule.occurrences(after, after, 20);
    let bounded = !matches!(schedule.expression, schedule::Expression::At(_));
    let mut previous = after;
    for o in &occurrences {
        if *o <= previous {
            return Verdict::Violation(format!("{o} is not after {previous}"));
        }
        if bounded
            && (schedule.start.is_some_and(|s| *o < s) || schedule.end.is_some_and(|e| *o > e))
        {
            return Verdict::Violation(format!("{o} is outside the bounds"));
        }
        previous = *o;
    }
    Verdict::Accepted
}

fn document_verdict(text: &str) -> Verdict {
    let mut accepted = false;
    if let Ok(file) = schedule::file::ScheduleFile::parse(text) {
        accepted = true;
        let _ = file.schedule();
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let default = caller::event::Target {
            method: caller::event::Method::Get,
            path: "/jobs/ping".into(),
        };
        if let Ok(inv) = caller::event::parse(&value, &default) {
            accepted = true;
            let path = &inv.target.path;
            let only_path = path.starts_with('/')
                && !path.starts_with("//")
                && !path
                    .split(['?', '#'])
                    .next()
                    .unwrap_or_default()
                    .split('/')
                    .any(|seg| seg == ".." || seg == ".");
            if !only_path {
                return Verdict::Violation(format!("accepted path {path:?}"));
            }
        }
    }
    if accepted {
        Verdict::Accepted
    } else {
        Verdict::Rejected
    }
}
