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
//!   (`bridge::app::aws_link`, which `AppState::from_vcap` uses), same concurrency and
//!   count. Rounds alternate (direct, app, …, 3 each) and medians are reported, so a noisy
//!   machine hits both alike. Targets: throughput app/direct ≥ 0.90, added p99 ≤ 2 ms, no STS
//!   AssumeRole during the app's measured rounds (credentials cached after warm-up).
//! - **memory** of the app process: idle RSS (`VmRSS` after start-up, warm-up and 1 s idle),
//!   target ≤ 15 MiB; peak RSS (`VmHWM` after the load rounds), target ≤ 30 MiB; and the size of
//!   the binary (informational).
//!
//! Where the time goes, to read the verdicts: start-up is also given to the first accepted
//! connection; each round prints its CPU time per call split into the load generator, the local
//! S3 (the dev stack runs on its own threads) and the app process, how many cores were busy, and
//! how long threads waited for a core. The load generator, the local S3 and the app share the
//! machine's cores, so on a small machine the throughput ratio is bounded by the CPU per call
//! (printed as the ratio's ceiling), not by the app's latency.
//!
//! The verdicts are informational: the program exits 0 whether targets are met or not, and
//! fails only when something errors. The `bridge serve` child is killed at the end and on a
//! panic. Run with `cargo bench -p bridge --bench catalog` (`BENCH_N=5000` for longer rounds;
//! `BENCH_BRIDGE_BIN=dist/cf/bridge` to measure the deployed build from `cargo xtask dist`).
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use awslink::AwsLink;
use cfenv::Vcap;
use devstack::{DevConfig, DevStack};

mod support;
use support::{App, Memory, median, read_token, runtime, start_app};

const CONCURRENCY: usize = 16;
const ROUNDS: usize = 3;
const STARTUPS: usize = 5;
const WARMUP: usize = 500;

fn main() {
    // The dev stack runs on its own runtime (threads named `devstack`) and the load generator
    // on another, so that the CPU time of the local S3 and of the clients can be told apart.
    let dev_rt = runtime("devstack");
    let dir = tempfile::tempdir().unwrap();
    let dev = dev_rt
        .block_on(DevStack::start(DevConfig::new(dir.path()).ephemeral()))
        .unwrap();
    runtime("loadgen").block_on(run(&dev));
    dev_rt.block_on(dev.stop());
}

/// CPU time (ms) of the live threads of a process, split into the dev stack's (threads named
/// `devstack`: the local S3 during the rounds) and the rest (for this process: the load
/// generator; for the app: all of it).
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    devstack_ms: f64,
    other_ms: f64,
    /// Time the threads were runnable but waited for a core.
    waited_ms: f64,
}

impl Cpu {
    fn of(pid: &str) -> Self {
        let mut cpu = Cpu::default();
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
            let path = task.unwrap().path();
            // Threads may end between the listing and the reads.
            let (Ok(comm), Ok(stat)) = (
                std::fs::read_to_string(path.join("comm")),
                std::fs::read_to_string(path.join("schedstat")),
            ) else {
                continue;
            };
            let mut fields = stat.split_whitespace().map(|f| f.parse::<f64>().unwrap());
            let (ns, waited) = (fields.next().unwrap(), fields.next().unwrap());
            cpu.waited_ms += waited / 1e6;
            if comm.trim() == "devstack" {
                cpu.devstack_ms += ns / 1e6;
            } else {
                cpu.other_ms += ns / 1e6;
            }
        }
        cpu
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            devstack_ms: self.devstack_ms - before.devstack_ms,
            other_ms: self.other_ms - before.other_ms,
            waited_ms: self.waited_ms - before.waited_ms,
        }
    }
}

/// Throughput, latency and CPU cost of one round.
#[derive(Debug, Clone, Copy)]
struct Round {
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Calls slower than [`SLOW_MS`].
    slow: usize,
    /// CPU ms per call: the load generator (this process but the dev stack).
    client_cpu: f64,
    /// CPU ms per call: the dev stack (the local S3).
    s3_cpu: f64,
    /// CPU ms per call: the app process (0 for the direct calls).
    app_cpu: f64,
    /// Cores busy on average (all three together; the machine's limit is its core count).
    cores: f64,
    /// ms per call that threads of this process or the app waited for a core.
    waited: f64,
}

const SLOW_MS: f64 = 20.0;

/// `n` calls of `call` from [`CONCURRENCY`] tasks; every call's latency is recorded, and the
/// CPU time of this process and of `app` (if any) over the round.
async fn load<F, Fut>(n: usize, app: Option<&App>, call: F) -> Round
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let app_pid = app.map(|a| a.child.id().to_string());
    let app_cpu = || app_pid.as_deref().map_or(Cpu::default(), Cpu::of);
    let next = Arc::new(AtomicUsize::new(0));
    let (cpu_before, app_before) = (Cpu::of("self"), app_cpu());
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
    let cpu = Cpu::of("self").since(cpu_before);
    let app = app_cpu().since(app_before);
    let app_ms = app.other_ms;
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    let calls = n as f64;
    Round {
        per_s: calls / elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        slow: latencies
            .iter()
            .filter(|l| l.as_secs_f64() * 1000.0 > SLOW_MS)
            .count(),
        client_cpu: cpu.other_ms / calls,
        s3_cpu: cpu.devstack_ms / calls,
        app_cpu: app_ms / calls,
        cores: (cpu.other_ms + cpu.devstack_ms + app_ms) / 1000.0 / elapsed.as_secs_f64(),
        waited: (cpu.waited_ms + app.waited_ms) / calls,
    }
}

