//! Schedule files: the shipped ones are valid, and each way a file can be wrong is refused
//! naming the field.
#![allow(clippy::unwrap_used, missing_docs)]

use schedule::file::{ScheduleFile, render};

const VARS: &[(&str, &str)] = &[("AccountId", "123456789012"), ("Region", "eu-central-1")];

fn shipped() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/aws/schedules");
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_shipped_schedule_files_are_valid_and_include_the_seeds_ping() {
    let files = shipped();
    assert!(!files.is_empty());
    let mut names = Vec::new();
    for (path, text) in &files {
        let file = ScheduleFile::parse(&render(text, VARS).unwrap())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        names.push(file.name.clone());
    }
    let ping = files
        .iter()
        .map(|(_, t)| ScheduleFile::parse(&render(t, VARS).unwrap()).unwrap())
        .find(|f| f.name == "bridge-ping")
        .expect("the seed's ping schedule");
    assert_eq!(ping.schedule_expression, "rate(1 minute)");
    assert!(ping.enabled());
    let input: serde_json::Value =
        serde_json::from_str(ping.target.input.as_deref().unwrap()).unwrap();
    assert_eq!(input["path"], "/jobs/ping");
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "schedule names are unique");
}

fn ping() -> serde_json::Value {
    let (_, text) = shipped()
        .into_iter()
        .find(|(p, _)| p.ends_with("ping.json"))
        .unwrap();
    serde_json::from_str(&render(&text, VARS).unwrap()).unwrap()
}

#[test]
fn bad_files_are_refused_naming_the_field() {
    type Change = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "unknown field",
            Box::new(|v| v["ScheduleExpresion"] = "rate(1 hour)".into()),
            "unknown field `ScheduleExpresion`",
        ),
        (
            "unknown target field",
            Box::new(|v| v["Target"]["Imput"] = "{}".into()),
            "unknown field `Imput`",
        ),
        (
            "missing expression",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("ScheduleExpression");
            }),
            "missing field `ScheduleExpression`",
        ),
        (
            "bad name",
            Box::new(|v| v["Name"] = "has space".into()),
            "Name",
        ),
        (
            "input not JSON",
            Box::new(|v| v["Target"]["Input"] = "not json".into()),
            "Target.Input",
        ),
        (
            "bad expression",
            Box::new(|v| v["ScheduleExpression"] = "cron(0 12 * * * *)".into()),
            "ScheduleExpression",
        ),
        (
            "bad zone",
            Box::new(|v| v["ScheduleExpressionTimezone"] = "Nowhere/Land".into()),
            "ScheduleExpressionTimezone",
        ),
        (
            "end before start",
            Box::new(|v| {
                v["StartDate"] = 1_800_000_000.into();
                v["EndDate"] = "2026-01-01T00:00:00Z".into();
            }),
            "EndDate",
        ),
        (
            "bad timestamp",
            Box::new(|v| v["StartDate"] = "tomorrow".into()),
            "StartDate",
        ),
        (
            "flexible without a window",
            Box::new(|v| v["FlexibleTimeWindow"] = serde_json::json!({"Mode": "FLEXIBLE"})),
            "MaximumWindowInMinutes",
        ),
        (
            "window too long",
            Box::new(|v| {
                v["FlexibleTimeWindow"] =
                    serde_json::json!({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1441})
            }),
            "MaximumWindowInMinutes",
        ),
        (
            "bad mode",
            Box::new(|v| v["FlexibleTimeWindow"] = serde_json::json!({"Mode": "SOMETIMES"})),
            "FlexibleTimeWindow.Mode",
        ),
        (
            "bad state",
            Box::new(|v| v["State"] = "PAUSED".into()),
            "State",
        ),
        (
            "bad action",
            Box::new(|v| v["ActionAfterCompletion"] = "ARCHIVE".into()),
            "ActionAfterCompletion",
        ),
        (
            "retry age",
            Box::new(|v| v["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"] = 30.into()),
            "MaximumEventAgeInSeconds",
        ),
        (
            "retry attempts",
            Box::new(|v| v["Target"]["RetryPolicy"]["MaximumRetryAttempts"] = 186.into()),
            "MaximumRetryAttempts",
        ),
        (
            "role ARN",
            Box::new(|v| v["Target"]["RoleArn"] = "arn:aws:iam::123:role/x".into()),
            "Target.RoleArn",
        ),
        (
            "DLQ not SQS",
            Box::new(|v| {
                v["Target"]["DeadLetterConfig"]["Arn"] =
                    "arn:aws:sns:eu-central-1:123456789012:t".into()
            }),
            "DeadLetterConfig",
        ),
    ];
    for (case, change, says) in cases {
        let mut v = ping();
        change(&mut v);
        let err = ScheduleFile::parse(&v.to_string()).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains(says), "{case}: {err}");
    }
    assert!(ScheduleFile::parse("{").is_err());
    let err = render("${Nope}", VARS).unwrap_err();
    assert!(
        err.to_string().contains("unknown placeholder ${Nope}"),
        "{err}"
    );
}
