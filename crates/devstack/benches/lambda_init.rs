//! Lambda cold start and footprint of the caller `bootstrap` (Rust, `crates/caller`) against the
//! seed's Node.js function (`fixtures/seed-node`: the article's `exports.handler`, run by a
//! minimal Node runtime loop because npm's `aws-lambda-ric` cannot be installed here), both
//! under the same local Lambda (`devstack::lambda::LocalLambda`, one Runtime API per execution
//! environment) in one run, doing the same work per invocation: a client-credentials token from
//! the same XSUAA token endpoint, then `GET /jobs/ping` on the same app, both over HTTPS with
//! the dev CA.
//!
//! Figures, each as median and p90:
//! - init: spawn → first `/runtime/invocation/next` (`InvocationRecord::init_duration`), over
//!   COLD cold starts (targets for `bootstrap`: ≤ 10 ms, ≥ 10× faster than Node);
//! - RSS (`VmRSS` of the function's process): after init (sampled when the first invocation's
//!   first request reaches the token endpoint), and after the warm invocations (target for
//!   `bootstrap`: ≤ 10 MiB);
//! - per-invocation overhead over WARM warm invocations: the invocation's duration
//!   (`InvocationRecord::duration`) minus the time the token endpoint and the app spent on the
//!   requests made during it (measured inside those servers), so what is left is the function
//!   and the Runtime API: TLS, HTTP clients, JSON, the runtime loop (target ≤ 1 ms).
//!
//! The token endpoint is the dev stack's XSUAA router, served by the benchmark behind a timing
//! layer; the app answers `/jobs/ping` at once. `bootstrap` reads its service key from the
//! dev stack's Secrets Manager at init (as in AWS) and keeps its token cached between
//! invocations (the table shows the calls each function makes per invocation); the Secrets
//! Manager is served here too, behind its own timing layer, so the table shows how much of the
//! caller's init is spent inside it. A third, diagnostic row runs `bootstrap` with
//! `SSL_CERT_FILE` set to the CA bundle, so `rustls-native-certs` reads that file alone instead
//! of also every file of `/etc/ssl/certs` (what it does when neither `SSL_CERT_FILE` nor
//! `SSL_CERT_DIR` is set). Cold starts of the functions take turns, so a busy machine slows all
//! alike.
//!
//! Run with `cargo bench -p devstack --bench lambda_init [-- COLD WARM]` (default 30 and 200).
//! `bootstrap` is `BENCH_BOOTSTRAP`, else `target/lambda/release/bootstrap`, the build that
//! `cargo xtask dist` zips (release, `AWS_LC_SYS_NO_JITTER_ENTROPY=1`; built so when missing).
//! Needs `node` on the PATH.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::get;
use devstack::lambda::{FunctionConfig, InvocationRecord, InvocationSink, LocalLambda, Outcome};
use devstack::scheduled::ScheduledConfig;
use devstack::tls::DevCa;
use devstack::{DevConfig, DevStack};
use tokio::sync::watch;

const BOOTSTRAP_FN: &str = "bench-bootstrap";
const NODE_FN: &str = "bench-seed-node";
/// `bootstrap` with `SSL_CERT_FILE` set: the platform's roots from the bundle alone, without
/// reading every file of `/etc/ssl/certs` (a diagnostic row).
const BUNDLE_FN: &str = "bench-bootstrap-bundle";
/// The functions, in the table's order, with their labels.
const FUNCTIONS: [(&str, &str); 3] = [
    (BOOTSTRAP_FN, "bootstrap (Rust)"),
    (NODE_FN, "seed Node.js"),
    (BUNDLE_FN, "bootstrap, CA bundle"),
];
/// The CA bundle for the diagnostic row (Debian's).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const PING: &str = "/jobs/ping";

