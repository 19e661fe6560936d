//! The two payloads the function accepts, parsed into one [`Invocation`] (pure, no IO).
//!
//! - **A Scheduler `Input`** (EventBridge Scheduler passes the target's `Input` as the whole
//!   event, after substituting its context attributes; see "Adding context attributes" in the
//!   EventBridge Scheduler user guide,
//!   <https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html>):
//!   `{"method", "path", "body"?, "scheduleArn", "scheduledTime", "attempt"?}`, as
//!   `deploy/aws/schedules/*.json` write it with `<aws.scheduler.schedule-arn>`,
//!   `<aws.scheduler.scheduled-time>` and `<aws.scheduler.attempt-number>`. Unknown fields are
//!   refused (a typo must not turn into a call of the wrong thing).
//! - **A classic EventBridge "Scheduled Event"** of a scheduled rule (the seed's set-up;
//!   "Creating a rule that runs on a schedule",
//!   <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html>):
//!   recognised by its `detail-type`; `resources[0]` is the schedule (the rule's ARN) and `time`
//!   the nominal time. The call is `detail.method`/`detail.path`/`detail.body` when `detail`
//!   names a path, else the configured default target (`BRIDGE_DEFAULT_TARGET`).
//!
//! Checks: the method is one of [`Method`]; the path starts with one `/`, is a path (and an
//! optional query) only — no scheme, host, `//`, `\`, fragment, dot segments (also
//! percent-encoded), spaces or control characters — so it can only ever address the configured
//! app; the body is JSON and not allowed with `GET`/`DELETE`; the schedule is an ARN; the time
//! is RFC 3339. A placeholder Scheduler did not substitute (the function invoked by hand with a
//! schedule's `Input`) is refused naming the field.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::CallerError;

/// Longest schedule ARN accepted (Scheduler's `Target.Arn` limit is 1600).
const MAX_ARN: usize = 1600;
/// Longest path accepted.
const MAX_PATH: usize = 2048;

/// The HTTP methods a schedule may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// Parses an upper-case method name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "GET" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            _ => return None,
        })
    }

    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    fn allows_body(self) -> bool {
        !matches!(self, Self::Get | Self::Delete)
    }
}

/// What to call: a method and a path (with an optional query) below the app's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The method.
    pub method: Method,
    /// The path, checked by [`check_path`].
    pub path: String,
}

impl Target {
    /// Parses `METHOD /path` (the form of `BRIDGE_DEFAULT_TARGET`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (method, path) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| "expected `METHOD /path`, e.g. `GET /jobs/ping`".to_owned())?;
        let method = Method::parse(method).ok_or_else(|| method_reason(method))?;
        let path = path.trim();
        check_path(path)?;
        Ok(Self {
            method,
            path: path.to_owned(),
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

/// Which payload the invocation came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Scheduler `Input`.
    Scheduler,
    /// A classic EventBridge scheduled event.
    EventBridgeRule,
}

/// One invocation, whichever payload it came with.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// What to call.
    pub target: Target,
    /// The JSON body to send, if any.
    pub body: Option<Value>,
    /// The schedule's ARN (Scheduler schedule, or EventBridge rule).
    pub schedule_arn: String,
    /// The occurrence's nominal time.
    pub scheduled_time: DateTime<Utc>,
    /// Scheduler's attempt number, when the payload carries it.
    pub attempt: Option<u32>,
    /// Which payload it was.
    pub source: Source,
}

impl Invocation {
    /// The `Idempotency-Key` of this occurrence (the same for every retry of it).
    pub fn idempotency_key(&self) -> String {
        schedule::occurrence::key(&self.schedule_arn, self.scheduled_time)
    }

