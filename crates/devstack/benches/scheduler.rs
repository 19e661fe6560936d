//! The local Scheduler with many schedules loaded, on the real clock: load time, memory per
//! schedule (resident set before and after loading), fire lateness (p50, p99, max: the time
//! from each occurrence's nominal instant to its fire; target p99 ≤ 10 ms) while thousands fall
//! due in the same second, and idle CPU afterwards (target ≈ 0: the engine sleeps until the
//! next due instant). Prints figures; run with
//! `cargo bench -p devstack --bench scheduler [-- SCHEDULES]` (default 100 000).
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use devstack::scheduler::delivery::{Delivery, DeliverySink, InvokeFailure, Invoker, Outcome};
use devstack::scheduler::{LocalScheduler, SchedulerConfig};

struct Accept;

#[async_trait::async_trait]
impl Invoker for Accept {
    async fn invoke_event(
        &self,
        _function_arn: &str,
        _payload: Vec<u8>,
    ) -> Result<Option<String>, InvokeFailure> {
        Ok(None)
    }
}

#[derive(Default)]
struct Lateness(Mutex<Vec<u64>>);

impl DeliverySink for Lateness {
    fn record(&self, d: &Delivery) {
        if let Outcome::Fired { lateness_ms } = d.outcome {
            self.0.lock().unwrap().push(lateness_ms);
        }
    }
}

/// Resident set size and CPU time (user + system) of this process, from `/proc/self`.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn cpu_ticks() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1.to_owned();
            let f: Vec<&str> = after.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

/// Schedule file `i`: `rate(1 hour)` from `start` (epoch seconds).
fn file(i: usize, start: i64) -> (String, String) {
    let text = format!(
        r#"{{"Name":"s{i}","ScheduleExpression":"rate(1 hour)","StartDate":{start},
        "FlexibleTimeWindow":{{"Mode":"OFF"}},
        "Target":{{"Arn":"arn:aws:lambda:eu-central-1:000000000000:function:f",
        "RoleArn":"arn:aws:iam::000000000000:role/r",
        "Input":"{{\"t\":\"<aws.scheduler.scheduled-time>\"}}"}}}}"#
    );
    (format!("s{i}.json"), text)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    // The occurrences fall in 20 consecutive seconds, starting a few seconds after loading
    // (estimated from loading a thousand first).
    let spread = 20i64;
    let trial = Instant::now();
    let mut probe = SchedulerConfig::new(Path::new("/nonexistent"), "eu-central-1", "000000000000");
    probe.state_dir = None;
    probe.files = (0..1000).map(|i| file(i, 0)).collect();
    LocalScheduler::open(probe, Arc::new(Accept), Arc::new(Lateness::default())).unwrap();
    let per_file = trial.elapsed().as_secs_f64() / 1000.0;
    let lead = 2 + (per_file * n as f64 * 2.0).ceil() as i64;
    let t0 = chrono::Utc::now().timestamp() + lead;
    let files: Vec<(String, String)> = (0..n).map(|i| file(i, t0 + (i as i64 % spread))).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut config = SchedulerConfig::new(dir.path(), "eu-central-1", "000000000000");
    config.state_dir = None;
    config.files = files;
    let sink = Arc::new(Lateness::default());
    let rss_before = rss_kib();
    let loading = Instant::now();
    let scheduler = LocalScheduler::open(config, Arc::new(Accept), sink.clone()).unwrap();
    let load = loading.elapsed();
    let rss_after = rss_kib();
    println!(
        "loaded {n} schedules in {:.2} s ({:.1} µs each); resident set +{} KiB ({:.0} bytes per schedule)",
        load.as_secs_f64(),
        load.as_secs_f64() * 1e6 / n as f64,
        rss_after.saturating_sub(rss_before),
        rss_after.saturating_sub(rss_before) as f64 * 1024.0 / n as f64
    );
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let engine = scheduler.clone();
    let task = tokio::spawn(async move {
        engine
            .run(async {
                let _ = rx.await;
            })
            .await;
    });
    let wait_until = t0 + spread + 1;
    while chrono::Utc::now().timestamp() < wait_until || scheduler.metrics().fires < n as u64 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if chrono::Utc::now().timestamp() > wait_until + 60 {
            println!("only {} of {n} fired", scheduler.metrics().fires);
            break;
        }
    }
    let mut late = sink.0.lock().unwrap().clone();
    late.sort_unstable();
    println!(
        "fired {} occurrences ({} per second at once): lateness p50 {} ms, p99 {} ms, max {} ms (target p99 ≤ 10 ms)",
        late.len(),
        n as i64 / spread,
        percentile(&late, 0.50),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(0)
    );
    // Idle: the next occurrences are an hour away.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let wakes = scheduler.metrics().timer_wakes;
    let ticks = cpu_ticks();
    let idle = Duration::from_secs(5);
    tokio::time::sleep(idle).await;
    let used = cpu_ticks().saturating_sub(ticks);
    println!(
        "idle for {} s: {} CPU ticks (1/100 s) used by the process, {} timer wakes (target ≈ 0)",
        idle.as_secs(),
        used,
        scheduler.metrics().timer_wakes - wakes
    );
    let _ = stop.send(());
    task.await.unwrap();
}
