//! The app as a separate process on the local S3: the real `bridge serve` binary (release build)
//! configured only through the dev stack's `VCAP_SERVICES` file and CA, as on Cloud Foundry.
//!
//! Measured, in one run, against one in-process dev stack (`DevStack`, ephemeral temp dir):
//!
//! - **start-up**: spawn → first `200` on `GET /health` (polled every ~1 ms); median of 5
//!   spawns. Target ≤ 50 ms.
//! - **throughput and latency** of `GET /catalog/Buckets` (OData over S3 ListBuckets) with a
//!   client-credentials token holding `Read`, 16 concurrent tasks on HTTP/1.1 keep-alive,
//!   `BENCH_N` requests per round (default 2000). **Baseline**, same run, same S3: direct
//!   `ListBuckets` calls with the same SDK client built as the app builds it
//!   (`credstore::Client` → `LongTermKeys::cached` → `AwsLink::new`), same concurrency and
//!   count. Rounds alternate (direct, app, …, 3 each) and medians are reported, so a noisy
//!   machine hits both alike. Targets: throughput app/direct ≥ 0.90, added p99 ≤ 2 ms, no STS
//!   AssumeRole during the app's measured rounds (credentials cached after warm-up).
//! - **memory** of the app process: idle RSS (`VmRSS` after start-up, warm-up and 1 s idle),
//!   target ≤ 15 MiB; peak RSS (`VmHWM` after the load rounds), target ≤ 30 MiB; and the size of
//!   the binary (informational).
//!
//! The verdicts are informational: the program exits 0 whether targets are met or not, and
//! fails only when something errors. The load generator, the local S3 and the app share the
//! machine's cores, so absolute figures say little; read the ratios. Run with
//! `cargo bench -p bridge --bench catalog` (`BENCH_N=5000` for longer rounds).
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use awslink::{AwsLink, AwsSettings, LinkOptions, LongTermKeys};
use cfenv::Vcap;
use devstack::{DevConfig, DevStack};

const CONCURRENCY: usize = 16;
const ROUNDS: usize = 3;
const STARTUPS: usize = 5;
const WARMUP: usize = 500;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

/// The `bridge serve` child process; killed when dropped (also on panic).
struct App {
    child: Child,
    port: u16,
}

