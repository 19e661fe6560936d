//! The run history: every job call the app received, keyed by its `Idempotency-Key`.
//!
//! [`Store::claim`] is the whole idempotency protocol in two statements, both atomic on their
//! own, so it holds across app instances sharing one PostgreSQL database:
//! `INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING …` makes exactly one caller the
//! one that runs the job ([`Claim::Started`]); every other caller bumps the row's `attempts`
//! and reads it back in one `UPDATE … RETURNING …` ([`Claim::InProgress`] while the first is
//! running, [`Claim::Finished`] afterwards). A call without a key gets a row without one
//! (NULLs never conflict), so it always runs.
//!
//! [`Store::finish`] records the result once: only a `running` row changes. Error texts are
//! cut to [`MAX_ERROR_CHARS`]; callers put no secret into them.

use std::time::Duration;

use chrono::{DateTime, SubsecRound as _, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use crate::store::Backend;
use crate::{Error, Store};

/// Longest error text kept per run (characters).
pub const MAX_ERROR_CHARS: usize = 1000;

/// Most runs one [`Store::list`] call returns.
pub const MAX_LIST: u32 = 1000;

/// The columns of `runs`, in the order [`decode_run`] reads them by name.
const RUN_COLUMNS: &str = "id, idempotency_key, job, schedule, nominal_time, caller_client_id, \
     received_at, started_at, finished_at, outcome, http_status, duration_ms, error, attempts, \
     last_attempt, last_received_at";

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Claimed and not finished yet.
    Running,
    /// Finished, the job did what it should.
    Succeeded,
    /// Finished, the job failed.
    Failed,
}

impl Outcome {
    /// Every outcome, for metrics labels.
    pub const ALL: [Outcome; 3] = [Self::Running, Self::Succeeded, Self::Failed];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The outcome named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job call as it arrives, before it is claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// The id the run gets if this call starts it.
    pub id: Uuid,
    /// The caller's `Idempotency-Key` (`None`: the call always runs).
    pub idempotency_key: Option<String>,
    /// The job (`ping`, `sleep`, …).
    pub job: String,
    /// The schedule (ARN or name) the caller named.
    pub schedule: Option<String>,
    /// The occurrence's nominal time.
    pub nominal_time: Option<DateTime<Utc>>,
    /// The caller's OAuth client id (from its token).
    pub caller_client_id: Option<String>,
    /// The caller's attempt number (`X-Bridge-Attempt`).
    pub attempt: Option<u32>,
    /// When the app received it.
    pub received_at: DateTime<Utc>,
}

impl NewRun {
    /// A call of `job` received now, with a fresh id and nothing else known.
    pub fn new(job: impl Into<String>) -> Self {
        Self {
            id: Uuid::new_v4(),
            idempotency_key: None,
            job: job.into(),
            schedule: None,
            nominal_time: None,
            caller_client_id: None,
            attempt: None,
            received_at: Utc::now(),
        }
    }
}

/// One recorded run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The run id.
    pub id: Uuid,
    /// The idempotency key, when the caller sent one.
    pub idempotency_key: Option<String>,
    /// The job.
    pub job: String,
    /// The schedule the caller named.
    pub schedule: Option<String>,
    /// The occurrence's nominal time.
    pub nominal_time: Option<DateTime<Utc>>,
    /// The caller's client id.
    pub caller_client_id: Option<String>,
    /// When the first call arrived.
    pub received_at: DateTime<Utc>,
    /// When the job started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it is.
    pub outcome: Outcome,
    /// The HTTP status the job answered with.
    pub http_status: Option<u16>,
    /// How long the job took.
    pub duration_ms: Option<u64>,
    /// What went wrong (no secrets; cut to [`MAX_ERROR_CHARS`]).
    pub error: Option<String>,
    /// How many calls with this key arrived (1: no duplicate).
    pub attempts: u32,
    /// The caller's attempt number on the latest call.
    pub last_attempt: Option<u32>,
    /// When the latest call arrived.
    pub last_received_at: DateTime<Utc>,
}

/// What [`Store::claim`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This call runs the job: the run is new and `running`.
    Started(Run),
    /// Another call with the key is running it now.
    InProgress(Run),
    /// Another call with the key already ran it; this is its result.
    Finished(Run),
}

impl Claim {
    /// The run, whichever the case.
    pub fn run(&self) -> &Run {
        match self {
            Self::Started(r) | Self::InProgress(r) | Self::Finished(r) => r,
        }
    }
}

