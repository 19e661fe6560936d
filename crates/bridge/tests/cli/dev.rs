//! `bridge dev`: starts, prints where everything is with secrets masked, stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{bridge, run};

#[test]
fn prints_urls_and_a_masked_binding() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        bridge()
            .args([
                "dev",
                "--credstore-port",
                "0",
                "--exit-after-start",
                "--data-dir",
            ])
            .arg(dir.path()),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let vcap: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("vcap-services.json")).unwrap(),
    )
    .unwrap();
    let creds = &vcap["credstore"][0]["credentials"];
    let password = testkit::logs::secret(creds["password"].as_str().unwrap());
    testkit::logs::secret(creds["encryption"]["client_private_key"].as_str().unwrap());
    assert!(
        r.stdout.contains("Credential Store  https://127.0.0.1:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\"password\": \"[redacted]\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("export VCAP_SERVICES_FILE_PATH="),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(&password));
    assert!(dir.path().join("ca.pem").exists());
}

#[test]
fn stops_cleanly_on_sigterm() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let mut child = bridge()
        .args(["dev", "--credstore-port", "0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
    testkit::logs::capture_output("bridge dev (stdout)", &seen);
    assert!(seen.contains("dev stack is up"), "{seen}");
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
