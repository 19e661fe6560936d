//! Log capture for the secret scan.
//!
//! [`init`] installs (once per process) a tracing subscriber that writes every event at TRACE
//! level to `target/test-logs/<binary>-<pid>.log`, so the whole suite's log output ends up on
//! disk. [`secret`] records a value the test is about to use as a secret in
//! `target/test-logs/<binary>-<pid>.secrets` (one per line) and returns it unchanged.
//! [`capture_output`] lets a test add the stdout/stderr of a child process (the `bridge`
//! binary, a node script) to the scanned logs. `cargo xtask ci` then checks that no secret
//! value appears in any log file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// The folder all test logs and secret lists are written to.
pub fn dir() -> PathBuf {
    std::env::var_os("BRIDGE_TEST_LOGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target").join("test-logs"))
}

fn stem() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "test".to_owned());
    format!("{exe}-{}", std::process::id())
}

fn open(ext: &str) -> Option<File> {
    let dir = dir();
    std::fs::create_dir_all(&dir).ok()?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{}.{ext}", stem())))
        .ok()
}

struct SharedFile(&'static Mutex<File>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut f = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let mut f = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f.flush()
    }
}

/// Installs the capturing subscriber once per process; later calls do nothing.
pub fn init() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        static FILE: OnceLock<Mutex<File>> = OnceLock::new();
        let Some(file) = open("log") else { return };
        let file: &'static Mutex<File> = FILE.get_or_init(|| Mutex::new(file));
        // Everything at TRACE but `aws_sigv4`'s TRACE events (its canonical requests, with a
        // presigned URL's session token in the query): the same cap as the app's
        // `bridge::telemetry::ALWAYS`, so the scan checks what a deployed app could log.
        let filter = tracing_subscriber::EnvFilter::new("trace,aws_sigv4=debug");
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || SharedFile(file))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Records `value` as a secret for the scan and returns it.
pub fn secret(value: impl Into<String>) -> String {
    let value = value.into();
    static FILE: OnceLock<Option<Mutex<File>>> = OnceLock::new();
    if let Some(file) = FILE.get_or_init(|| open("secrets").map(Mutex::new)) {
        let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
        // One secret a line; multi-line values (PEM) are recorded line by line.
        for line in value.lines().filter(|l| l.trim().len() >= 8) {
            let _ = writeln!(f, "{}", line.trim());
        }
    }
    value
}

/// Adds text a child process printed (or anything else a user could see) to the scanned logs.
pub fn capture_output(label: &str, text: &str) {
    if let Some(mut f) = open("out") {
        let _ = writeln!(f, "--- {label}");
        let _ = f.write_all(text.as_bytes());
        let _ = writeln!(f);
    }
}