/// Which runs [`Store::list`] returns, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs of this schedule.
    pub schedule: Option<String>,
    /// Only failed runs.
    pub failed_only: bool,
    /// At most this many (0 or more than [`MAX_LIST`]: [`MAX_LIST`]).
    pub limit: u32,
    /// Only runs older than this one (the `next` of the previous page).
    pub before: Option<Cursor>,
}

/// A position in the newest-first order of runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The received time of the last run of the previous page.
    pub received_at: DateTime<Utc>,
    /// Its id (ties on the time are broken by id).
    pub id: Uuid,
}

impl Cursor {
    /// The cursor just past `run`.
    pub fn after(run: &Run) -> Self {
        Self {
            received_at: run.received_at,
            id: run.id,
        }
    }
}

/// One page of [`Store::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The runs, newest first.
    pub runs: Vec<Run>,
    /// Where the next page starts, if the page was full.
    pub next: Option<Cursor>,
}

/// Runs `$body` with `$p` bound to the store's pool, whichever backend it is; the body is
/// type-checked once per backend.
macro_rules! with_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($p) => $body,
            Backend::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Store {
    /// Claims the run of `new`'s idempotency key (see the module docs).
    pub async fn claim(&self, new: &NewRun) -> Result<Claim, Error> {
        self.ready().await?;
        let received = micros(new.received_at);
        let attempt = new.attempt.map(|a| i32::try_from(a).unwrap_or(i32::MAX));
        let insert = format!(
            "INSERT INTO runs (id, idempotency_key, job, schedule, nominal_time, caller_client_id, \
             received_at, started_at, outcome, attempts, last_attempt, last_received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 'running', 1, $8, $7) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING {RUN_COLUMNS}"
        );
        let bump = format!(
            "UPDATE runs SET attempts = attempts + 1, last_attempt = $2, last_received_at = $3 \
             WHERE idempotency_key = $1 RETURNING {RUN_COLUMNS}"
        );
        // Two rounds: a row that conflicted can only vanish if someone deleted it in between.
        for _ in 0..2 {
            let inserted = with_pool!(self, p => {
                let row = sqlx::query(&insert)
                    .bind(new.id.to_string())
                    .bind(new.idempotency_key.as_deref())
                    .bind(new.job.as_str())
                    .bind(new.schedule.as_deref())
                    .bind(new.nominal_time.map(micros))
                    .bind(new.caller_client_id.as_deref())
                    .bind(received)
                    .bind(attempt)
                    .fetch_optional(p)
                    .await
                    .map_err(Error::query("claim"))?;
                row.as_ref().map(decode_run).transpose()?
            });
            if let Some(run) = inserted {
                return Ok(Claim::Started(run));
            }
            let existing = with_pool!(self, p => {
                let row = sqlx::query(&bump)
                    .bind(new.idempotency_key.as_deref())
                    .bind(attempt)
                    .bind(received)
                    .fetch_optional(p)
                    .await
                    .map_err(Error::query("claim"))?;
                row.as_ref().map(decode_run).transpose()?
            });
            if let Some(run) = existing {
                return Ok(match run.outcome {
                    Outcome::Running => Claim::InProgress(run),
                    Outcome::Succeeded | Outcome::Failed => Claim::Finished(run),
                });
            }
        }
        Err(Error::Corrupt {
            field: "idempotency_key",
            detail: "the conflicting run disappeared while claiming".into(),
        })
    }

    /// Records the result of run `id`, once: a run that is no longer `running` is returned as
    /// it is. `outcome` [`Outcome::Running`] is treated as [`Outcome::Failed`].
    pub async fn finish(
        &self,
        id: Uuid,
        outcome: Outcome,
        http_status: Option<u16>,
        error: Option<&str>,
        duration: Duration,
    ) -> Result<Run, Error> {
        self.ready().await?;
        let outcome = match outcome {
            Outcome::Running => Outcome::Failed,
            o => o,
        };
        let error = error.map(|e| cut(e, MAX_ERROR_CHARS));
        let duration_ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        let sql = format!(
            "UPDATE runs SET finished_at = $2, outcome = $3, http_status = $4, duration_ms = $5, \
             error = $6 WHERE id = $1 AND outcome = 'running' RETURNING {RUN_COLUMNS}"
        );
        let updated = with_pool!(self, p => {
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .bind(micros(Utc::now()))
                .bind(outcome.as_str())
                .bind(http_status.map(i32::from))
                .bind(duration_ms)
                .bind(error.as_deref())
                .fetch_optional(p)
                .await
                .map_err(Error::query("finish"))?;
            row.as_ref().map(decode_run).transpose()?
        });
        match updated {
            Some(run) => Ok(run),
            None => self.get(id).await?.ok_or(Error::NotFound(id)),
        }
    }

    /// The run `id`, if recorded.
    pub async fn get(&self, id: Uuid) -> Result<Option<Run>, Error> {
        self.ready().await?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
        with_pool!(self, p => {
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .fetch_optional(p)
                .await
                .map_err(Error::query("get run"))?;
            row.as_ref().map(decode_run).transpose()
        })
    }

    /// The run of idempotency key `key`, if recorded.
    pub async fn by_key(&self, key: &str) -> Result<Option<Run>, Error> {
        self.ready().await?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE idempotency_key = $1");
        with_pool!(self, p => {
            let row = sqlx::query(&sql)
                .bind(key)
                .fetch_optional(p)
                .await
                .map_err(Error::query("get run"))?;
            row.as_ref().map(decode_run).transpose()
        })
    }

    /// One page of runs, newest first (by received time, then id).
    pub async fn list(&self, filter: &RunFilter) -> Result<Page, Error> {
        self.ready().await?;
        let limit = match filter.limit {
            0 => MAX_LIST,
            n => n.min(MAX_LIST),
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs \
             WHERE ($1 IS NULL OR schedule = $1) \
               AND (NOT $2 OR outcome = 'failed') \
               AND ($3 IS NULL OR received_at < $3 OR (received_at = $3 AND id < $4)) \
             ORDER BY received_at DESC, id DESC LIMIT $5"
        );
        let runs = with_pool!(self, p => {
            let rows = sqlx::query(&sql)
                .bind(filter.schedule.as_deref())
                .bind(filter.failed_only)
                .bind(filter.before.map(|c| c.received_at))
                .bind(filter.before.map(|c| c.id.to_string()))
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(Error::query("list runs"))?;
            rows.iter().map(decode_run).collect::<Result<Vec<_>, _>>()?
        });
        let next = (runs.len() == usize::try_from(limit).unwrap_or(usize::MAX))
            .then(|| runs.last().map(Cursor::after))
            .flatten();
        Ok(Page { runs, next })
    }
}