/// The Scheduler's `Input` for the caller, as a schedule file's target would carry it.
const EVENT: &str = r#"{"method":"GET","path":"/jobs/ping","scheduleArn":"arn:aws:scheduler:eu-central-1:000000000000:schedule/default/bench-ping","scheduledTime":"2026-12-02T05:00:00Z"}"#;

/// Every invocation attempt, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<InvocationRecord>>);

impl InvocationSink for Recorder {
    fn record(&self, record: &InvocationRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

impl Recorder {
    fn last(&self, function: &str) -> InvocationRecord {
        self.0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|r| r.function == function)
            .cloned()
            .unwrap()
    }
}

/// What the token endpoint and the app spent: time inside their handlers, request counts, and
/// a one-shot RSS sample of a function's process at its first request.
#[derive(Default)]
struct Probe {
    server_nanos: AtomicU64,
    requests: AtomicU64,
    token_requests: AtomicU64,
    /// The function whose process to sample at the next request.
    armed: Mutex<Option<String>>,
    sampled: Mutex<Option<Sample>>,
}

/// A function process at its first request: `VmRSS`, and the time its threads spent on a CPU
/// and waiting for one (`/proc/{pid}/task/*/schedstat`).
#[derive(Clone, Copy)]
struct Sample {
    rss_kib: Option<u64>,
    on_cpu: Duration,
    runqueue: Duration,
}

impl Sample {
    fn of(pid: u32) -> Sample {
        let (mut on_cpu, mut runqueue) = (0u64, 0u64);
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                let text = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
                let mut f = text
                    .split_whitespace()
                    .map(|v| v.parse::<u64>().unwrap_or(0));
                on_cpu += f.next().unwrap_or(0);
                runqueue += f.next().unwrap_or(0);
            }
        }
        Sample {
            rss_kib: rss_kib(pid),
            on_cpu: Duration::from_nanos(on_cpu),
            runqueue: Duration::from_nanos(runqueue),
        }
    }
}

#[derive(Clone, Copy)]
struct Snapshot {
    nanos: u64,
    requests: u64,
    token_requests: u64,
}

impl Probe {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            nanos: self.server_nanos.load(Ordering::SeqCst),
            requests: self.requests.load(Ordering::SeqCst),
            token_requests: self.token_requests.load(Ordering::SeqCst),
        }
    }

    fn arm(&self, function: &str) {
        *self.sampled.lock().unwrap() = None;
        *self.armed.lock().unwrap() = Some(function.to_owned());
    }

    fn sampled(&self) -> Option<Sample> {
        *self.armed.lock().unwrap() = None;
        self.sampled.lock().unwrap().take()
    }
}

/// The timing layer around the token endpoint and the app.
async fn timed(State(probe): State<Arc<Probe>>, req: Request, next: Next) -> Response {
    let armed = probe.armed.lock().unwrap().take();
    if let Some(function) = armed {
        *probe.sampled.lock().unwrap() = function_pid(&function).map(Sample::of);
    }
    let token = req.uri().path() == "/oauth/token";
    let started = Instant::now();
    let resp = next.run(req).await;
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    probe.server_nanos.fetch_add(nanos, Ordering::SeqCst);
    probe.requests.fetch_add(1, Ordering::SeqCst);
    if token {
        probe.token_requests.fetch_add(1, Ordering::SeqCst);
    }
    resp
}

/// The live child process of this benchmark running `function` (its environment names it as
/// `AWS_LAMBDA_FUNCTION_NAME`); the newest if several.
fn function_pid(function: &str) -> Option<u32> {
    let me = std::process::id();
    let needle = format!("AWS_LAMBDA_FUNCTION_NAME={function}\0");
    let mut best: Option<(u64, u32)> = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, after)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        // After the command: state (0), ppid (1), … starttime (19).
        let (Some(ppid), Some(start)) = (
            fields.get(1).and_then(|v| v.parse::<u32>().ok()),
            fields.get(19).and_then(|v| v.parse::<u64>().ok()),
        ) else {
            continue;
        };
        if ppid != me || fields.first() == Some(&"Z") {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.windows(needle.len()).any(|w| w == needle.as_bytes())
            && best.is_none_or(|(s, _)| start > s)
        {
            best = Some((start, pid));
        }
    }
    best.map(|(_, pid)| pid)
}

