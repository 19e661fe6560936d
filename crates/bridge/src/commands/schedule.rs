//! `bridge schedule next 'EXPR'`: the next fire instants of an EventBridge Scheduler
//! expression, in UTC and in the schedule's time zone, from the `schedule` crate (the same
//! code the local scheduler will use); `bridge schedule check FILE…`: schedule files
//! (`deploy/aws/schedules/*.json`, the `CreateSchedule` request shape) checked field by field.
//! Anything invalid is exit 2 with the message naming the file and field.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

/// `bridge schedule …`.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Print the next fire instants of a schedule expression.
    Next(NextArgs),
    /// Check schedule files (the CreateSchedule request shape of
    /// `aws scheduler create-schedule --cli-input-json`).
    Check(CheckArgs),
}

/// Arguments of `bridge schedule check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The files, e.g. deploy/aws/schedules/*.json.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<std::path::PathBuf>,
}

/// Values for the files' placeholders while checking (the template and the local stack put
/// real ones in).
const CHECK_VARS: &[(&str, &str)] = &[("AccountId", "000000000000"), ("Region", "eu-central-1")];

/// Arguments of `bridge schedule next`.
#[derive(Debug, Args)]
pub struct NextArgs {
    /// `rate(value unit)`, `cron(minutes hours day-of-month month day-of-week year)` or
    /// `at(yyyy-mm-ddThh:mm:ss)`.
    pub expression: String,
    /// `ScheduleExpressionTimezone`: an IANA zone name (default UTC).
    #[arg(long = "tz", value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Occurrences strictly after this instant (RFC 3339 or epoch seconds; default: now). A
    /// `rate()` without `--start` counts from it, as a schedule created then would.
    #[arg(long, value_name = "INSTANT")]
    pub after: Option<String>,
    /// `StartDate` (RFC 3339 or epoch seconds).
    #[arg(long, value_name = "INSTANT")]
    pub start: Option<String>,
    /// `EndDate` (RFC 3339 or epoch seconds).
    #[arg(long, value_name = "INSTANT")]
    pub end: Option<String>,
    /// How many occurrences.
    #[arg(long, default_value_t = 5)]
    pub count: usize,
    /// One JSON document instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Runs `bridge schedule …`.
pub fn run(command: ScheduleCommand) -> ExitCode {
    match command {
        ScheduleCommand::Next(args) => next(&args),
        ScheduleCommand::Check(args) => check(&args),
    }
}

fn instant(field: &str, text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(secs) = text.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| anyhow::anyhow!("{field}: {secs} is out of range"));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            anyhow::anyhow!(
                "{field}: {text:?} is not an instant: use RFC 3339 (2026-12-01T08:00:00Z) or epoch seconds"
            )
        })
}

#[allow(clippy::print_stdout)]
fn next(args: &NextArgs) -> ExitCode {
    let prepared = (|| -> anyhow::Result<(schedule::Schedule, DateTime<Utc>)> {
        if !(1..=10_000).contains(&args.count) {
            anyhow::bail!("--count: {} is not 1 to 10000", args.count);
        }
        let after = match &args.after {
            Some(a) => instant("--after", a)?,
            None => Utc::now(),
        };
        let start = args
            .start
            .as_deref()
            .map(|s| instant("StartDate", s))
            .transpose()?;
        let end = args
            .end
            .as_deref()
            .map(|s| instant("EndDate", s))
            .transpose()?;
        let schedule = schedule::Schedule::new(&args.expression, args.timezone.as_deref())?
            .with_bounds(start, end)?;
        Ok((schedule, after))
    })();
    let (schedule, after) = match prepared {
        Ok(x) => x,
        Err(e) => return super::misconfigured(&e),
    };
    let occurrences = schedule.occurrences(after, after, args.count);
    let zone = schedule.timezone;
    if args.json {
        let items: Vec<serde_json::Value> = occurrences
            .iter()
            .map(|t| {
                serde_json::json!({
                    "utc": t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "local": t.with_timezone(&zone).to_rfc3339(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "expression": args.expression,
            "timezone": zone.name(),
            "after": after.to_rfc3339(),
            "occurrences": items,
        });
        println!("{doc}");
    } else {
        if occurrences.is_empty() {
            println!("no occurrences after {}", after.to_rfc3339());
        }
        for t in &occurrences {
            println!(
                "{}  {} {}",
                t.format("%Y-%m-%dT%H:%M:%SZ"),
                t.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %:z"),
                zone.name()
            );
        }
    }
    ExitCode::SUCCESS
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn check(args: &CheckArgs) -> ExitCode {
    let now = Utc::now();
    let mut bad = 0;
    for path in &args.files {
        let shown = path.display();
        let result = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read it: {e}"))
            .and_then(|text| schedule::file::render(&text, CHECK_VARS).map_err(|e| e.to_string()))
            .and_then(|text| schedule::file::ScheduleFile::parse(&text).map_err(|e| e.to_string()))
            .and_then(|file| {
                let next = file
                    .schedule()
                    .map_err(|e| e.to_string())?
                    .next_after(now, now);
                Ok((file, next))
            });
        match result {
            Ok((file, next)) => println!(
                "ok     {shown}  {}  {} ({}){}{}",
                file.name,
                file.schedule_expression,
                file.schedule_expression_timezone
                    .as_deref()
                    .unwrap_or("UTC"),
                if file.enabled() { "" } else { "  DISABLED" },
                next.map(|t| format!("  next {}", t.format("%Y-%m-%dT%H:%M:%SZ")))
                    .unwrap_or_else(|| "  no further occurrence".to_owned()),
            ),
            Err(message) => {
                bad += 1;
                eprintln!("error: {shown}: {message}");
            }
        }
    }
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::USAGE)
    }
}
