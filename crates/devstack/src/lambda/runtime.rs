//! One execution environment: the Lambda Runtime API (`2018-06-01`) on its own loopback port,
//! and the function's `bootstrap` running as a child process against it, with the variables
//! Lambda sets ("Using the Lambda runtime API for custom runtimes",
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>; "Defined runtime
//! environment variables", <https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>).
//!
//! One invocation at a time: `GET /runtime/invocation/next` waits for the next event handed
//! to [`Instance::invoke`]; `POST /runtime/invocation/{id}/response` and `/error` answer it;
//! `POST /runtime/init/error` reports a failed initialisation. A response for any other
//! request id is refused with 400 `InvalidRequestID`, a second one with 403
//! `InvalidStateTransition`, a body over 6 MB with 413, as the Runtime API does.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use super::{FunctionConfig, Outcome, SYNC_PAYLOAD_LIMIT};

/// The longest a `bootstrap` may take from spawn to its first `next` call (Lambda's init
/// phase limit).
pub(crate) const INIT_LIMIT: Duration = Duration::from_secs(10);

/// How much of an invocation's log output `X-Amz-Log-Type: Tail` returns (Lambda: the last
/// 4 KB).
const TAIL_BYTES: usize = 4096;

/// One event for the runtime.
pub(crate) struct Pending {
    pub(crate) request_id: String,
    pub(crate) payload: Bytes,
    pub(crate) deadline_ms: i64,
    pub(crate) function_arn: String,
    pub(crate) client_context: Option<String>,
    pub(crate) reply: oneshot::Sender<Outcome>,
}

/// Why an instance cannot take invocations any more.
#[derive(Debug, Clone)]
pub(crate) enum Broken {
    /// The runtime reported `/runtime/init/error`.
    InitError { error_type: String, body: Bytes },
    /// The process exited (or could not start); the text says how.
    Exited(String),
}

/// What the Runtime API server shares with the instance.
struct Shared {
    /// Events waiting for `next` (one at a time).
    events: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    /// The invocation in progress: its id and where its outcome goes.
    current: Mutex<Option<(String, oneshot::Sender<Outcome>)>>,
    /// Ids already answered (for 403 on a second answer); the last few only.
    answered: Mutex<std::collections::VecDeque<String>>,
    /// Set at the first `next` call: the init phase is over.
    ready: watch::Sender<Option<Duration>>,
    /// Set by `/runtime/init/error`.
    init_error: Mutex<Option<Broken>>,
    spawned: Instant,
}

/// A running execution environment.
pub(crate) struct Instance {
    events: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
    exit: watch::Receiver<Option<String>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    logs: Arc<Mutex<LogTail>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    /// Spawn → first `next` call.
    pub(crate) init_duration: Duration,
}

/// The last bytes the process wrote, and how many it wrote in all.
#[derive(Default)]
pub(crate) struct LogTail {
    buf: std::collections::VecDeque<u8>,
    total: u64,
}

impl LogTail {
    fn push_line(&mut self, line: &str) {
        for b in line.bytes().chain(std::iter::once(b'\n')) {
            if self.buf.len() == TAIL_BYTES * 4 {
                self.buf.pop_front();
            }
            self.buf.push_back(b);
        }
        self.total += line.len() as u64 + 1;
    }

    /// What was written since `mark` (a `total` seen earlier), at most the last 4 KB.
    fn since(&self, mark: u64) -> Vec<u8> {
        let new = usize::try_from(self.total.saturating_sub(mark)).unwrap_or(usize::MAX);
        let take = new.min(self.buf.len()).min(TAIL_BYTES);
        self.buf
            .iter()
            .skip(self.buf.len() - take)
            .copied()
            .collect()
    }
}