/// `VmRSS` of `pid` (KiB).
fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// A `kB` line of `/proc/{pid}/status` (`VmRSS:`, `RssAnon:`, `RssFile:`).
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The median and p90 (nearest rank) of `v`.
fn p50_p90(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let i = ((p * s.len() as f64).ceil() as usize).clamp(1, s.len());
        s[i - 1]
    };
    (rank(0.5), rank(0.9))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The caller `bootstrap`: `BENCH_BOOTSTRAP`, else the build `cargo xtask dist` ships
/// (`target/lambda/release/bootstrap`: release, without aws-lc's CPU jitter entropy), built
/// the same way when missing.
fn bootstrap_path(root: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("BENCH_BOOTSTRAP") {
        return PathBuf::from(p);
    }
    let target = root.join("target").join("lambda");
    let path = target.join("release").join("bootstrap");
    if !path.exists() {
        println!(
            "{} is missing: building it as cargo xtask dist does (AWS_LC_SYS_NO_JITTER_ENTROPY=1 \
             CARGO_TARGET_DIR=target/lambda cargo build --release -p caller --bin bootstrap)",
            path.display()
        );
        let status =
            std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args(["build", "--release", "-p", "caller", "--bin", "bootstrap"])
                .env("AWS_LC_SYS_NO_JITTER_ENTROPY", "1")
                .env("CARGO_TARGET_DIR", &target)
                .current_dir(root)
                .status()
                .unwrap();
        assert!(status.success(), "building bootstrap failed");
    }
    path
}

/// Serves `router` over HTTPS (the dev CA) on a loopback port, behind the timing layer.
async fn serve_timed(
    router: Router,
    probe: &Arc<Probe>,
    ca: &DevCa,
    stop: &watch::Receiver<bool>,
) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = ca.server_config(&["127.0.0.1", "localhost"]).unwrap();
    let mut stop = stop.clone();
    tokio::spawn(devstack::tls::serve_tls(
        listener,
        router.layer(from_fn_with_state(probe.clone(), timed)),
        tls,
        devstack::tls::server_limits(),
        async move {
            let _ = stop.wait_for(|v| *v).await;
        },
    ));
    format!("https://127.0.0.1:{port}")
}

/// One invocation; panics unless the function succeeded and the app answered 200.
async fn invoke(lambda: &LocalLambda, recorder: &Recorder, function: &str) -> InvocationRecord {
    let result = lambda
        .invoke(function, Bytes::from_static(EVENT.as_bytes()), None)
        .await
        .unwrap();
    let record = recorder.last(function);
    match &result.outcome {
        Outcome::Success(body) => {
            let text = String::from_utf8_lossy(body);
            assert!(
                text.contains("200"),
                "{function}: the app's status is not in the result: {text}"
            );
        }
        Outcome::Error { error_type, body } => panic!(
            "{function} failed: {error_type}: {}\n{}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&result.log)
        ),
    }
    record
}

