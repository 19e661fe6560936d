//! The processes of the documents benchmark: `bridge serve` (and any other server) as a child
//! that is killed when dropped, readiness polling, and what `/proc` says about a process
//! (memory, CPU time), plus the dev user's token.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cfenv::{Secret, Vcap};
use devstack::DevStack;

/// A server process; killed (and reaped) when dropped, also on a panic.
pub struct Server {
    pub name: String,
    pub child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `cmd` with stdout and stderr appended to `log`, listening on `port`.
    pub fn spawn(name: &str, mut cmd: Command, port: u16, log: &Path) -> Self {
        let file = std::fs::File::create(log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self {
            name: name.to_owned(),
            child,
            port,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Polls `GET path` (with `token`, if any) until it answers 200, for at most `within`.
    pub async fn wait_ready(&mut self, path: &str, token: Option<&str>, within: Duration) {
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited during start-up: {status}", self.name);
            }
            let mut req = http.get(self.url(path)).timeout(Duration::from_secs(30));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Ok(resp) = req.send().await
                && resp.status() == 200
            {
                return;
            }
            assert!(
                started.elapsed() < within,
                "{} did not answer 200 on {path} within {within:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `bridge` binary measured: `BENCH_BRIDGE_BIN`, else the release build `cargo bench`
/// made of this package's binary.
pub fn bridge_bin() -> PathBuf {
    std::env::var_os("BENCH_BRIDGE_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_bridge").into(), PathBuf::from)
}

/// `bridge serve` on a free port with only these variables: the `VCAP_SERVICES` file, the dev
/// CA, the data directory, JSON logs at the default level (one line per request, as on Cloud
/// Foundry) into `log`. Nothing from the caller's shell changes what is measured.
pub fn spawn_bridge(name: &str, vcap: &Path, ca: &Path, data_dir: &Path, log: &Path) -> Server {
    let port = super::support::free_port();
    let mut cmd = Command::new(bridge_bin());
    cmd.args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .env_clear()
        .env("VCAP_SERVICES_FILE_PATH", vcap)
        .env("BRIDGE_EXTRA_CA_CERTS", ca)
        .env("LOG_FORMAT", "json");
    Server::spawn(name, cmd, port, log)
}

/// One field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`, …).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// MiB from KiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Resets the process's `VmHWM` to its current RSS (`echo 5 > /proc/<pid>/clear_refs`,
/// Linux ≥ 4.0); false when the kernel refused.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// User plus system CPU seconds the process has used (all its threads, also ended ones).
pub fn cpu_seconds(pid: u32) -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces, so split after its `)`): state is
    // field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields[11].parse().unwrap();
    let stime: f64 = fields[12].parse().unwrap();
    (utime + stime) / ticks
}

/// `/proc/loadavg`'s 1, 5 and 15 minute load averages: other work on the machine shows here.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Samples a process's `VmRSS` every 5 ms on a thread of its own until [`Sampler::finish`].
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl Sampler {
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            // The process may be gone (a panic elsewhere kills it): then the samples so far.
            let rss = || {
                std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()?
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse::<u64>()
                    .ok()
            };
            let mut max = 0;
            while !flag.load(Ordering::Relaxed) {
                max = max.max(rss().unwrap_or(0));
                std::thread::sleep(Duration::from_millis(5));
            }
            max.max(rss().unwrap_or(0))
        });
        Self { stop, thread }
    }

    /// The highest `VmRSS` seen, in KiB.
    pub fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// An access token of the dev user `alice` (Bridge Editor: Read and Write) from the local
/// XSUAA with the password grant, through the app's own binding.
pub async fn alice_token(dev: &DevStack, vcap: &Vcap) -> String {
    let user = dev
        .dev_users()
        .into_iter()
        .find(|u| u.username == "alice")
        .expect("the dev stack has the user alice");
    let binding = vcap.xsuaa(None).unwrap();
    let client = xsuaa::client::TokenClient::from_binding(
        &binding,
        &xsuaa::client::ClientOptions {
            extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
            ..xsuaa::client::ClientOptions::default()
        },
    )
    .unwrap();
    let tokens = client
        .password(&user.username, &user.password)
        .await
        .unwrap();
    let token: &Secret = &tokens.access_token;
    token.expose().to_owned()
}

/// Runs `cmd` to its end; panics with its stderr when it fails.
pub fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