impl Instance {
    /// Starts the Runtime API on a loopback port, spawns `bootstrap` against it and waits
    /// (at most [`INIT_LIMIT`]) for its first `next` call.
    pub(crate) async fn start(
        config: &FunctionConfig,
        region: &str,
        extra_env: Vec<(String, String)>,
    ) -> Result<Instance, Broken> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Broken::Exited(format!("Runtime API: cannot listen: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Broken::Exited(format!("Runtime API: {e}")))?;
        let (events_tx, events_rx) = mpsc::channel(1);
        let (ready_tx, mut ready_rx) = watch::channel(None);
        let shared = Arc::new(Shared {
            events: tokio::sync::Mutex::new(events_rx),
            current: Mutex::new(None),
            answered: Mutex::new(std::collections::VecDeque::new()),
            ready: ready_tx,
            init_error: Mutex::new(None),
            spawned: Instant::now(),
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let router = router(shared.clone());
        tokio::spawn(httpserve::serve(
            listener,
            httpserve::Transport::Plain,
            httpserve::Limits {
                shutdown_grace: Duration::from_millis(100),
                ..httpserve::Limits::default()
            },
            move |_| router.clone(),
            async move {
                let _ = stop_rx.await;
            },
        ));

        let mut cmd = tokio::process::Command::new(&config.bootstrap);
        cmd.env_clear()
            .envs(sandbox_env(config, region, &addr.to_string()))
            .envs(config.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra_env)
            .current_dir(task_root(&config.bootstrap))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let logs = Arc::new(Mutex::new(LogTail::default()));
        let (exit_tx, exit_rx) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = stop_tx.send(());
                return Err(Broken::Exited(format!(
                    "Couldn't find valid bootstrap(s): {}: {e}",
                    config.bootstrap.display()
                )));
            }
        };
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = logs.clone();
            let function = config.name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(target: "devstack::lambda::log", function = %function, "{line}");
                    if let Ok(mut t) = logs.lock() {
                        t.push_line(&line);
                    }
                }
            });
        }
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let text = match status {
                Ok(s) => match s.code() {
                    Some(code) => format!("exit status {code}"),
                    None => "signal: killed".to_owned(),
                },
                Err(e) => format!("wait failed: {e}"),
            };
            let _ = exit_tx.send(Some(text));
        });

        let mut exit = exit_rx.clone();
        let outcome = tokio::time::timeout(INIT_LIMIT, async {
            tokio::select! {
                r = ready_rx.wait_for(Option::is_some) => r.ok().and_then(|d| *d),
                () = exited(&mut exit) => None,
            }
        })
        .await;
        let mut instance = Instance {
            events: events_tx,
            shared: shared.clone(),
            exit: exit_rx,
            kill: Mutex::new(Some(kill_tx)),
            logs,
            stop: Mutex::new(Some(stop_tx)),
            init_duration: Duration::ZERO,
        };
        match outcome {
            Ok(Some(init)) => {
                instance.init_duration = init;
                Ok(instance)
            }
            Ok(None) => {
                let broken = instance.broken().await;
                instance.shutdown();
                Err(broken)
            }
            Err(_) => {
                instance.shutdown();
                Err(Broken::Exited(format!(
                    "Runtime failed to initialise within {} seconds",
                    INIT_LIMIT.as_secs()
                )))
            }
        }
    }

    /// Why the instance stopped: its init error, else how the process ended.
    async fn broken(&self) -> Broken {
        if let Some(b) = self.shared.init_error.lock().ok().and_then(|e| e.clone()) {
            return b;
        }
        let mut exit = self.exit.clone();
        let _ = tokio::time::timeout(Duration::from_secs(2), exited(&mut exit)).await;
        let text = exit.borrow().clone().unwrap_or_else(|| "exited".to_owned());
        Broken::Exited(format!("Runtime exited with error: {text}"))
    }

    /// How many log bytes the process has written so far (a mark for [`Self::log_since`]).
    pub(crate) fn log_mark(&self) -> u64 {
        self.logs.lock().map(|t| t.total).unwrap_or(0)
    }

    /// The log output since `mark`, at most the last 4 KB.
    pub(crate) fn log_since(&self, mark: u64) -> Vec<u8> {
        self.logs.lock().map(|t| t.since(mark)).unwrap_or_default()
    }

    /// Appends a platform line (`START`, `END`, `REPORT`) to the instance's log.
    pub(crate) fn platform_line(&self, function: &str, line: &str) {
        tracing::info!(target: "devstack::lambda::log", function = %function, "{line}");
        if let Ok(mut t) = self.logs.lock() {
            t.push_line(line);
        }
    }

    /// Runs one invocation: hands the event to the runtime and waits for its answer until
    /// `timeout`. `Err` means the instance is finished (timed out, crashed, init error) and
    /// carries what the invocation answers.
    pub(crate) async fn invoke(
        &self,
        mut pending: Pending,
        timeout: Duration,
    ) -> Result<Outcome, Outcome> {
        let request_id = pending.request_id.clone();
        let (reply_tx, reply_rx) = oneshot::channel();
        pending.reply = reply_tx;
        if self.events.send(pending).await.is_err() {
            return Err(self.failure(&request_id).await);
        }
        let mut exit = self.exit.clone();
        tokio::select! {
            r = tokio::time::timeout(timeout, reply_rx) => match r {
                Ok(Ok(outcome)) => Ok(outcome),
                Ok(Err(_)) => Err(self.failure(&request_id).await),
                Err(_) => {
                    self.shutdown();
                    Err(Outcome::Error {
                        error_type: "Sandbox.Timedout".to_owned(),
                        body: error_body(
                            "Sandbox.Timedout",
                            &format!(
                                "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                                timeout.as_secs_f64()
                            ),
                        ),
                    })
                }
            },
            () = exited(&mut exit) => Err(self.failure(&request_id).await),
        }
    }

    async fn failure(&self, request_id: &str) -> Outcome {
        let broken = self.broken().await;
        self.shutdown();
        broken_outcome(&broken, request_id)
    }

    /// Kills the process and stops the Runtime API.
    pub(crate) fn shutdown(&self) {
        if let Some(k) = self.kill.lock().ok().and_then(|mut k| k.take()) {
            let _ = k.send(());
        }
        if let Some(s) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = s.send(());
        }
    }

    /// Whether the process is still running.
    pub(crate) fn alive(&self) -> bool {
        self.exit.borrow().is_none() && self.shared.init_error.lock().is_ok_and(|e| e.is_none())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Resolves when the process has exited (without holding the watch's lock).
async fn exited(exit: &mut watch::Receiver<Option<String>>) {
    let _ = exit.wait_for(Option::is_some).await;
}

/// What an invocation answers when its environment broke.
pub(crate) fn broken_outcome(broken: &Broken, request_id: &str) -> Outcome {
    match broken {
        Broken::InitError { error_type, body } => Outcome::Error {
            error_type: error_type.clone(),
            body: body.clone(),
        },
        Broken::Exited(text) => Outcome::Error {
            error_type: "Runtime.ExitError".to_owned(),
            body: error_body(
                "Runtime.ExitError",
                &format!("RequestId: {request_id} Error: {text}"),
            ),
        },
    }
}

/// Lambda's error document: `{"errorType", "errorMessage"}`.
pub(crate) fn error_body(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

/// The directory of the bootstrap (`LAMBDA_TASK_ROOT`).
fn task_root(bootstrap: &Path) -> std::path::PathBuf {
    bootstrap
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| std::path::PathBuf::from("."), Path::to_path_buf)
}

/// The variables Lambda sets in every execution environment (the function's own variables
/// and the execution role's credentials come on top).
fn sandbox_env(config: &FunctionConfig, region: &str, runtime_api: &str) -> Vec<(String, String)> {
    let root = task_root(&config.bootstrap).display().to_string();
    let today = chrono::Utc::now().format("%Y/%m/%d");
    let stream = format!("{today}/[$LATEST]{}", uuid::Uuid::new_v4().simple());
    [
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", root.clone()),
        ("LAMBDA_RUNTIME_DIR", root),
        ("AWS_REGION", region.to_owned()),
        ("AWS_DEFAULT_REGION", region.to_owned()),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", config.name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", config.name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .fallback(|| async {
            runtime_error(
                StatusCode::NOT_FOUND,
                "InvalidRequest",
                "no such Runtime API resource",
            )
        })
        .layer(DefaultBodyLimit::max(SYNC_PAYLOAD_LIMIT))
        .with_state(shared)
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        error_body(error_type, message),
    )
        .into_response()
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.ready.send_if_modified(|r| {
        if r.is_none() {
            *r = Some(shared.spawned.elapsed());
            true
        } else {
            false
        }
    });
    let mut events = shared.events.lock().await;
    let Some(p) = events.recv().await else {
        return runtime_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.Shutdown",
            "shutting down",
        );
    };
    drop(events);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", &p.request_id);
    set("lambda-runtime-deadline-ms", &p.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &p.function_arn);
    set(
        "lambda-runtime-trace-id",
        &format!(
            "Root=1-{:08x}-{};Parent={};Sampled=0",
            chrono::Utc::now().timestamp(),
            &uuid::Uuid::new_v4().simple().to_string()[..24],
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        ),
    );
    set("content-type", "application/json");
    if let Some(cc) = &p.client_context {
        set("lambda-runtime-client-context", cc);
    }
    if let Ok(mut current) = shared.current.lock() {
        *current = Some((p.request_id, p.reply));
    }
    (StatusCode::OK, headers, p.payload).into_response()
}

/// Takes the current invocation if it is `id`; else the refusal.
fn take_current(shared: &Shared, id: &str) -> Result<oneshot::Sender<Outcome>, Box<Response>> {
    let mut current = shared.current.lock().map_err(|_| {
        Box::new(runtime_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.Error",
            "state",
        ))
    })?;
    match current.take() {
        Some((cur, reply)) if cur == id => {
            if let Ok(mut a) = shared.answered.lock() {
                if a.len() == 16 {
                    a.pop_front();
                }
                a.push_back(cur);
            }
            Ok(reply)
        }
        other => {
            *current = other;
            let answered = shared
                .answered
                .lock()
                .is_ok_and(|a| a.iter().any(|x| x == id));
            Err(Box::new(if answered {
                runtime_error(
                    StatusCode::FORBIDDEN,
                    "InvalidStateTransition",
                    "Transition from Ready to Response is not allowed",
                )
            } else {
                runtime_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestID",
                    "Invalid request ID",
                )
            }))
        }
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    match take_current(&shared, &id) {
        Ok(reply) => {
            let _ = reply.send(Outcome::Success(body));
            accepted()
        }
        Err(r) => *r,
    }
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match take_current(&shared, &id) {
        Ok(reply) => {
            let error_type = reported_error_type(&headers, &body);
            let _ = reply.send(Outcome::Error { error_type, body });
            accepted()
        }
        Err(r) => *r,
    }
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = reported_error_type(&headers, &body);
    if let Ok(mut e) = shared.init_error.lock() {
        *e = Some(Broken::InitError { error_type, body });
    }
    accepted()
}

/// The error type of an error report: the body's `errorType`, else the
/// `Lambda-Runtime-Function-Error-Type` header, else `Unhandled`.
fn reported_error_type(headers: &HeaderMap, body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errorType")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        })
        .or_else(|| {
            headers
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .map(|t| cfenv::text::prefix(&t, 128).to_string())
        .unwrap_or_else(|| "Unhandled".to_owned())
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}