/// `t` truncated to microseconds, PostgreSQL's precision, so what is stored reads back equal
/// on both backends.
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// At most `max` characters of `s`.
pub(crate) fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A `runs` row.
pub(crate) fn decode_run<R>(row: &R) -> Result<Run, Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let outcome: String = get(row, "outcome")?;
    Ok(Run {
        id: uuid_of(row, "id")?,
        idempotency_key: get(row, "idempotency_key")?,
        job: get(row, "job")?,
        schedule: get(row, "schedule")?,
        nominal_time: get(row, "nominal_time")?,
        caller_client_id: get(row, "caller_client_id")?,
        received_at: get(row, "received_at")?,
        started_at: get(row, "started_at")?,
        finished_at: get(row, "finished_at")?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| Error::Corrupt {
            field: "outcome",
            detail: "not running, succeeded or failed".into(),
        })?,
        http_status: get::<_, Option<i32>>(row, "http_status")?
            .map(|s| u16::try_from(s).map_err(|_| corrupt("http_status", "out of range")))
            .transpose()?,
        duration_ms: get::<_, Option<i64>>(row, "duration_ms")?
            .map(|d| u64::try_from(d).map_err(|_| corrupt("duration_ms", "negative")))
            .transpose()?,
        error: get(row, "error")?,
        attempts: u32::try_from(get::<_, i32>(row, "attempts")?)
            .map_err(|_| corrupt("attempts", "negative"))?,
        last_attempt: get::<_, Option<i32>>(row, "last_attempt")?
            .map(|a| u32::try_from(a).map_err(|_| corrupt("last_attempt", "negative")))
            .transpose()?,
        last_received_at: get(row, "last_received_at")?,
    })
}

/// Column `name` of `row`.
pub(crate) fn get<'r, R, T>(row: &'r R, name: &'static str) -> Result<T, Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(name).map_err(|e| Error::Corrupt {
        field: name,
        detail: e.to_string(),
    })
}

/// A UUID stored as text.
pub(crate) fn uuid_of<R>(row: &R, name: &'static str) -> Result<Uuid, Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    let text: String = get(row, name)?;
    Uuid::parse_str(&text).map_err(|_| corrupt(name, "not a UUID"))
}

pub(crate) fn corrupt(field: &'static str, detail: &str) -> Error {
    Error::Corrupt {
        field,
        detail: detail.to_owned(),
    }
}
