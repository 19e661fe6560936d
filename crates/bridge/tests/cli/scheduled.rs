//! Seed 002 end to end under `bridge dev`: a schedule file with an `at()` a few seconds ahead
//! makes the local Scheduler invoke the local Lambda, which runs the real `bootstrap`: it reads
//! its XSUAA service key from the local Secrets Manager with its execution role's session
//! credentials, gets a client-credentials token from the local XSUAA and calls `/jobs/ping`.
//! The app's run history then holds the occurrence with 200, under the occurrence's key, and
//! the Lambda's side of it (request id, attempt, result) beside it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::util::{bootstrap, bridge, run};

const EPHEMERAL: [&str; 18] = [
    "--lambda-port",
    "0",
    "--scheduler-port",
    "0",
    "--secrets-port",
    "0",
    "--alerts-port",
    "0",
    "--s3-port",
    "0",
    "--app-port",
    "0",
    "--credstore-port",
    "0",
    "--xsuaa-port",
    "0",
    "--sts-port",
    "0",
];

struct Dev {
    child: Child,
    dir: tempfile::TempDir,
    banner: String,
}

impl Dev {
    /// The URL the banner prints for `service`.
    fn url(&self, service: &str) -> String {
        self.banner
            .lines()
            .find_map(|l| l.trim().strip_prefix(service))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{service} in the banner: {}", self.banner))
            .trim_end_matches('/')
            .to_owned()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A schedule file: `at()` `secs` seconds from now (UTC), calling `path`.
fn at_schedule(name: &str, secs: i64, path: &str) -> String {
    let at = (chrono::Utc::now() + chrono::Duration::seconds(secs)).format("%Y-%m-%dT%H:%M:%S");
    serde_json::json!({
        "Name": name,
        "ScheduleExpression": format!("at({at})"),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": { "Mode": "OFF" },
        "State": "ENABLED",
        "Target": {
            "Arn": "arn:aws:lambda:${Region}:${AccountId}:function:btp-aws-bridge-caller",
            "RoleArn": "arn:aws:iam::${AccountId}:role/btp-aws-bridge-scheduler",
            "Input": serde_json::json!({
                "method": "GET",
                "path": path,
                "scheduleArn": "<aws.scheduler.schedule-arn>",
                "scheduledTime": "<aws.scheduler.scheduled-time>",
                "attempt": "<aws.scheduler.attempt-number>",
            }).to_string(),
            "RetryPolicy": { "MaximumEventAgeInSeconds": 300, "MaximumRetryAttempts": 2 },
            "DeadLetterConfig": { "Arn": "arn:aws:sqs:${Region}:${AccountId}:btp-aws-bridge-dlq" }
        }
    })
    .to_string()
}

fn start(schedules: &[(&str, String)], extra: &[&str]) -> Dev {
    start_env(schedules, extra, &[])
}

fn start_env(schedules: &[(&str, String)], extra: &[&str], env: &[(&str, &str)]) -> Dev {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let sdir = dir.path().join("schedules");
    std::fs::create_dir_all(&sdir).unwrap();
    for (name, text) in schedules {
        std::fs::write(sdir.join(format!("{name}.json")), text).unwrap();
    }
    let mut child = bridge()
        .arg("dev")
        .args(EPHEMERAL)
        .arg("--lambda-bootstrap")
        .arg(bootstrap())
        .arg("--schedules")
        .arg(&sdir)
        .args(extra)
        .arg("--data-dir")
        .arg(dir.path().join("dev"))
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        testkit::logs::capture_output("bridge dev with schedules (stderr)", &text);
    });
    let mut seen = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if !line.trim_start().starts_with("user ") {
            seen.push_str(&line);
            seen.push('\n');
        }
        if line.contains("Press Ctrl-C") {
            break;
        }
    }
    testkit::logs::capture_output("bridge dev with schedules (stdout)", &seen);
    assert!(
        seen.contains("Lambda"),
        "the banner names the local Lambda: {seen}"
    );
    assert!(seen.contains("Scheduler"), "{seen}");
    Dev {
        child,
        dir,
        banner: seen,
    }
}

