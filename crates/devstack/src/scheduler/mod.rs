//! The local EventBridge Scheduler: the Scheduler API (restJson1, service `scheduler`) and a
//! scheduler that really fires its schedules' targets.
//!
//! - [`LocalScheduler::open`] loads the schedules: the schedule files it is given (rendered
//!   with `${AccountId}`, `${Region}`, …) and those created through the API in an earlier run
//!   (the state file, [`state`]), and plans the catch-up of what was missed while the stack
//!   was down.
//! - [`LocalScheduler::run`] is the engine: one timer for all schedules (a `BTreeMap` of due
//!   instants, `tokio::time::sleep_until` on the first, woken by a `Notify` when schedules
//!   change; no polling loop). A due occurrence fires: `Target.Input` gets its
//!   `<aws.scheduler.*>` context attributes ([`delivery::render_input`]) and goes to the
//!   [`delivery::Invoker`] (Lambda's asynchronous invocation), retried on retryable failures
//!   with exponential backoff ([`Backoff`]) up to `RetryPolicy.MaximumRetryAttempts` (default
//!   185) within `MaximumEventAgeInSeconds` (default 86 400, counted from the fire), then put
//!   into the `DeadLetterConfig` queue, which is kept locally
//!   ([`LocalScheduler::dead_letters`]), or dropped without one. Every fire, attempt, retry,
//!   dead letter and skipped occurrence goes to the [`delivery::DeliverySink`], keyed by the
//!   occurrence's idempotency key (`schedule::occurrence::key`).
//! - [`LocalScheduler::router`] is the Scheduler API ([`api`]).
//!
//! Semantics, as EventBridge Scheduler documents them ("Schedule types on EventBridge
//! Scheduler", <https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html>):
//! `State: DISABLED` never fires; `StartDate`/`EndDate` bound the occurrences; a `rate()`
//! without `StartDate` starts at once; `ActionAfterCompletion: DELETE` deletes the schedule
//! once its last occurrence has fired; a `FLEXIBLE` window delays each occurrence by a random
//! amount within the window (the RNG is seedable, [`SchedulerConfig::seed`]), while
//! `<aws.scheduler.scheduled-time>` stays the nominal time.
//!
//! Differences from AWS, on purpose: the local scheduler fires at the exact due instant,
//! whereas AWS fires "within the minute" (60-second precision), so local runs are a little
//! more punctual than production. Only the `default` schedule group exists. Only the target
//! fields a Lambda target uses are accepted (`Arn`, `RoleArn`, `Input`, `RetryPolicy`,
//! `DeadLetterConfig`); `EcsParameters` and the other templated targets are refused naming the
//! field. Retries still in progress when the stack stops are lost (AWS would keep them).
//!
//! **Catch-up.** AWS has no such thing (the service never stops); locally, occurrences that
//! fell due while the stack was down are handled by [`CatchUp`], per schedule: `none` skips
//! them, `last` (the default) fires only the latest one, `all` fires every one (at most
//! [`SchedulerConfig::max_catch_up`], the latest; the rest are skipped). The `CreateSchedule`
//! shape has no field for it, and schedule files refuse unknown fields, so it lives beside
//! the schedules, in [`SchedulerConfig::catch_up`] (by name) and
//! [`SchedulerConfig::default_catch_up`]. What was skipped is logged ("skipped 41 occurrences
//! of bridge-ping missed while down, fired the last (…)") and reported to the sink as
//! `Skipped`. What counts as missed: occurrences after the last one fired (or, for a schedule
//! that never fired, after the state file was last saved) and before the start; the state is
//! saved at most once a second while firing (plus a millisecond per ten schedules, so that
//! 100 000 schedules firing continuously write their state every 11 s), so a crash may fire
//! the last seconds' occurrences again, with the same idempotency key.

pub mod api;
pub mod clock;
pub mod delivery;
mod engine;
pub mod model;
pub mod state;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::error::DevError;
use crate::layout;
use clock::Clock;
use delivery::{DeadLetter, DeliverySink, Invoker, Metrics, MetricsSnapshot};
use model::Definition;
use state::Source;

/// How occurrences missed while the stack was down are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Skip them all.
    None,
    /// Fire only the latest one (the default).
    #[default]
    Last,
    /// Fire every one (at most [`SchedulerConfig::max_catch_up`]).
    All,
}

