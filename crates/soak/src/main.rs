//! `soak`: runs the soak targets and prints a table; exit code 1 when anything crashed.
//!
//! ```text
//! soak [--execs N] [--parser NAME]... [--seed S] [--crash-dir DIR] [--machine]
//! soak replay <parser> <file>
//! soak list
//! ```
//!
//! `--execs` defaults to 100 000 per target, `--parser` to every target, `--seed` to one
//! taken from the clock (printed, so a run can be repeated), `--crash-dir` to the workspace's
//! `target/soak-crashes`. `--machine` adds one tab-separated `result` line per target, which
//! `cargo xtask soak` reads. Progress goes to stderr every 10 s.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use soak::{Options, PARSERS, Report};

const USAGE: &str = "usage: soak [--execs N] [--parser NAME]... [--seed S] [--crash-dir DIR] [--machine] | soak replay <parser> <file> | soak list";

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") => {
            for p in PARSERS {
                println!("{p}");
            }
            ExitCode::SUCCESS
        }
        Some("replay") => replay(&args[1..]),
        _ => match soak(&args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("soak: {e}\n{USAGE}");
                ExitCode::from(2)
            }
        },
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn replay(args: &[String]) -> ExitCode {
    let [parser, file] = args else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("soak: cannot read {file}: {e}");
            return ExitCode::from(2);
        }
    };
    match soak::replay(parser, &bytes) {
        None => {
            eprintln!(
                "soak: no target {parser:?}; targets: {}",
                PARSERS.join(", ")
            );
            ExitCode::from(2)
        }
        Some(Ok(verdict)) => {
            println!("{parser}: {verdict:?}");
            if matches!(verdict, soak::harness::Verdict::Violation(_)) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Some(Err(panic)) => {
            println!("{parser}: {panic}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn soak(args: &[String]) -> Result<ExitCode, String> {
    let mut execs: u64 = 100_000;
    let mut parsers: Vec<String> = Vec::new();
    let mut seed: Option<u64> = None;
    let mut crash_dir: Option<PathBuf> = None;
    let mut machine = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--execs" => {
                let v = value("--execs")?;
                execs = v
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("bad --execs {v:?}"))?;
            }
            "--parser" => parsers.push(value("--parser")?),
            "--seed" => {
                let v = value("--seed")?;
                seed = Some(v.parse().map_err(|_| format!("bad --seed {v:?}"))?);
            }
            "--crash-dir" => crash_dir = Some(PathBuf::from(value("--crash-dir")?)),
            "--machine" => machine = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if parsers.is_empty() {
        parsers = PARSERS.iter().map(|p| (*p).to_owned()).collect();
    }
    if let Some(unknown) = parsers.iter().find(|p| !PARSERS.contains(&p.as_str())) {
        return Err(format!(
            "no target {unknown:?}; targets: {}",
            PARSERS.join(", ")
        ));
    }
    let seed = seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let mut options = Options::new(execs, seed);
    if crash_dir.is_some() {
        options.crash_dir = crash_dir;
    }
    eprintln!("soak: seed {seed}, {execs} executions per target");
    let mut reports: Vec<Report> = Vec::new();
    for parser in &parsers {
        let report = soak::run(parser, &options, &mut |r| eprintln!("  {r}"))
            .ok_or(format!("no target {parser:?}"))?;
        eprintln!("{report}");
        for failure in report.failures.iter().skip(1) {
            eprintln!(
                "  also at execution {}: {}",
                failure.index,
                failure.summary()
            );
        }
        reports.push(report);
    }
    println!("{}", table(&reports));
    if machine {
        for r in &reports {
            println!(
                "result\t{}\t{}\t{}\t{}\t{}\t{}\t{:.3}",
                r.parser,
                r.executions,
                r.crashes(),
                r.panics,
                r.violations,
                r.accepted,
                r.elapsed.as_secs_f64()
            );
        }
    }
    Ok(if reports.iter().any(|r| r.crashes() > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The figures as a Markdown table.
fn table(reports: &[Report]) -> String {
    let mut out = String::from(
        "| parser | executions | crashes | execs/s | accepted |\n|---|---:|---:|---:|---:|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.1} % |\n",
            r.parser,
            r.executions,
            r.crashes(),
            r.execs_per_sec(),
            r.accepted_percent()
        ));
    }
    out
}
