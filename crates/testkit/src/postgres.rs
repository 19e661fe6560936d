//! A throw-away PostgreSQL server for tests, from the distribution's packages (Debian's
//! `postgresql`: `/usr/lib/postgresql/<version>/bin/{initdb,pg_ctl,postgres,createdb}`, which
//! `cargo xtask install` installs when missing).
//!
//! [`Server::start`] runs `initdb` in a fresh temporary directory and starts the server on an
//! ephemeral loopback port with `trust` authentication, durability off (tests do not need it)
//! and its Unix socket in that directory; dropping the server stops it and removes the
//! directory. [`shared`] is one server per test process (a `OnceLock`; statics are never
//! dropped, so a watchdog process stops that server and removes its directory once the test
//! process has exited); tests make their own database on it with [`Server::create_database`].
//!
//! PostgreSQL refuses to run as root: when the tests run as root, the server and its tools run
//! as `nobody` through `runuser`, and the data directory belongs to `nobody`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running PostgreSQL server.
#[derive(Debug)]
pub struct Server {
    bin: PathBuf,
    /// The temporary directory (data, socket, log); removed on drop.
    dir: PathBuf,
    port: u16,
    /// Run the tools as this user (`Some("nobody")` when the tests run as root).
    user: Option<&'static str>,
    /// Whether drop stops the server (the shared one leaves that to its watchdog).
    owned: bool,
}

/// The newest `bin` directory under `/usr/lib/postgresql/` holding `postgres`, if any.
pub fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

/// The server every test of this process shares, started on first use. Panics with
/// instructions when PostgreSQL is not installed or does not start.
pub fn shared() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let mut server = Server::start().unwrap_or_else(|e| panic!("{e}"));
        server.watch(std::process::id());
        server.owned = false;
        server
    })
}

impl Server {
    /// Initialises and starts a server (see the module docs).
    pub fn start() -> Result<Self, String> {
        let bin = bin_dir().ok_or(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): run \
             `cargo xtask install`, which installs Debian's `postgresql` package",
        )?;
        let user = is_root().then_some("nobody");
        let dir = tempfile::Builder::new()
            .prefix("testkit-pg-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        if let Some(user) = user {
            chown(&dir, user)?;
        }
        let mut server = Self {
            bin,
            dir,
            port: 0,
            user,
            owned: true,
        };
        server.initdb()?;
        // The port is free when we look; another process may take it before the server binds,
        // so a failed start is retried on a new port.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port()?;
            match server.pg_ctl_start() {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` as the superuser `postgres` (no password: trust).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a new, empty database with a unique name and returns its URL.
    pub fn create_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let out = self
            .tool("createdb")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg(&name)
            .output()
            .unwrap_or_else(|e| panic!("cannot run createdb: {e}"));
        assert!(
            out.status.success(),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(&name)
    }

    /// Stops the server now (fast shutdown: open connections are closed).
    pub fn stop(&self) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn initdb(&self) -> Result<(), String> {
        let out = self
            .tool("initdb")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .args(["--locale=C"])
            .output()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c synchronous_commit=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        let status = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(10).collect();
            Err(format!(
                "PostgreSQL did not start on port {}: {}",
                self.port,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        }
    }

    /// Starts a watchdog that stops the server and removes its directory once process `pid`
    /// has exited.
    fn watch(&self, pid: u32) {
        let pg_ctl = self.bin.join("pg_ctl");
        let run_as = self
            .user
            .map(|u| format!("runuser -u {u} -- "))
            .unwrap_or_default();
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             {run_as}'{}' -D '{}' -m immediate -w stop >/dev/null 2>&1; rm -rf '{}'",
            pg_ctl.display(),
            self.dir.join("data").display(),
            self.dir.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// A command running `bin/<name>`, as the unprivileged user when needed.
    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        let mut cmd = match self.user {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(path);
                cmd
            }
            None => Command::new(path),
        };
        cmd.current_dir(&self.dir).stdin(Stdio::null());
        cmd
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.owned {
            self.stop();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Gives `path` to `user` (and its primary group).
fn chown(path: &Path, user: &str) -> Result<(), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, user])
            .output()
            .map_err(|e| format!("cannot run id: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("no user {user}"))
    };
    std::os::unix::fs::chown(path, Some(id("-u")?), Some(id("-g")?))
        .map_err(|e| format!("cannot give {} to {user}: {e}", path.display()))
}
