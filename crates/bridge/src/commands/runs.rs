//! `bridge runs [--schedule NAME] [--failed] [--json] [--limit N]`: the run history of the job
//! endpoints, newest first, read from the app's database directly (the database `bridge serve`
//! uses: the `postgresql-db` binding when bound, else `runs.db` in the data directory). Without
//! `VCAP_SERVICES` it reads the SQLite file. A table (time, schedule, job, outcome, status,
//! attempts, duration), or one JSON array with `--json`.
//!
//! `--occurrences` shows the joined view of the local AWS side instead (what `bridge dev`'s
//! Scheduler and Lambda delivered, per occurrence, with the app's run): did it fire, how many
//! deliveries, the last one's outcome and Lambda request id, what the endpoint answered.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::serve::DatabaseArgs;

/// Arguments of `bridge runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only runs of this schedule (as the caller named it in `X-Bridge-Schedule`: ARN or name;
    /// a name also matches ARNs ending in `/NAME`).
    #[arg(long, value_name = "NAME")]
    pub schedule: Option<String>,
    /// Only failed runs.
    #[arg(long)]
    pub failed: bool,
    /// One JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Per occurrence the local AWS side delivered (`bridge dev`): deliveries joined with the
    /// app's run.
    #[arg(long)]
    pub occurrences: bool,
    /// At most this many runs (1 to 1000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Where the database is.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs `bridge runs`.
pub async fn run(args: RunsArgs) -> ExitCode {
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => return super::misconfigured(&e),
    };
    match list(&args, &config).await {
        Ok(out) => {
            print(&out);
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(&e),
    }
}

/// The database, decided as `bridge serve` decides it.
fn config(args: &RunsArgs) -> anyhow::Result<runs::StoreConfig> {
    let env = cfenv::Env::from_process();
    let data_dir = args.database.data_dir();
    match cfenv::Vcap::from_env(&env) {
        Ok(vcap) => Ok(runs::StoreConfig::from_vcap(
            &vcap,
            args.database.database_instance.as_deref(),
            &data_dir,
        )?),
        Err(cfenv::Error::NotSet { .. }) if args.database.database_instance.is_none() => {
            Ok(runs::StoreConfig::Sqlite {
                path: data_dir.join(runs::store::SQLITE_FILE),
            })
        }
        Err(e) => Err(e.into()),
    }
}

async fn list(args: &RunsArgs, config: &runs::StoreConfig) -> anyhow::Result<String> {
    if let runs::StoreConfig::Sqlite { path } = config
        && !path.exists()
    {
        anyhow::bail!(
            "no run history at {} (set --data-dir or BRIDGE_DATA_DIR to the app's data directory)",
            path.display()
        );
    }
    let store = runs::Store::open(config)
        .await
        .with_context(|| format!("cannot open the {} database", config.backend()))?;
    if args.occurrences {
        let out = occurrences(args, &store).await;
        store.close().await;
        return out;
    }
    // A name matches the ARNs ending in `/NAME` too, so the filter runs here over a page
    // fetched without it when the argument is not an ARN.
    let by_name = args.schedule.as_deref().filter(|s| !s.starts_with("arn:"));
    let mut filter = runs::RunFilter {
        schedule: args.schedule.clone().filter(|_| by_name.is_none()),
        failed_only: args.failed,
        limit: if by_name.is_some() { 0 } else { args.limit },
        before: None,
    };
    let mut found = Vec::new();
    let want = usize::try_from(args.limit).unwrap_or(usize::MAX);
    loop {
        let page = store.list(&filter).await?;
        found.extend(
            page.runs
                .into_iter()
                .filter(|r| by_name.is_none_or(|n| schedule_matches(r.schedule.as_deref(), n))),
        );
        match page.next {
            Some(next) if found.len() < want => filter.before = Some(next),
            _ => break,
        }
    }
    found.truncate(want);
    store.close().await;
    if args.json {
        return Ok(serde_json::to_string_pretty(&found)?);
    }
    Ok(table(&found))
}

async fn occurrences(args: &RunsArgs, store: &runs::Store) -> anyhow::Result<String> {
    let want = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let found: Vec<runs::Occurrence> = store
        .occurrences(None, runs::deliveries::MAX_DELIVERIES)
        .await?
        .into_iter()
        .filter(|o| {
            let schedule = o.deliveries.first().map(|d| d.schedule.as_str());
            args.schedule
                .as_deref()
                .is_none_or(|n| schedule_matches(schedule, n))
        })
        .filter(|o| {
            !args.failed
                || o.dead_lettered()
                || o.run
                    .as_ref()
                    .is_none_or(|r| r.outcome == runs::Outcome::Failed)
        })
        .take(want)
        .collect();
    if args.json {
        return Ok(serde_json::to_string_pretty(&found)?);
    }
    let mut rows = vec![
        [
            "NOMINAL",
            "SCHEDULE",
            "DELIVERIES",
            "LAST",
            "LAMBDA REQUEST",
            "RUN",
            "STATUS",
            "DURATION",
        ]
        .map(str::to_owned),
    ];
    for o in &found {
        let first = o.deliveries.first();
        let last = o.deliveries.last();
        rows.push([
            first.map_or("-".into(), |d| {
                d.nominal_time
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }),
            first.map_or("-", |d| short(&d.schedule)).to_owned(),
            o.attempts().to_string(),
            last.map_or("-", |d| d.outcome.as_str()).to_owned(),
            last.and_then(|d| d.lambda_request_id.clone())
                .unwrap_or_else(|| "-".into()),
            o.run
                .as_ref()
                .map_or("never arrived".into(), |r| r.outcome.to_string()),
            o.run
                .as_ref()
                .and_then(|r| r.http_status)
                .map_or("-".into(), |s| s.to_string()),
            o.run
                .as_ref()
                .and_then(|r| r.duration_ms)
                .map_or("-".into(), |d| format!("{d} ms")),
        ]);
    }
    let mut out = render(&rows);
    if found.is_empty() {
        out.push_str("(no occurrences)\n");
    }
    Ok(out)
}

fn schedule_matches(schedule: Option<&str>, name: &str) -> bool {
    schedule.is_some_and(|s| s == name || s.rsplit_once('/').is_some_and(|(_, n)| n == name))
}

/// The schedule's short name: the part after the last `/` of an ARN.
fn short(schedule: &str) -> &str {
    if schedule.starts_with("arn:") {
        schedule.rsplit_once('/').map_or(schedule, |(_, n)| n)
    } else {
        schedule
    }
}

fn table(found: &[runs::Run]) -> String {
    let mut rows = vec![[
        "TIME".to_owned(),
        "SCHEDULE".to_owned(),
        "JOB".to_owned(),
        "OUTCOME".to_owned(),
        "STATUS".to_owned(),
        "ATTEMPTS".to_owned(),
        "DURATION".to_owned(),
    ]];
    for r in found {
        let time = r.nominal_time.unwrap_or(r.received_at);
        rows.push([
            time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            r.schedule.as_deref().map_or("-", short).to_owned(),
            r.job.clone(),
            r.outcome.to_string(),
            r.http_status.map_or("-".into(), |s| s.to_string()),
            r.attempts.to_string(),
            r.duration_ms.map_or("-".into(), |d| format!("{d} ms")),
        ]);
    }
    let mut out = render(&rows);
    if found.is_empty() {
        out.push_str("(no runs)\n");
    }
    out
}

/// Rows as columns two spaces apart, each as wide as its widest cell.
fn render<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[allow(clippy::print_stdout)]
fn print(out: &str) {
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
}
