//! The index page in a real browser: `bridge dev` on ephemeral ports, then Debian's chromium
//! driven by `tools/node/browser_index.mjs` (playwright-core) signs in as alice through the local
//! XSUAA's login page, loads the buckets, lists the demo documents, uploads, downloads and
//! deletes one through the page, and opens the catalog's service document and `$metadata`. Both the browser and the npm package come from `cargo xtask install`; without
//! them this test fails (it never skips). Also: `bridge dev` refuses the catalog to a token
//! without Read, and a restart on the same data directory keeps users and credentials.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::{bridge, node_json};

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

/// The buckets the dev stack creates on first start.
pub(crate) const DEMO_BUCKETS: [&str; 2] = ["bridge-archive", "bridge-documents"];

/// The environment variable the browser script reads the password from (never argv).
const PASSWORD_VAR: &str = "BROWSER_INDEX_PASSWORD";

/// How long the whole browser run may take (each of its steps has its own 15 s timeout).
const BROWSER_DEADLINE: Duration = Duration::from_secs(120);

/// A running `bridge dev`: stopped with SIGTERM (then killed) when dropped, even when the test
/// panics; its stderr goes to the scanned logs.
pub(crate) struct Dev {
    child: Child,
    stderr: Option<JoinHandle<String>>,
    stdout: Option<JoinHandle<()>>,
}

impl Dev {
    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and returns what it wrote to stderr,
    /// which goes to the scanned logs.
    pub(crate) fn stop(&mut self) -> String {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(stdout) = self.stdout.take() {
            let _ = stdout.join();
        }
        let text = self
            .stderr
            .take()
            .map(|stderr| stderr.join().unwrap_or_default())
            .unwrap_or_default();
        testkit::logs::capture_output("bridge dev (stderr)", &text);
        text
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if self.stderr.is_some() {
            self.stop();
        }
    }
}

/// What `bridge dev` printed that the test needs.
pub(crate) struct Banner {
    pub(crate) app: String,
    pub(crate) alice_password: String,
}

/// Starts `bridge dev` with its data in `data_dir` and reads the banner (the app URL and
/// alice's password, registered as a secret; the banner goes to the scanned logs without the
/// dev-user lines).
pub(crate) fn start_dev(data_dir: &Path) -> (Dev, Banner) {
    let mut child = bridge()
        .arg("dev")
        .args(EPHEMERAL)
        .arg("--lambda-bootstrap")
        .arg(crate::util::bootstrap())
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut dev = Dev {
        child,
        stderr: Some(stderr),
        stdout: None,
    };
    let mut seen = String::new();
    let mut alice_password = None;
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        if let Some(rest) = line.trim_start().strip_prefix("user ") {
            let mut words = rest.split_whitespace();
            if words.next() == Some("alice") && words.next() == Some("password") {
                alice_password = words.next().map(testkit::logs::secret);
            }
            continue;
        }
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("Press Ctrl-C") {
            break;
        }
    }
    // Keep draining stdout so a later line can never block the server.
    dev.stdout = Some(std::thread::spawn(move || lines.for_each(drop)));
    testkit::logs::capture_output("bridge dev (stdout, user lines removed)", &seen);
    let app = seen
        .lines()
        .find_map(|l| l.trim().strip_prefix("App"))
        .map(|rest| rest.trim().trim_end_matches('/').to_owned());
    let (Some(app), Some(alice_password)) = (app, alice_password) else {
        let errors = dev.stop();
        panic!("bridge dev did not print the app URL and alice's password:\n{seen}\n{errors}");
    };
    (
        dev,
        Banner {
            app,
            alice_password,
        },
    )
}

/// Registers the generated binding's secrets, so the scan also checks the server's logs for them.
pub(crate) fn register_binding_secrets(data_dir: &Path) {
    let vcap: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir.join("vcap-services.json")).unwrap(),
    )
    .unwrap();
    let credstore = &vcap["credstore"][0]["credentials"];
    let xsuaa = &vcap["xsuaa"][0]["credentials"];
    for secret in [
        &credstore["password"],
        &credstore["encryption"]["client_private_key"],
        &xsuaa["clientsecret"],
    ] {
        testkit::logs::secret(secret.as_str().unwrap());
    }
}

