//! `bridge schedule next`: fire instants in UTC and local time, JSON, and invalid input as
//! exit 2 naming the field.

use crate::util::{bridge, run};

#[test]
fn next_prints_utc_and_local_times_across_a_dst_change() {
    let r = run(
        bridge().args([
            "schedule",
            "next",
            "cron(30 2 * * ? *)",
            "--tz",
            "Europe/Berlin",
            "--after",
            "2026-03-27T12:00:00Z",
            "--count",
            "2",
        ]),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "2026-03-28T01:30:00Z  2026-03-28 02:30:00 +01:00 Europe/Berlin\n\
         2026-03-30T00:30:00Z  2026-03-30 02:30:00 +02:00 Europe/Berlin\n",
        "the non-existent 02:30 of 2026-03-29 is skipped"
    );
}

#[test]
fn next_as_json_with_bounds() {
    let r = run(
        bridge().args([
            "schedule",
            "next",
            "rate(1 hour)",
            "--after",
            "2026-01-01T00:00:00Z",
            "--start",
            "2026-01-01T00:30:00Z",
            "--end",
            "1767231000",
            "--count",
            "5",
            "--json",
        ]),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let utc: Vec<&str> = doc["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["utc"].as_str().unwrap())
        .collect();
    // StartDate 00:30, EndDate 01:30 (epoch seconds 1767231000; occurrences may equal it).
    assert_eq!(utc, ["2026-01-01T00:30:00Z", "2026-01-01T01:30:00Z"]);
    assert_eq!(doc["timezone"], "UTC");
}

#[test]
fn invalid_input_is_exit_2_naming_the_field() {
    for (args, says) in [
        (
            vec!["cron(0 12 * * * *)"],
            "ScheduleExpression: one of Day-of-month and Day-of-week must be '?'",
        ),
        (
            vec!["cron(0 0 ? * 8 *)"],
            "cron Day-of-week: '8' is not 1-7 or SUN-SAT",
        ),
        (
            vec!["rate(1 hour)", "--tz", "Mars/Olympus_Mons"],
            "ScheduleExpressionTimezone: 'Mars/Olympus_Mons' is not an IANA time zone",
        ),
        (
            vec![
                "rate(1 hour)",
                "--start",
                "2026-02-01T00:00:00Z",
                "--end",
                "2026-01-01T00:00:00Z",
            ],
            "EndDate: ",
        ),
        (
            vec!["rate(1 hour)", "--after", "yesterday"],
            "--after: \"yesterday\" is not an instant",
        ),
    ] {
        let mut cmd = bridge();
        cmd.args(["schedule", "next"]).args(&args);
        let r = run(&mut cmd, "", false);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn check_passes_the_shipped_files_and_names_what_is_wrong_in_others() {
    let root = testkit::workspace_root();
    let ping = root.join("deploy/aws/schedules/ping.json");
    let r = run(bridge().arg("schedule").arg("check").arg(&ping), "", false);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("bridge-ping  rate(1 minute) (UTC)"),
        "{}",
        r.stdout
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ping).unwrap()).unwrap();
    v["Target"]["Input"] = "not json".into();
    std::fs::write(&bad, v.to_string()).unwrap();
    let r = run(
        bridge().arg("schedule").arg("check").arg(&ping).arg(&bad),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("bridge-ping"),
        "the good file is still reported"
    );
    assert!(
        r.stderr.contains("bad.json: Target.Input: is not JSON"),
        "{}",
        r.stderr
    );
}