    /// The nominal time as sent in `X-Bridge-Scheduled-Time`.
    pub fn nominal_time(&self) -> String {
        schedule::occurrence::nominal_time(self.scheduled_time)
    }
}

/// Parses an event; `default` is the call for a classic scheduled event that names none.
pub fn parse(payload: &Value, default: &Target) -> Result<Invocation, CallerError> {
    let Some(object) = payload.as_object() else {
        return Err(CallerError::bad_event(
            "event",
            format!("expected a JSON object, got {}", kind(payload)),
        ));
    };
    if object.contains_key("detail-type") {
        parse_rule_event(payload, object, default)
    } else {
        parse_input(object)
    }
}

const INPUT_FIELDS: &[&str] = &[
    "method",
    "path",
    "body",
    "scheduleArn",
    "scheduledTime",
    "attempt",
];

fn parse_input(object: &Map<String, Value>) -> Result<Invocation, CallerError> {
    if let Some(unknown) = object.keys().find(|k| !INPUT_FIELDS.contains(&k.as_str())) {
        return Err(CallerError::bad_event(
            "event",
            format!(
                "unknown field `{}`; a Scheduler Input has {}",
                printable(unknown),
                INPUT_FIELDS.join(", ")
            ),
        ));
    }
    let target = target_of(object)?;
    let body = body_of(object, target.method)?;
    let schedule_arn = arn(required_str(object, "scheduleArn")?, "scheduleArn")?;
    let scheduled_time = time(required_str(object, "scheduledTime")?, "scheduledTime")?;
    let attempt = match object.get("attempt") {
        None | Some(Value::Null) => None,
        Some(value) => Some(attempt(value)?),
    };
    Ok(Invocation {
        target,
        body,
        schedule_arn,
        scheduled_time,
        attempt,
        source: Source::Scheduler,
    })
}

fn parse_rule_event(
    payload: &Value,
    object: &Map<String, Value>,
    default: &Target,
) -> Result<Invocation, CallerError> {
    // `time` is optional in the envelope's type, but without it there is no occurrence.
    match object.get("time") {
        None | Some(Value::Null) => {
            return Err(CallerError::bad_event(
                "time",
                "missing: a scheduled event carries its nominal time in `time`",
            ));
        }
        Some(Value::String(t)) => {
            time(t, "time")?;
        }
        Some(other) => {
            return Err(CallerError::bad_event(
                "time",
                format!("expected an RFC 3339 string, got {}", kind(other)),
            ));
        }
    }
    let event: EventBridgeEvent<Value> = serde_json::from_value(payload.clone()).map_err(|e| {
        CallerError::bad_event(
            "event",
            format!("not an EventBridge event ({})", cfenv::text::json_error(&e)),
        )
    })?;
    if event.detail_type != "Scheduled Event" {
        return Err(CallerError::bad_event(
            "detail-type",
            format!(
                "expected `Scheduled Event`, got `{}`",
                printable(&event.detail_type)
            ),
        ));
    }
    let Some(scheduled_time) = event.time else {
        return Err(CallerError::bad_event("time", "missing"));
    };
    let schedule_arn = match event.resources.as_deref() {
        Some([first, ..]) => arn(first, "resources")?,
        _ => {
            return Err(CallerError::bad_event(
                "resources",
                "missing or empty: resources[0] names the rule",
            ));
        }
    };
    let (target, body) = match event.detail.as_object() {
        Some(detail) if detail.contains_key("path") => {
            let target = target_of(detail)?;
            let body = body_of(detail, target.method)?;
            (target, body)
        }
        _ => (default.clone(), None),
    };
    Ok(Invocation {
        target,
        body,
        schedule_arn,
        scheduled_time,
        attempt: None,
        source: Source::EventBridgeRule,
    })
}

fn target_of(object: &Map<String, Value>) -> Result<Target, CallerError> {
    let method = required_str(object, "method")?;
    let method = Method::parse(method)
        .ok_or_else(|| CallerError::bad_event("method", method_reason(method)))?;
    let path = required_str(object, "path")?;
    check_path(path).map_err(|reason| CallerError::bad_event("path", reason))?;
    Ok(Target {
        method,
        path: path.to_owned(),
    })
}

fn body_of(object: &Map<String, Value>, method: Method) -> Result<Option<Value>, CallerError> {
    match object.get("body") {
        None | Some(Value::Null) => Ok(None),
        Some(_) if !method.allows_body() => Err(CallerError::bad_event(
            "body",
            format!("not allowed with {}", method.as_str()),
        )),
        Some(body) => Ok(Some(body.clone())),
    }
}

fn method_reason(method: &str) -> String {
    format!(
        "`{}` is not allowed; use GET, POST, PUT, PATCH or DELETE",
        printable(method)
    )
}

fn required_str<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, CallerError> {
    match object.get(field) {
        None | Some(Value::Null) => Err(CallerError::bad_event(field, "missing")),
        Some(Value::String(s)) => {
            if s.starts_with("<aws.") && s.ends_with('>') {
                Err(CallerError::bad_event(
                    field,
                    format!(
                        "still the placeholder `{}`: Scheduler substitutes it when it delivers \
                         the schedule; invoking by hand needs a real value",
                        printable(s)
                    ),
                ))
            } else {
                Ok(s)
            }
        }
        Some(other) => Err(CallerError::bad_event(
            field,
            format!("expected a string, got {}", kind(other)),
        )),
    }
}

/// A path (and optional query) below the app's URL; `Err` says what is wrong.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty; expected a path such as /jobs/ping".into());
    }
    if path.len() > MAX_PATH {
        return Err(format!("longer than {MAX_PATH} characters"));
    }
    if !path.starts_with('/') {
        return Err("must start with `/` (a path below the app's URL, not a URL)".into());
    }
    if path.starts_with("//") {
        return Err("must not start with `//` (that would name another host)".into());
    }
    if let Some(bad) = path.chars().find(|c| !allowed_char(*c)) {
        return Err(match bad {
            '#' => "must not have a fragment (`#`)".into(),
            '\\' => "must not contain `\\`".into(),
            c if c.is_control() || c == ' ' => {
                "must not contain spaces or control characters".into()
            }
            c => format!("must not contain `{c}` (percent-encode it)"),
        });
    }
    let only_path = path.split('?').next().unwrap_or(path);
    if only_path.contains("//") {
        return Err("must not contain an empty segment (`//`)".into());
    }
    for segment in only_path.split('/') {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        if decoded == "." || decoded == ".." {
            return Err("must not contain `.` or `..` segments".into());
        }
        if segment.to_ascii_lowercase().contains("%2f") || segment.contains("%5c") {
            return Err("must not contain an encoded `/` or `\\`".into());
        }
    }
    Ok(())
}