/// `bridge runs --json` against the dev stack's app database.
fn runs(dev: &Dev, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = run(
        bridge()
            .arg("runs")
            .arg("--json")
            .args(extra)
            .arg("--data-dir")
            .arg(dev.dir.path().join("dev").join("app")),
        "",
        false,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn an_at_schedule_runs_the_real_bootstrap_which_calls_jobs_ping_once() {
    let dev = start(&[("once", at_schedule("once", 4, "/jobs/ping"))], &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let found = loop {
        let all = runs(&dev, &[]);
        if let Some(r) = all
            .iter()
            .find(|r| r["outcome"] == "succeeded" && r["job"] == "ping")
        {
            break r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no successful ping run within 60 s: {all:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(found["httpStatus"], 200, "{found}");
    let schedule = found["schedule"].as_str().unwrap();
    assert!(
        schedule.starts_with("arn:aws:scheduler:") && schedule.ends_with(":schedule/default/once"),
        "{found}"
    );
    let nominal: chrono::DateTime<chrono::Utc> =
        found["nominalTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        found["idempotencyKey"].as_str().unwrap(),
        schedule::occurrence::key(schedule, nominal),
        "the run is keyed on the occurrence"
    );
    assert_eq!(found["attempts"], 1);
    // The local Scheduler's and Lambda's counters, in Prometheus' format.
    let ca = dev.dir.path().join("dev").join("ca.pem");
    let metrics = std::process::Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&ca)
        .arg(format!("{}/local/metrics", dev.url("Scheduler")))
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout).into_owned();
    assert!(
        metrics.contains("devstack_scheduler_fires_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("devstack_lambda_invocations_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("devstack_lambda_cold_starts_total 1\n"),
        "{metrics}"
    );
    // And the app's lateness of the call.
    let app = std::process::Command::new("curl")
        .args(["-s"])
        .arg(format!("{}/metrics", dev.url("App")))
        .output()
        .unwrap();
    let app = String::from_utf8_lossy(&app.stdout).into_owned();
    assert!(
        app.contains(r#"bridge_job_lateness_seconds_count{job="ping"} 1"#),
        "{app}"
    );
    assert!(
        found["callerClientId"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{found}"
    );
}

/// The events the local Alert Notification service received, read with its consumer API and
/// the credentials of the generated binding.
fn alert_events(dev: &Dev) -> Vec<serde_json::Value> {
    let vcap: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dev.dir.path().join("dev").join("vcap-services.json")).unwrap(),
    )
    .unwrap();
    let c = &vcap["alert-notification"][0]["credentials"];
    let ca = dev.dir.path().join("dev").join("ca.pem");
    let secret = testkit::logs::secret(c["client_secret"].as_str().unwrap());
    let token = std::process::Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&ca)
        .args([
            "-u",
            &format!("{}:{secret}", c["client_id"].as_str().unwrap()),
        ])
        .args(["-X", "POST", c["oauth_url"].as_str().unwrap()])
        .output()
        .unwrap();
    let token: serde_json::Value = serde_json::from_slice(&token.stdout).unwrap();
    let token = testkit::logs::secret(token["access_token"].as_str().unwrap());
    let out = std::process::Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&ca)
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(format!(
            "{}/cf/consumer/v1/matched-events",
            c["url"].as_str().unwrap()
        ))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["results"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_failing_endpoint_is_retried_dead_lettered_and_alerted_once() {
    let dev = start_env(
        &[("broken", at_schedule("broken", 4, "/jobs/no-such-job"))],
        &["--lambda-retry-delays", "0.3,0.3"],
        &[("BRIDGE_ALERT_GRACE_S", "4")],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let alert = loop {
        let events = alert_events(&dev);
        if let Some(e) = events.iter().find(|e| e["tags"]["schedule"] == "broken") {
            break e.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no alert within 60 s: {events:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(
        alert["eventType"], "BridgeScheduledEventDeadLettered",
        "{alert}"
    );
    assert_eq!(alert["severity"], "ERROR");
    let body = alert["body"].as_str().unwrap();
    assert!(
        body.contains("Caller.Rejected.4xx"),
        "the Lambda's errorType: {body}"
    );
    // One attempt and Lambda's two retries, all with the same occurrence key.
    let key = alert["tags"]["idempotencyKey"].as_str().unwrap();
    let failed = runs(&dev, &["--failed"]);
    assert!(
        failed.iter().all(|r| r["idempotencyKey"] != key),
        "a 404 reaches no job, so no run is recorded: {failed:?}"
    );
    // Later checks send no second alert for the same occurrence.
    std::thread::sleep(Duration::from_secs(3));
    let again = alert_events(&dev)
        .into_iter()
        .filter(|e| e["tags"]["schedule"] == "broken")
        .count();
    assert_eq!(again, 1);
}

#[test]
fn bad_scheduled_settings_are_usage_errors_naming_the_flag() {
    for (args, expect) in [
        (vec!["--catch-up", "bridge-ping"], "NAME=none|last|all"),
        (
            vec!["--catch-up", "bridge-ping=sometimes"],
            "expected none, last or all",
        ),
        (
            vec!["--default-catch-up", "first"],
            "expected none, last or all",
        ),
        (vec!["--lambda-retry-delays", "60"], "two delays in seconds"),
        (vec!["--lambda-retry-delays", "60,-1"], "from 0 to 3600"),
    ] {
        let out = run(bridge().arg("dev").args(&args), "", false);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        bridge()
            .arg("dev")
            .args(EPHEMERAL)
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--lambda-bootstrap")
            .arg(dir.path().join("missing-bootstrap")),
        "",
        false,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("--lambda-bootstrap"), "{}", out.stderr);
}
