//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `ci`: everything CI checks, in order: install the pinned third-party test tools
//!   (idempotently, into the ignored `.tools/`), `cargo fmt --check`, `cargo clippy -D warnings`,
//!   the deployed build of `bridge` (without `dev`: no dev commands, GLIBC ≤ 2.34), the `bridge`
//!   binary as `cargo run -p bridge` builds it, every test of the workspace, then
//!   the secret scan of all test logs. `.ci/run` calls exactly this, and it is the README's
//!   test command.
//! - `dist`: the release artifacts, checked (`dist.rs`): `dist/cf/bridge` without the dev
//!   stack, its highest GLIBC version (≤ 2.34), its size, and a smoke start from a
//!   `VCAP_SERVICES` file alone; `dist/aws/bootstrap.zip`, the caller Lambda for
//!   `provided.al2023` (GLIBC ≤ 2.34).
//! - `install`: only the tool installation step.
//! - `scan`: only the secret scan (over `target/test-logs`).
//! - `soak --execs N [--parser NAME]... [--seed S]`: the long property-based soak of every
//!   parser that takes outside input (`crates/soak`), built with the `soak` profile (release
//!   plus overflow checks), one process per target; prints executions, crashes and
//!   executions per second per parser, and fails on any crash. `cargo test` runs a few
//!   thousand executions of each target; this is for millions.

mod dist;
mod install;
mod scan;
mod soak;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};

#[allow(clippy::print_stderr)]
fn main() -> std::process::ExitCode {
    match task() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn task() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = root();
    match task.as_str() {
        "ci" => ci(&root),
        "dist" => dist::run(&root),
        "install" => install::all(&root),
        "scan" => scan::run(&root.join("target").join("test-logs")).map(|_| ()),
        "soak" => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            soak::run(&root, &args)
        }
        _ => {
            bail!("usage: cargo xtask <ci|dist|install|scan|soak>");
        }
    }
}

/// The workspace root.
fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

#[allow(clippy::print_stdout)]
pub(crate) fn step(name: &str) -> Instant {
    println!("==> {name}");
    Instant::now()
}

#[allow(clippy::print_stdout)]
pub(crate) fn done(name: &str, started: Instant) {
    println!("<== {name} ({:.1} s)", started.elapsed().as_secs_f64());
}

pub(crate) fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo).args(args).current_dir(root))
}

/// Runs a command, inheriting stdout/stderr, and fails if it fails.
pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
fn ci(root: &Path) -> anyhow::Result<()> {
    let all = Instant::now();
    let t = step("install test tools");
    install::all(root)?;
    done("install test tools", t);

    let t = step("cargo fmt --check");
    cargo(root, &["fmt", "--all", "--check"])?;
    done("cargo fmt --check", t);

    let t = step("cargo clippy");
    cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    done("cargo clippy", t);

    // What `cargo run -p bridge` builds, so that the README's first command is instant after
    // this one. Tests cannot lend it their artifacts: with Cargo's feature resolver 2,
    // dev-dependencies "do not activate features unless building a target that needs them"
    // (https://doc.rust-lang.org/cargo/reference/features.html#feature-resolver-version-2), so
    // the binary alone gets tokio without `test-util`, reqwest without `form` and bitflags
    // without `std`, and those three plus the 36 crates built on them (hyper, the AWS SDK,
    // axum, s3s, our async crates, ...) hash differently. Unifying the features by hand in the
    // workspace's Cargo.toml would put tokio's test clock into production. This step also
    // proves the binary compiles with its own features alone.
    let t = step("bridge without dev (the deployed build)");
    dist::ci_check(root)?;
    done("bridge without dev (the deployed build)", t);

    let t = step("cargo build -p bridge");
    cargo(root, &["build", "-p", "bridge", "--locked"])?;
    done("cargo build -p bridge", t);

    let t = step("cargo build -p caller (the Lambda bootstrap the tests and bridge dev run)");
    dist::ci_bootstrap(root)?;
    done("cargo build -p caller", t);

    let logs = root.join("target").join("test-logs");
    if logs.exists() {
        std::fs::remove_dir_all(&logs)
            .with_context(|| format!("cannot clear {}", logs.display()))?;
    }
    let t = step("cargo test");
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo_bin)
        .args(["test", "--workspace", "--locked"])
        .env("BRIDGE_TEST_LOGS", &logs)
        .env("BRIDGE_TOOLS_DIR", root.join(".tools"))
        .current_dir(root))?;
    done("cargo test", t);

    let t = step("secret scan of test logs");
    scan::run(&logs)?;
    done("secret scan of test logs", t);

    println!(
        "ci: all checks passed in {:.0} s",
        all.elapsed().as_secs_f64()
    );
    Ok(())
}