impl App {
    fn spawn(dev: &DevStack) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_bridge"))
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

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
    fn proc_status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"))
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now (bound to 127.0.0.1:0, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `GET /health` on a fresh connection: true on a 200.
fn health_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
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

/// Spawns the app and polls `/health` every ~1 ms (on a blocking thread, so the poll is not
/// rounded to the runtime's timer); returns the app and the time from spawn to the first 200.
async fn start_app(dev: &DevStack) -> (App, Duration) {
    let started = Instant::now();
    let mut app = App::spawn(dev);
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), app.port);
    let ready = tokio::task::spawn_blocking(move || {
        while started.elapsed() < Duration::from_secs(30) {
            if health_ok(addr) {
                return Some(started.elapsed());
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
    let elapsed = ready.expect("bridge serve did not answer /health within 30 s");
    (app, elapsed)
}

/// Throughput and latency percentiles of one round.
#[derive(Debug, Clone, Copy)]
struct Round {
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `n` calls of `call` from [`CONCURRENCY`] tasks; every call's latency is recorded.
async fn load<F, Fut>(n: usize, call: F) -> Round
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let call = call.clone();
        let next = next.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(n / CONCURRENCY + 1);
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let t = Instant::now();
                call().await;
                latencies.push(t.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    Round {
        per_s: n as f64 / elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The S3 access the app builds in `AppState::from_vcap`, from the same bindings and CA.
fn direct_link(dev: &DevStack, vcap: &Vcap) -> AwsLink {
    let ca = vec![dev.ca_pem().as_bytes().to_vec()];
    let settings = AwsSettings::from_vcap(vcap, None).unwrap();
    let store = credstore::Client::from_binding(
        &vcap.credstore(None).unwrap(),
        &credstore::ClientOptions {
            extra_roots_pem: ca.clone(),
            ..credstore::ClientOptions::default()
        },
    )
    .unwrap();
    let keys = LongTermKeys::cached(store, &settings);
    let options = LinkOptions {
        extra_roots_pem: ca,
        resolve: vec![("localhost".to_owned(), IpAddr::V4(Ipv4Addr::LOCALHOST))],
        ..LinkOptions::default()
    };
    AwsLink::new(settings, keys, &options).unwrap()
}

/// A client-credentials token of a new client holding only the Read scope.
async fn read_token(dev: &DevStack) -> String {
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

async fn run() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .map(|v| v.parse().expect("BENCH_N: a whole number"))
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let dev = DevStack::start(DevConfig::new(dir.path()).ephemeral())
        .await
        .unwrap();
    let vcap = Vcap::from_json(&dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
    let token: Arc<str> = read_token(&dev).await.into();

    // The baseline's client, warmed: long-term keys read, role credentials cached.
    let link = direct_link(&dev, &vcap);
    link.credentials.credentials().await.unwrap();
    let s3 = link.s3.clone();
    let direct = move || {
        let s3 = s3.clone();
        async move {
            s3.list_buckets().send().await.unwrap();
        }
    };

    // Start-up: spawn, first 200 on /health, kill; five times.
    let mut startups = Vec::new();
    for _ in 0..STARTUPS {
        let (app, elapsed) = start_app(&dev).await;
        startups.push(elapsed.as_secs_f64() * 1000.0);
        drop(app);
    }
    let startup_ms = median(startups.clone());

    // The app under load: one more spawn, kept for the rounds.
    let (app, _) = start_app(&dev).await;
    let http = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(CONCURRENCY * 2)
        .build()
        .unwrap();
    let buckets_url: Arc<str> = app.url("/catalog/Buckets").into();
    let via_app = move || {
        let (http, url, token) = (http.clone(), buckets_url.clone(), token.clone());
        async move {
            let resp = http.get(&*url).bearer_auth(&*token).send().await.unwrap();
            let status = resp.status();
            resp.bytes().await.unwrap();
            assert_eq!(status, 200, "GET /catalog/Buckets");
        }
    };
    // Warm-up: the app's JWKS and verified-signature caches, its AWS credentials, and both
    // connection pools.
    load(WARMUP, via_app.clone()).await;
    load(WARMUP, direct.clone()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_kib = app.proc_status_kib("VmRSS");

    let (mut direct_rounds, mut app_rounds) = (Vec::new(), Vec::new());
    let mut assume_roles = 0;
    for _ in 0..ROUNDS {
        direct_rounds.push(load(n, direct.clone()).await);
        let before = dev.aws_identity().assume_role_count();
        app_rounds.push(load(n, via_app.clone()).await);
        assume_roles += dev.aws_identity().assume_role_count() - before;
    }
    let peak_kib = app.proc_status_kib("VmHWM");
    drop(app);
    let binary = std::fs::metadata(Path::new(env!("CARGO_BIN_EXE_bridge")))
        .unwrap()
        .len();

    let med = |rounds: &[Round], f: fn(&Round) -> f64| median(rounds.iter().map(f).collect());
    let (d_rate, d_p50, d_p99) = (
        med(&direct_rounds, |r| r.per_s),
        med(&direct_rounds, |r| r.p50_ms),
        med(&direct_rounds, |r| r.p99_ms),
    );
    let (a_rate, a_p50, a_p99) = (
        med(&app_rounds, |r| r.per_s),
        med(&app_rounds, |r| r.p50_ms),
        med(&app_rounds, |r| r.p99_ms),
    );
    let ratio = a_rate / d_rate;
    let mib = |kib: u64| kib as f64 / 1024.0;

    println!(
        "bridge serve (release binary, own process) on the local S3; {CONCURRENCY} concurrent tasks, \
         {n} requests per round, medians of {ROUNDS} alternating rounds each"
    );
    println!(
        "  start-up runs (ms): {}",
        startups
            .iter()
            .map(|s| format!("{s:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (name, rounds) in [("direct", &direct_rounds), ("app", &app_rounds)] {
        println!(
            "  {name:<6} rounds (calls/s, p50 ms, p99 ms): {}",
            rounds
                .iter()
                .map(|r| format!("({:.0}, {:.2}, {:.2})", r.per_s, r.p50_ms, r.p99_ms))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    println!();
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let row = |figure: &str, value: String, target: &str, verdict: &str| {
        println!("  {figure:<44} {value:>12}  {target:<10} {verdict}");
    };
    row("figure", "measured".into(), "target", "");
    row(
        "start-up, spawn to first /health 200 (median)",
        format!("{startup_ms:.1} ms"),
        "≤ 50 ms",
        verdict(startup_ms <= 50.0),
    );
    row("direct S3 ListBuckets", format!("{d_rate:.0} /s"), "", "");
    row(
        "app GET /catalog/Buckets",
        format!("{a_rate:.0} /s"),
        "",
        "",
    );
    row(
        "throughput ratio app / direct",
        format!("{ratio:.2}"),
        "≥ 0.90",
        verdict(ratio >= 0.9),
    );
    row("direct p50", format!("{d_p50:.2} ms"), "", "");
    row("app p50", format!("{a_p50:.2} ms"), "", "");
    row(
        "added p50 (app − direct)",
        format!("{:.2} ms", a_p50 - d_p50),
        "",
        "",
    );
    row("direct p99", format!("{d_p99:.2} ms"), "", "");
    row("app p99", format!("{a_p99:.2} ms"), "", "");
    row(
        "added p99 (app − direct)",
        format!("{:.2} ms", a_p99 - d_p99),
        "≤ 2 ms",
        verdict(a_p99 - d_p99 <= 2.0),
    );
    row(
        "STS AssumeRole calls during the app's rounds",
        assume_roles.to_string(),
        "0",
        verdict(assume_roles == 0),
    );
    row(
        "app idle RSS (VmRSS after warm-up + 1 s)",
        format!("{:.1} MiB", mib(idle_kib)),
        "≤ 15 MiB",
        verdict(mib(idle_kib) <= 15.0),
    );
    row(
        "app peak RSS (VmHWM after the rounds)",
        format!("{:.1} MiB", mib(peak_kib)),
        "≤ 30 MiB",
        verdict(mib(peak_kib) <= 30.0),
    );
    row(
        "binary size (bridge, release)",
        format!("{:.1} MiB", binary as f64 / (1024.0 * 1024.0)),
        "",
        "",
    );
    dev.stop().await;
}
