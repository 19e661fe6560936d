//! The engine of the local Scheduler: loading, the timer queue, firing, delivery with retries
//! and dead letters, catch-up, and the schedule operations behind the API.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::task::JoinSet;

use super::delivery::{DeadLetter, Delivery, Metrics, Outcome, render_input};
use super::model::Definition;
use super::state::{Source, StateFile};
use super::{
    CatchUp, CatchUpPlan, Entry, Inner, LocalScheduler, MAX_COUNTED, MAX_DEAD_LETTERS, OpError,
    SchedulerConfig, Shared,
};
use crate::error::DevError;

/// How often, at most, the state file is written while schedules fire: a second, plus a
/// millisecond per ten schedules (the file grows with them).
fn save_every(schedules: usize) -> TimeDelta {
    TimeDelta::seconds(1)
        + TimeDelta::milliseconds(i64::try_from(schedules / 10).unwrap_or(i64::MAX))
}

/// Whole seconds (creation dates and rate anchors are kept at whole seconds).
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

fn ms(d: TimeDelta) -> u64 {
    u64::try_from(d.num_milliseconds()).unwrap_or(0)
}

/// One occurrence to deliver.
struct Job {
    name: String,
    schedule_arn: String,
    def: Arc<Definition>,
    nominal: DateTime<Utc>,
}

/// Loads files and stored schedules into `inner` and plans catch-up.
pub(super) fn load(
    config: &SchedulerConfig,
    stored: Option<StateFile>,
    now: DateTime<Utc>,
    inner: &mut Inner,
) -> Result<(), DevError> {
    let saved_at = stored.as_ref().map(|s| s.saved_at);
    let mut previous: BTreeMap<String, super::state::StoredSchedule> = stored
        .map(|s| s.schedules)
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let vars: Vec<(&str, &str)> = config
        .file_vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let created_now = whole_seconds(now);

    let mut loaded: Vec<(Entry, bool)> = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (file_name, text) in &config.files {
        let config_error = |e: schedule::Error| DevError::Config {
            path: file_name.into(),
            reason: e.to_string(),
        };
        let rendered = schedule::file::render(text, &vars).map_err(config_error)?;
        let def = Definition::from_file_text(&rendered).map_err(config_error)?;
        if !names.insert(def.name().to_owned()) {
            return Err(DevError::Config {
                path: file_name.into(),
                reason: format!("Name: another schedule file already defines {}", def.name()),
            });
        }
        let before = previous.remove(def.name());
        let known = before.is_some();
        let (created, modified, last_fired) = match before {
            Some(b) if b.fields == def.fields => (b.created, b.modified, b.last_fired),
            Some(b) => (b.created, created_now, b.last_fired),
            None => (created_now, created_now, None),
        };
        loaded.push((
            Entry {
                def: Arc::new(def),
                source: Source::File,
                created,
                modified,
                last_fired,
                pending: None,
            },
            known,
        ));
    }
    for (name, stored) in previous {
        if stored.source == Source::File {
            // Its file is gone: so is the schedule.
            continue;
        }
        let mut fields = stored.fields.clone();
        fields.insert("Name".to_owned(), serde_json::Value::from(name.as_str()));
        match Definition::from_fields(fields) {
            Ok(def) => loaded.push((
                Entry {
                    def: Arc::new(def),
                    source: Source::Api,
                    created: stored.created,
                    modified: stored.modified,
                    last_fired: stored.last_fired,
                    pending: None,
                },
                true,
            )),
            Err(e) => tracing::warn!(schedule.name = %name, error = %e,
                "dropping a stored schedule that no longer checks out"),
        }
    }

    // Occurrences up to a second ago are "missed"; the engine fires later ones as usual.
    let boundary = now - TimeDelta::seconds(1);
    for (mut entry, known) in loaded {
        let name = entry.def.name().to_owned();
        let from = match (entry.last_fired, saved_at) {
            (Some(last), _) => Some(last),
            (None, Some(saved)) if known => Some(saved.max(entry.created - TimeDelta::seconds(1))),
            _ => None,
        };
        if entry.def.enabled()
            && let Some(from) = from
        {
            let mode = config.catch_up_of(&name);
            if let Some(plan) =
                plan_catch_up(&entry, &name, mode, from, boundary, config.max_catch_up)
            {
                if let Some(last) = plan.fire.last().or(plan.skip.last()) {
                    entry.last_fired = Some(*last);
                }
                inner.catch_up.push(plan);
            }
        }
        let cursor = entry
            .last_fired
            .unwrap_or(entry.created - TimeDelta::seconds(1))
            .max(boundary);
        inner.schedules.insert(name.clone(), entry);
        inner.enqueue_next(&name, cursor);
    }
    inner.dirty = true;
    Ok(())
}