/// RFC 3986 `pchar`s plus `/` and `?`.
fn allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@%/?".contains(c)
}

fn arn(value: &str, field: &'static str) -> Result<String, CallerError> {
    if !value.starts_with("arn:") || value.split(':').count() < 6 {
        return Err(CallerError::bad_event(
            field,
            "expected an ARN (arn:aws:scheduler:REGION:ACCOUNT:schedule/GROUP/NAME)",
        ));
    }
    if value.len() > MAX_ARN || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(CallerError::bad_event(
            field,
            format!("expected an ARN of at most {MAX_ARN} printable ASCII characters"),
        ));
    }
    Ok(value.to_owned())
}

fn time(value: &str, field: &'static str) -> Result<DateTime<Utc>, CallerError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            CallerError::bad_event(
                field,
                format!(
                    "`{}` is not an RFC 3339 time such as 2026-12-02T05:00:00Z",
                    printable(value)
                ),
            )
        })
}

fn attempt(value: &Value) -> Result<u32, CallerError> {
    let bad = || {
        CallerError::bad_event(
            "attempt",
            "expected a positive integer (or its decimal string)",
        )
    };
    let n = match value {
        Value::Number(n) => n.as_u64().ok_or_else(bad)?,
        Value::String(s) if s.starts_with("<aws.") => {
            return Err(CallerError::bad_event(
                "attempt",
                format!("still the placeholder `{}`", printable(s)),
            ));
        }
        Value::String(s) => s.parse::<u64>().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(bad)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Event text repeated in a message: one line, at most 100 characters.
fn printable(text: &str) -> String {
    use cfenv::text::{Controls, Ellipsis};
    cfenv::text::cut(text, 100, Controls::Drop, Ellipsis::WhenCut)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ARN: &str = "arn:aws:scheduler:eu-central-1:123456789012:schedule/default/bridge-ping";
    const RULE: &str = "arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule";

    fn default() -> Target {
        Target::parse("GET /jobs/ping").expect("default target")
    }

    fn field_of(result: Result<Invocation, CallerError>) -> String {
        match result {
            Err(CallerError::BadEvent { field, reason }) => format!("{field}: {reason}"),
            other => panic!("expected BadEvent, got {other:?}"),
        }
    }

    #[test]
    fn the_ping_schedules_input_after_substitution() {
        // deploy/aws/schedules/ping.json's Input with Scheduler's substitutions.
        let input = json!({"method":"GET","path":"/jobs/ping","scheduleArn":ARN,
            "scheduledTime":"2026-12-02T05:00:00Z","attempt":"1"});
        let inv = parse(&input, &default()).expect("valid");
        assert_eq!(inv.target.to_string(), "GET /jobs/ping");
        assert_eq!(inv.schedule_arn, ARN);
        assert_eq!(inv.nominal_time(), "2026-12-02T05:00:00Z");
        assert_eq!(inv.attempt, Some(1));
        assert_eq!(inv.source, Source::Scheduler);
        assert_eq!(inv.body, None);
        assert_eq!(
            inv.idempotency_key(),
            schedule::occurrence::key(ARN, inv.scheduled_time)
        );
    }

    #[test]
    fn the_ping_file_input_parses_once_substituted() {
        let file = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/aws/schedules/ping.json"
        ))
        .expect("ping.json");
        let file: Value = serde_json::from_str(&file).expect("json");
        let input = file["Target"]["Input"].as_str().expect("Input");
        let substituted = input
            .replace("<aws.scheduler.schedule-arn>", ARN)
            .replace("<aws.scheduler.scheduled-time>", "2026-12-02T05:00:00Z")
            .replace("<aws.scheduler.attempt-number>", "2");
        let inv = parse(
            &serde_json::from_str(&substituted).expect("json"),
            &default(),
        )
        .expect("valid");
        assert_eq!(inv.attempt, Some(2));
        // Unsubstituted, each placeholder is named.
        let raw: Value = serde_json::from_str(input).expect("json");
        assert!(
            field_of(parse(&raw, &default())).starts_with("scheduleArn: still the placeholder")
        );
    }

    #[test]
    fn the_classic_scheduled_event() {
        // The example of the EventBridge user guide.
        let event = json!({"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",
            "time":"2015-10-08T16:53:06Z","region":"us-east-1","resources":[RULE],"detail":{}});
        let inv = parse(&event, &default()).expect("valid");
        assert_eq!(inv.schedule_arn, RULE);
        assert_eq!(inv.nominal_time(), "2015-10-08T16:53:06Z");
        assert_eq!(inv.target, default());
        assert_eq!(inv.source, Source::EventBridgeRule);
        assert_eq!(inv.attempt, None);
        // `detail` may name the call.
        let mut with_detail = event.clone();
        with_detail["detail"] = json!({"method":"POST","path":"/jobs/x","body":{"a":1}});
        let inv = parse(&with_detail, &default()).expect("valid");
        assert_eq!(inv.target.to_string(), "POST /jobs/x");
        assert_eq!(inv.body, Some(json!({"a":1})));
    }

    #[test]
    fn bad_events_name_the_field() {
        let good = json!({"method":"POST","path":"/jobs/ping","scheduleArn":ARN,
            "scheduledTime":"2026-12-02T05:00:00Z"});
        let with = |field: &str, value: Value| {
            let mut v = good.clone();
            v[field] = value;
            v
        };
        let without = |field: &str| {
            let mut v = good.clone();
            v.as_object_mut().expect("object").remove(field);
            v
        };
        let rule = json!({"detail-type":"Scheduled Event","source":"aws.events",
            "resources":[RULE],"detail":{}});
        let cases: Vec<(Value, &str)> = vec![
            (json!([1]), "event: expected a JSON object, got an array"),
            (with("pth", json!("/x")), "event: unknown field `pth`"),
            (without("method"), "method: missing"),
            (
                with("method", json!("TRACE")),
                "method: `TRACE` is not allowed",
            ),
            (with("method", json!("get")), "method: `get` is not allowed"),
            (
                with("method", json!(1)),
                "method: expected a string, got a number",
            ),
            (without("path"), "path: missing"),
            (
                with("path", json!("https://evil.example/x")),
                "path: must start with `/`",
            ),
            (
                with("path", json!("//evil.example/x")),
                "path: must not start with `//`",
            ),
            (
                with("path", json!("/jobs//x")),
                "path: must not contain an empty segment",
            ),
            (
                with("path", json!("/jobs/../admin")),
                "path: must not contain `.` or `..`",
            ),
            (
                with("path", json!("/jobs/%2E%2e/admin")),
                "path: must not contain `.` or `..`",
            ),
            (
                with("path", json!("/jobs/a%2fb")),
                "path: must not contain an encoded",
            ),
            (
                with("path", json!("/jobs/x#frag")),
                "path: must not have a fragment",
            ),
            (
                with("path", json!("/jobs\\x")),
                "path: must not contain `\\`",
            ),
            (
                with("path", json!("/jobs/a b")),
                "path: must not contain spaces",
            ),
            (with("path", json!("")), "path: empty"),
            (without("scheduleArn"), "scheduleArn: missing"),
            (
                with("scheduleArn", json!("bridge-ping")),
                "scheduleArn: expected an ARN",
            ),
            (without("scheduledTime"), "scheduledTime: missing"),
            (
                with("scheduledTime", json!("yesterday")),
                "scheduledTime: `yesterday` is not an RFC 3339",
            ),
            (
                with("attempt", json!(0)),
                "attempt: expected a positive integer",
            ),
            (
                with("attempt", json!("x")),
                "attempt: expected a positive integer",
            ),
            (
                with("attempt", json!("<aws.scheduler.attempt-number>")),
                "attempt: still the placeholder",
            ),
            (
                json!({"method":"GET","path":"/x","body":{},"scheduleArn":ARN,
                    "scheduledTime":"2026-12-02T05:00:00Z"}),
                "body: not allowed with GET",
            ),
            (rule.clone(), "time: missing"),
            (
                {
                    let mut r = rule.clone();
                    r["time"] = json!(12);
                    r
                },
                "time: expected an RFC 3339 string, got a number",
            ),
            (
                {
                    let mut r = rule.clone();
                    r["time"] = json!("2015-10-08T16:53:06Z");
                    r["resources"] = json!([]);
                    r
                },
                "resources: missing or empty",
            ),
            (
                {
                    let mut r = rule.clone();
                    r["time"] = json!("2015-10-08T16:53:06Z");
                    r["detail-type"] = json!("EC2 Instance State-change Notification");
                    r
                },
                "detail-type: expected `Scheduled Event`",
            ),
            (
                {
                    let mut r = rule.clone();
                    r["time"] = json!("2015-10-08T16:53:06Z");
                    r.as_object_mut().expect("object").remove("detail");
                    r
                },
                "event: not an EventBridge event",
            ),
        ];
        for (event, expected) in cases {
            let got = field_of(parse(&event, &default()));
            assert!(
                got.starts_with(expected),
                "{event}: got {got:?}, want {expected:?}"
            );
        }
    }

    #[test]
    fn paths_that_stay_below_the_app() {
        for ok in [
            "/",
            "/jobs/ping",
            "/jobs/cleanup?days=30&dry=true",
            "/jobs/a%20b",
            "/jobs/v1.2/x..y",
            "/jobs/ping?next=/a//b",
        ] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn default_targets() {
        assert_eq!(
            Target::parse("POST /jobs/x").expect("valid").to_string(),
            "POST /jobs/x"
        );
        assert!(Target::parse("/jobs/x").is_err());
        assert!(Target::parse("FETCH /jobs/x").is_err());
        assert!(Target::parse("GET jobs").is_err());
    }
}