impl FromStr for CatchUp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "last" => Ok(Self::Last),
            "all" => Ok(Self::All),
            other => Err(format!(
                "catch-up {:?} is not none, last or all",
                cfenv::text::prefix(other, 32)
            )),
        }
    }
}

/// The delays between delivery attempts: `first`, doubling each time, at most `max`. AWS does
/// not document its delays; these are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Before the second attempt.
    pub first: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// One second, doubling up to a minute.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay after attempt `attempt` (1 = the first) failed.
    pub fn after(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// Settings of the local Scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Where the state file lives (`<data dir>/scheduler`); `None`: nothing is kept between
    /// runs (tests).
    pub state_dir: Option<PathBuf>,
    /// The region in schedule ARNs.
    pub region: String,
    /// The account in schedule ARNs.
    pub account_id: String,
    /// The schedule files, as `(name, text)`: the name is for error messages (a path or the
    /// built-in copy's name), the text a `CreateSchedule` request with placeholders.
    pub files: Vec<(String, String)>,
    /// The placeholders of the files (`AccountId` and `Region` are preset by
    /// [`SchedulerConfig::new`]; add more as `("Name", "value")`).
    pub file_vars: Vec<(String, String)>,
    /// The catch-up of single schedules, by name.
    pub catch_up: HashMap<String, CatchUp>,
    /// The catch-up of every other schedule ([`CatchUp::Last`]).
    pub default_catch_up: CatchUp,
    /// The most missed occurrences one schedule fires on catch-up (1000).
    pub max_catch_up: usize,
    /// The delays between delivery attempts.
    pub backoff: Backoff,
    /// The clock ([`clock::SystemClock`]; tests use a [`clock::TokioClock`]).
    pub clock: Arc<dyn Clock>,
    /// The seed of the flexible windows' random delays; `None`: random.
    pub seed: Option<u64>,
}

impl SchedulerConfig {
    /// Defaults for the data directory `data_dir` and the account's `region` and `account_id`:
    /// no schedule files, catch-up `last`, at most 1000 catch-up fires, the system clock.
    pub fn new(data_dir: &Path, region: &str, account_id: &str) -> Self {
        Self {
            state_dir: Some(layout::scheduler_dir(data_dir)),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            files: Vec::new(),
            file_vars: vec![
                ("AccountId".to_owned(), account_id.to_owned()),
                ("Region".to_owned(), region.to_owned()),
            ],
            catch_up: HashMap::new(),
            default_catch_up: CatchUp::Last,
            max_catch_up: 1000,
            backoff: Backoff::default(),
            clock: Arc::new(clock::SystemClock),
            seed: None,
        }
    }

    fn catch_up_of(&self, name: &str) -> CatchUp {
        self.catch_up
            .get(name)
            .copied()
            .unwrap_or(self.default_catch_up)
    }
}

/// The local Scheduler (cheap to clone: every clone is the same scheduler).
#[derive(Clone)]
pub struct LocalScheduler {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LocalScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalScheduler")
            .field("region", &self.shared.config.region)
            .field("account_id", &self.shared.config.account_id)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: SchedulerConfig,
    invoker: Arc<dyn Invoker>,
    sink: Arc<dyn DeliverySink>,
    inner: Mutex<Inner>,
    /// Wakes the engine when the schedules change.
    notify: Notify,
    metrics: Metrics,
    /// Held while the state file is snapshotted and written, so writes land in order.
    save_lock: Mutex<()>,
}

/// One pending occurrence in the timer queue: `(due instant, sequence number)`.
type Slot = (DateTime<Utc>, u64);

struct Entry {
    def: Arc<Definition>,
    source: Source,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    last_fired: Option<DateTime<Utc>>,
    /// The queued occurrence: its slot and nominal time.
    pending: Option<(Slot, DateTime<Utc>)>,
}

/// What catch-up does for one schedule at start.
struct CatchUpPlan {
    name: String,
    mode: CatchUp,
    /// How many occurrences were missed (counting stops at [`MAX_COUNTED`]).
    missed: u64,
    fire: Vec<DateTime<Utc>>,
    skip: Vec<DateTime<Utc>>,
}

