//! `bridge runs [--schedule NAME] [--failed] [--json] [--limit N]`: the run history of the job
//! endpoints, newest first, read from the app's database directly (the database `bridge serve`
//! uses: the `postgresql-db` binding when bound, else `runs.db` in the data directory). Without
//! `VCAP_SERVICES` it reads the SQLite file. A table (time, schedule, job, outcome, status,
//! attempts, duration), or one JSON array with `--json`.

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
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if found.is_empty() {
        out.push_str("(no runs)\n");
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
