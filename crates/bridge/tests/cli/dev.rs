//! `bridge dev`: starts, prints where everything is with secrets masked (the dev users'
//! passwords are the one deliberate exception: a human needs them to sign in), serves the app,
//! stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{bridge, run};

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

/// The banner minus the dev-user lines (which show the dev passwords on purpose).
fn scrub(banner: &str) -> String {
    banner
        .lines()
        .filter(|l| !l.trim_start().starts_with("user "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn prints_urls_users_and_a_masked_binding() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        bridge()
            .args(["dev", "--exit-after-start"])
            .args(EPHEMERAL)
            .arg("--lambda-bootstrap")
            .arg(crate::util::bootstrap())
            .arg("--data-dir")
            .arg(dir.path()),
        "",
        true,
    );
    testkit::logs::capture_output("bridge dev (stdout, user lines removed)", &scrub(&r.stdout));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let vcap: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("vcap-services.json")).unwrap(),
    )
    .unwrap();
    let password = testkit::logs::secret(
        vcap["credstore"][0]["credentials"]["password"]
            .as_str()
            .unwrap(),
    );
    let client_secret = testkit::logs::secret(
        vcap["xsuaa"][0]["credentials"]["clientsecret"]
            .as_str()
            .unwrap(),
    );
    testkit::logs::secret(
        vcap["credstore"][0]["credentials"]["encryption"]["client_private_key"]
            .as_str()
            .unwrap(),
    );
    assert!(
        r.stdout.contains("App               http://127.0.0.1:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("XSUAA             https://127.0.0.1:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Credential Store  https://127.0.0.1:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("STS               https://127.0.0.1:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\"name\": \"aws-config\""),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("user alice"), "{}", r.stdout);
    assert!(
        r.stdout.contains("\"password\": \"[redacted]\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\"clientsecret\": \"[redacted]\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("export VCAP_SERVICES_FILE_PATH="),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(&password) && !r.stdout.contains(&client_secret));
    // The local Alert Notification service's key (`client_secret`, its own spelling).
    let alerts_secret = testkit::logs::secret(
        vcap["alert-notification"][0]["credentials"]["client_secret"]
            .as_str()
            .unwrap(),
    );
    assert!(
        r.stdout.contains("\"client_secret\": \"[redacted]\""),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(&alerts_secret));
    assert!(dir.path().join("ca.pem").exists());
}

/// Issue 12, item 7: logs piped to a file or a parent process carry no ANSI colour codes.
#[test]
fn piped_logs_have_no_ansi_escape_codes() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        bridge()
            .env_remove("NO_COLOR")
            .args(["dev", "--exit-after-start"])
            .args(EPHEMERAL)
            .arg("--lambda-bootstrap")
            .arg(crate::util::bootstrap())
            .arg("--data-dir")
            .arg(dir.path()),
        "",
        true,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.lines().count() > 3,
        "bridge dev logs at RUST_LOG=trace: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("\x1b["),
        "ANSI escape codes in piped stderr: {:?}",
        r.stderr.lines().find(|l| l.contains('\x1b'))
    );
}

#[test]
fn serves_the_app_and_stops_cleanly_on_sigterm() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let mut child = bridge()
        .arg("dev")
        .args(EPHEMERAL)
        .arg("--lambda-bootstrap")
        .arg(crate::util::bootstrap())
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("Press Ctrl-C") {
            break;
        }
    }
    testkit::logs::capture_output("bridge dev (stdout, user lines removed)", &scrub(&seen));
    if !seen.contains("dev stack is up") {
        let _ = child.wait();
        let errors = errors.join().unwrap();
        testkit::logs::capture_output("bridge dev (stderr)", &errors);
        panic!("bridge dev did not start: {errors}");
    }
    let app = seen
        .lines()
        .find_map(|l| l.trim().strip_prefix("App"))
        .map(|rest| rest.trim().trim_end_matches('/').to_owned())
        .expect("app URL in the banner");
    let health = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{app}/health"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&health.stdout), "200");
    let ping = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{app}/jobs/ping"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ping.stdout), "401");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bridge dev did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
