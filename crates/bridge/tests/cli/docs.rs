//! `bridge docs …` as a user runs it, against `bridge dev` on ephemeral ports: the dev users
//! sign in with the password grant (`alice`: Bridge Editor, `bob`: Bridge Viewer, passwords
//! from the banner), files go up and come back byte for byte with their SHA-256, the list's
//! query options reach the app, a download that does not match its SHA-256 is not kept, a
//! failed upload leaves no document behind, and refusals and bad flags get their exit codes and
//! say what is wrong.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Run, bridge, bridge_for, run};

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

/// A running `bridge dev` (stopped with SIGTERM on drop).
struct Dev {
    child: Child,
    dir: tempfile::TempDir,
    app: String,
    passwords: HashMap<String, String>,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = Command::new("kill")
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

impl Dev {
    fn start() -> Self {
        Self::start_env(&[])
    }

    fn start_env(env: &[(&str, &str)]) -> Self {
        testkit::logs::init();
        let dir = tempfile::tempdir().unwrap();
        let mut child = bridge()
            .arg("dev")
            .args(EPHEMERAL)
            .arg("--no-schedules")
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
            testkit::logs::capture_output("bridge dev for docs (stderr)", &text);
        });
        let mut banner = String::new();
        let mut passwords = HashMap::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            // `  user alice    password <password>   (Bridge Editor)`
            if let Some(rest) = line.trim_start().strip_prefix("user ") {
                let words: Vec<&str> = rest.split_whitespace().collect();
                if let [name, "password", password, ..] = words[..] {
                    testkit::logs::secret(password);
                    passwords.insert(name.to_owned(), password.to_owned());
                }
                continue;
            }
            banner.push_str(&line);
            banner.push('\n');
            if line.contains("Press Ctrl-C") {
                break;
            }
        }
        testkit::logs::capture_output("bridge dev for docs (stdout)", &banner);
        let app = banner
            .lines()
            .find_map(|l| l.trim().strip_prefix("App"))
            .map(|rest| rest.trim().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| panic!("no app URL in the banner: {banner}"));
        let vcap: Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("dev").join("vcap-services.json")).unwrap(),
        )
        .unwrap();
        testkit::logs::secret(
            vcap["xsuaa"][0]["credentials"]["clientsecret"]
                .as_str()
                .unwrap(),
        );
        assert!(passwords.contains_key("alice") && passwords.contains_key("bob"));
        Self {
            child,
            dir,
            app,
            passwords,
        }
    }

    /// `bridge docs ARGS` bound to this dev stack, signed in as `user` (password in
    /// `BRIDGE_PASSWORD`), or with the binding's client credentials for `None`.
    fn docs(&self, user: Option<&str>) -> Command {
        let mut cmd = bridge_for(&self.dir.path().join("dev"));
        for var in ["BRIDGE_TOKEN", "BRIDGE_USER", "BRIDGE_PASSWORD"] {
            cmd.env_remove(var);
        }
        cmd.env("BRIDGE_APP_URL", &self.app).env("RUST_LOG", "warn");
        if let Some(user) = user {
            cmd.env("BRIDGE_USER", user)
                .env("BRIDGE_PASSWORD", &self.passwords[user]);
        }
        cmd.arg("docs");
        cmd
    }

    fn run_docs(&self, user: Option<&str>, args: &[&str]) -> Run {
        run(self.docs(user).args(args), "", false)
    }

    /// `docs list --json` with `args`: the documents.
    fn list(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["list", "--json"];
        all.extend_from_slice(args);
        let r = self.run_docs(Some("alice"), &all);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn work(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One line of `docs upload`'s stdout: `ID  size  sha256  fileName`.
struct Uploaded {
    id: String,
    size: u64,
    sha256: String,
    name: String,
}

fn uploaded(stdout: &str) -> Vec<Uploaded> {
    stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split("  ").collect();
            assert_eq!(f.len(), 4, "{l}");
            assert!(uuid::Uuid::parse_str(f[0]).is_ok(), "{l}");
            Uploaded {
                id: f[0].to_owned(),
                size: f[1].parse().unwrap(),
                sha256: f[2].to_owned(),
                name: f[3].to_owned(),
            }
        })
        .collect()
}

