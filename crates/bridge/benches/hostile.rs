//! The app (the real `bridge serve` binary, release build, on a dev stack) under hostile
//! clients, as a separate process whose memory is read from `/proc/<pid>/status`:
//!
//! - **memory after floods**: `BENCH_N` (default 100 000) requests of each hostile kind, 32 at a
//!   time: made-up methods, unmatched paths, bearer tokens with unknown `kid`s, tokens naming
//!   random identity zones, forged session cookies, `/login` with 2000-byte redirects, and
//!   connections that send half a request and go away (1000 at a time). After each kind the
//!   app's `VmRSS` against its idle `VmRSS` (target: within 8 MiB), and the `/metrics` series
//!   count (must not grow).
//! - **throughput with idle connections held**: `GET /catalog/Buckets` (16 concurrent tasks,
//!   `BENCH_ROUND` requests, default 3000) while 1000 idle keep-alive connections are held,
//!   against the same without them; rounds alternate, three each, medians (target ≥ 0.9×).
//!
//! Informational: exits 0 whether targets are met or not; fails only when something errors.
//! Run with `cargo bench -p bridge --bench hostile` (`BENCH_N=10000` for a quick look).
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use devstack::{DevConfig, DevStack};
use futures::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

mod support;
use support::{App, Memory, median, read_token, runtime, start_app};

const WIDTH: usize = 32;
const IDLE_CONNECTIONS: usize = 1000;

fn main() {
    let dev_rt = runtime("devstack");
    let dir = tempfile::tempdir().unwrap();
    let dev = dev_rt
        .block_on(DevStack::start(DevConfig::new(dir.path()).ephemeral()))
        .unwrap();
    runtime("loadgen").block_on(run(&dev));
    dev_rt.block_on(dev.stop());
}

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sends `n` requests made by `make(i)`, `WIDTH` at a time; returns how many got an answer.
async fn flood<F, Fut>(n: usize, make: F) -> usize
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    futures::stream::iter((0..n).map(make))
        .buffer_unordered(WIDTH)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

async fn series(http: &reqwest::Client, app: &App) -> usize {
    let text = http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines().filter(|l| !l.starts_with('#')).count()
}

/// A random-looking token id per request (not secret: only to make each request different).
fn noise(i: usize) -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(i);
    format!("{:016x}{i}", h.finish())
}