fn plan_catch_up(
    entry: &Entry,
    name: &str,
    mode: CatchUp,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    max: usize,
) -> Option<CatchUpPlan> {
    let keep = max.max(1);
    let mut latest: VecDeque<DateTime<Utc>> = VecDeque::new();
    let mut missed = 0u64;
    let mut cursor = from;
    while missed < MAX_COUNTED {
        match entry.def.schedule.next_after(cursor, entry.created) {
            Some(t) if t <= until => {
                missed += 1;
                if latest.len() == keep {
                    latest.pop_front();
                }
                latest.push_back(t);
                cursor = t;
            }
            _ => break,
        }
    }
    if missed == 0 {
        return None;
    }
    let mut latest: Vec<DateTime<Utc>> = latest.into();
    let (fire, skip) = match mode {
        CatchUp::None => (Vec::new(), latest),
        CatchUp::Last => {
            let last = latest.split_off(latest.len() - 1);
            (last, latest)
        }
        CatchUp::All => (latest, Vec::new()),
    };
    Some(CatchUpPlan {
        name: name.to_owned(),
        mode,
        missed,
        fire,
        skip,
    })
}

impl Inner {
    /// Queues the first occurrence of `name` after `after`, delayed within its flexible
    /// window; removes what was queued before.
    fn enqueue_next(&mut self, name: &str, after: DateTime<Utc>) {
        let Some(entry) = self.schedules.get_mut(name) else {
            return;
        };
        if let Some((slot, _)) = entry.pending.take() {
            self.queue.remove(&slot);
        }
        if !entry.def.enabled() {
            return;
        }
        let Some(nominal) = entry.def.schedule.next_after(after, entry.created) else {
            return;
        };
        let delay = match entry.def.schedule.window {
            Some(window) => {
                let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
                TimeDelta::milliseconds(
                    i64::try_from(self.rng.u64(0..window_ms.max(1))).unwrap_or(0),
                )
            }
            None => TimeDelta::zero(),
        };
        self.seq += 1;
        let slot = (nominal + delay, self.seq);
        entry.pending = Some((slot, nominal));
        self.queue.insert(slot, name.to_owned());
    }

    fn unqueue(&mut self, name: &str) {
        if let Some((slot, _)) = self.schedules.get_mut(name).and_then(|e| e.pending.take()) {
            self.queue.remove(&slot);
        }
    }
}

