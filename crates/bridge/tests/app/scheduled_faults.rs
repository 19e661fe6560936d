//! The scheduled path end to end under faults, in process: the dev stack, the app (built from
//! the stack's `VCAP_SERVICES` with its SQLite run history in `<data>/app`, as `bridge dev`
//! builds it) on an ephemeral port, and the AWS → BTP side (local Secrets Manager, Lambda
//! running the real `bootstrap`, Scheduler) firing one `at()` schedule a few seconds ahead,
//! with Lambda's retry delays shortened. Each case checks what `docs/SCHEDULES.md` ("What
//! happens when…") says: the caller's `errorType`, Lambda's attempts, the on-failure
//! destination and the run history.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bridge::app::{AppOptions, AppState, build_router, serve_with, server_limits};
use cfenv::Vcap;
use devstack::lambda::{InvocationRecord, InvocationSink, Outcome};
use devstack::scheduled::{CALLER_FUNCTION, ScheduledCalls, ScheduledConfig};
use devstack::scheduler::delivery::MemorySink;
use devstack::{DevConfig, DevStack, Service};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Every Lambda invocation attempt, kept.
#[derive(Default)]
struct Attempts(Mutex<Vec<InvocationRecord>>);

impl InvocationSink for Attempts {
    fn record(&self, r: &InvocationRecord) {
        self.0.lock().unwrap().push(r.clone());
    }
}

impl Attempts {
    fn all(&self) -> Vec<InvocationRecord> {
        self.0.lock().unwrap().clone()
    }
}

