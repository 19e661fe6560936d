//! Schedules as tables: each row an expression (with zone and bounds) and the occurrences it
//! must give after an instant, or the error it must be refused with. One `check` helper calls
//! the API.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Utc};
use schedule::Schedule;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The first `want.len()` occurrences of `expr` in `tz` after `after` are `want` (UTC).
fn check(expr: &str, tz: Option<&str>, after: &str, want: &[&str]) {
    let s = Schedule::new(expr, tz).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let got: Vec<String> = s
        .occurrences(t(after), t(after), want.len())
        .iter()
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect();
    assert_eq!(got, want, "{expr} in {tz:?} after {after}");
}

fn refused(expr: &str, tz: Option<&str>, field: &str, says: &str) {
    let err = Schedule::new(expr, tz).map(|_| ()).unwrap_err();
    assert!(
        err.field.contains(field) && err.message.contains(says),
        "{expr}: got {err}, want field {field} saying {says:?}"
    );
}

#[test]
fn cron_fields_and_special_characters() {
    let rows: &[(&str, &str, &[&str])] = &[
        // Daily at noon; every 5 minutes in office hours on weekdays.
        (
            "cron(0 12 * * ? *)",
            "2026-03-10T11:00:00Z",
            &["2026-03-10T12:00:00Z", "2026-03-11T12:00:00Z"],
        ),
        (
            "cron(0/5 8-17 ? * MON-FRI *)",
            "2026-03-13T17:54:00Z",
            &["2026-03-13T17:55:00Z", "2026-03-16T08:00:00Z"],
        ),
        // Lists, ranges, steps from a start.
        (
            "cron(1,31 1-2 * * ? *)",
            "2026-01-01T00:00:00Z",
            &[
                "2026-01-01T01:01:00Z",
                "2026-01-01T01:31:00Z",
                "2026-01-01T02:01:00Z",
                "2026-01-01T02:31:00Z",
                "2026-01-02T01:01:00Z",
            ],
        ),
        (
            "cron(0 1/10 * * ? *)",
            "2026-01-01T00:00:00Z",
            &[
                "2026-01-01T01:00:00Z",
                "2026-01-01T11:00:00Z",
                "2026-01-01T21:00:00Z",
                "2026-01-02T01:00:00Z",
            ],
        ),
        (
            "cron(*/20 0 1 1 ? *)",
            "2026-01-01T00:00:00Z",
            &[
                "2026-01-01T00:20:00Z",
                "2026-01-01T00:40:00Z",
                "2027-01-01T00:00:00Z",
            ],
        ),
        // A wrapping range of hours.
        (
            "cron(0 22-1 * * ? *)",
            "2026-01-01T12:00:00Z",
            &[
                "2026-01-01T22:00:00Z",
                "2026-01-01T23:00:00Z",
                "2026-01-02T00:00:00Z",
                "2026-01-02T01:00:00Z",
                "2026-01-02T22:00:00Z",
            ],
        ),
        // Month and weekday names, case-insensitive.
        (
            "cron(0 0 1 jan,Jul ? *)",
            "2026-02-01T00:00:00Z",
            &["2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"],
        ),
        (
            "cron(0 9 ? * sun *)",
            "2026-03-09T00:00:00Z",
            &["2026-03-15T09:00:00Z"],
        ),
        // L: last day of the month, leap years.
        (
            "cron(0 0 L * ? *)",
            "2028-01-31T00:00:00Z",
            &[
                "2028-02-29T00:00:00Z",
                "2028-03-31T00:00:00Z",
                "2028-04-30T00:00:00Z",
            ],
        ),
        (
            "cron(0 0 L 2 ? *)",
            "2026-01-01T00:00:00Z",
            &[
                "2026-02-28T00:00:00Z",
                "2027-02-28T00:00:00Z",
                "2028-02-29T00:00:00Z",
            ],
        ),
        // Leap day.
        (
            "cron(0 0 29 2 ? *)",
            "2026-01-01T00:00:00Z",
            &["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"],
        ),
        // W: nearest weekday, never leaving the month (2026-08-01 is a Saturday, 2026-05-31 a Sunday).
        (
            "cron(0 0 1W 8 ? 2026)",
            "2026-01-01T00:00:00Z",
            &["2026-08-03T00:00:00Z"],
        ),
        (
            "cron(0 0 31W 5 ? 2026)",
            "2026-01-01T00:00:00Z",
            &["2026-05-29T00:00:00Z"],
        ),
        (
            "cron(0 0 15W * ? *)",
            "2026-02-01T00:00:00Z",
            &[
                "2026-02-16T00:00:00Z",
                "2026-03-16T00:00:00Z",
                "2026-04-15T00:00:00Z",
            ],
        ),
        // nL: last Friday; L alone in Day-of-week: Saturday.
        (
            "cron(15 10 ? * 6L 2019-2022)",
            "2022-10-01T00:00:00Z",
            &[
                "2022-10-28T10:15:00Z",
                "2022-11-25T10:15:00Z",
                "2022-12-30T10:15:00Z",
            ],
        ),
        (
            "cron(0 0 ? * L *)",
            "2026-03-01T00:00:00Z",
            &["2026-03-07T00:00:00Z"],
        ),
        // #: the second Tuesday.
        (
            "cron(0 12 ? * 3#2 *)",
            "2026-01-01T00:00:00Z",
            &["2026-01-13T12:00:00Z", "2026-02-10T12:00:00Z"],
        ),
        (
            "cron(0 12 ? * TUE#5 *)",
            "2026-01-01T00:00:00Z",
            &["2026-03-31T12:00:00Z", "2026-06-30T12:00:00Z"],
        ),
        // Years: a range, a list, and the end of time.
        (
            "cron(0 0 1 1 ? 2030,2035)",
            "2026-01-01T00:00:00Z",
            &["2030-01-01T00:00:00Z", "2035-01-01T00:00:00Z"],
        ),
        (
            "cron(0 0 1 1 ? 2199)",
            "2026-01-01T00:00:00Z",
            &["2199-01-01T00:00:00Z"],
        ),
        ("cron(0 0 1 1 ? 2020)", "2026-01-01T00:00:00Z", &[]),
        // Every minute.
        (
            "cron(* * * * ? *)",
            "2026-01-01T00:00:30Z",
            &["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"],
        ),
    ];
    for (expr, after, want) in rows {
        check(expr, None, after, want);
    }
}

