//! The documents feature (docs/DOCUMENTS.md) against baselines measured in the same run, with
//! the app as a separate process: the real `bridge serve` binary (release build) configured
//! only through a dev stack's `VCAP_SERVICES` file and CA, as on Cloud Foundry. Two parts,
//! chosen with `BENCH_PART=transfer|queries|all` (default `all`):
//!
//! - **transfer** ([`transfer`]): documents of `BENCH_SIZES_MIB` (default `100,1024,4096`)
//!   uploaded through `PUT /catalog/Documents(ID)/content` (a generated PDF body streamed with
//!   its `Content-Length`) and downloaded through `GET …/content`, as the dev user `alice`
//!   (password grant at the local XSUAA), against the same bytes put and got directly with the
//!   S3 seam the app uses (`awslink::s3::SdkS3` from `bridge::app::aws_link`, the same
//!   function and the same client configuration; multipart in 8 MiB parts) on the same local
//!   S3. MiB/s of each, the ratio (target ≥ 0.9), and the app's peak RSS per transfer
//!   (`VmHWM` after resetting it through `/proc/<pid>/clear_refs`, and `VmRSS` sampled every
//!   5 ms; target ≤ 64 MiB whatever the size). `BENCH_ROUNDS` (default 3) alternating rounds
//!   per size up to 1 GiB, one above; the 4 GiB transfer needs about 10 GiB free in the
//!   temporary directory.
//! - **queries** ([`queries`]): `BENCH_ROWS` (default 1 000 000) document rows on SQLite and on
//!   PostgreSQL (a throw-away server from Debian's packages, `testkit::postgres`), the very rows
//!   of the SAP CAP reference service (its loader's fixed-seed data, copied into our schema),
//!   served by two `bridge serve` processes and by the CAP service side by side; the CAP
//!   reference's six requests with its load command (`wrk -t1 -c4 -d10s --timeout 60s
//!   --latency`, a 5 s warm-up, 3 runs, medians), plus an unloaded p50/p99 of 200 sequential
//!   requests per query on each of our backends; every response compared with CAP's (same IDs
//!   in the same order, same count), and each query's plan on both databases. Targets: ≥ 5×
//!   CAP's requests per second on the reads CAP answers from an index, p50 ≤ 5 ms for every
//!   query on both databases. Needs `BENCH_CAP_DIR`: a checkout of the CAP reference service
//!   (`package.json`, `package-lock.json`, `db/`, `srv/`, `scripts/load.py`); it is copied to
//!   `target/tmp/documents-bench/cap`, never run in place, where `npm ci`, `cds deploy` and
//!   the load are kept for the next run (redone when the reference's files or `BENCH_ROWS`
//!   change). Needs Node.js with npm, Python 3, `psql` and `wrk` (installed with `apt-get`
//!   when missing).
//!
//! Everything is informational: the program prints figures and verdicts and exits 0 whether
//! targets are met or not; it fails only when something errors. Every child process (the apps,
//! CAP, PostgreSQL) is stopped at the end and on a panic. Run with
//! `cargo bench -p bridge --bench documents`; `BENCH_BRIDGE_BIN` measures another build.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    missing_docs,
    unreachable_pub
)]

use devstack::{DevConfig, DevStack};

#[path = "support/mod.rs"]
mod support;

#[path = "documents/proc.rs"]
mod proc;
#[path = "documents/queries.rs"]
mod queries;
#[path = "documents/transfer.rs"]
mod transfer;

fn main() {
    let part = std::env::var("BENCH_PART").unwrap_or_else(|_| "all".into());
    let (transfer, queries) = match part.as_str() {
        "all" => (true, true),
        "transfer" => (true, false),
        "queries" => (false, true),
        other => panic!("BENCH_PART={other}: expected transfer, queries or all"),
    };
    // Fail on bad knobs before minutes of set-up.
    let transfer_config = transfer.then(transfer::Config::from_env);
    let queries_config = queries.then(queries::Config::from_env);

    // The dev stack on its own runtime (threads named `devstack`), the clients on another.
    let dev_rt = support::runtime("devstack");
    let dir = tempfile::tempdir().unwrap();
    let dev = dev_rt
        .block_on(DevStack::start(DevConfig::new(dir.path()).ephemeral()))
        .unwrap();
    let rt = support::runtime("loadgen");
    if let Some(config) = &transfer_config {
        rt.block_on(transfer::run(&dev, config));
    }
    if let Some(config) = &queries_config {
        rt.block_on(queries::run(&dev, config));
    }
    dev_rt.block_on(dev.stop());
}