/// Stops every idle environment (of every function) and waits for their processes to be gone.
async fn stop_environments(lambda: &LocalLambda) {
    lambda.shutdown();
    let end = Instant::now() + Duration::from_secs(5);
    while FUNCTIONS.iter().any(|(f, _)| function_pid(f).is_some()) && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[derive(Default)]
struct Figures {
    init_ms: Vec<f64>,
    /// Of the init: time inside the Secrets Manager.
    init_served_ms: Vec<f64>,
    cold_invocation_ms: Vec<f64>,
    rss_init_kib: Vec<f64>,
    /// On a CPU and waiting for one, from spawn to the first request.
    init_cpu_ms: Vec<f64>,
    init_runqueue_ms: Vec<f64>,
    rss_after_kib: Option<u64>,
    /// `RssAnon` and `RssFile` after the invocations.
    rss_after_split_kib: Option<(u64, u64)>,
    warm_ms: Vec<f64>,
    overhead_ms: Vec<f64>,
    calls: Vec<f64>,
    token_calls: Vec<f64>,
}

#[tokio::main]
async fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse().ok())
        .collect();
    let cold = counts.first().copied().unwrap_or(30).max(1);
    let warm = counts.get(1).copied().unwrap_or(200).max(1);
    let root = testkit::workspace_root();
    let bootstrap = bootstrap_path(&root);
    let node_bootstrap = root.join("crates/devstack/benches/fixtures/seed-node/bootstrap");

    let dir = tempfile::tempdir().unwrap();
    let stack = DevStack::start(DevConfig::new(dir.path()).ephemeral())
        .await
        .unwrap();
    let ca = DevCa::load_or_create(stack.data_dir()).unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let probe = Arc::new(Probe::default());
    let token_url = serve_timed(stack.xsuaa().router(), &probe, &ca, &stop).await;
    let app = Router::new().route(PING, get(|| async { r#"{"status":"ok"}"# }));
    let app_url = serve_timed(app, &probe, &ca, &stop).await;
    // The dev stack's Secrets Manager, holding the caller's service key, served again here
    // behind its own timing layer (it is called during the caller's init only).
    let scheduled = stack
        .start_scheduled(ScheduledConfig::new(&app_url, &bootstrap).ephemeral())
        .await
        .unwrap();
    let init_probe = Arc::new(Probe::default());
    let secrets_url = serve_timed(scheduled.secrets().router(), &init_probe, &ca, &stop).await;

    let ca_path = stack.ca_path().display().to_string();
    let aws = stack.aws_identity().clone();
    let role = aws.caller_role().name.clone();
    let mut caller = FunctionConfig::new(BOOTSTRAP_FN, &bootstrap);
    caller.timeout = Duration::from_secs(30);
    caller.credentials = Some(Arc::new(move || {
        let c = aws
            .issue_role_session(&role, "bench", Duration::from_secs(3600))
            .unwrap();
        vec![
            ("AWS_ACCESS_KEY_ID".to_owned(), c.access_key_id),
            (
                "AWS_SECRET_ACCESS_KEY".to_owned(),
                c.secret_access_key.expose().to_owned(),
            ),
            (
                "AWS_SESSION_TOKEN".to_owned(),
                c.session_token.expose().to_owned(),
            ),
        ]
    }));
    caller.env = vec![
        ("BRIDGE_APP_URL".into(), app_url.clone()),
        (
            "BRIDGE_SECRET_ID".into(),
            devstack::aws_identity::CALLER_SECRET_NAME.into(),
        ),
        ("BRIDGE_XSUAA_URL".into(), token_url.clone()),
        ("BRIDGE_EXTRA_CA_CERTS".into(), ca_path.clone()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), secrets_url),
        ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
    ];
    let mut bundle = caller.clone();
    bundle.name = BUNDLE_FN.into();
    bundle.env.push(("SSL_CERT_FILE".into(), CA_BUNDLE.into()));
    let key = stack.xsuaa().binding();
    let field = |k: &str| key[k].as_str().unwrap_or_default().to_owned();
    let mut node = FunctionConfig::new(NODE_FN, &node_bootstrap);
    node.timeout = Duration::from_secs(30);
    node.env = vec![
        ("_HANDLER".into(), "index.handler".into()),
        ("OA_URL".into(), token_url.clone()),
        ("CLIENT_ID".into(), field("clientid")),
        ("CLIENT_SECRET".into(), field("clientsecret")),
        ("ENDPOINT_HOST".into(), app_url.clone()),
        ("ENDPOINT_PATH".into(), PING.into()),
        ("NODE_EXTRA_CA_CERTS".into(), ca_path),
    ];
    let recorder = Arc::new(Recorder::default());
    let lambda = LocalLambda::new(
        None,
        "eu-central-1",
        "000000000000",
        if Path::new(CA_BUNDLE).exists() {
            vec![caller, node, bundle]
        } else {
            vec![caller, node]
        },
        recorder.clone(),
    );
    let functions: Vec<&str> = FUNCTIONS
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| lambda.function_arn(f).is_some())
        .collect();
    let node_version = std::process::Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    println!(
        "lambda_init: {cold} cold starts and {warm} warm invocations per function; bootstrap = {}, Node.js {node_version} (minimal runtime loop: npm aws-lambda-ric needs cmake and Node >= 22, not installable here)",
        bootstrap.display()
    );
    println!(
        "load average at start: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    // One unmeasured round each (file caches, the XSUAA key), then the cold starts, alternating.
    for f in &functions {
        stop_environments(&lambda).await;
        invoke(&lambda, &recorder, f).await;
    }
    let mut figures: Vec<Figures> = functions.iter().map(|_| Figures::default()).collect();
    for i in 0..cold {
        for j in 0..functions.len() {
            let k = (i + j) % functions.len();
            let f = functions[k];
            stop_environments(&lambda).await;
            probe.arm(f);
            let before = init_probe.snapshot();
            let r = invoke(&lambda, &recorder, f).await;
            let served = init_probe.snapshot().nanos - before.nanos;
            let fig = &mut figures[k];
            fig.init_ms.push(ms(r.init_duration.unwrap()));
            fig.init_served_ms.push(ms(Duration::from_nanos(served)));
            fig.cold_invocation_ms.push(ms(r.duration));
            if let Some(sample) = probe.sampled() {
                if let Some(kib) = sample.rss_kib {
                    fig.rss_init_kib.push(kib as f64);
                }
                fig.init_cpu_ms.push(ms(sample.on_cpu));
                fig.init_runqueue_ms.push(ms(sample.runqueue));
            }
        }
    }
    // Warm invocations, alternating, after one unmeasured invocation each (a cold start of the
    // functions whose environments the last cold start of another one stopped).
    for f in &functions {
        invoke(&lambda, &recorder, f).await;
    }
    for _ in 0..warm {
        for (k, f) in functions.iter().enumerate() {
            let before = probe.snapshot();
            let r = invoke(&lambda, &recorder, f).await;
            let after = probe.snapshot();
            assert!(
                r.init_duration.is_none(),
                "{f}: a warm invocation cold-started"
            );
            let fig = &mut figures[k];
            let served = Duration::from_nanos(after.nanos - before.nanos);
            fig.warm_ms.push(ms(r.duration));
            fig.overhead_ms.push(ms(r.duration.saturating_sub(served)));
            fig.calls.push((after.requests - before.requests) as f64);
            fig.token_calls
                .push((after.token_requests - before.token_requests) as f64);
        }
    }
    for (k, f) in functions.iter().enumerate() {
        let pid = function_pid(f);
        figures[k].rss_after_kib = pid.and_then(rss_kib);
        figures[k].rss_after_split_kib =
            pid.and_then(|p| Some((status_kib(p, "RssAnon:")?, status_kib(p, "RssFile:")?)));
    }
    lambda.shutdown();
    let _ = stop_tx.send(true);
    scheduled.stop().await;
    stack.stop().await;

    let pair = |v: &[f64], scale: f64| {
        if v.is_empty() {
            return "n/a".to_owned();
        }
        let (a, b) = p50_p90(v);
        format!("{:.2} / {:.2}", a * scale, b * scale)
    };
    println!();
    println!(
        "{:<22} {:>15} {:>15} {:>15} {:>15} {:>16} {:>14} {:>13} {:>13} {:>13} {:>13} {:>13}",
        "function (p50 / p90)",
        "init ms",
        "of which SM ms",
        "CPU ms",
        "runq wait ms",
        "cold invocation",
        "RSS init MiB",
        "RSS after",
        "anon + file",
        "warm ms",
        "overhead ms",
        "calls (token)"
    );
    for (k, f) in functions.iter().enumerate() {
        let fig = &figures[k];
        let name = FUNCTIONS
            .iter()
            .find(|(n, _)| n == f)
            .map_or(*f, |(_, l)| *l);
        let (calls, _) = p50_p90(&fig.calls);
        let (tokens, _) = p50_p90(&fig.token_calls);
        println!(
            "{:<22} {:>15} {:>15} {:>15} {:>15} {:>16} {:>14} {:>13} {:>13} {:>13} {:>13} {:>13}",
            name,
            pair(&fig.init_ms, 1.0),
            pair(&fig.init_served_ms, 1.0),
            pair(&fig.init_cpu_ms, 1.0),
            pair(&fig.init_runqueue_ms, 1.0),
            pair(&fig.cold_invocation_ms, 1.0),
            pair(&fig.rss_init_kib, 1.0 / 1024.0),
            fig.rss_after_kib
                .map_or_else(|| "n/a".to_owned(), |v| format!("{:.2}", mib(v))),
            fig.rss_after_split_kib.map_or_else(
                || "n/a".to_owned(),
                |(anon, file)| format!("{:.2} + {:.2}", mib(anon), mib(file)),
            ),
            pair(&fig.warm_ms, 1.0),
            pair(&fig.overhead_ms, 1.0),
            format!("{calls:.0} ({tokens:.0})"),
        );
    }
    let (b, n) = (&figures[0], &figures[1]);
    let (b_init, b_init90) = p50_p90(&b.init_ms);
    let (n_init, _) = p50_p90(&n.init_ms);
    let (b_rss, _) = p50_p90(&b.rss_init_kib);
    let (n_rss, _) = p50_p90(&n.rss_init_kib);
    let (b_over, _) = p50_p90(&b.overhead_ms);
    let (n_over, _) = p50_p90(&n.overhead_ms);
    let b_after = b.rss_after_kib.unwrap_or(0);
    println!();
    println!(
        "ratios (Node / bootstrap, medians): init {:.1}x, RSS after init {:.1}x, RSS after invocations {:.1}x, overhead {:.1}x",
        n_init / b_init,
        n_rss / b_rss,
        n.rss_after_kib.unwrap_or(0) as f64 / b_after.max(1) as f64,
        n_over / b_over
    );
    let check = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "targets for bootstrap: init p50 {b_init:.2} ms (p90 {b_init90:.2}) <= 10 ms: {}; >= 10x faster than Node: {}; RSS after invocations {:.2} MiB <= 10 MiB: {}; overhead p50 {b_over:.3} ms <= 1 ms: {}",
        check(b_init <= 10.0),
        check(n_init >= 10.0 * b_init),
        mib(b_after),
        check(b_after > 0 && mib(b_after) <= 10.0),
        check(b_over <= 1.0),
    );
    println!(
        "init = spawn -> first /next (bootstrap's includes reading its service key from Secrets Manager over HTTPS; \"of which SM\" = time inside the Secrets Manager); CPU ms, runq wait ms = the process's time on a CPU and waiting for one (all threads, /proc/PID/task/*/schedstat) from spawn to its first request, i.e. init plus the start of the first invocation; RSS init = VmRSS when the first request reaches the token endpoint; RSS after = VmRSS after the warm invocations, split into RssAnon + RssFile (file-backed pages of the executable and libraries, shared with the page cache); overhead = invocation duration - time inside the token endpoint and the app; calls = requests per warm invocation (bootstrap caches its token); \"bootstrap, CA bundle\" = bootstrap with SSL_CERT_FILE={CA_BUNDLE}, so rustls-native-certs reads that bundle only instead of also every file in /etc/ssl/certs"
    );
}