#[test]
fn rate_and_at() {
    // Created at `after` (the helper passes it as both): the occurrences strictly after it.
    check(
        "rate(1 minute)",
        None,
        "2026-01-01T00:00:00Z",
        &["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"],
    );
    check(
        "rate(5 minutes)",
        None,
        "2026-01-01T00:00:00Z",
        &[
            "2026-01-01T00:05:00Z",
            "2026-01-01T00:10:00Z",
            "2026-01-01T00:15:00Z",
        ],
    );
    check(
        "rate(2 hours)",
        None,
        "2026-01-01T00:00:00Z",
        &["2026-01-01T02:00:00Z", "2026-01-01T04:00:00Z"],
    );
    check(
        "rate(1 day)",
        None,
        "2026-01-01T00:00:00Z",
        &["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"],
    );
    check(
        "rate(1 minutes)",
        None,
        "2026-01-01T00:00:00Z",
        &["2026-01-01T00:01:00Z"],
    );
    // Created earlier: the grid of the creation instant.
    let s = Schedule::new("rate(10 minutes)", None).unwrap();
    assert_eq!(
        s.occurrences(t("2026-01-01T00:07:00Z"), t("2026-01-01T00:03:00Z"), 2),
        [t("2026-01-01T00:13:00Z"), t("2026-01-01T00:23:00Z")]
    );
    // A rate counts from StartDate, in absolute time: 24 h across a DST change.
    let s = Schedule::new("rate(1 day)", Some("Europe/Berlin"))
        .unwrap()
        .with_bounds(Some(t("2026-03-28T08:00:00Z")), None)
        .unwrap();
    let got = s.occurrences(t("2026-03-01T00:00:00Z"), t("2026-03-01T00:00:00Z"), 3);
    assert_eq!(
        got,
        [
            t("2026-03-28T08:00:00Z"),
            t("2026-03-29T08:00:00Z"),
            t("2026-03-30T08:00:00Z")
        ]
    );
    // at() in a zone: once.
    check(
        "at(2026-12-01T08:00:00)",
        Some("Europe/Berlin"),
        "2026-11-01T00:00:00Z",
        &["2026-12-01T07:00:00Z"],
    );
    check(
        "at(2026-07-01T08:00:00)",
        Some("America/New_York"),
        "2026-01-01T00:00:00Z",
        &["2026-07-01T12:00:00Z"],
    );
    let s = Schedule::new("at(2026-07-01T08:00:00)", None).unwrap();
    assert!(
        s.occurrences(t("2026-07-01T08:00:00Z"), t("2026-01-01T00:00:00Z"), 3)
            .is_empty(),
        "past"
    );
}