/// The browser `browser_index.mjs` launches; fails (never skips) when it is not installed.
pub(crate) fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask install` (it installs Debian's chromium for this test)",
        path.display()
    );
    let playwright = testkit::tools_dir()
        .join("node")
        .join("node_modules")
        .join("playwright-core");
    assert!(
        playwright.is_dir(),
        "{} is missing: run `cargo xtask install` (it installs the pinned npm packages of \
         tools/node)",
        playwright.display()
    );
    path
}

/// Runs `browser_index.mjs` against `app` as alice (see [`node_json`]).
fn browse(app: &str, password: &str, chromium: &Path) -> serde_json::Value {
    node_json(
        "browser_index.mjs",
        &[app, "alice", PASSWORD_VAR],
        &[
            (PASSWORD_VAR, OsStr::new(password)),
            ("CHROMIUM_PATH", chromium.as_os_str()),
        ],
        BROWSER_DEADLINE,
    )
}

#[test]
fn signs_in_and_shows_the_buckets_of_the_local_s3() {
    testkit::logs::init();
    let chromium = chromium();
    let dir = tempfile::tempdir().unwrap();
    // The local S3 keeps each bucket as a folder of `<data>/s3/`: one made here, beside the demo
    // buckets, proves the page lists what S3 holds rather than a fixed list.
    let extra = format!("browser-test-{}", std::process::id());
    std::fs::create_dir_all(dir.path().join("s3").join(&extra)).unwrap();

    let (mut dev, banner) = start_dev(dir.path());
    register_binding_secrets(dir.path());
    let seen = browse(&banner.app, &banner.alice_password, &chromium);
    dev.stop();

    assert_eq!(seen["title"], "Business Application", "{seen}");
    let buttons: Vec<&str> = seen["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b.as_str())
        .collect();
    for label in ["Catalog", "Metadata", "Load Buckets"] {
        assert!(buttons.contains(&label), "no {label} button: {seen}");
    }
    let buckets = seen["buckets"].as_array().unwrap();
    let names: BTreeSet<&str> = buckets.iter().filter_map(|b| b["name"].as_str()).collect();
    let expected: BTreeSet<&str> = DEMO_BUCKETS
        .iter()
        .copied()
        .chain([extra.as_str()])
        .collect();
    assert_eq!(names, expected, "{seen}");
    assert_eq!(buckets.len(), expected.len(), "{seen}");
    for bucket in buckets {
        assert!(
            bucket["created"].as_str().is_some_and(|c| !c.is_empty()),
            "a bucket without a creation date: {seen}"
        );
    }
    assert_eq!(seen["catalogStatus"], 200, "{seen}");
    assert_eq!(seen["metadataHasEdmx"], true, "{seen}");
    assert_eq!(seen["consoleErrors"], serde_json::json!([]), "{seen}");
    // The document list: the demo documents, then one uploaded, downloaded and deleted
    // through the page.
    let names = |key: &str| -> BTreeSet<String> {
        seen[key]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str().map(str::to_owned))
            .collect()
    };
    let before = names("documentsBefore");
    for demo in ["README.txt", "floor-plan.pdf"] {
        assert!(before.contains(demo), "no demo document {demo}: {seen}");
    }
    assert_eq!(seen["uploaded"]["status"], "available", "{seen}");
    assert_eq!(
        seen["downloaded"]["fileName"], "from the browser.txt",
        "{seen}"
    );
    assert_eq!(
        seen["downloaded"]["text"], "hello from the browser\n",
        "{seen}"
    );
    assert_eq!(names("documentsAfterDelete"), before, "{seen}");
}

/// `curl` of `url` with a bearer token: (status, body).
fn curl_bearer(url: &str, token: &str) -> (String, String) {
    let out = std::process::Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    testkit::logs::capture_output("curl (body)", body);
    (status.to_owned(), body.to_owned())
}

#[test]
fn a_token_without_read_is_403_and_a_restart_keeps_the_data() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let (mut dev, first) = start_dev(dir.path());
    register_binding_secrets(dir.path());
    // The app's own client-credentials token (what `bridge token` prints) carries JobRunner,
    // not Read.
    let token = crate::util::run(crate::util::bridge_for(dir.path()).arg("token"), "", true);
    assert_eq!(token.code, 0, "{}", token.stderr);
    let token = testkit::logs::secret(token.stdout.trim());
    let (status, body) = curl_bearer(&format!("{}/catalog/Buckets", first.app), &token);
    assert_eq!(status, "403", "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "403");
    let (status, _) = curl_bearer(&format!("{}/jobs/ping", first.app), &token);
    assert_eq!(status, "200");
    dev.stop();

    // Same data directory: same users, same keys in the Credential Store, same buckets.
    let (mut dev, second) = start_dev(dir.path());
    assert_eq!(second.alice_password, first.alice_password);
    let listed = crate::util::run(
        crate::util::bridge_for(dir.path()).args(["creds", "-n", "aws", "list"]),
        "",
        false,
    );
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("aws-iam-user"), "{}", listed.stdout);
    dev.stop();
}
