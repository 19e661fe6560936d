//! The built `bootstrap` as a process under a tiny in-test Lambda Runtime API
//! (`/2018-06-01/runtime/…`): it reads its secret before the first `/next`, serves one event
//! and posts the result; without its secret it reports `/runtime/init/error` and exits.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::common::{Moto, Reply, Stack, TargetApp, ping_input};

#[derive(Default)]
struct Api {
    event: Option<Value>,
    first_next: Option<Instant>,
    responses: Vec<(String, Value)>,
    errors: Vec<(String, Value)>,
    init_errors: Vec<(String, Value)>,
}

type Shared = Arc<Mutex<Api>>;

async fn next(State(api): State<Shared>) -> Response {
    let event = {
        let mut api = api.lock().unwrap();
        api.first_next.get_or_insert_with(Instant::now);
        api.event.take()
    };
    let Some(event) = event else {
        // Long-poll: no second event.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = SystemTime::now() + Duration::from_secs(10);
    let ms = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis();
    (
        [
            ("Lambda-Runtime-Aws-Request-Id", "req-bin-1".to_owned()),
            ("Lambda-Runtime-Deadline-Ms", ms.to_string()),
            (
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:eu-central-1:123456789012:function:btp-aws-bridge-caller"
                    .to_owned(),
            ),
            ("Content-Type", "application/json".to_owned()),
        ],
        event.to_string(),
    )
        .into_response()
}

fn json(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

async fn start_api(event: Option<Value>) -> (String, Shared) {
    let api: Shared = Arc::new(Mutex::new(Api {
        event,
        ..Api::default()
    }));
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(
                |State(api): State<Shared>, Path(id): Path<String>, body: Bytes| async move {
                    api.lock().unwrap().responses.push((id, json(&body)));
                    StatusCode::ACCEPTED
                },
            ),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(
                |State(api): State<Shared>, Path(id): Path<String>, body: Bytes| async move {
                    api.lock().unwrap().errors.push((id, json(&body)));
                    StatusCode::ACCEPTED
                },
            ),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(
                |State(api): State<Shared>, headers: HeaderMap, body: Bytes| async move {
                    let kind = headers
                        .get("lambda-runtime-function-error-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    api.lock().unwrap().init_errors.push((kind, json(&body)));
                    StatusCode::ACCEPTED
                },
            ),
        )
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, api)
}

fn bootstrap(api: &str, env: Vec<(String, String)>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "btp-aws-bridge-caller")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("TZ", "UTC")
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
#[allow(clippy::print_stderr)] // the init time, a figure for the reader
async fn bootstrap_serves_an_event_and_reports_a_missing_secret_at_init() {
    let stack = Stack::start().await;
    let moto = Moto::start().await;
    moto.create_secret(
        "btp-aws-bridge/caller/xsuaa",
        &stack.service_key().to_string(),
    )
    .await;
    let app = TargetApp::start(vec![Reply::status(200)]).await;
    let mut env = stack.env(&app.url);
    env.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), moto.url.clone()));

    // One event, served.
    let (addr, api) = start_api(Some(ping_input("2026-12-02T05:00:00Z", 1))).await;
    let spawned = Instant::now();
    let mut child = bootstrap(&addr, env.clone()).spawn().unwrap();
    wait_for("the response", || !api.lock().unwrap().responses.is_empty()).await;
    let init = api
        .lock()
        .unwrap()
        .first_next
        .unwrap()
        .duration_since(spawned);
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    testkit::logs::capture_output("bootstrap stdout", &stdout);
    testkit::logs::capture_output("bootstrap stderr", &stderr);
    eprintln!("bootstrap (debug build) init, spawn → first /next: {init:?}");
    let (id, result) = api.lock().unwrap().responses[0].clone();
    assert_eq!(id, "req-bin-1");
    assert_eq!(result["status"], 200);
    assert_eq!(result["attempts"], 1);
    assert_eq!(result["target"], "GET /jobs/ping");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one log line: {stdout}");
    let line: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["requestId"], "req-bin-1");
    assert_eq!(line["outcome"], "success");
    let token = app.seen()[0]
        .header("authorization")
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned();
    testkit::logs::secret(token.clone());
    for text in [&stdout, &stderr] {
        assert!(!text.contains(&token));
        assert!(!text.contains(&stack.client_secret()));
    }

    // No such secret: an init error, no /next, exit status 1.
    let (addr, api) = start_api(None).await;
    let mut missing = env.clone();
    missing.push(("BRIDGE_SECRET_ID".into(), "no-such-secret".into()));
    let out = bootstrap(&addr, missing).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (first_next, (kind, body)) = {
        let api = api.lock().unwrap();
        (api.first_next, api.init_errors[0].clone())
    };
    assert!(first_next.is_none());
    assert_eq!(kind, "Caller.Init.Secret");
    assert_eq!(body["errorType"], "Caller.Init.Secret");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("secret no-such-secret: ResourceNotFoundException"),
        "{body}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["message"], "init");
    assert_eq!(line["errorType"], "Caller.Init.Secret");

    // A missing variable is named.
    let (addr, api) = start_api(None).await;
    let no_url: Vec<_> = env
        .iter()
        .filter(|(k, _)| k != "BRIDGE_APP_URL")
        .cloned()
        .collect();
    let out = bootstrap(&addr, no_url).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, body) = api.lock().unwrap().init_errors[0].clone();
    assert_eq!(body["errorType"], "Caller.Init.Config");
    assert_eq!(
        body["errorMessage"],
        "environment variable BRIDGE_APP_URL: missing"
    );
}
