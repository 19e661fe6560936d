//! `cargo xtask soak --execs N [--parser NAME]... [--seed S]`: builds the `soak` binary
//! (`crates/soak`) with the `soak` profile (release plus overflow checks and debug
//! assertions), runs each target in its own process, one after the other, and prints a table
//! of executions, crashes and executions per second. Fails if any target crashed, including a
//! target whose process died (an abort, such as a stack overflow, that `catch_unwind` cannot
//! catch). Crash inputs are in `target/soak-crashes/<parser>/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};

/// One target's figures, from the `result` line of `soak --machine`.
struct Row {
    parser: String,
    executions: u64,
    crashes: u64,
    accepted: u64,
    secs: f64,
    /// Why the process did not report, if it did not.
    died: Option<String>,
}

const USAGE: &str = "usage: cargo xtask soak --execs N [--parser NAME]... [--seed S]";

#[allow(clippy::print_stdout)]
pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let mut execs: Option<String> = None;
    let mut parsers: Vec<String> = Vec::new();
    let mut seed: Option<String> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--execs" => execs = Some(value()?),
            "--parser" => parsers.push(value()?),
            "--seed" => seed = Some(value()?),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let Some(execs) = execs else {
        bail!("--execs is required\n{USAGE}");
    };
    let seed = seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
            .to_string()
    });

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    crate::run(
        Command::new(&cargo)
            .args(["build", "--profile", "soak", "-p", "soak", "--bin", "soak"])
            .current_dir(root),
    )?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target_dir.join("soak").join("soak");
    if parsers.is_empty() {
        let out = Command::new(&binary)
            .arg("list")
            .output()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        parsers = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
    }

    println!("soak: seed {seed}, {execs} executions per target");
    let mut rows = Vec::new();
    for parser in &parsers {
        println!("==> {parser}");
        let out = Command::new(&binary)
            .args([
                "--execs",
                &execs,
                "--parser",
                parser,
                "--seed",
                &seed,
                "--machine",
            ])
            .current_dir(root)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let row = stdout
            .lines()
            .find_map(parse_result)
            .unwrap_or_else(|| Row {
                parser: parser.clone(),
                executions: 0,
                crashes: 1,
                accepted: 0,
                secs: 0.0,
                died: Some(format!(
                    "the process died ({}) without a report",
                    out.status
                )),
            });
        rows.push(row);
    }

    println!("\n{}", table(&rows, &seed));
    let crashed: Vec<&str> = rows
        .iter()
        .filter(|r| r.crashes > 0)
        .map(|r| r.parser.as_str())
        .collect();
    if !crashed.is_empty() {
        bail!(
            "soak: crashes in {} (inputs in target/soak-crashes/)",
            crashed.join(", ")
        );
    }
    Ok(())
}

fn parse_result(line: &str) -> Option<Row> {
    let fields: Vec<&str> = line.strip_prefix("result\t")?.split('\t').collect();
    let [
        parser,
        executions,
        crashes,
        _panics,
        _violations,
        accepted,
        secs,
    ] = fields[..]
    else {
        return None;
    };
    Some(Row {
        parser: parser.to_owned(),
        executions: executions.parse().ok()?,
        crashes: crashes.parse().ok()?,
        accepted: accepted.parse().ok()?,
        secs: secs.parse().ok()?,
        died: None,
    })
}

fn table(rows: &[Row], seed: &str) -> String {
    let mut out = String::from(
        "| parser | executions | crashes | execs/s | accepted |\n|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let rate = if r.secs > 0.0 {
            r.executions as f64 / r.secs
        } else {
            0.0
        };
        let accepted = if r.executions > 0 {
            100.0 * r.accepted as f64 / r.executions as f64
        } else {
            0.0
        };
        out.push_str(&format!(
            "| {} | {} | {} | {rate:.0} | {accepted:.1} % |\n",
            r.parser, r.executions, r.crashes
        ));
        if let Some(why) = &r.died {
            out.push_str(&format!("|  | {why} | | | |\n"));
        }
    }
    out.push_str(&format!(
        "\nseed {seed}; repeat with `cargo xtask soak --seed {seed} …`"
    ));
    out
}