/// 11 MiB of text lines (more than one 8 MiB part of the app's multipart upload).
fn big_text() -> Vec<u8> {
    let mut text = Vec::with_capacity(11 << 20);
    let mut i = 0u64;
    while text.len() < 11 << 20 {
        text.extend_from_slice(format!("line {i:08}: the quick brown fox jumps over\n").as_bytes());
        i += 1;
    }
    text
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn an_editor_uploads_lists_gets_audits_and_removes() {
    // Pages of one entity: every list below follows the app's next links.
    let dev = Dev::start_env(&[("BRIDGE_MAX_PAGE_SIZE", "1")]);
    let files = dev.work("files");
    let big = big_text();
    let small = b"hello documents\nsecond line\n".to_vec();
    let big_path = write(&files, "floor-plan.txt", &big);
    let small_path = write(&files, "note.txt", &small);
    let number = format!("T-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    let r = run(
        dev.docs(Some("alice"))
            .args(["upload", "--document-number", &number, "--location", "lab"])
            .args(["--attr", "project=cli-test", "--attr", "year=2026"])
            .arg(&big_path)
            .arg(&small_path),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut up = uploaded(&r.stdout);
    up.sort_by(|a, b| a.name.cmp(&b.name));
    let [plan, note] = &up[..] else {
        panic!("two lines: {}", r.stdout)
    };
    assert_eq!(plan.name, "floor-plan.txt");
    assert_eq!(plan.size, big.len() as u64);
    assert_eq!(plan.sha256, sha256_hex(&big));
    assert_eq!(note.name, "note.txt");
    assert_eq!(note.size, small.len() as u64);
    assert_eq!(note.sha256, sha256_hex(&small));
    // Not a terminal: no progress bars in stderr.
    assert!(!r.stderr.contains("ETA"), "{}", r.stderr);

    // --filter reaches the app: exactly these two, as uploaded.
    let filter = format!("documentNumber eq '{number}'");
    let listed = dev.list(&["--filter", &filter, "--orderby", "fileName"]);
    assert_eq!(listed.len(), 2, "{listed:?}");
    for (doc, want) in listed.iter().zip([plan, note]) {
        assert_eq!(doc["ID"], want.id.as_str());
        assert_eq!(doc["fileName"], want.name.as_str());
        assert_eq!(doc["mediaType"], "text/plain");
        assert_eq!(doc["size"], want.size);
        assert_eq!(doc["sha256"], want.sha256.as_str());
        assert_eq!(doc["status"], "available");
        assert_eq!(doc["location"], "lab");
        assert_eq!(doc["createdBy"], "alice");
        assert_eq!(
            doc["attributes"],
            serde_json::json!({"project": "cli-test", "year": "2026"})
        );
    }
    // --top stops after one.
    assert_eq!(dev.list(&["--filter", &filter, "--top", "1"]).len(), 1);
    // --search with a word of one file's name, within this test's documents.
    let found = dev.list(&["--filter", &filter, "--search", "floor"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["ID"], plan.id.as_str());

    // The table: a header and one aligned row per document, sizes for humans.
    let r = dev.run_docs(Some("alice"), &["list", "--filter", &filter]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(lines[0].starts_with("ID "), "{}", lines[0]);
    for h in [
        "FILE NAME",
        "SIZE",
        "STATUS",
        "NUMBER",
        "LOCATION",
        "CREATED",
    ] {
        assert!(lines[0].contains(h), "{h}: {}", lines[0]);
    }
    let at = lines[0].find("FILE NAME").unwrap();
    assert!(lines[1..].iter().all(|l| l.get(at..).is_some_and(|rest| {
        rest.starts_with("floor-plan.txt") || rest.starts_with("note.txt")
    })));
    assert!(r.stdout.contains("11.0 MiB"), "{}", r.stdout);

    // get -o: the same bytes.
    let out = dev.work("out");
    let r = run(
        dev.docs(Some("alice"))
            .args(["get", &plan.id, "-o"])
            .arg(out.join("copy.txt")),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(out.join("copy.txt")).unwrap(), big);
    assert!(
        r.stdout
            .starts_with(&format!("{}  {}  {}", plan.id, big.len(), plan.sha256))
    );
    // Without -o: the document's name in the current directory, never replacing a file.
    let here = dev.work("here");
    let r = run(
        dev.docs(Some("alice"))
            .args(["get", &note.id])
            .current_dir(&here),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(here.join("note.txt")).unwrap(), small);
    let r = run(
        dev.docs(Some("alice"))
            .args(["get", &note.id])
            .current_dir(&here),
        "",
        false,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("note.txt exists"), "{}", r.stderr);
    // Bytes that no longer match the document's SHA-256 (the object changed behind the app's
    // back, here in the local S3's directory): refused, and nothing is kept.
    let meta = &listed[1];
    assert_eq!(meta["ID"], note.id.as_str());
    let object = devstack::layout::s3_dir(&dev.dir.path().join("dev"))
        .join(meta["bucket"].as_str().unwrap())
        .join(meta["objectKey"].as_str().unwrap());
    let mut tampered = std::fs::read(&object).unwrap();
    assert_eq!(tampered, small, "the object is the file's bytes");
    tampered[0] ^= 0x20;
    std::fs::write(&object, &tampered).unwrap();
    let r = run(
        dev.docs(Some("alice"))
            .args(["get", &note.id, "-o"])
            .arg(out.join("tampered.txt")),
        "",
        false,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("SHA-256 mismatch"), "{}", r.stderr);
    assert!(
        r.stderr.contains("the partial file was removed"),
        "{}",
        r.stderr
    );
    assert!(!out.join("tampered.txt").exists());
    std::fs::write(&object, &small).unwrap();

    // No temporary file is left beside the targets.
    for dir in [&out, &here] {
        let names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".part")), "{names:?}");
    }

    // The audit log of one document: its upload and the read, by alice.
    let r = dev.run_docs(Some("alice"), &["audit", "--document", &plan.id, "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let events: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.len() >= 2, "{events:?}");
    assert!(events.iter().all(|e| e["documentId"] == plan.id.as_str()));
    assert!(events.iter().all(|e| e["actor"] == "alice"), "{events:?}");
    let r = dev.run_docs(Some("alice"), &["audit", "--document", &plan.id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("AT "), "{}", r.stdout);

    // rm: gone from the list, and from get.
    let r = dev.run_docs(Some("alice"), &["rm", &plan.id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("deleted {}\n", plan.id));
    let left = dev.list(&["--filter", &filter]);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["ID"], note.id.as_str());
    let r = dev.run_docs(Some("alice"), &["get", &plan.id, "-o", "/dev/null"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("404"), "{}", r.stderr);
    let r = dev.run_docs(Some("alice"), &["rm", &note.id, &plan.id]);
    assert_eq!(r.code, 1, "one of two failed: {}", r.stderr);
    assert_eq!(r.stdout, format!("deleted {}\n", note.id));
    assert!(dev.list(&["--filter", &filter]).is_empty());
}

#[test]
fn a_failed_upload_leaves_nothing_and_the_others_go_on() {
    let dev = Dev::start();
    let files = dev.work("files");
    // Declared a PDF by its name, but text: the app refuses the content after the create.
    let fake = write(&files, "fake.pdf", b"this is not a PDF\n");
    let good = write(&files, "good.txt", b"fine\n");
    let number = format!("F-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    // The password on stdin this time.
    let mut cmd = dev.docs(None);
    cmd.env("BRIDGE_USER", "alice")
        .args(["upload", "--parallel", "1", "--document-number", &number])
        .arg(&fake)
        .arg(&good);
    let r = run(&mut cmd, &format!("{}\n", dev.passwords["alice"]), false);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let up = uploaded(&r.stdout);
    assert_eq!(up.len(), 1, "{}", r.stdout);
    assert_eq!(up[0].name, "good.txt");
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("fake.pdf"))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    assert!(line.starts_with("error: "), "{line}");
    assert!(line.contains("HTTP 415"), "{line}");
    assert!(line.contains("was deleted again"), "{line}");
    assert!(r.stderr.contains("1 of 2 files failed"), "{}", r.stderr);
    let listed = dev.list(&["--filter", &format!("documentNumber eq '{number}'")]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["fileName"], "good.txt");
}

#[test]
fn refusals_and_bad_flags_say_what_is_wrong() {
    let dev = Dev::start();
    let files = dev.work("files");
    let file = write(&files, "viewer.txt", b"bob may read but not write\n");
    let number = format!("V-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    // A Viewer may list, but not upload: exit 1, the Write scope named, nothing left.
    let r = dev.run_docs(Some("bob"), &["list", "--top", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        dev.docs(Some("bob"))
            .args(["upload", "--document-number", &number])
            .arg(&file),
        "",
        false,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(r.stderr.contains("HTTP 403"), "{}", r.stderr);
    assert!(r.stderr.contains("Write scope"), "{}", r.stderr);
    assert!(
        dev.list(&["--filter", &format!("documentNumber eq '{number}'")])
            .is_empty()
    );

    // The app's own client-credentials token: told that documents need a user.
    let r = dev.run_docs(None, &["list"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("HTTP 403"), "{}", r.stderr);
    assert!(
        r.stderr.contains("JobRunner") && r.stderr.contains("--user"),
        "{}",
        r.stderr
    );

    // A wrong password: XSUAA's refusal, exit 1, the password nowhere.
    let wrong = testkit::logs::secret(format!("{}-wrong", dev.passwords["alice"]));
    let r = run(
        dev.docs(None)
            .env("BRIDGE_USER", "alice")
            .env("BRIDGE_PASSWORD", &wrong)
            .arg("list"),
        "",
        false,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot sign in as \"alice\""),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Name or password mismatch"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&wrong));
    // A token as is: accepted, or refused with 401 when it is not one.
    let r = run(
        dev.docs(None).args(["--token", "not-a-jwt", "list"]),
        "",
        false,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("HTTP 401"), "{}", r.stderr);

    // Usage errors: exit 2, naming the flag or the argument, before anything is sent.
    for (args, names) in [
        (
            vec!["upload", "--attr", "x"],
            "--attr expects key=value, got \"x\"",
        ),
        (vec!["upload", "--media-type", "pdf"], "--media-type"),
        (vec!["upload", "--parallel", "0"], "--parallel"),
        (vec!["get", "../etc/passwd"], "expects a document ID"),
        (vec!["rm", "not-an-id"], "expects a document ID"),
        (vec!["audit", "--document", "x"], "--document"),
        (vec!["list", "--top", "0"], "--top"),
    ] {
        let mut cmd = dev.docs(Some("alice"));
        cmd.args(&args);
        if args[0] == "upload" {
            cmd.arg(&file);
        }
        let r = run(&mut cmd, "", false);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(names), "{args:?}: {}", r.stderr);
    }
    let r = run(
        dev.docs(Some("alice"))
            .args(["upload", "--attr", "k=1", "--attr", "k=2"])
            .arg(&file),
        "",
        false,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--attr: key \"k\" is given twice"),
        "{}",
        r.stderr
    );
    let r = run(
        dev.docs(Some("alice"))
            .arg("upload")
            .arg(files.join("missing.txt")),
        "",
        false,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("missing.txt: no such file"),
        "{}",
        r.stderr
    );
    let r = dev.run_docs(Some("alice"), &["list", "--url", "ftp://example.com"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--url"), "{}", r.stderr);
    // No password at all: a usage error naming where it comes from.
    let r = run(
        dev.docs(None).env("BRIDGE_USER", "alice").arg("list"),
        "",
        false,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("BRIDGE_PASSWORD"), "{}", r.stderr);
}