/// The S3 access the app builds in `AppState::from_vcap` (the same function), from the same
/// bindings and CA.
fn direct_link(dev: &DevStack, vcap: &Vcap) -> AwsLink {
    let options = bridge::app::AppOptions {
        jwks: xsuaa::jwks::JwksOptions {
            extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
            ..xsuaa::jwks::JwksOptions::default()
        },
        ..bridge::app::AppOptions::default()
    };
    bridge::app::aws_link(vcap, &options).unwrap()
}

async fn run(dev: &DevStack) {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .map(|v| v.parse().expect("BENCH_N: a whole number"))
        .unwrap_or(2000);
    let vcap = Vcap::from_json(&dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
    let token: Arc<str> = read_token(dev).await.into();

    // The baseline's client, warmed: long-term keys read, role credentials cached.
    let link = direct_link(dev, &vcap);
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
        let (app, startup) = start_app(dev).await;
        startups.push(startup);
        drop(app);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let startup_ms = median(startups.iter().map(|s| ms(s.first_200)).collect());
    let listening_ms = median(startups.iter().map(|s| ms(s.listening)).collect());

    // The app under load: one more spawn, kept for the rounds.
    let (app, _) = start_app(dev).await;
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
    load(WARMUP, Some(&app), via_app.clone()).await;
    load(WARMUP, None, direct.clone()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = Memory::of(&app);

    let (mut direct_rounds, mut app_rounds) = (Vec::new(), Vec::new());
    let mut assume_roles = 0;
    for _ in 0..ROUNDS {
        direct_rounds.push(load(n, None, direct.clone()).await);
        let before = dev.aws_identity().assume_role_count();
        app_rounds.push(load(n, Some(&app), via_app.clone()).await);
        assume_roles += dev.aws_identity().assume_role_count() - before;
    }
    let peak = Memory::of(&app);
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

    println!(
        "bridge serve (release binary, own process) on the local S3; {CONCURRENCY} concurrent \
         tasks, {n} requests per round, medians of {ROUNDS} alternating rounds each"
    );
    println!(
        "  start-up runs, ms to listening / to the first /health 200: {}",
        startups
            .iter()
            .map(|s| format!("{:.1} / {:.1}", ms(s.listening), ms(s.first_200)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  per round: calls/s, p50 ms, p99 ms, calls > {SLOW_MS} ms, CPU ms per call \
         (load generator + local S3 + app), cores busy, \
         ms per call threads waited for a core"
    );
    for (name, rounds) in [("direct", &direct_rounds), ("app", &app_rounds)] {
        for r in rounds.iter() {
            println!(
                "    {name:<6} {:>6.0}/s  p50 {:>5.2}  p99 {:>6.2}  slow {:>3}  CPU {:.3} + {:.3} + {:.3}  {:.2} cores  waited {:.3}",
                r.per_s,
                r.p50_ms,
                r.p99_ms,
                r.slow,
                r.client_cpu,
                r.s3_cpu,
                r.app_cpu,
                r.cores,
                r.waited
            );
        }
    }
    println!();
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let row = |figure: &str, value: String, target: &str, verdict: &str| {
        println!("  {figure:<46} {value:>12}  {target:<10} {verdict}");
    };
    row("figure", "measured".into(), "target", "");
    row(
        "start-up, spawn to first /health 200 (median)",
        format!("{startup_ms:.1} ms"),
        "≤ 50 ms",
        verdict(startup_ms <= 50.0),
    );
    row(
        "  of which spawn to listening (median)",
        format!("{listening_ms:.1} ms"),
        "",
        "",
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
    let all_cpu = |r: &Round| r.client_cpu + r.s3_cpu + r.app_cpu;
    let (d_cpu, a_cpu) = (med(&direct_rounds, all_cpu), med(&app_rounds, all_cpu));
    row(
        "CPU per call, all processes: direct",
        format!("{d_cpu:.3} ms"),
        "",
        "",
    );
    row(
        "CPU per call, all processes: app",
        format!("{a_cpu:.3} ms"),
        "",
        "",
    );
    row(
        "  of which the app process",
        format!("{:.3} ms", med(&app_rounds, |r| r.app_cpu)),
        "",
        "",
    );
    row(
        "  app process beyond the direct client's CPU",
        format!(
            "{:.3} ms",
            med(&app_rounds, |r| r.app_cpu) - med(&direct_rounds, |r| r.client_cpu)
        ),
        "",
        "",
    );
    row(
        "ratio ceiling if CPU-bound (direct / app CPU)",
        format!("{:.2}", d_cpu / a_cpu),
        "",
        "",
    );
    row(
        "STS AssumeRole calls during the app's rounds",
        assume_roles.to_string(),
        "0",
        verdict(assume_roles == 0),
    );
    row(
        "app idle RSS (VmRSS, warm-up + 1 s idle)",
        format!("{:.1} MiB", idle.rss),
        "≤ 15 MiB",
        verdict(idle.rss <= 15.0),
    );
    row(
        "  of which anonymous / file-backed",
        format!("{:.1} / {:.1}", idle.anon, idle.file),
        "",
        "",
    );
    row(
        "app peak RSS (VmHWM after the rounds)",
        format!("{:.1} MiB", peak.hwm),
        "≤ 30 MiB",
        verdict(peak.hwm <= 30.0),
    );
    row(
        "binary size (bridge, release)",
        format!("{:.1} MiB", binary as f64 / (1024.0 * 1024.0)),
        "",
        "",
    );
}