#[test]
fn daylight_saving_time_in_three_zones() {
    // Europe/Berlin springs forward on 2026-03-29 at 02:00 (02:xx does not exist) and falls
    // back on 2026-10-25 at 03:00 (02:xx happens twice).
    check(
        "cron(30 2 * * ? *)",
        Some("Europe/Berlin"),
        "2026-03-27T12:00:00Z",
        &["2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"],
    );
    check(
        "cron(30 2 * * ? *)",
        Some("Europe/Berlin"),
        "2026-10-24T12:00:00Z",
        &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
    );
    // Every 30 minutes through the repeated hour: each local time once.
    check(
        "cron(0/30 1-3 25 10 ? 2026)",
        Some("Europe/Berlin"),
        "2026-10-24T22:00:00Z",
        &[
            "2026-10-24T23:00:00Z",
            "2026-10-24T23:30:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T02:30:00Z",
        ],
    );
    // America/New_York: 2026-03-08 02:00 → 03:00, 2026-11-01 02:00 → 01:00.
    check(
        "cron(30 2 ? * SUN *)",
        Some("America/New_York"),
        "2026-03-01T00:00:00Z",
        &["2026-03-01T07:30:00Z", "2026-03-15T06:30:00Z"],
    );
    check(
        "cron(30 1 1 11 ? 2026)",
        Some("America/New_York"),
        "2026-10-01T00:00:00Z",
        &["2026-11-01T05:30:00Z"],
    );
    check(
        "cron(0 9 * * ? *)",
        Some("America/New_York"),
        "2026-03-07T00:00:00Z",
        &["2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"],
    );
    // Australia/Sydney: 2026-04-05 03:00 → 02:00 (repeat), 2026-10-04 02:00 → 03:00 (gap).
    check(
        "cron(30 2 * * ? *)",
        Some("Australia/Sydney"),
        "2026-04-03T16:00:00Z",
        &["2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"],
    );
    check(
        "cron(30 2 * * ? *)",
        Some("Australia/Sydney"),
        "2026-10-02T12:00:00Z",
        &["2026-10-02T16:30:00Z", "2026-10-04T15:30:00Z"],
    );
    // A zone west of UTC whose local date lags: the next 23:00 local is still "today" in UTC terms.
    check(
        "cron(0 23 * * ? *)",
        Some("America/New_York"),
        "2026-06-02T02:00:00Z",
        &["2026-06-02T03:00:00Z"],
    );
}

#[test]
fn start_and_end_bound_occurrences() {
    let s = Schedule::new("cron(0 * * * ? *)", None)
        .unwrap()
        .with_bounds(
            Some(t("2026-01-01T10:30:00Z")),
            Some(t("2026-01-01T13:00:00Z")),
        )
        .unwrap();
    let got = s.occurrences(t("2026-01-01T00:00:00Z"), t("2026-01-01T00:00:00Z"), 10);
    assert_eq!(
        got,
        [
            t("2026-01-01T11:00:00Z"),
            t("2026-01-01T12:00:00Z"),
            t("2026-01-01T13:00:00Z")
        ]
    );
    let err = Schedule::new("rate(1 hour)", None)
        .unwrap()
        .with_bounds(
            Some(t("2026-01-02T00:00:00Z")),
            Some(t("2026-01-01T00:00:00Z")),
        )
        .unwrap_err();
    assert_eq!(err.field, "EndDate");
    let w = Schedule::new("rate(1 hour)", None)
        .unwrap()
        .with_window(Some(15))
        .unwrap();
    assert_eq!(w.window, Some(std::time::Duration::from_secs(900)));
    let err = Schedule::new("rate(1 hour)", None)
        .unwrap()
        .with_window(Some(0))
        .unwrap_err();
    assert!(err.field.contains("MaximumWindowInMinutes"), "{err}");
}

