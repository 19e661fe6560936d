//! Part 1: document bytes through the app vs. straight to the local S3.
//!
//! Per size and round, in this order: the baseline puts the generated body with the S3 seam
//! the app uses and gets it back (both drained, nothing kept in memory), then the same body
//! goes through `bridge serve`: `POST /catalog/Documents`, `PUT …/content` with
//! `Content-Type: application/pdf` and `Content-Length`, `GET …/content`, and the stored
//! size and SHA-256 are checked against the generator's. Both objects are deleted before the
//! next round, so the local S3 holds at most one copy of each size. The app's `VmHWM` is reset
//! before each transfer and read after it, and its `VmRSS` is sampled throughout.

use std::time::{Duration, Instant};

use awslink::s3::{BodyError, PutRequest};
use bytes::Bytes;
use cfenv::Vcap;
use devstack::DevStack;
use futures::StreamExt as _;

use super::proc::{Sampler, alice_token, cpu_seconds, mib, reset_peak, spawn_bridge, status_kib};
use super::support::median;

const MIB: u64 = 1024 * 1024;
/// Bytes per body chunk the clients hand over (a file reader's buffer).
const CHUNK: usize = 256 * 1024;
const PDF: &str = "application/pdf";

/// What to transfer.
pub struct Config {
    sizes_mib: Vec<u64>,
    rounds: usize,
}

impl Config {
    /// `BENCH_SIZES_MIB` (default `100,1024,4096`), `BENCH_ROUNDS` (default 3; sizes above
    /// 1 GiB run once).
    pub fn from_env() -> Self {
        let sizes_mib = std::env::var("BENCH_SIZES_MIB")
            .unwrap_or_else(|_| "100,1024,4096".into())
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| panic!("BENCH_SIZES_MIB: {s:?} is no size in MiB"))
            })
            .collect();
        let rounds = std::env::var("BENCH_ROUNDS")
            .ok()
            .map(|v| v.parse().expect("BENCH_ROUNDS: a whole number"))
            .unwrap_or(3);
        Self { sizes_mib, rounds }
    }
}

/// The generated document: a PDF signature, then pseudo-random bytes, repeating every MiB.
struct Body {
    pattern: Bytes,
    size: u64,
}

impl Body {
    fn new(size: u64) -> Self {
        let mut pattern = Vec::with_capacity(MIB as usize);
        pattern.extend_from_slice(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while pattern.len() < MIB as usize {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            pattern.extend_from_slice(&x.to_le_bytes());
        }
        pattern.truncate(MIB as usize);
        Self {
            pattern: pattern.into(),
            size,
        }
    }

    /// The body as chunks of [`CHUNK`] bytes (slices of one buffer: no copies).
    fn chunks(&self) -> impl Iterator<Item = Bytes> + Send + 'static {
        let (pattern, size) = (self.pattern.clone(), self.size);
        let per_mib = MIB / CHUNK as u64;
        (0..size.div_ceil(CHUNK as u64)).map(move |i| {
            let start = (i % per_mib) as usize * CHUNK;
            let len = (size - i * CHUNK as u64).min(CHUNK as u64) as usize;
            pattern.slice(start..start + len)
        })
    }

