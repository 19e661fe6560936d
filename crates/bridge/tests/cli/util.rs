//! Helpers: run `bridge` (or a node script) with a controlled environment and capture what it
//! printed.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A `bridge` command with an empty Cloud Foundry environment.
pub fn bridge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bridge"));
    for var in [
        "VCAP_SERVICES",
        "VCAP_SERVICES_FILE_PATH",
        "VCAP_APPLICATION",
        "PORT",
        "CF_INSTANCE_PORT",
        "BRIDGE_EXTRA_CA_CERTS",
        "BRIDGE_CREDSTORE_NAMESPACE",
        "BRIDGE_CREDSTORE_INSTANCE",
        "BRIDGE_DATA_DIR",
        "BRIDGE_DATABASE_INSTANCE",
        "LOG_FORMAT",
        // `bridge dev` builds the caller's bootstrap with the cargo that runs it; tests use
        // the one built beside `bridge` (see `bootstrap()`), never a nested cargo.
        "CARGO",
        "CARGO_MANIFEST_DIR",
        "BRIDGE_LAMBDA_BOOTSTRAP",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "trace");
    cmd
}

/// The caller Lambda's `bootstrap`, built beside `bridge` (`cargo xtask ci` builds it before
/// the tests; `cargo build -p caller` by hand).
pub fn bootstrap() -> std::path::PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_bridge")).with_file_name("bootstrap");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p caller` (cargo xtask ci does)",
        path.display()
    );
    path
}

/// A `bridge` command bound to the dev stack whose files are in `data_dir`.
pub fn bridge_for(data_dir: &Path) -> Command {
    let mut cmd = bridge();
    cmd.env(
        "VCAP_SERVICES_FILE_PATH",
        data_dir.join("vcap-services.json"),
    )
    .env("BRIDGE_EXTRA_CA_CERTS", data_dir.join("ca.pem"));
    cmd
}

/// Runs `cmd` with `stdin`; stdout and stderr go to the scanned logs unless `stdout_is_secret`.
pub fn run(cmd: &mut Command, stdin: &str, stdout_is_secret: bool) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    // The label names the arguments only: the environment may hold the secrets under test.
    let label = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    testkit::logs::capture_output(&format!("{label} (stderr)"), &run.stderr);
    if !stdout_is_secret {
        testkit::logs::capture_output(&format!("{label} (stdout)"), &run.stdout);
    }
    run
}

/// Starts a dev stack in `dir` on ephemeral ports and registers its secrets.
pub async fn dev_stack(dir: &Path) -> devstack::DevStack {
    testkit::logs::init();
    let stack = devstack::DevStack::start(devstack::DevConfig::new(dir).ephemeral())
        .await
        .unwrap();
    let creds = &stack.vcap_services()["credstore"][0]["credentials"];
    testkit::logs::secret(creds["password"].as_str().unwrap());
    testkit::logs::secret(creds["encryption"]["client_private_key"].as_str().unwrap());
    stack
}

/// Runs `tools/node/<script>` with `args` and `env` (stdin empty) and parses the ONE JSON line
/// it prints. Its stdout and stderr go to the scanned logs; panics with what it printed if it
/// fails, outlives `deadline` (it is killed then) or prints no JSON.
pub fn node_json(
    script: &str,
    args: &[&str],
    env: &[(&str, &OsStr)],
    deadline: Duration,
) -> serde_json::Value {
    let mut child = testkit::node_script(script)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run node");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let until = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    testkit::logs::capture_output(&format!("node {script} (stdout)"), &stdout);
    testkit::logs::capture_output(&format!("node {script} (stderr)"), &stderr);
    match status {
        None => panic!(
            "{script} did not finish within {} s\nstdout: {stdout}\nstderr: {stderr}",
            deadline.as_secs()
        ),
        Some(s) if !s.success() => {
            panic!("{script} failed ({s})\nstdout: {stdout}\nstderr: {stderr}")
        }
        Some(_) => {}
    }
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {stdout}"))
}
