//! The engine under paused time: fire counts and instants, DST, `at()` with
//! `ActionAfterCompletion`, disabled schedules, retries and dead letters, catch-up after a gap,
//! a create waking the timer, 10 000 schedules in order, persistence.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::clock::TokioClock;
use super::delivery::{InvokeFailure, Invoker, MemorySink, Outcome};
use super::model::Definition;
use super::{CatchUp, LocalScheduler, SchedulerConfig};

type Behaviour = Box<dyn Fn(usize) -> Result<(), InvokeFailure> + Send + Sync>;

/// Records every invocation; answers as `behaviour(call number)` says.
struct Recorder {
    clock: TokioClock,
    calls: Mutex<Vec<(String, serde_json::Value, DateTime<Utc>)>>,
    behaviour: Behaviour,
}

impl Recorder {
    fn new(clock: TokioClock, behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            clock,
            calls: Mutex::new(Vec::new()),
            behaviour,
        })
    }

    fn calls(&self) -> Vec<(String, serde_json::Value, DateTime<Utc>)> {
        self.calls.lock().expect("lock").clone()
    }

    fn times(&self) -> Vec<DateTime<Utc>> {
        self.calls().into_iter().map(|(_, _, t)| t).collect()
    }
}

#[async_trait::async_trait]
impl Invoker for Recorder {
    async fn invoke_event(
        &self,
        arn: &str,
        payload: Vec<u8>,
    ) -> Result<Option<String>, InvokeFailure> {
        use super::clock::Clock as _;
        let n = {
            let mut calls = self.calls.lock().expect("lock");
            calls.push((
                arn.to_owned(),
                serde_json::from_slice(&payload).expect("payload is JSON"),
                self.clock.now(),
            ));
            calls.len()
        };
        (self.behaviour)(n).map(|()| Some(format!("request-{n}")))
    }
}

fn ok() -> Behaviour {
    Box::new(|_| Ok(()))
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
        .single()
        .expect("time")
}

const FUNCTION: &str = "arn:aws:lambda:eu-central-1:000000000000:function:f";

/// A schedule file: `name`, `expression`, and extra top-level fields / target fields.
fn file(name: &str, expression: &str, extra: &str, target_extra: &str) -> (String, String) {
    let text = format!(
        r#"{{"Name":"{name}","ScheduleExpression":"{expression}","FlexibleTimeWindow":{{"Mode":"OFF"}}{extra},
        "Target":{{"Arn":"{FUNCTION}","RoleArn":"arn:aws:iam::${{AccountId}}:role/r",
        "Input":"{{\"t\":\"<aws.scheduler.scheduled-time>\",\"n\":\"<aws.scheduler.attempt-number>\",\"e\":\"<aws.scheduler.execution-id>\",\"a\":\"<aws.scheduler.schedule-arn>\"}}"{target_extra}}}}}"#
    );
    (format!("{name}.json"), text)
}

struct Running {
    scheduler: LocalScheduler,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("engine task");
        }
    }
}

fn config(clock: TokioClock, files: Vec<(String, String)>) -> SchedulerConfig {
    let mut c = SchedulerConfig::new(
        std::path::Path::new("/nonexistent"),
        "eu-central-1",
        "000000000000",
    );
    c.state_dir = None;
    c.files = files;
    c.clock = Arc::new(clock);
    c.seed = Some(7);
    c
}

fn start(config: SchedulerConfig, invoker: Arc<Recorder>, sink: Arc<MemorySink>) -> Running {
    let scheduler = LocalScheduler::open(config, invoker, sink).expect("open");
    let (tx, rx) = oneshot::channel::<()>();
    let engine = scheduler.clone();
    let task = tokio::spawn(async move {
        engine
            .run(async {
                let _ = rx.await;
            })
            .await;
    });
    Running {
        scheduler,
        stop: Some(tx),
        task: Some(task),
    }
}