impl LocalScheduler {
    /// Runs the engine until `shutdown` resolves: first the catch-up planned by
    /// [`LocalScheduler::open`], then every occurrence as it falls due. Deliveries still
    /// retrying at shutdown are abandoned; the state file is written on the way out.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut deliveries: JoinSet<()> = JoinSet::new();
        self.catch_up(&mut deliveries);
        loop {
            Metrics::add(&self.shared.metrics.timer_wakes, 1);
            while let Some(done) = deliveries.try_join_next() {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::error!("a schedule delivery task panicked");
                }
            }
            let clock = &self.shared.config.clock;
            let now = clock.now();
            let (jobs, next_due, save_due) = self.take_due(now);
            for job in jobs {
                self.start(job, &mut deliveries);
            }
            let save_due = match save_due {
                Some(at) if at <= now => {
                    if let Err(e) = self.save() {
                        tracing::error!(error = %e, "cannot write the scheduler's state file");
                    }
                    None
                }
                other => other,
            };
            let wake = match (next_due, save_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut deadline = wake.map(|w| clock.deadline(w));
            if let Some(nap) = clock.max_nap() {
                let cap = tokio::time::Instant::now() + nap;
                deadline = Some(deadline.map_or(cap, |d| d.min(cap)));
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.shared.notify.notified() => {}
                () = sleep_until(deadline) => {}
            }
        }
        deliveries.abort_all();
        if let Err(e) = self.save() {
            tracing::error!(error = %e, "cannot write the scheduler's state file");
        }
    }

    /// Pops every occurrence due at `now`, queues each schedule's next one (or deletes a
    /// completed `ActionAfterCompletion: DELETE` schedule), and says when the engine must wake:
    /// for the next occurrence, and to save the state.
    fn take_due(
        &self,
        now: DateTime<Utc>,
    ) -> (Vec<Job>, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let mut inner = self.lock();
        let mut jobs = Vec::new();
        while let Some((&slot, _)) = inner.queue.first_key_value() {
            if slot.0 > now {
                break;
            }
            let Some(name) = inner.queue.remove(&slot) else {
                break;
            };
            let Some(entry) = inner.schedules.get_mut(&name) else {
                continue;
            };
            let Some((_, nominal)) = entry.pending.take() else {
                continue;
            };
            entry.last_fired = Some(nominal);
            jobs.push(Job {
                name: name.clone(),
                schedule_arn: self.schedule_arn(&name),
                def: Arc::clone(&entry.def),
                nominal,
            });
            inner.dirty = true;
            inner.enqueue_next(&name, nominal);
            let done = inner
                .schedules
                .get(&name)
                .is_some_and(|e| e.pending.is_none() && e.def.delete_after_completion());
            if done {
                inner.schedules.remove(&name);
                tracing::info!(schedule.name = %name,
                    "schedule completed: deleted (ActionAfterCompletion DELETE)");
            }
        }
        let next_due = inner.queue.first_key_value().map(|(slot, _)| slot.0);
        let save_due = (inner.dirty && self.shared.config.state_dir.is_some()).then(|| {
            inner.last_save.map_or(now, |last| {
                (last + save_every(inner.schedules.len())).max(now)
            })
        });
        (jobs, next_due, save_due)
    }

    /// Fires the catch-up planned at open.
    fn catch_up(&self, deliveries: &mut JoinSet<()>) {
        let plans = std::mem::take(&mut self.lock().catch_up);
        let now = self.shared.config.clock.now();
        for plan in plans {
            let Some(def) = self.lock().schedules.get(&plan.name).map(|e| e.def.clone()) else {
                continue;
            };
            let arn = self.schedule_arn(&plan.name);
            let skipped = plan.missed - plan.fire.len() as u64;
            let counted = if plan.missed >= MAX_COUNTED {
                "at least "
            } else {
                ""
            };
            match (plan.mode, plan.fire.first(), plan.fire.last()) {
                (CatchUp::None, _, _) | (_, None, _) | (_, _, None) => {
                    tracing::info!(schedule.name = %plan.name, skipped, catch_up = "none",
                        "skipped {counted}{skipped} occurrences of {} missed while down", plan.name);
                }
                (CatchUp::Last, _, Some(last)) => {
                    tracing::info!(schedule.name = %plan.name, skipped, catch_up = "last",
                        "skipped {counted}{skipped} occurrences of {} missed while down, fired the last ({})",
                        plan.name, schedule::occurrence::nominal_time(*last));
                }
                (CatchUp::All, Some(first), Some(last)) => {
                    tracing::info!(schedule.name = %plan.name, skipped, catch_up = "all",
                        "fired {} occurrences of {} missed while down ({} to {}), skipped {counted}{skipped} older ones",
                        plan.fire.len(), plan.name, schedule::occurrence::nominal_time(*first),
                        schedule::occurrence::nominal_time(*last));
                }
            }
            let older_skipped = plan
                .missed
                .saturating_sub((plan.fire.len() + plan.skip.len()) as u64);
            Metrics::add(&self.shared.metrics.skipped, skipped);
            let reason = format!(
                "missed while the stack was down (catch-up {})",
                match plan.mode {
                    CatchUp::None => "none",
                    CatchUp::Last => "last",
                    CatchUp::All => "all",
                }
            );
            for nominal in &plan.skip {
                self.shared.sink.record(&Delivery {
                    schedule_name: plan.name.clone(),
                    schedule_arn: arn.clone(),
                    target_arn: def.target_arn().to_owned(),
                    nominal_time: *nominal,
                    idempotency_key: schedule::occurrence::key(&arn, *nominal),
                    execution_id: None,
                    attempt: 0,
                    outcome: Outcome::Skipped {
                        reason: reason.clone(),
                    },
                    at: now,
                });
            }
            if older_skipped > 0 && plan.mode == CatchUp::All {
                tracing::warn!(schedule.name = %plan.name, dropped = older_skipped,
                    "catch-up of {} fires at most {} occurrences: {older_skipped} older ones dropped",
                    plan.name, self.shared.config.max_catch_up);
            }
            for nominal in plan.fire {
                self.start(
                    Job {
                        name: plan.name.clone(),
                        schedule_arn: arn.clone(),
                        def: def.clone(),
                        nominal,
                    },
                    deliveries,
                );
            }
        }
    }

    /// Reports the fire of `job` and starts its delivery.
    fn start(&self, job: Job, deliveries: &mut JoinSet<()>) {
        let now = self.shared.config.clock.now();
        let lateness_ms = ms(now - job.nominal);
        let metrics = &self.shared.metrics;
        Metrics::add(&metrics.fires, 1);
        metrics.lateness(lateness_ms);
        let execution_id = uuid::Uuid::new_v4().to_string();
        let idempotency_key = schedule::occurrence::key(&job.schedule_arn, job.nominal);
        tracing::debug!(schedule.name = %job.name, nominal_time = %schedule::occurrence::nominal_time(job.nominal),
            lateness_ms, "schedule fired");
        let record = Delivery {
            schedule_name: job.name.clone(),
            schedule_arn: job.schedule_arn.clone(),
            target_arn: job.def.target_arn().to_owned(),
            nominal_time: job.nominal,
            idempotency_key,
            execution_id: Some(execution_id.clone()),
            attempt: 0,
            outcome: Outcome::Fired { lateness_ms },
            at: now,
        };
        self.shared.sink.record(&record);
        let shared = Arc::clone(&self.shared);
        let this = self.clone();
        deliveries.spawn(async move {
            deliver(&shared, &this, job, record, execution_id).await;
        });
    }

    /// Creates a schedule (`CreateSchedule`).
    pub(crate) fn create(&self, def: Definition) -> Result<String, OpError> {
        let name = def.name().to_owned();
        let now = whole_seconds(self.shared.config.clock.now());
        {
            let mut inner = self.lock();
            if inner.schedules.contains_key(&name) {
                return Err(OpError::Conflict(name));
            }
            inner.schedules.insert(
                name.clone(),
                Entry {
                    def: Arc::new(def),
                    source: Source::Api,
                    created: now,
                    modified: now,
                    last_fired: None,
                    pending: None,
                },
            );
            inner.enqueue_next(&name, now - TimeDelta::seconds(1));
        }
        self.changed()?;
        Ok(self.schedule_arn(&name))
    }

    /// Replaces a schedule (`UpdateSchedule`); its dates of creation and last fire stay.
    pub(crate) fn update(&self, def: Definition) -> Result<String, OpError> {
        let name = def.name().to_owned();
        let now = self.shared.config.clock.now();
        {
            let mut inner = self.lock();
            let Some(entry) = inner.schedules.get_mut(&name) else {
                return Err(OpError::NotFound(name));
            };
            entry.def = Arc::new(def);
            entry.modified = whole_seconds(now);
            let after = entry
                .last_fired
                .unwrap_or(entry.created - TimeDelta::seconds(1))
                .max(now - TimeDelta::seconds(1));
            inner.enqueue_next(&name, after);
        }
        self.changed()?;
        Ok(self.schedule_arn(&name))
    }

    /// Deletes a schedule (`DeleteSchedule`).
    pub(crate) fn delete(&self, name: &str) -> Result<(), OpError> {
        {
            let mut inner = self.lock();
            if !inner.schedules.contains_key(name) {
                return Err(OpError::NotFound(name.to_owned()));
            }
            inner.unqueue(name);
            inner.schedules.remove(name);
        }
        self.changed()
    }

    /// The schedules (`ListSchedules`): `(name, GetSchedule fields)`, sorted by name, after
    /// `after`, matching `prefix` and `state`, at most `limit`; and whether more follow.
    pub(crate) fn list(
        &self,
        prefix: Option<&str>,
        state: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<serde_json::Value>, Option<String>) {
        let inner = self.lock();
        let mut out = Vec::new();
        let range = match after {
            Some(a) => inner
                .schedules
                .range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => inner.schedules.range::<str, _>(..),
        };
        for (name, e) in range {
            if prefix.is_some_and(|p| !name.starts_with(p)) {
                continue;
            }
            let enabled = e.def.enabled();
            if state.is_some_and(|s| (s == "ENABLED") != enabled) {
                continue;
            }
            if out.len() == limit {
                let next = out
                    .last()
                    .and_then(|v: &serde_json::Value| v["Name"].as_str())
                    .map(str::to_owned);
                return (out, next);
            }
            out.push(serde_json::json!({
                "Arn": self.schedule_arn(name),
                "Name": name,
                "GroupName": super::model::DEFAULT_GROUP,
                "State": if enabled { "ENABLED" } else { "DISABLED" },
                "CreationDate": e.created.timestamp(),
                "LastModificationDate": e.modified.timestamp(),
                "Target": { "Arn": e.def.target_arn() },
            }));
        }
        (out, None)
    }

    /// After an API change: save at once and wake the engine.
    fn changed(&self) -> Result<(), OpError> {
        self.shared.notify.notify_one();
        self.save().map_err(OpError::Storage)
    }

    fn dead_letter(&self, letter: DeadLetter) {
        let mut inner = self.lock();
        if inner.dead_letters.len() >= MAX_DEAD_LETTERS {
            inner.dead_letters.pop_front();
        }
        inner.dead_letters.push_back(letter);
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Delivers one occurrence: attempts, retries with backoff, then the dead letter.
async fn deliver(
    shared: &Shared,
    scheduler: &LocalScheduler,
    job: Job,
    mut record: Delivery,
    execution_id: String,
) {
    let clock = &shared.config.clock;
    let metrics = &shared.metrics;
    let started = clock.now();
    let max_retries = job.def.max_retry_attempts();
    let max_age = TimeDelta::seconds(i64::from(job.def.max_event_age_s()));
    let mut attempt: u32 = 1;
    loop {
        let payload = render_input(
            job.def.input(),
            &job.schedule_arn,
            job.nominal,
            &execution_id,
            attempt,
        );
        Metrics::add(&metrics.attempts, 1);
        if attempt > 1 {
            Metrics::add(&metrics.retries, 1);
        }
        let result = shared
            .invoker
            .invoke_event(job.def.target_arn(), payload.clone().into_bytes())
            .await;
        record.attempt = attempt;
        record.at = clock.now();
        let failure = match result {
            Ok(request_id) => {
                Metrics::add(&metrics.accepted, 1);
                record.outcome = Outcome::Accepted { request_id };
                shared.sink.record(&record);
                return;
            }
            Err(f) => f,
        };
        Metrics::add(&metrics.failed_attempts, 1);
        let delay = shared.config.backoff.after(attempt);
        let age_then = record.at - started + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
        let retry = failure.retryable && attempt <= max_retries && age_then <= max_age;
        record.outcome = Outcome::Failed {
            error: failure.to_string(),
            retry_in: retry.then_some(delay),
        };
        shared.sink.record(&record);
        if retry {
            tracing::info!(schedule.name = %job.name, attempt, error = %failure,
                retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "schedule target invocation failed; retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
            continue;
        }
        let why = if !failure.retryable {
            "not retryable"
        } else if attempt > max_retries {
            "retries exhausted"
        } else {
            "maximum event age reached"
        };
        match job.def.dead_letter_arn() {
            Some(queue) => {
                Metrics::add(&metrics.dead_letters, 1);
                tracing::warn!(schedule.name = %job.name, attempts = attempt, error = %failure,
                    dead_letter.queue = %queue, "schedule target invocation failed ({why}): event dead-lettered");
                scheduler.dead_letter(DeadLetter {
                    queue_arn: queue.to_owned(),
                    schedule_name: job.name.clone(),
                    schedule_arn: job.schedule_arn.clone(),
                    target_arn: job.def.target_arn().to_owned(),
                    nominal_time: job.nominal,
                    idempotency_key: record.idempotency_key.clone(),
                    execution_id: execution_id.clone(),
                    attempts: attempt,
                    error_code: failure.code.clone(),
                    error_message: failure.message.clone(),
                    body: payload,
                    at: record.at,
                });
                record.outcome = Outcome::DeadLettered {
                    error: failure.to_string(),
                    queue_arn: queue.to_owned(),
                };
            }
            None => {
                Metrics::add(&metrics.dropped, 1);
                tracing::warn!(schedule.name = %job.name, attempts = attempt, error = %failure,
                    "schedule target invocation failed ({why}); no dead-letter queue: event dropped");
                record.outcome = Outcome::Dropped {
                    error: failure.to_string(),
                };
            }
        }
        shared.sink.record(&record);
        return;
    }
}