/// Catch-up stops counting missed occurrences here (a `rate(1 minute)` down for two years).
const MAX_COUNTED: u64 = 1_000_000;

/// At most this many dead letters are kept (the oldest go first).
const MAX_DEAD_LETTERS: usize = 10_000;

struct Inner {
    schedules: BTreeMap<String, Entry>,
    queue: BTreeMap<Slot, String>,
    seq: u64,
    rng: fastrand::Rng,
    dead_letters: VecDeque<DeadLetter>,
    catch_up: Vec<CatchUpPlan>,
    /// Last fires not yet in the state file.
    dirty: bool,
    last_save: Option<DateTime<Utc>>,
}

/// Why a schedule operation of the API was refused.
#[derive(Debug)]
pub(crate) enum OpError {
    Invalid(schedule::Error),
    Conflict(String),
    NotFound(String),
    Storage(DevError),
}

impl LocalScheduler {
    /// Loads the schedule files of `config` and the schedules kept in its state directory,
    /// and plans the catch-up of occurrences missed since the last run. A schedule file that
    /// does not check out is [`DevError::Config`] naming the file and the field; a state file
    /// that does not parse is [`DevError::Corrupt`]; a stored schedule that no longer checks
    /// out is dropped with a warning.
    pub fn open(
        mut config: SchedulerConfig,
        invoker: Arc<dyn Invoker>,
        sink: Arc<dyn DeliverySink>,
    ) -> Result<Self, DevError> {
        let now = config.clock.now();
        let stored = match &config.state_dir {
            Some(dir) => state::load(dir)?,
            None => None,
        };
        let rng = match config.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        let mut inner = Inner {
            schedules: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            rng,
            dead_letters: VecDeque::new(),
            catch_up: Vec::new(),
            dirty: false,
            last_save: None,
        };
        engine::load(&config, stored, now, &mut inner)?;
        // The texts are parsed; keeping them would double the memory of many schedules.
        config.files = Vec::new();
        let scheduler = Self {
            shared: Arc::new(Shared {
                config,
                invoker,
                sink,
                inner: Mutex::new(inner),
                notify: Notify::new(),
                metrics: Metrics::default(),
                save_lock: Mutex::new(()),
            }),
        };
        // Schedules from files and restored ones are written at once, with their dates.
        scheduler.save()?;
        Ok(scheduler)
    }

    /// The ARN of the schedule `name` (default group).
    pub fn schedule_arn(&self, name: &str) -> String {
        model::schedule_arn(
            &self.shared.config.region,
            &self.shared.config.account_id,
            name,
        )
    }

    /// The names of the schedules, sorted.
    pub fn schedule_names(&self) -> Vec<String> {
        self.lock().schedules.keys().cloned().collect()
    }

    /// The schedule `name` as `GetSchedule` returns it.
    pub fn describe(&self, name: &str) -> Option<serde_json::Value> {
        let inner = self.lock();
        inner.schedules.get(name).map(|e| {
            e.def
                .describe(&self.schedule_arn(name), e.created, e.modified)
        })
    }

    /// The next occurrence of `name` that is queued (its nominal time), if any.
    pub fn next_occurrence(&self, name: &str) -> Option<DateTime<Utc>> {
        self.lock()
            .schedules
            .get(name)
            .and_then(|e| e.pending.map(|(_, nominal)| nominal))
    }

    /// The events in the dead-letter queues, oldest first (at most 10 000 are kept).
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock().dead_letters.iter().cloned().collect()
    }

    /// The counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the state file (if the scheduler keeps one).
    fn save(&self) -> Result<(), DevError> {
        let Some(dir) = &self.shared.config.state_dir else {
            self.lock().dirty = false;
            return Ok(());
        };
        let _order = self
            .shared
            .save_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = self.shared.config.clock.now();
        let snapshot = {
            let mut inner = self.lock();
            inner.dirty = false;
            inner.last_save = Some(now);
            state::StateFile::new(
                now,
                inner
                    .schedules
                    .iter()
                    .map(|(name, e)| state::StoredSchedule {
                        name: name.clone(),
                        source: e.source,
                        fields: e.def.fields.clone(),
                        created: e.created,
                        modified: e.modified,
                        last_fired: e.last_fired,
                    })
                    .collect(),
            )
        };
        state::save(dir, &snapshot)
    }
}