/// The caller's `bootstrap`, beside the test binaries (`target/debug/bootstrap`).
fn bootstrap() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/app-… → target/debug/bootstrap
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|debug| debug.join("bootstrap"))
        .unwrap_or_else(|| testkit::workspace_root().join("target/debug/bootstrap"));
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p caller` (cargo xtask ci does)",
        path.display()
    );
    path
}

/// What one case changes.
struct Case {
    /// The schedule's target.
    method: &'static str,
    path: &'static str,
    /// The caller's function timeout.
    function_timeout: Duration,
    /// Lambda's delays before its first and second retry.
    retry_delays: [Duration; 2],
    /// How long a job endpoint waits before answering 202.
    job_wait: Option<Duration>,
    /// Call this URL instead of the app (a listener that never answers).
    app_url: Option<String>,
}

impl Case {
    fn ping() -> Self {
        Self {
            method: "GET",
            path: "/jobs/ping",
            function_timeout: Duration::from_secs(10),
            retry_delays: [Duration::from_millis(500), Duration::from_millis(500)],
            job_wait: None,
            app_url: None,
        }
    }
}

/// The stack, the app and the AWS → BTP side.
struct Scheduled {
    dev: DevStack,
    state: AppState,
    addr: SocketAddr,
    server: Option<(
        oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
    calls: Option<ScheduledCalls>,
    attempts: Arc<Attempts>,
    deliveries: Arc<MemorySink>,
    /// The schedule's ARN.
    arn: String,
    _dir: tempfile::TempDir,
}

const SCHEDULE: &str = "fault";

/// A schedule file: `at()` `secs` seconds from now (UTC), calling `method path`, with
/// Scheduler's retry policy and dead-letter queue as in `deploy/aws/schedules/`.
fn at_schedule(secs: i64, method: &str, path: &str) -> String {
    let at = (chrono::Utc::now() + chrono::Duration::seconds(secs)).format("%Y-%m-%dT%H:%M:%S");
    serde_json::json!({
        "Name": SCHEDULE,
        "ScheduleExpression": format!("at({at})"),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": { "Mode": "OFF" },
        "State": "ENABLED",
        "Target": {
            "Arn": "arn:aws:lambda:${Region}:${AccountId}:function:btp-aws-bridge-caller",
            "RoleArn": "arn:aws:iam::${AccountId}:role/btp-aws-bridge-scheduler",
            "Input": serde_json::json!({
                "method": method,
                "path": path,
                "scheduleArn": "<aws.scheduler.schedule-arn>",
                "scheduledTime": "<aws.scheduler.scheduled-time>",
                "attempt": "<aws.scheduler.attempt-number>",
            }).to_string(),
            "RetryPolicy": { "MaximumEventAgeInSeconds": 300, "MaximumRetryAttempts": 2 },
            "DeadLetterConfig": { "Arn": "arn:aws:sqs:${Region}:${AccountId}:btp-aws-bridge-dlq" }
        }
    })
    .to_string()
}

fn register_secrets(dev: &DevStack) {
    let v = dev.vcap_services();
    if let Some(s) = v["xsuaa"][0]["credentials"]["clientsecret"].as_str() {
        testkit::logs::secret(s);
    }
    if let Some(s) = v["credstore"][0]["credentials"]["password"].as_str() {
        testkit::logs::secret(s);
    }
}

impl Scheduled {
    /// Starts everything; the occurrence is due about 3 s later.
    async fn start(case: Case) -> Self {
        testkit::logs::init();
        let dir = tempfile::tempdir().unwrap();
        let dev = DevStack::start(DevConfig::new(dir.path()).ephemeral())
            .await
            .unwrap();
        register_secrets(&dev);
        let vcap = Vcap::from_json(&dev.vcap_services().to_string(), "VCAP_SERVICES").unwrap();
        let mut options = AppOptions {
            jwks: xsuaa::jwks::JwksOptions {
                extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
                ..xsuaa::jwks::JwksOptions::default()
            },
            data_dir: Some(dev.data_dir().join("app")),
            ..AppOptions::default()
        };
        if let Some(wait) = case.job_wait {
            options.limits.job_wait = wait;
        }
        let state = AppState::from_vcap(&vcap, options).unwrap();
        state.store.as_ref().unwrap().ready().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Some(serve(listener, &state));

        let attempts = Arc::new(Attempts::default());
        let deliveries = Arc::new(MemorySink::new(100));
        let app_url = case.app_url.unwrap_or_else(|| format!("http://{addr}"));
        let mut config = ScheduledConfig::new(app_url, bootstrap()).ephemeral();
        config.schedules = vec![(
            format!("{SCHEDULE}.json"),
            at_schedule(3, case.method, case.path),
        )];
        config.function_timeout = case.function_timeout;
        config.event_invoke.retry_delays = case.retry_delays;
        config.lambda_sink = attempts.clone();
        config.delivery_sink = deliveries.clone();
        let calls = dev.start_scheduled(config).await.unwrap();
        let identity = dev.aws_identity();
        let arn = format!(
            "arn:aws:scheduler:{}:{}:schedule/default/{SCHEDULE}",
            identity.region(),
            identity.account_id()
        );
        Self {
            dev,
            state,
            addr,
            server,
            calls: Some(calls),
            attempts,
            deliveries,
            arn,
            _dir: dir,
        }
    }

    /// Stops the app's server (the port refuses connections).
    async fn stop_app(&mut self) {
        if let Some((stop, task)) = self.server.take() {
            let _ = stop.send(());
            task.await.unwrap().unwrap();
        }
    }

    /// Serves the app again on the same port.
    async fn start_app(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.server = Some(serve(listener, &self.state));
    }

    /// Waits until `n` Lambda attempts have ended, for at most `within`.
    async fn wait_attempts(&self, n: usize, within: Duration) -> Vec<InvocationRecord> {
        let started = Instant::now();
        loop {
            let all = self.attempts.all();
            if all.len() >= n {
                return all;
            }
            assert!(
                started.elapsed() < within,
                "{} of {n} attempts after {within:?}: {:?}",
                all.len(),
                all.iter().map(describe).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the attempt that ended the event (succeeded, or failed for good).
    async fn wait_last(&self, within: Duration) -> Vec<InvocationRecord> {
        let started = Instant::now();
        loop {
            let all = self.attempts.all();
            if all.iter().any(|r| r.last) {
                return all;
            }
            assert!(
                started.elapsed() < within,
                "no last attempt after {within:?}: {:?}",
                all.iter().map(describe).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The occurrence's idempotency key, from the event the Lambda received.
    fn key(&self, record: &InvocationRecord) -> String {
        let event: Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(event["scheduleArn"], self.arn.as_str(), "{event}");
        let nominal: chrono::DateTime<chrono::Utc> =
            event["scheduledTime"].as_str().unwrap().parse().unwrap();
        schedule::occurrence::key(&self.arn, nominal)
    }

    /// Lambda's on-failure destination records of the caller.
    fn failures(&self) -> Vec<Value> {
        self.calls
            .as_ref()
            .unwrap()
            .lambda()
            .failures(CALLER_FUNCTION)
            .unwrap()
    }

    /// The run of `key` in the app's history, and how many runs the history holds.
    async fn run(&self, key: &str) -> (Option<runs::Run>, usize) {
        let store = self.state.store.as_ref().unwrap();
        let run = store.by_key(key).await.unwrap();
        let all = store
            .list(&runs::RunFilter {
                limit: 100,
                ..runs::RunFilter::default()
            })
            .await
            .unwrap();
        (run, all.runs.len())
    }

    async fn stop(mut self) {
        if let Some(calls) = self.calls.take() {
            calls.stop().await;
        }
        self.stop_app().await;
        self.dev.stop().await;
    }
}

fn serve(
    listener: TcpListener,
    state: &AppState,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_with(
        listener,
        build_router(state.clone()),
        server_limits(),
        async move {
            let _ = stopped.await;
        },
    ));
    (stop, task)
}

/// `attempt N: errorType | result` for messages.
fn describe(r: &InvocationRecord) -> String {
    match &r.outcome {
        Outcome::Success(body) => format!(
            "attempt {}: ok {}{}",
            r.attempt,
            String::from_utf8_lossy(body),
            if r.last { " (last)" } else { "" }
        ),
        Outcome::Error { error_type, body } => format!(
            "attempt {}: {error_type} {}{}",
            r.attempt,
            String::from_utf8_lossy(body),
            if r.last { " (last)" } else { "" }
        ),
    }
}

fn error_type(r: &InvocationRecord) -> Option<&str> {
    match &r.outcome {
        Outcome::Error { error_type, .. } => Some(error_type),
        Outcome::Success(_) => None,
    }
}

fn success(r: &InvocationRecord) -> Value {
    match &r.outcome {
        Outcome::Success(body) => serde_json::from_slice(body).unwrap(),
        Outcome::Error { .. } => panic!("not a success: {}", describe(r)),
    }
}

/// Three attempts (the first and Lambda's two retries) of one event, each failing with
/// `want`; the event ends at the on-failure destination with the last error.
fn assert_dead_lettered(s: &Scheduled, all: &[InvocationRecord], want: &[&str]) -> String {
    let described: Vec<String> = all.iter().map(describe).collect();
    assert_eq!(all.len(), 3, "{described:?}");
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.attempt, u32::try_from(i + 1).unwrap(), "{described:?}");
        assert_eq!(r.request_id, all[0].request_id, "one event: {described:?}");
        let ty = error_type(r).unwrap_or("(success)");
        assert!(want.contains(&ty), "{ty} not in {want:?}: {described:?}");
        assert_eq!(r.last, i == 2, "{described:?}");
    }
    let key = s.key(&all[0]);
    assert!(all.iter().all(|r| s.key(r) == key), "one occurrence key");
    let failures = s.failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    assert_eq!(f["requestContext"]["condition"], "RetriesExhausted", "{f}");
    assert_eq!(f["requestContext"]["approximateInvokeCount"], 3, "{f}");
    assert_eq!(
        f["responsePayload"]["errorType"],
        error_type(&all[2]).unwrap(),
        "{f}"
    );
    assert_eq!(f["requestPayload"]["scheduleArn"], s.arn.as_str(), "{f}");
    // Scheduler handed the event to Lambda once: Lambda's retries are Lambda's.
    let accepted = s
        .deliveries
        .records()
        .into_iter()
        .filter(|d| {
            matches!(
                d.outcome,
                devstack::scheduler::delivery::Outcome::Accepted { .. }
            )
        })
        .count();
    assert_eq!(accepted, 1);
    key
}

/// XSUAA stopped before the occurrence: no token, `Caller.Retryable.Token` on the first
/// attempt and both of Lambda's retries, the event at the on-failure destination, and the app
/// never called (no run).
#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_down_is_retryable_token_then_dead_lettered_with_no_run() {
    let s = Scheduled::start(Case::ping()).await;
    s.dev.stop_service(Service::Xsuaa).await;
    let all = s.wait_last(Duration::from_secs(20)).await;
    let key = assert_dead_lettered(&s, &all, &["Caller.Retryable.Token"]);
    let f = &s.failures()[0];
    let message = f["responsePayload"]["errorMessage"].as_str().unwrap();
    assert!(message.starts_with("no token: "), "{message}");
    let (run, total) = s.run(&key).await;
    assert!(run.is_none(), "{run:?}");
    assert_eq!(total, 0);
    s.stop().await;
}

/// XSUAA back before Lambda's last retry: that retry gets a token and runs the job once.
#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_back_before_the_last_retry_runs_the_occurrence_once() {
    let s = Scheduled::start(Case {
        retry_delays: [Duration::from_millis(300), Duration::from_secs(2)],
        ..Case::ping()
    })
    .await;
    s.dev.stop_service(Service::Xsuaa).await;
    s.wait_attempts(2, Duration::from_secs(15)).await;
    s.dev.start_service(Service::Xsuaa).await.unwrap();
    let all = s.wait_last(Duration::from_secs(15)).await;
    let described: Vec<String> = all.iter().map(describe).collect();
    assert_eq!(all.len(), 3, "{described:?}");
    assert_eq!(error_type(&all[0]), Some("Caller.Retryable.Token"));
    assert_eq!(error_type(&all[1]), Some("Caller.Retryable.Token"));
    let ok = success(&all[2]);
    assert_eq!(ok["status"], 200, "{ok}");
    assert_eq!(ok["attempts"], 1, "one HTTP attempt at the app: {ok}");
    assert!(all[2].last);
    assert!(s.failures().is_empty());
    let key = s.key(&all[2]);
    assert_eq!(ok["idempotencyKey"], key.as_str());
    let (run, total) = s.run(&key).await;
    let run = run.unwrap();
    assert_eq!(total, 1);
    assert_eq!(run.outcome, runs::Outcome::Succeeded);
    assert_eq!(run.http_status, Some(200));
    assert_eq!(run.attempts, 1, "the app was called once: {run:?}");
    assert_eq!(run.schedule.as_deref(), Some(s.arn.as_str()));
    s.stop().await;
}

/// The app stopped before the occurrence: every HTTP attempt is refused,
/// `Caller.Retryable.Unreachable` after the caller's own retries, on each of Lambda's three
/// attempts; the event at the on-failure destination; no run.
#[tokio::test(flavor = "multi_thread")]
async fn app_down_is_retryable_unreachable_then_dead_lettered_with_no_run() {
    let mut s = Scheduled::start(Case::ping()).await;
    s.stop_app().await;
    let all = s.wait_last(Duration::from_secs(20)).await;
    let key = assert_dead_lettered(&s, &all, &["Caller.Retryable.Unreachable"]);
    let f = &s.failures()[0];
    let message = f["responsePayload"]["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("GET /jobs/ping: app unreachable after 5 attempt(s)"),
        "the caller's five attempts: {message}"
    );
    assert!(
        !message.contains(&s.addr.to_string()),
        "names no URL: {message}"
    );
    s.start_app().await;
    let (run, total) = s.run(&key).await;
    assert!(run.is_none(), "{run:?}");
    assert_eq!(total, 0);
    s.stop().await;
}

/// The app back before Lambda's last retry: that retry runs the job; one run for the key.
#[tokio::test(flavor = "multi_thread")]
async fn app_back_before_the_last_retry_runs_the_occurrence_once() {
    let mut s = Scheduled::start(Case {
        retry_delays: [Duration::from_millis(300), Duration::from_secs(2)],
        ..Case::ping()
    })
    .await;
    s.stop_app().await;
    s.wait_attempts(2, Duration::from_secs(15)).await;
    s.start_app().await;
    let all = s.wait_last(Duration::from_secs(15)).await;
    let described: Vec<String> = all.iter().map(describe).collect();
    assert_eq!(all.len(), 3, "{described:?}");
    assert_eq!(error_type(&all[0]), Some("Caller.Retryable.Unreachable"));
    assert_eq!(error_type(&all[1]), Some("Caller.Retryable.Unreachable"));
    let ok = success(&all[2]);
    assert_eq!(ok["status"], 200, "{ok}");
    assert!(s.failures().is_empty());
    let key = s.key(&all[2]);
    let (run, total) = s.run(&key).await;
    let run = run.unwrap();
    assert_eq!(total, 1, "exactly one run");
    assert_eq!(run.outcome, runs::Outcome::Succeeded);
    assert_eq!(run.attempts, 1, "{run:?}");
    s.stop().await;
}

/// A job longer than the app's job wait (here 1 s; the function timeout 3 s): the app answers
/// 202 with the run's URL, the caller succeeds with it at once, and the job finishes in the
/// history.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_job_is_202_and_the_caller_succeeds_with_the_run_url() {
    let s = Scheduled::start(Case {
        method: "POST",
        path: "/jobs/sleep?seconds=4",
        function_timeout: Duration::from_secs(3),
        job_wait: Some(Duration::from_secs(1)),
        ..Case::ping()
    })
    .await;
    let all = s.wait_last(Duration::from_secs(15)).await;
    let described: Vec<String> = all.iter().map(describe).collect();
    assert_eq!(all.len(), 1, "{described:?}");
    let ok = success(&all[0]);
    assert_eq!(ok["status"], 202, "{ok}");
    assert_eq!(ok["attempts"], 1, "{ok}");
    let key = s.key(&all[0]);
    let (run, _) = s.run(&key).await;
    let run = run.unwrap();
    assert_eq!(
        ok["run"],
        format!("http://{}/jobs/runs/{}", s.addr, run.id),
        "{ok}"
    );
    assert_eq!(run.outcome, runs::Outcome::Running);
    assert!(s.failures().is_empty());
    // The job goes on after the answer and finishes in the history.
    let started = Instant::now();
    let run = loop {
        let (run, total) = s.run(&key).await;
        let run = run.unwrap();
        assert_eq!(total, 1);
        if run.outcome != runs::Outcome::Running {
            break run;
        }
        assert!(started.elapsed() < Duration::from_secs(8), "{run:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(run.outcome, runs::Outcome::Succeeded);
    assert_eq!(run.http_status, Some(200));
    assert!(run.duration_ms.unwrap() >= 4000, "{run:?}");
    s.stop().await;
}

/// An app that accepts connections and never answers (function timeout 3 s): the caller
/// gives up inside the invocation's deadline with `Caller.Retryable.Timeout` (not Lambda's
/// `Sandbox.Timedout`), on each of Lambda's three attempts; the event at the on-failure
/// destination.
#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_never_answers_is_retryable_timeout_then_dead_lettered() {
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", hang.local_addr().unwrap());
    let held: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
    let keep = held.clone();
    std::thread::spawn(move || {
        for conn in hang.incoming().flatten() {
            keep.lock().unwrap().push(conn);
        }
    });
    let s = Scheduled::start(Case {
        function_timeout: Duration::from_secs(3),
        retry_delays: [Duration::from_millis(300), Duration::from_millis(300)],
        app_url: Some(url),
        ..Case::ping()
    })
    .await;
    let all = s.wait_last(Duration::from_secs(20)).await;
    assert_dead_lettered(&s, &all, &["Caller.Retryable.Timeout"]);
    for r in &all {
        assert!(
            r.duration < Duration::from_secs(3),
            "reported before the deadline: {r:?}"
        );
    }
    let f = &s.failures()[0];
    let message = f["responsePayload"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("no answer within the invocation's deadline (2"),
        "{message}"
    );
    assert!(!held.lock().unwrap().is_empty(), "the caller connected");
    s.stop().await;
}

/// A job longer than the function timeout while the job wait is longer still (3 s timeout,
/// the default 10 s wait, a 5 s job): the first attempt is `Caller.Retryable.Timeout`; Lambda's
/// retry arrives while the job still runs and gets 409 with the run's `Location`, which the
/// caller reports as a success with the run URL: nothing is dead-lettered, the job runs once.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_longer_than_the_function_timeout_runs_once_and_the_retry_reports_its_run() {
    let s = Scheduled::start(Case {
        method: "POST",
        path: "/jobs/sleep?seconds=5",
        function_timeout: Duration::from_secs(3),
        retry_delays: [Duration::from_millis(300), Duration::from_millis(300)],
        ..Case::ping()
    })
    .await;
    let all = s.wait_last(Duration::from_secs(20)).await;
    let described: Vec<String> = all.iter().map(describe).collect();
    assert_eq!(all.len(), 2, "{described:?}");
    assert_eq!(error_type(&all[0]), Some("Caller.Retryable.Timeout"));
    let ok = success(&all[1]);
    assert_eq!(ok["status"], 409, "{ok}");
    assert!(all[1].last);
    assert!(s.failures().is_empty(), "{:?}", s.failures());
    let key = s.key(&all[1]);
    let (run, total) = s.run(&key).await;
    let run = run.unwrap();
    assert_eq!(total, 1);
    assert_eq!(
        ok["run"],
        format!("http://{}/jobs/runs/{}", s.addr, run.id),
        "{ok}"
    );
    let started = Instant::now();
    let run = loop {
        let (run, total) = s.run(&key).await;
        let run = run.unwrap();
        assert_eq!(total, 1);
        if run.outcome != runs::Outcome::Running {
            break run;
        }
        assert!(started.elapsed() < Duration::from_secs(8), "{run:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(run.outcome, runs::Outcome::Succeeded);
    assert_eq!(run.attempts, 2, "two calls, one job: {run:?}");
    s.stop().await;
}

/// XSUAA accepting connections but never answering (function timeout 3 s): the token
/// request is cut at the invocation's budget, `Caller.Retryable.Token` on every attempt,
/// dead-lettered, no run.
#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_hanging_is_retryable_token_within_the_deadline() {
    let s = Scheduled::start(Case {
        function_timeout: Duration::from_secs(3),
        retry_delays: [Duration::from_millis(300), Duration::from_millis(300)],
        ..Case::ping()
    })
    .await;
    s.dev.hang_service(Service::Xsuaa).await.unwrap();
    let all = s.wait_last(Duration::from_secs(20)).await;
    let key = assert_dead_lettered(&s, &all, &["Caller.Retryable.Token"]);
    for r in &all {
        assert!(
            r.duration < Duration::from_secs(3),
            "reported before the deadline: {r:?}"
        );
    }
    let (run, total) = s.run(&key).await;
    assert!(run.is_none(), "{run:?}");
    assert_eq!(total, 0);
    s.dev.start_service(Service::Xsuaa).await.unwrap();
    s.stop().await;
}

/// XSUAA refusing the client (a wrong client secret in the caller's secret):
/// `Caller.Token.Failed`, which no retry changes; Lambda still retries it twice (it does not
/// read error types) and the event is dead-lettered; no run.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_client_is_token_failed_and_dead_lettered() {
    let s = Scheduled::start(Case {
        retry_delays: [Duration::from_millis(300), Duration::from_millis(300)],
        ..Case::ping()
    })
    .await;
    let mut key = s.dev.vcap_services()["xsuaa"][0]["credentials"].clone();
    let wrong = testkit::logs::secret("wrong-client-secret-0123456789");
    key["clientsecret"] = wrong.clone().into();
    s.calls
        .as_ref()
        .unwrap()
        .secrets()
        .put_secret_string(devstack::aws_identity::CALLER_SECRET_NAME, &key.to_string())
        .unwrap();
    let all = s.wait_last(Duration::from_secs(20)).await;
    let key = assert_dead_lettered(&s, &all, &["Caller.Token.Failed"]);
    let f = &s.failures()[0];
    let message = f["responsePayload"]["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("no token: XSUAA refused the token request (HTTP 4"),
        "XSUAA's OAuth error: {message}"
    );
    assert!(!message.contains(&wrong), "{message}");
    let (run, total) = s.run(&key).await;
    assert!(run.is_none(), "{run:?}");
    assert_eq!(total, 0);
    s.stop().await;
}

/// As above, but Lambda's retry comes after the job ended: it gets the recorded answer
/// replayed (200), so the occurrence succeeds without running the job again.
#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_the_long_job_ended_gets_its_answer_replayed() {
    let s = Scheduled::start(Case {
        method: "POST",
        path: "/jobs/sleep?seconds=4",
        function_timeout: Duration::from_secs(3),
        retry_delays: [Duration::from_secs(3), Duration::from_millis(300)],
        ..Case::ping()
    })
    .await;
    let all = s.wait_last(Duration::from_secs(20)).await;
    let described: Vec<String> = all.iter().map(describe).collect();
    assert_eq!(all.len(), 2, "{described:?}");
    assert_eq!(error_type(&all[0]), Some("Caller.Retryable.Timeout"));
    let ok = success(&all[1]);
    assert_eq!(ok["status"], 200, "replayed: {ok}");
    assert!(s.failures().is_empty());
    let key = s.key(&all[1]);
    let (run, total) = s.run(&key).await;
    let run = run.unwrap();
    assert_eq!(total, 1);
    assert_eq!(run.outcome, runs::Outcome::Succeeded);
    assert_eq!(run.attempts, 2, "two calls, one job: {run:?}");
    s.stop().await;
}
