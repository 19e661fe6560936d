//! `wrk` as the CAP reference runs it (`-t1 -c4 -d10s --timeout 60s --latency`), installed with
//! `apt-get` when missing, and its report parsed.

use std::process::Command;

use crate::proc::run;

/// One `wrk` run's figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct WrkRun {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    /// Answers that were not 2xx or 3xx.
    pub non_2xx: u64,
    /// Socket errors of any kind (connect, read, write, timeout).
    pub socket_errors: u64,
}

/// The load command's fixed shape: threads, connections, timeout.
pub struct Shape {
    pub threads: u32,
    pub connections: u32,
}

/// Installs `wrk` when it is not on `PATH` (Debian's package).
pub fn ensure_installed() {
    if Command::new("wrk").arg("-v").output().is_ok() {
        return;
    }
    println!("  installing wrk (apt-get)");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "wrk"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !install() {
        run(
            "apt-get update",
            Command::new("apt-get").args(["update", "-qq"]),
        );
        assert!(install(), "apt-get install wrk failed");
    }
}

/// `wrk`'s version line.
pub fn version() -> String {
    let out = Command::new("wrk").arg("-v").output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines().next().unwrap_or("").to_owned()
}

/// `wrk -t<threads> -c<connections> -d<duration> --timeout 60s [--latency] [-H header] url`.
pub fn run_wrk(
    shape: &Shape,
    duration: &str,
    latency: bool,
    header: Option<&str>,
    url: &str,
) -> WrkRun {
    let mut cmd = Command::new("wrk");
    cmd.arg(format!("-t{}", shape.threads))
        .arg(format!("-c{}", shape.connections))
        .arg(format!("-d{duration}"))
        .args(["--timeout", "60s"]);
    if latency {
        cmd.arg("--latency");
    }
    if let Some(h) = header {
        cmd.args(["-H", h]);
    }
    cmd.arg(url);
    let out = tokio::task::block_in_place(|| run("wrk", &mut cmd));
    parse(&out)
}

/// A duration as wrk prints it (`812.00us`, `6.30ms`, `2.67s`, `1.20m`), in ms.
fn ms(text: &str) -> f64 {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: f64 = n.parse().unwrap_or(f64::NAN);
    n * match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => f64::NAN,
    }
}

fn parse(out: &str) -> WrkRun {
    let mut r = WrkRun::default();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => r.p50_ms = ms(v),
            ["99%", v] => r.p99_ms = ms(v),
            ["Requests/sec:", v] => r.rps = v.parse().unwrap_or(f64::NAN),
            [n, "requests", "in", ..] => r.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => r.non_2xx = n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                r.socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    r
}