async fn sleep_s(s: u64) {
    tokio::time::sleep(Duration::from_secs(s)).await;
}

#[tokio::test(start_paused = true)]
async fn rate_one_minute_fires_n_times_in_n_minutes_on_the_minute() {
    let clock = TokioClock::starting_at(base());
    let rec = Recorder::new(clock, ok());
    let sink = Arc::new(MemorySink::new(1000));
    let start_date = base().timestamp() + 60;
    let run = start(
        config(
            clock,
            vec![file(
                "every-minute",
                "rate(1 minute)",
                &format!(r#","StartDate":{start_date}"#),
                "",
            )],
        ),
        rec.clone(),
        sink.clone(),
    );
    sleep_s(10 * 60 + 1).await;
    let times = rec.times();
    let expected: Vec<_> = (1..=10).map(|m| base() + TimeDelta::minutes(m)).collect();
    assert_eq!(times, expected);
    let calls = rec.calls();
    assert_eq!(calls[0].1["t"], "2026-12-01T00:01:00Z");
    assert_eq!(calls[0].1["n"], "1");
    assert_eq!(
        calls[0].1["a"],
        "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/every-minute"
    );
    assert_ne!(
        calls[0].1["e"], calls[1].1["e"],
        "a fresh execution id per fire"
    );
    let m = run.scheduler.metrics();
    assert_eq!(
        (m.fires, m.attempts, m.accepted, m.retries),
        (10, 10, 10, 0)
    );
    assert!(m.recent_lateness_ms.iter().all(|l| *l == 0), "{m:?}");
    let fired = sink
        .records()
        .into_iter()
        .filter(|d| matches!(d.outcome, Outcome::Fired { .. }))
        .count();
    assert_eq!(fired, 10);
    let first = &sink.records()[0];
    assert_eq!(
        first.idempotency_key,
        schedule::occurrence::key(&first.schedule_arn, base() + TimeDelta::minutes(1))
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn rate_without_start_date_starts_at_once() {
    let clock = TokioClock::starting_at(base() + TimeDelta::milliseconds(300));
    let rec = Recorder::new(clock, ok());
    let run = start(
        config(clock, vec![file("now", "rate(5 minutes)", "", "")]),
        rec.clone(),
        Arc::new(MemorySink::new(10)),
    );
    sleep_s(11 * 60).await;
    assert_eq!(
        rec.times(),
        vec![
            base() + TimeDelta::milliseconds(300),
            base() + TimeDelta::minutes(5),
            base() + TimeDelta::minutes(10)
        ]
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn cron_in_berlin_across_both_dst_days() {
    let spring = Utc
        .with_ymd_and_hms(2026, 3, 28, 0, 0, 0)
        .single()
        .expect("time");
    let clock = TokioClock::starting_at(spring);
    let rec = Recorder::new(clock, ok());
    let zone = r#","ScheduleExpressionTimezone":"Europe/Berlin""#;
    let run = start(
        config(clock, vec![file("berlin", "cron(30 2 * * ? *)", zone, "")]),
        rec.clone(),
        Arc::new(MemorySink::new(10)),
    );
    sleep_s(3 * 86_400).await;
    // No polling: the timer woke once at start and once per fire.
    assert_eq!(run.scheduler.metrics().timer_wakes, 3);
    let at = |d: u32, h: u32, m: u32| {
        Utc.with_ymd_and_hms(2026, 3, d, h, m, 0)
            .single()
            .expect("time")
    };
    // 02:30 CET on the 28th; the 29th's 02:30 does not exist (skipped); 02:30 CEST on the 30th.
    assert_eq!(rec.times(), vec![at(28, 1, 30), at(30, 0, 30)]);
    assert_eq!(rec.calls()[1].1["t"], "2026-03-30T00:30:00Z");
    run.stop().await;

    let autumn = Utc
        .with_ymd_and_hms(2026, 10, 24, 12, 0, 0)
        .single()
        .expect("time");
    let clock = TokioClock::starting_at(autumn);
    let rec = Recorder::new(clock, ok());
    let run = start(
        config(clock, vec![file("berlin", "cron(30 2 * * ? *)", zone, "")]),
        rec.clone(),
        Arc::new(MemorySink::new(10)),
    );
    sleep_s(2 * 86_400).await;
    let at = |d: u32, h: u32| {
        Utc.with_ymd_and_hms(2026, 10, d, h, 30, 0)
            .single()
            .expect("time")
    };
    // The 25th's 02:30 happens twice: it fires once, at the first (CEST, 00:30Z).
    assert_eq!(rec.times(), vec![at(25, 0), at(26, 1)]);
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn at_fires_once_and_delete_after_completion_removes_it() {
    let clock = TokioClock::starting_at(base());
    let rec = Recorder::new(clock, ok());
    let run = start(
        config(
            clock,
            vec![
                file(
                    "once-delete",
                    "at(2026-12-01T00:05:00)",
                    r#","ActionAfterCompletion":"DELETE""#,
                    "",
                ),
                file("once-keep", "at(2026-12-01T00:06:00)", "", ""),
            ],
        ),
        rec.clone(),
        Arc::new(MemorySink::new(10)),
    );
    assert_eq!(run.scheduler.schedule_names(), ["once-delete", "once-keep"]);
    assert_eq!(
        run.scheduler.next_occurrence("once-delete"),
        Some(base() + TimeDelta::minutes(5))
    );
    sleep_s(3600).await;
    assert_eq!(
        rec.times(),
        vec![
            base() + TimeDelta::minutes(5),
            base() + TimeDelta::minutes(6)
        ]
    );
    assert_eq!(run.scheduler.schedule_names(), ["once-keep"]);
    assert_eq!(run.scheduler.next_occurrence("once-keep"), None);
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn disabled_and_ended_schedules_do_not_fire() {
    let clock = TokioClock::starting_at(base());
    let rec = Recorder::new(clock, ok());
    let end = base().timestamp() + 150;
    let run = start(
        config(
            clock,
            vec![
                file("off", "rate(1 minute)", r#","State":"DISABLED""#, ""),
                file(
                    "ends",
                    "rate(1 minute)",
                    &format!(r#","EndDate":{end},"ActionAfterCompletion":"DELETE""#),
                    "",
                ),
            ],
        ),
        rec.clone(),
        Arc::new(MemorySink::new(10)),
    );
    sleep_s(600).await;
    assert_eq!(
        rec.times(),
        vec![
            base(),
            base() + TimeDelta::minutes(1),
            base() + TimeDelta::minutes(2)
        ]
    );
    assert_eq!(
        run.scheduler.schedule_names(),
        ["off"],
        "the ended schedule is deleted"
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn flexible_window_delays_within_the_window_and_keeps_the_nominal_time() {
    let clock = TokioClock::starting_at(base());
    let rec = Recorder::new(clock, ok());
    let text = file("flex", "rate(10 minutes)", "", "").1.replace(
        r#"{"Mode":"OFF"}"#,
        r#"{"Mode":"FLEXIBLE","MaximumWindowInMinutes":5}"#,
    );
    let run = start(
        config(clock, vec![("flex.json".to_owned(), text)]),
        rec.clone(),
        Arc::new(MemorySink::new(10)),
    );
    sleep_s(100 * 60).await;
    let calls = rec.calls();
    assert_eq!(calls.len(), 10);
    let mut delays = Vec::new();
    for (i, (_, payload, at)) in calls.iter().enumerate() {
        let nominal = base() + TimeDelta::minutes(10 * i as i64);
        assert_eq!(payload["t"], schedule::occurrence::nominal_time(nominal));
        let delay = *at - nominal;
        assert!(
            delay >= TimeDelta::zero() && delay < TimeDelta::minutes(5),
            "{delay}"
        );
        delays.push(delay);
    }
    delays.dedup();
    assert!(delays.len() > 5, "random delays: {delays:?}");
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn retries_with_backoff_then_dead_letter() {
    let clock = TokioClock::starting_at(base());
    let rec = Recorder::new(
        clock,
        Box::new(|_| {
            Err(InvokeFailure::retryable(
                "TooManyRequestsException",
                "Rate exceeded",
            ))
        }),
    );
    let sink = Arc::new(MemorySink::new(100));
    let policy = r#","RetryPolicy":{"MaximumRetryAttempts":3,"MaximumEventAgeInSeconds":3600},
        "DeadLetterConfig":{"Arn":"arn:aws:sqs:eu-central-1:000000000000:dlq"}"#;
    let run = start(
        config(
            clock,
            vec![file("failing", "at(2026-12-01T00:01:00)", "", policy)],
        ),
        rec.clone(),
        sink.clone(),
    );
    sleep_s(3600).await;
    let calls = rec.calls();
    let t0 = base() + TimeDelta::minutes(1);
    // 1 s, 2 s, 4 s between the attempts.
    assert_eq!(
        rec.times(),
        vec![
            t0,
            t0 + TimeDelta::seconds(1),
            t0 + TimeDelta::seconds(3),
            t0 + TimeDelta::seconds(7)
        ]
    );
    let attempts: Vec<_> = calls
        .iter()
        .map(|c| c.1["n"].as_str().expect("n").to_owned())
        .collect();
    assert_eq!(attempts, ["1", "2", "3", "4"]);
    assert!(
        calls.iter().all(|c| c.1["e"] == calls[0].1["e"]),
        "one execution"
    );
    let letters = run.scheduler.dead_letters();
    assert_eq!(letters.len(), 1);
    let l = &letters[0];
    assert_eq!(l.attempts, 4);
    assert_eq!(l.error_code, "TooManyRequestsException");
    assert_eq!(l.queue_arn, "arn:aws:sqs:eu-central-1:000000000000:dlq");
    assert_eq!(l.nominal_time, t0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&l.body).expect("json")["n"],
        "4"
    );
    let m = run.scheduler.metrics();
    assert_eq!(
        (m.attempts, m.retries, m.failed_attempts, m.dead_letters),
        (4, 3, 4, 1)
    );
    let outcomes: Vec<_> = sink
        .records()
        .into_iter()
        .map(|d| (d.attempt, d.outcome))
        .collect();
    assert!(matches!(
        outcomes[0],
        (0, Outcome::Fired { lateness_ms: 0 })
    ));
    assert!(
        matches!(&outcomes[1], (1, Outcome::Failed { retry_in: Some(d), .. }) if *d == Duration::from_secs(1))
    );
    assert!(matches!(
        &outcomes[4],
        (4, Outcome::Failed { retry_in: None, .. })
    ));
    assert!(matches!(&outcomes[5], (4, Outcome::DeadLettered { .. })));
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn not_retryable_event_age_and_recovery() {
    let clock = TokioClock::starting_at(base());
    // Call 1 (schedule a): not retryable. Calls 2.. (schedule b): fail twice, then accepted.
    let rec = Recorder::new(
        clock,
        Box::new(|n| match n {
            1 => Err(InvokeFailure::permanent(
                "ResourceNotFoundException",
                "Function not found",
            )),
            2 | 3 => Err(InvokeFailure::retryable("ServiceException", "unavailable")),
            _ => Ok(()),
        }),
    );
    let sink = Arc::new(MemorySink::new(100));
    let mut c = config(
        clock,
        vec![
            file("a", "at(2026-12-01T00:01:00)", "", ""),
            file("b", "at(2026-12-01T00:02:00)", "", ""),
            file(
                "c",
                "at(2026-12-01T00:03:00)",
                "",
                r#","RetryPolicy":{"MaximumEventAgeInSeconds":60}"#,
            ),
        ],
    );
    c.backoff.first = Duration::from_secs(30);
    c.backoff.max = Duration::from_secs(600);
    let run = start(c, rec.clone(), sink.clone());
    sleep_s(3600).await;
    let by = |name: &str| {
        sink.records()
            .into_iter()
            .filter(|d| d.schedule_name == name)
            .map(|d| d.outcome)
            .collect::<Vec<_>>()
    };
    assert!(
        matches!(by("a").last(), Some(Outcome::Dropped { .. })),
        "{:?}",
        by("a")
    );
    assert_eq!(by("a").len(), 3, "fired, failed, dropped: {:?}", by("a"));
    assert!(
        matches!(
            by("b").last(),
            Some(Outcome::Accepted {
                request_id: Some(_)
            })
        ),
        "{:?}",
        by("b")
    );
    let c_outcomes = by("c");
    // c always succeeds here (call 5+), so it is accepted at once.
    assert!(matches!(
        c_outcomes.last(),
        Some(Outcome::Accepted {
            request_id: Some(_)
        })
    ));
    let m = run.scheduler.metrics();
    assert_eq!((m.dropped, m.dead_letters, m.accepted), (1, 0, 2));
    run.stop().await;

    // Event age: attempts at 0 s and 30 s; the next would be at 90 s > 60 s.
    let clock = TokioClock::starting_at(base());
    let rec = Recorder::new(
        clock,
        Box::new(|_| Err(InvokeFailure::retryable("ServiceException", "unavailable"))),
    );
    let mut c = config(
        clock,
        vec![file(
            "aged",
            "at(2026-12-01T00:01:00)",
            "",
            r#","RetryPolicy":{"MaximumEventAgeInSeconds":60}"#,
        )],
    );
    c.backoff.first = Duration::from_secs(30);
    let run = start(c, rec.clone(), Arc::new(MemorySink::new(10)));
    sleep_s(3600).await;
    let t0 = base() + TimeDelta::minutes(1);
    assert_eq!(rec.times(), vec![t0, t0 + TimeDelta::seconds(30)]);
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_create_while_sleeping_wakes_the_timer() {
    let clock = TokioClock::starting_at(base());
    let rec = Recorder::new(clock, ok());
    let run = start(
        config(clock, vec![file("daily", "cron(0 12 * * ? *)", "", "")]),
        rec.clone(),
        Arc::new(MemorySink::new(10)),
    );
    sleep_s(10).await;
    let (_, text) = file("soon", "at(2026-12-01T00:00:20)", "", "");
    let def =
        Definition::from_file_text(&text.replace("${AccountId}", "000000000000")).expect("valid");
    run.scheduler.create(def).expect("created");
    sleep_s(20).await;
    assert_eq!(rec.times(), vec![base() + TimeDelta::seconds(20)]);
    assert_eq!(rec.calls()[0].1["t"], "2026-12-01T00:00:20Z");
    run.scheduler.delete("daily").expect("deleted");
    sleep_s(86_400).await;
    assert_eq!(rec.times().len(), 1, "a deleted schedule does not fire");
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_schedules_fire_in_order() {
    let clock = TokioClock::starting_at(base());
    let rec = Recorder::new(clock, ok());
    let sink = Arc::new(MemorySink::new(20_000));
    let files: Vec<_> = (0..10_000u32)
        .map(|i| {
            // A permutation of 10 000 seconds (7919 is prime), two hours ahead at most.
            let at = base() + TimeDelta::seconds(60 + i64::from((i * 7919) % 10_000) / 2);
            let expr = format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"));
            file(&format!("s{i:05}"), &expr, "", "")
        })
        .collect();
    let run = start(config(clock, files), rec.clone(), sink.clone());
    sleep_s(3 * 3600).await;
    let times = rec.times();
    assert_eq!(times.len(), 10_000);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in order");
    let fired: Vec<_> = sink
        .records()
        .into_iter()
        .filter_map(|d| match d.outcome {
            Outcome::Fired { lateness_ms } => Some((d.nominal_time, lateness_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(fired.len(), 10_000);
    assert!(fired.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(fired.iter().all(|(_, late)| *late == 0));
    run.stop().await;
}

/// Three `rate(1 minute)` schedules, one per catch-up mode.
fn catch_up_config(clock: TokioClock, dir: &std::path::Path, max: usize) -> SchedulerConfig {
    let start_date = format!(r#","StartDate":{}"#, base().timestamp());
    let mut c = config(
        clock,
        ["c-none", "c-last", "c-all"]
            .iter()
            .map(|n| file(n, "rate(1 minute)", &start_date, ""))
            .collect(),
    );
    c.state_dir = Some(dir.to_path_buf());
    c.catch_up.insert("c-none".to_owned(), CatchUp::None);
    c.catch_up.insert("c-all".to_owned(), CatchUp::All);
    c.max_catch_up = max;
    c
}

#[tokio::test(start_paused = true)]
async fn catch_up_none_last_all_after_a_gap() {
    testkit::logs::init();
    let dir = tempfile::tempdir().expect("dir");
    let clock = TokioClock::starting_at(base());
    let rec = Recorder::new(clock, ok());
    let run = start(
        catch_up_config(clock, dir.path(), 1000),
        rec.clone(),
        Arc::new(MemorySink::new(10)),
    );
    sleep_s(4 * 60 + 30).await;
    run.stop().await;
    assert_eq!(rec.times().len(), 15, "0..=4 minutes, three schedules");
    let state = super::state::load(dir.path())
        .expect("load")
        .expect("saved");
    assert!(
        state
            .schedules
            .iter()
            .all(|s| s.last_fired == Some(base() + TimeDelta::minutes(4)))
    );

    // Down for 42 minutes: occurrences 5..=46 are missed.
    tokio::time::advance(Duration::from_secs(42 * 60)).await;
    let rec = Recorder::new(clock, ok());
    let sink = Arc::new(MemorySink::new(1000));
    let run = start(
        catch_up_config(clock, dir.path(), 1000),
        rec.clone(),
        sink.clone(),
    );
    sleep_s(1).await;
    let fired = |name: &str| {
        rec.calls()
            .into_iter()
            .filter(|(_, p, _)| p["a"].as_str().is_some_and(|a| a.ends_with(name)))
            .map(|(_, p, _)| p["t"].as_str().expect("t").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(fired("c-none"), Vec::<String>::new());
    assert_eq!(fired("c-last"), ["2026-12-01T00:46:00Z"]);
    let all = fired("c-all");
    assert_eq!(all.len(), 42);
    assert_eq!(all[0], "2026-12-01T00:05:00Z");
    assert_eq!(all[41], "2026-12-01T00:46:00Z");
    let skipped = sink
        .records()
        .into_iter()
        .filter(|d| matches!(d.outcome, Outcome::Skipped { .. }))
        .map(|d| d.schedule_name)
        .collect::<Vec<_>>();
    assert_eq!(skipped.iter().filter(|n| *n == "c-none").count(), 42);
    assert_eq!(skipped.iter().filter(|n| *n == "c-last").count(), 41);
    assert_eq!(skipped.len(), 83);
    assert_eq!(run.scheduler.metrics().skipped, 42 + 41);
    // Then on as usual: the next occurrence at 47 minutes, once per schedule.
    sleep_s(60).await;
    assert_eq!(fired("c-none"), ["2026-12-01T00:47:00Z"]);
    assert_eq!(fired("c-last").len(), 2);
    run.stop().await;

    // Bounded: another 30 minutes down with at most 10 caught up.
    tokio::time::advance(Duration::from_secs(30 * 60)).await;
    let rec = Recorder::new(clock, ok());
    let run = start(
        catch_up_config(clock, dir.path(), 10),
        rec.clone(),
        Arc::new(MemorySink::new(10)),
    );
    sleep_s(1).await;
    let all: Vec<_> = rec
        .calls()
        .into_iter()
        .filter(|(_, p, _)| p["a"].as_str().is_some_and(|a| a.ends_with("c-all")))
        .map(|(_, p, _)| p["t"].as_str().expect("t").to_owned())
        .collect();
    assert_eq!(all.len(), 10, "the latest 10 of 30");
    assert_eq!(all[9], "2026-12-01T01:17:00Z");
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn api_schedules_persist_and_the_state_file_is_private() {
    let dir = tempfile::tempdir().expect("dir");
    let clock = TokioClock::starting_at(base());
    let mut c = config(clock, Vec::new());
    c.state_dir = Some(dir.path().to_path_buf());
    let rec = Recorder::new(clock, ok());
    let s =
        LocalScheduler::open(c.clone(), rec.clone(), Arc::new(MemorySink::new(10))).expect("open");
    let (_, text) = file("kept", "rate(1 hour)", "", "");
    let def =
        Definition::from_file_text(&text.replace("${AccountId}", "000000000000")).expect("valid");
    let arn = s.create(def.clone()).expect("created");
    assert_eq!(
        arn,
        "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/kept"
    );
    assert!(matches!(s.create(def), Err(super::OpError::Conflict(_))));
    drop(s);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(super::state::path(dir.path()))
            .expect("state file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = LocalScheduler::open(c, rec, Arc::new(MemorySink::new(10))).expect("reopen");
    assert_eq!(again.schedule_names(), ["kept"]);
    let d = again.describe("kept").expect("described");
    assert_eq!(d["CreationDate"], base().timestamp());
    assert_eq!(d["State"], "ENABLED");
    assert!(matches!(
        again.delete("nope"),
        Err(super::OpError::NotFound(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn bad_schedule_files_name_the_file_and_field() {
    let clock = TokioClock::starting_at(base());
    let (name, text) = file("bad", "cron(0 12 * * * *)", "", "");
    let e = LocalScheduler::open(
        config(clock, vec![(name, text)]),
        Recorder::new(clock, ok()),
        Arc::new(MemorySink::new(1)),
    )
    .expect_err("refused");
    let msg = e.to_string();
    assert!(msg.contains("bad.json") && msg.contains("Day-of"), "{msg}");
    let twice = vec![
        file("x", "rate(1 hour)", "", ""),
        file("x", "rate(2 hours)", "", ""),
    ];
    let e = LocalScheduler::open(
        config(clock, twice),
        Recorder::new(clock, ok()),
        Arc::new(MemorySink::new(1)),
    )
    .expect_err("refused");
    assert!(e.to_string().contains("already defines x"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn the_seed_ping_file_fires_every_minute_with_its_input() {
    let clock = TokioClock::starting_at(base());
    let rec = Recorder::new(clock, ok());
    let ping = include_str!("../../../../deploy/aws/schedules/ping.json");
    let run = start(
        config(
            clock,
            vec![("deploy/aws/schedules/ping.json".to_owned(), ping.to_owned())],
        ),
        rec.clone(),
        Arc::new(MemorySink::new(10)),
    );
    sleep_s(150).await;
    let calls = rec.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        calls[0].0,
        "arn:aws:lambda:eu-central-1:000000000000:function:btp-aws-bridge-caller"
    );
    assert_eq!(calls[1].1["path"], "/jobs/ping");
    assert_eq!(calls[1].1["scheduledTime"], "2026-12-01T00:01:00Z");
    assert_eq!(
        calls[1].1["scheduleArn"],
        "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/bridge-ping"
    );
    let d = run.scheduler.describe("bridge-ping").expect("loaded");
    assert_eq!(
        d["Target"]["DeadLetterConfig"]["Arn"],
        "arn:aws:sqs:eu-central-1:000000000000:btp-aws-bridge-dlq"
    );
    run.stop().await;
}