async fn run(dev: &DevStack) {
    let n = env_n("BENCH_N", 100_000);
    let round_n = env_n("BENCH_ROUND", 3000);
    let (app, _) = start_app(dev).await;
    let app = Arc::new(app);
    // Redirects are not followed: the sign-in redirect would lead to the local XSUAA.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(WIDTH)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = read_token(dev).await;

    // Warm up: every kind of legitimate request once, so later series are not "new".
    for path in ["/health", "/metrics", "/catalog/Buckets", "/jobs/ping"] {
        http.get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
    }
    let _ = series(&http, &app).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = Memory::of(&app);
    let idle_series = series(&http, &app).await;
    println!(
        "bridge serve idle: VmRSS {:.1} MiB (anon {:.1}, file {:.1}); /metrics series {idle_series}",
        idle.rss, idle.anon, idle.file
    );
    println!();
    println!(
        "{:<34} {:>9} {:>9} {:>11} {:>10} {:>8}",
        "hostile kind", "requests", "answered", "req/s", "ΔRSS MiB", "series"
    );

    let header = dev.xsuaa().jwt_header(None);
    let claims = dev.xsuaa().client_claims(dev.xsuaa().client_id()).unwrap();
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let redirect = format!("/{}", "x".repeat(2000));
    let mut worst: f64 = 0.0;

    let kinds: Vec<&str> = vec![
        "made-up methods",
        "unmatched paths",
        "tokens with unknown kids",
        "tokens naming random zones",
        "forged session cookies",
        "logins with 2000-byte redirects",
        "half-sent requests (new connections)",
    ];
    for kind in kinds {
        let started = Instant::now();
        let answered = match kind {
            "made-up methods" => {
                flood(n, |i| {
                    let (http, app) = (http.clone(), app.clone());
                    async move {
                        let m = reqwest::Method::from_bytes(format!("M{i}").as_bytes()).unwrap();
                        http.request(m, app.url("/health")).send().await.is_ok()
                    }
                })
                .await
            }
            "unmatched paths" => {
                flood(n, |i| {
                    let (http, app) = (http.clone(), app.clone());
                    async move {
                        http.get(app.url(&format!("/{}", noise(i))))
                            .send()
                            .await
                            .is_ok()
                    }
                })
                .await
            }
            "tokens with unknown kids" | "tokens naming random zones" => {
                let zones = kind.contains("zones");
                flood(n, |i| {
                    let (http, app) = (http.clone(), app.clone());
                    let mut h = header.clone();
                    let mut c = claims.clone();
                    if zones {
                        c["zid"] = noise(i).into();
                    } else {
                        h["kid"] = noise(i).into();
                    }
                    let jwt = format!("{}.{}.c2ln", b64(&h), b64(&c));
                    async move {
                        http.get(app.url("/jobs/ping"))
                            .bearer_auth(jwt)
                            .send()
                            .await
                            .is_ok()
                    }
                })
                .await
            }
            "forged session cookies" => {
                flood(n, |i| {
                    let (http, app) = (http.clone(), app.clone());
                    async move {
                        http.get(app.url("/api/me"))
                            .header("cookie", format!("bridge_session={}", noise(i)))
                            .header("accept", "text/html")
                            .send()
                            .await
                            .is_ok()
                    }
                })
                .await
            }
            "logins with 2000-byte redirects" => {
                let redirect = redirect.clone();
                flood(n, |_| {
                    let (http, app) = (http.clone(), app.clone());
                    let url = app.url(&format!("/login?redirect={redirect}"));
                    async move { http.get(url).send().await.is_ok() }
                })
                .await
            }
            _ => {
                let port = app.port;
                flood(n, |_| async move {
                    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)).await else {
                        return false;
                    };
                    c.write_all(
                        b"POST /jobs/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\nab",
                    )
                    .await
                    .is_ok()
                })
                .await
            }
        };
        let per_s = n as f64 / started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = Memory::of(&app);
        let delta = after.rss - idle.rss;
        worst = worst.max(delta);
        let s = series(&http, &app).await;
        println!("{kind:<34} {n:>9} {answered:>9} {per_s:>11.0} {delta:>+10.1} {s:>8}");
    }
    let end = Memory::of(&app);
    println!();
    println!(
        "worst ΔRSS {worst:+.1} MiB (target ≤ 8 MiB: {}); VmHWM {:.1} MiB; /metrics series {} → {} (each flood kind adds at most its own fixed series)",
        if worst <= 8.0 { "met" } else { "NOT met" },
        end.hwm,
        idle_series,
        series(&http, &app).await,
    );

    // Throughput of the catalog with and without 1000 idle keep-alive connections held.
    println!();
    let mut without = Vec::new();
    let mut with = Vec::new();
    for _ in 0..3 {
        without.push(catalog_round(&http, &app, &token, round_n).await);
        let held = hold_idle(app.port, IDLE_CONNECTIONS).await;
        with.push(catalog_round(&http, &app, &token, round_n).await);
        println!(
            "  round: {:.0} req/s without, {:.0} req/s with {} idle connections",
            without.last().unwrap(),
            with.last().unwrap(),
            held.len()
        );
        drop(held);
    }
    let (a, b) = (median(without), median(with));
    println!(
        "GET /catalog/Buckets: {a:.0} req/s without, {b:.0} req/s with {IDLE_CONNECTIONS} idle connections held: {:.2}× (target ≥ 0.90: {})",
        b / a,
        if b / a >= 0.9 { "met" } else { "NOT met" }
    );
}

/// Opens `n` connections that each complete one request and then stay idle (keep-alive).
async fn hold_idle(port: u16, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let _ = c.read(&mut buf).await.unwrap();
        held.push(c);
    }
    held
}

/// Requests per second of `GET /catalog/Buckets`, 16 at a time.
async fn catalog_round(http: &reqwest::Client, app: &Arc<App>, token: &str, n: usize) -> f64 {
    let started = Instant::now();
    let ok = futures::stream::iter(0..n)
        .map(|_| {
            let (http, app, token) = (http.clone(), app.clone(), token.to_owned());
            async move {
                http.get(app.url("/catalog/Buckets"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false)
            }
        })
        .buffer_unordered(16)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    assert_eq!(ok, n, "every catalog request succeeds");
    n as f64 / started.elapsed().as_secs_f64()
}