#[test]
fn invalid_forms_are_refused_naming_the_field() {
    let rows: &[(&str, Option<&str>, &str, &str)] = &[
        ("", None, "ScheduleExpression", "1 to 256"),
        (
            "every day",
            None,
            "ScheduleExpression",
            "is not rate(value unit)",
        ),
        ("rate(0 minutes)", None, "ScheduleExpression", "at least 1"),
        ("rate(-1 minutes)", None, "ScheduleExpression", "at least 1"),
        (
            "rate(1.5 hours)",
            None,
            "ScheduleExpression",
            "whole number",
        ),
        (
            "rate(5 seconds)",
            None,
            "ScheduleExpression",
            "minute(s), hour(s) or day(s)",
        ),
        ("rate(5)", None, "ScheduleExpression", "rate(value unit)"),
        (
            "rate(99999999999 days)",
            None,
            "ScheduleExpression",
            "100 years",
        ),
        (
            "cron(0 12 * * *)",
            None,
            "ScheduleExpression",
            "exactly 6 fields",
        ),
        (
            "cron(0 0 12 * * * *)",
            None,
            "ScheduleExpression",
            "exactly 6 fields",
        ),
        (
            "cron(0 12 * * * *)",
            None,
            "ScheduleExpression",
            "must be '?'",
        ),
        (
            "cron(0 12 ? * ? *)",
            None,
            "ScheduleExpression",
            "cannot both be '?'",
        ),
        ("cron(60 12 * * ? *)", None, "cron Minutes", "is not 0-59"),
        ("cron(0 24 * * ? *)", None, "cron Hours", "is not 0-23"),
        (
            "cron(0 0 32 * ? *)",
            None,
            "cron Day-of-month",
            "is not 1-31",
        ),
        (
            "cron(0 0 0 * ? *)",
            None,
            "cron Day-of-month",
            "is not 1-31",
        ),
        (
            "cron(0 0 1 13 ? *)",
            None,
            "cron Month",
            "is not 1-12 or JAN-DEC",
        ),
        (
            "cron(0 0 1 FOO ? *)",
            None,
            "cron Month",
            "is not 1-12 or JAN-DEC",
        ),
        (
            "cron(0 0 ? * 8 *)",
            None,
            "cron Day-of-week",
            "is not 1-7 or SUN-SAT",
        ),
        (
            "cron(0 0 ? * 3#1,6#3 *)",
            None,
            "cron Day-of-week",
            "stands alone",
        ),
        ("cron(0 0 ? * 3#6 *)", None, "cron Day-of-week", "1-5"),
        (
            "cron(0 0 1 * ? 1969)",
            None,
            "cron Year",
            "is not 1970-2199",
        ),
        (
            "cron(0 0 1 * ? 2200)",
            None,
            "cron Year",
            "is not 1970-2199",
        ),
        ("cron(0/0 0 1 * ? *)", None, "cron Minutes", "invalid step"),
        (
            "cron(0,,5 0 1 * ? *)",
            None,
            "cron Minutes",
            "empty list item",
        ),
        (
            "cron(0 0 L-3 * ? *)",
            None,
            "cron Day-of-month",
            "not allowed",
        ),
        (
            "at(2026-13-01T00:00:00)",
            None,
            "ScheduleExpression",
            "yyyy-mm-ddThh:mm:ss",
        ),
        (
            "at(2026-12-01 08:00)",
            None,
            "ScheduleExpression",
            "yyyy-mm-ddThh:mm:ss",
        ),
        // A local time in a DST gap never happens.
        (
            "at(2026-03-29T02:30:00)",
            Some("Europe/Berlin"),
            "ScheduleExpression",
            "does not exist",
        ),
        (
            "rate(1 hour)",
            Some("Mars/Olympus_Mons"),
            "ScheduleExpressionTimezone",
            "not an IANA time zone",
        ),
        (
            "rate(1 hour)",
            Some(""),
            "ScheduleExpressionTimezone",
            "1 to 50",
        ),
    ];
    for (expr, tz, field, says) in rows {
        refused(expr, *tz, field, says);
    }
}