    fn sha256_hex(&self) -> String {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for chunk in self.chunks() {
            ctx.update(&chunk);
        }
        ctx.finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// One transfer's figures.
#[derive(Clone, Copy)]
struct Leg {
    seconds: f64,
    /// The app's `VmHWM` after the transfer (reset before it), KiB; 0 for the baseline.
    hwm_kib: u64,
    /// The highest sampled `VmRSS`, KiB; 0 for the baseline.
    sampled_kib: u64,
    /// The app's CPU seconds over the transfer; 0 for the baseline.
    app_cpu: f64,
}

impl Leg {
    fn mib_s(&self, size: u64) -> f64 {
        size as f64 / MIB as f64 / self.seconds
    }
}

struct Round {
    direct_up: Leg,
    direct_down: Leg,
    app_up: Leg,
    app_down: Leg,
}

pub async fn run(dev: &DevStack, config: &Config) {
    let vcap = Vcap::from_json(&dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
    // The S3 access `AppState::from_vcap` builds (the same function), from the same bindings.
    let options = bridge::app::AppOptions {
        jwks: xsuaa::jwks::JwksOptions {
            extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
            ..xsuaa::jwks::JwksOptions::default()
        },
        ..bridge::app::AppOptions::default()
    };
    let link = bridge::app::aws_link(&vcap, &options).unwrap();
    let bucket = link
        .settings
        .bucket
        .clone()
        .expect("the dev stack's aws-config names a bucket");
    link.credentials.credentials().await.unwrap();
    let s3 = link.backend();

    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_bridge(
        "bridge serve",
        &dev.vcap_path(),
        &dev.ca_path(),
        &dir.path().join("data"),
        &dir.path().join("app.log"),
    );
    app.wait_ready("/health", None, Duration::from_secs(30))
        .await;
    let token = alice_token(dev, &vcap).await;
    let http = reqwest::Client::builder().http1_only().build().unwrap();
    let pid = app.pid();
    let can_reset = reset_peak(pid);

    // Warm-up: credentials, JWKS, connections, the database, on both sides.
    let warm = Body::new(MIB);
    direct_round(&*s3, &bucket, &warm, "bench/warm-up").await;
    app_round(&http, &app, &token, &warm, None).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_kib = status_kib(pid, "VmRSS");

    println!(
        "== transfer: bridge serve (release binary, own process) vs. the S3 seam it uses, on the \
         local S3; bodies in {} KiB chunks",
        CHUNK / 1024
    );
    println!(
        "  load average before the measurements: {}",
        super::proc::loadavg()
    );
    if !can_reset {
        println!("  (the kernel refused to reset VmHWM: peaks are the sampled VmRSS only)");
    }
    let mut results = Vec::new();
    for &size_mib in &config.sizes_mib {
        let size = size_mib * MIB;
        let body = Body::new(size);
        let t = Instant::now();
        let sha = body.sha256_hex();
        let hash_s = t.elapsed().as_secs_f64();
        let rounds = if size_mib > 1024 { 1 } else { config.rounds };
        let mut all = Vec::new();
        for r in 0..rounds {
            let key = format!("bench/direct-{size_mib}-{r}");
            let (direct_up, direct_down) = direct_round(&*s3, &bucket, &body, &key).await;
            let (app_up, app_down) = app_round(&http, &app, &token, &body, Some(&sha)).await;
            let round = Round {
                direct_up,
                direct_down,
                app_up,
                app_down,
            };
            print_round(size_mib, r, &round);
            all.push(round);
        }
        println!(
            "  {size_mib} MiB: generator's SHA-256 in {hash_s:.1} s (untimed), app's stored \
             size and SHA-256 match it"
        );
        results.push((size_mib, all));
    }
    let peak_after = status_kib(pid, "VmRSS");
    drop(app);

    println!();
    println!(
        "  app idle RSS before the transfers: {:.1} MiB",
        mib(idle_kib)
    );
    println!("  app RSS after the transfers: {:.1} MiB", mib(peak_after));
    println!();
    println!(
        "  {:>8}  {:>14} {:>14} {:>6}   {:>14} {:>14} {:>6}   {:>19} {:>19}  {:>15}",
        "size",
        "direct up MiB/s",
        "app up MiB/s",
        "ratio",
        "direct dn MiB/s",
        "app dn MiB/s",
        "ratio",
        "app peak RSS up MiB",
        "app peak RSS dn MiB",
        "app CPU s/GiB"
    );
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let mut peaks = Vec::new();
    let mut ratios = Vec::new();
    for (size_mib, rounds) in &results {
        let size = size_mib * MIB;
        let med = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f).collect());
        let du = med(&|r| r.direct_up.mib_s(size));
        let au = med(&|r| r.app_up.mib_s(size));
        let dd = med(&|r| r.direct_down.mib_s(size));
        let ad = med(&|r| r.app_down.mib_s(size));
        let peak = |f: &dyn Fn(&Round) -> Leg| {
            rounds
                .iter()
                .map(|r| {
                    let l = f(r);
                    l.hwm_kib.max(l.sampled_kib)
                })
                .max()
                .unwrap_or(0)
        };
        let (pu, pd) = (peak(&|r| r.app_up), peak(&|r| r.app_down));
        let cpu = med(&|r| (r.app_up.app_cpu + r.app_down.app_cpu) / 2.0)
            / (size as f64 / (1024.0 * MIB as f64));
        println!(
            "  {:>5} MiB  {du:>14.0} {au:>14.0} {:>6.2}   {dd:>14.0} {ad:>14.0} {:>6.2}   {:>19.1} {:>19.1}  {cpu:>15.2}",
            size_mib,
            au / du,
            ad / dd,
            mib(pu),
            mib(pd),
        );
        peaks.push((*size_mib, pu.max(pd)));
        ratios.push((*size_mib, au / du, ad / dd));
    }
    println!(
        "  (medians of the rounds; peak RSS = max over the rounds of VmHWM after a reset and \
         the 5 ms VmRSS samples; CPU = the app's user+system seconds per GiB moved, median of up \
         and down)"
    );
    println!();
    for (size_mib, up, down) in &ratios {
        println!(
            "  throughput app/direct, {size_mib} MiB: upload {up:.2}, download {down:.2}   \
             target ≥ 0.90  {} / {}",
            verdict(*up >= 0.9),
            verdict(*down >= 0.9)
        );
    }
    let max_peak = peaks.iter().map(|p| p.1).max().unwrap_or(0);
    let min_peak = peaks.iter().map(|p| p.1).min().unwrap_or(0);
    println!(
        "  app peak RSS over all sizes: {:.1} MiB (smallest size's peak {:.1} MiB, spread {:.1} \
         MiB)   target ≤ 64 MiB and flat  {}",
        mib(max_peak),
        mib(min_peak),
        mib(max_peak - min_peak),
        verdict(mib(max_peak) <= 64.0)
    );
    println!();
}

fn print_round(size_mib: u64, r: usize, round: &Round) {
    let size = size_mib * MIB;
    println!(
        "  {size_mib} MiB round {}: direct up {:.0} / down {:.0} MiB/s; app up {:.0} / down {:.0} \
         MiB/s; app peak RSS up {:.1} / down {:.1} MiB (VmHWM), sampled {:.1} / {:.1} MiB",
        r + 1,
        round.direct_up.mib_s(size),
        round.direct_down.mib_s(size),
        round.app_up.mib_s(size),
        round.app_down.mib_s(size),
        mib(round.app_up.hwm_kib),
        mib(round.app_down.hwm_kib),
        mib(round.app_up.sampled_kib),
        mib(round.app_down.sampled_kib),
    );
}

/// Puts the body under `key` with the seam, gets it back (drained), deletes it.
async fn direct_round(
    s3: &dyn awslink::s3::S3Backend,
    bucket: &str,
    body: &Body,
    key: &str,
) -> (Leg, Leg) {
    let stream = futures::stream::iter(body.chunks().map(Ok::<_, BodyError>));
    let t = Instant::now();
    let put = s3
        .put_object(PutRequest {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            content_type: Some(PDF.to_owned()),
            body: Box::pin(stream),
        })
        .await
        .unwrap();
    let up = t.elapsed().as_secs_f64();
    assert_eq!(put.size, body.size, "direct put stored {} bytes", put.size);

    let t = Instant::now();
    let mut got = s3.get_object(bucket, key, None).await.unwrap();
    let mut n = 0u64;
    while let Some(chunk) = got.body.next().await {
        n += chunk.unwrap().len() as u64;
    }
    let down = t.elapsed().as_secs_f64();
    assert_eq!(n, body.size, "direct get returned {n} bytes");
    s3.delete_object(bucket, key).await.unwrap();
    let leg = |seconds| Leg {
        seconds,
        hwm_kib: 0,
        sampled_kib: 0,
        app_cpu: 0.0,
    };
    (leg(up), leg(down))
}

/// Creates a document, uploads and downloads its content through the app, checks what the app
/// stored (when `sha` is given), deletes it.
async fn app_round(
    http: &reqwest::Client,
    app: &super::proc::Server,
    token: &str,
    body: &Body,
    sha: Option<&str>,
) -> (Leg, Leg) {
    let pid = app.pid();
    let resp = http
        .post(app.url("/catalog/Documents"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "fileName": format!("bench-{}.pdf", body.size),
            "mediaType": PDF,
            "documentNumber": "BENCH-1",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "create: {}", resp.text().await.unwrap());
    let doc: serde_json::Value = resp.json().await.unwrap();
    let id = doc["ID"].as_str().unwrap().to_owned();
    let content = app.url(&format!("/catalog/Documents({id})/content"));

    reset_peak(pid);
    let sampler = Sampler::start(pid);
    let cpu = cpu_seconds(pid);
    let stream = futures::stream::iter(body.chunks().map(Ok::<_, std::io::Error>));
    let t = Instant::now();
    let resp = http
        .put(&content)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, PDF)
        .header(reqwest::header::CONTENT_LENGTH, body.size)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let up = Leg {
        seconds: t.elapsed().as_secs_f64(),
        app_cpu: cpu_seconds(pid) - cpu,
        hwm_kib: status_kib(pid, "VmHWM"),
        sampled_kib: sampler.finish(),
    };
    assert_eq!(status, 204, "upload: {text}");

    reset_peak(pid);
    let sampler = Sampler::start(pid);
    let cpu = cpu_seconds(pid);
    let t = Instant::now();
    let resp = http.get(&content).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "download");
    let mut stream = resp.bytes_stream();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        n += chunk.unwrap().len() as u64;
    }
    let down = Leg {
        seconds: t.elapsed().as_secs_f64(),
        app_cpu: cpu_seconds(pid) - cpu,
        hwm_kib: status_kib(pid, "VmHWM"),
        sampled_kib: sampler.finish(),
    };
    assert_eq!(n, body.size, "download returned {n} bytes");

    let doc_url = app.url(&format!("/catalog/Documents({id})"));
    let doc: serde_json::Value = http
        .get(&doc_url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["status"], "available", "{doc}");
    assert_eq!(doc["size"].as_u64(), Some(body.size), "{doc}");
    if let Some(sha) = sha {
        assert_eq!(doc["sha256"].as_str(), Some(sha), "{doc}");
    }
    let resp = http
        .delete(&doc_url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "delete");
    (up, down)
}
