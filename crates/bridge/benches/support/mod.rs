//! What the benchmarks share: the `bridge serve` child process on a dev stack, its memory and
//! start-up, a Read token, medians.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use devstack::DevStack;

/// A multi-threaded runtime with two workers named `name`.
pub fn runtime(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

/// The `bridge serve` child process; killed when dropped (also on panic).
pub struct App {
    pub child: Child,
    pub port: u16,
}

impl App {
    pub fn spawn(dev: &DevStack) -> Self {
        let port = free_port();
        // Only these variables: no `PORT`, `VCAP_APPLICATION` or `BRIDGE_*` from the caller's
        // shell changes what is measured.
        // `BENCH_BRIDGE_BIN` measures another build of the same sources, e.g. the deployed one
        // (`dist/cf/bridge` from `cargo xtask dist`).
        let binary = std::env::var_os("BENCH_BRIDGE_BIN").map_or_else(
            || env!("CARGO_BIN_EXE_bridge").into(),
            std::path::PathBuf::from,
        );
        let child = Command::new(binary)
            .args(["serve", "--port", &port.to_string()])
            .env_clear()
            .env("VCAP_SERVICES_FILE_PATH", dev.vcap_path())
            .env("BRIDGE_EXTRA_CA_CERTS", dev.ca_path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Self { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Memory of the app process from `/proc/<pid>/status`, in MiB.
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss: f64,
    /// `VmHWM`: the most ever resident.
    pub hwm: f64,
    /// `RssAnon`: heap, stacks.
    pub anon: f64,
    /// `RssFile`: mapped pages of the binary and shared libraries.
    pub file: f64,
}

impl Memory {
    pub fn of(app: &App) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{}/status", app.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .map(|v| v.trim().parse::<f64>().unwrap() / 1024.0)
                .unwrap_or_else(|| panic!("no {name} in /proc/<pid>/status"))
        };
        Self {
            rss: field("VmRSS"),
            hwm: field("VmHWM"),
            anon: field("RssAnon"),
            file: field("RssFile"),
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now (bound to 127.0.0.1:0, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `GET /health` on a connected stream: true on a 200.
pub fn health_ok(mut stream: TcpStream, addr: SocketAddr) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Times of one start-up, from the spawn.
#[derive(Debug, Clone, Copy)]
pub struct Startup {
    /// The first accepted TCP connection.
    pub listening: Duration,
    /// The first `200` on `GET /health`.
    pub first_200: Duration,
}

/// Spawns the app and polls `/health` every ~1 ms (on a blocking thread, so the poll is not
/// rounded to the runtime's timer); returns the app and its start-up times.
pub async fn start_app(dev: &DevStack) -> (App, Startup) {
    let started = Instant::now();
    let mut app = App::spawn(dev);
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), app.port);
    let ready = tokio::task::spawn_blocking(move || {
        let mut listening = None;
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(stream) = TcpStream::connect(addr) {
                let listening = *listening.get_or_insert_with(|| started.elapsed());
                if health_ok(stream, addr) {
                    let first_200 = started.elapsed();
                    return Some(Startup {
                        listening,
                        first_200,
                    });
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    })
    .await
    .unwrap();
    if let Some(status) = app.child.try_wait().unwrap() {
        panic!("bridge serve exited during start-up: {status}");
    }
    let startup = ready.expect("bridge serve did not answer /health within 30 s");
    (app, startup)
}

/// The median of `v` (upper middle for even lengths).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A client-credentials token of a new client holding only the Read scope.
pub async fn read_token(dev: &DevStack) -> String {
    let client_id = "bench-reader";
    let secret = dev.xsuaa().register_client(
        devstack::xsuaa::ClientSpec::new(client_id).with_authorities(&["bridge!t1.Read"]),
    );
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(dev.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let resp = http
        .post(format!("{}/oauth/token", dev.xsuaa_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret.expose()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "token request refused");
    let body: serde_json::Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}
