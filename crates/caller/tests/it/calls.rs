//! The handler against the dev stack's XSUAA and a scripted target app: headers, retries,
//! outcomes, error types, and that no secret or token reaches the log line or the result.

use std::time::{Duration, Instant};

use caller::retry::Policy;
use serde_json::{Value, json};

use crate::common::{ARN, Reply, Stack, TargetApp, assert_no_secrets, ctx, ping_input};

/// Short backoffs, so the retry tests take milliseconds.
const FAST: Policy = Policy {
    base: Duration::from_millis(20),
    cap: Duration::from_millis(100),
    ..Policy::DEFAULT
};

fn error_type(report: &caller::Report) -> &'static str {
    match &report.result {
        Err(e) => e.error_type(),
        Ok(ok) => panic!("expected an error, got {ok:?}"),
    }
}

fn log(report: &caller::Report) -> Value {
    serde_json::from_str(&report.log.to_json()).unwrap()
}

#[tokio::test]
async fn a_call_carries_token_key_and_schedule_headers_and_the_token_is_reused() {
    let stack = Stack::start().await;
    let app = TargetApp::start(vec![Reply::status(200)]).await;
    let caller = stack.caller(&app.url);
    let secrets = vec![stack.client_secret()];

    let report = caller
        .invoke(
            &ping_input("2026-12-02T05:00:00Z", 1),
            &ctx("req-1", Duration::from_secs(10)),
        )
        .await;
    assert_no_secrets(&report, &secrets, &app);
    let ok = report.result.as_ref().unwrap();
    let key = schedule::occurrence::key(ARN, "2026-12-02T05:00:00Z".parse().unwrap());
    assert_eq!(
        serde_json::to_value(ok).unwrap(),
        json!({"status":200,"attempts":1,"durationMs":ok.duration_ms,
            "target":"GET /jobs/ping","idempotencyKey":key})
    );
    let seen = app.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, "GET");
    assert_eq!(req.uri.path(), "/jobs/ping");
    let auth = req.header("authorization").unwrap();
    let token = auth.strip_prefix("Bearer ").unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT from the local XSUAA");
    assert_eq!(req.header("idempotency-key"), Some(key.as_str()));
    assert_eq!(req.header("x-bridge-schedule"), Some(ARN));
    assert_eq!(
        req.header("x-bridge-scheduled-time"),
        Some("2026-12-02T05:00:00Z")
    );
    assert_eq!(req.header("x-bridge-attempt"), Some("1"));
    assert_eq!(req.header("content-type"), None);

    let line = log(&report);
    for (field, want) in [
        ("level", json!("INFO")),
        ("message", json!("invocation")),
        ("requestId", json!("req-1")),
        ("schedule", json!(ARN)),
        ("scheduledTime", json!("2026-12-02T05:00:00Z")),
        ("idempotencyKey", json!(key)),
        ("target", json!("GET /jobs/ping")),
        ("status", json!(200)),
        ("attempts", json!(1)),
        ("outcome", json!("success")),
        ("attempt", json!(1)),
    ] {
        assert_eq!(line[field], want, "{field} in {line}");
    }
    assert!(line.get("errorType").is_none());

    // A warm invocation: the next occurrence, a new key, the same cached token.
    let report = caller
        .invoke(
            &ping_input("2026-12-02T05:01:00Z", 1),
            &ctx("req-2", Duration::from_secs(10)),
        )
        .await;
    assert!(report.result.is_ok());
    let seen = app.seen();
    assert_eq!(seen[1].header("authorization"), Some(auth));
    assert_ne!(seen[1].header("idempotency-key"), Some(key.as_str()));

    // A body is sent as JSON.
    let input = json!({"method":"POST","path":"/jobs/ping?x=1","body":{"n":1},
        "scheduleArn":ARN,"scheduledTime":"2026-12-02T05:02:00Z"});
    let report = caller
        .invoke(&input, &ctx("req-3", Duration::from_secs(10)))
        .await;
    assert!(report.result.is_ok());
    let req = &app.seen()[2];
    assert_eq!(req.method, "POST");
    assert_eq!(req.uri.to_string(), "/jobs/ping?x=1");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(&req.body[..], br#"{"n":1}"#);
    assert_eq!(req.header("x-bridge-attempt"), None);
}

#[tokio::test]
async fn transient_answers_are_retried_with_the_same_key() {
    let stack = Stack::start().await;
    let secrets = vec![stack.client_secret()];

    // 503 twice, then 200.
    let app = TargetApp::start(vec![
        Reply::status(503),
        Reply::status(503),
        Reply::status(200),
    ])
    .await;
    let caller = stack.caller(&app.url).with_policy(FAST, 7);
    let report = caller
        .invoke(
            &ping_input("2026-12-02T05:00:00Z", 1),
            &ctx("r", Duration::from_secs(10)),
        )
        .await;
    assert_no_secrets(&report, &secrets, &app);
    assert_eq!(report.result.as_ref().unwrap().attempts, 3);
    let seen = app.seen();
    assert_eq!(seen.len(), 3);
    let keys: Vec<_> = seen.iter().map(|s| s.header("idempotency-key")).collect();
    assert!(
        keys.iter().all(|k| *k == keys[0] && k.is_some()),
        "{keys:?}"
    );
    assert_eq!(log(&report)["attempts"], 3);

    // 502 for ever: out of attempts, the last status named.
    let app = TargetApp::start(vec![Reply::status(502)]).await;
    let caller = stack.caller(&app.url).with_policy(FAST, 7);
    let report = caller
        .invoke(
            &ping_input("2026-12-02T05:00:00Z", 1),
            &ctx("r", Duration::from_secs(10)),
        )
        .await;
    assert_eq!(error_type(&report), "Caller.Retryable.Upstream5xx");
    assert_eq!(app.seen().len(), 5);
    let line = log(&report);
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["status"], 502);
    assert_eq!(line["attempts"], 5);
    assert_eq!(line["errorType"], "Caller.Retryable.Upstream5xx");
    assert_eq!(
        line["errorMessage"],
        "GET /jobs/ping: HTTP 502 after 5 attempt(s)"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_inside_the_deadline() {
    let stack = Stack::start().await;
    let app = TargetApp::start(vec![
        Reply::status(429).header("retry-after", "1"),
        Reply::status(200),
    ])
    .await;
    let caller = stack.caller(&app.url).with_policy(FAST, 1);
    let report = caller
        .invoke(
            &ping_input("2026-12-02T05:00:00Z", 1),
            &ctx("r", Duration::from_secs(10)),
        )
        .await;
    assert_eq!(report.result.as_ref().unwrap().attempts, 2);
    let seen = app.seen();
    let gap = seen[1].at.duration_since(seen[0].at);
    assert!(gap >= Duration::from_millis(950), "waited {gap:?}");

    // Asked to wait past the deadline: give up at once, saying so.
    let app = TargetApp::start(vec![Reply::status(429).header("retry-after", "30")]).await;
    let caller = stack.caller(&app.url).with_policy(FAST, 1);
    let started = Instant::now();
    let report = caller
        .invoke(
            &ping_input("2026-12-02T05:00:00Z", 1),
            &ctx("r", Duration::from_secs(3)),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(error_type(&report), "Caller.Retryable.Throttled");
    assert_eq!(
        report.result.as_ref().unwrap_err().to_string(),
        "GET /jobs/ping: HTTP 429 after 1 attempt(s), Retry-After 30 s"
    );
    assert_eq!(app.seen().len(), 1);
}

#[tokio::test]
async fn final_answers_401_refresh_and_202() {
    let stack = Stack::start().await;
    let secrets = vec![stack.client_secret()];
    let input = ping_input("2026-12-02T05:00:00Z", 2);

    // 401 once: a fresh token, one more attempt.
    let app = TargetApp::start(vec![Reply::status(401), Reply::status(204)]).await;
    let report = stack
        .caller(&app.url)
        .invoke(&input, &ctx("r", Duration::from_secs(10)))
        .await;
    assert_no_secrets(&report, &secrets, &app);
    let ok = report.result.as_ref().unwrap();
    assert_eq!((ok.status, ok.attempts), (204, 2));

    // 401 twice: refreshed once only.
    let app = TargetApp::start(vec![Reply::status(401)]).await;
    let report = stack
        .caller(&app.url)
        .invoke(&input, &ctx("r", Duration::from_secs(10)))
        .await;
    assert_eq!(error_type(&report), "Caller.Rejected.4xx");
    assert_eq!(app.seen().len(), 2);

    // Other 4xx and 5xx but 502-504: never retried.
    for (status, ty) in [
        (400, "Caller.Rejected.4xx"),
        (403, "Caller.Rejected.4xx"),
        (404, "Caller.Rejected.4xx"),
        (500, "Caller.Rejected.5xx"),
        (302, "Caller.Rejected.3xx"),
    ] {
        let app = TargetApp::start(vec![
            Reply::status(status).header("location", "https://elsewhere.example/"),
        ])
        .await;
        let report = stack
            .caller(&app.url)
            .invoke(&input, &ctx("r", Duration::from_secs(10)))
            .await;
        assert_eq!(error_type(&report), ty, "{status}");
        assert_eq!(app.seen().len(), 1, "{status}");
        assert_eq!(log(&report)["status"], status);
    }

    // 202: accepted, the run's URL made absolute.
    let app = TargetApp::start(vec![Reply::status(202).header("location", "/jobs/runs/42")]).await;
    let report = stack
        .caller(&app.url)
        .invoke(&input, &ctx("r", Duration::from_secs(10)))
        .await;
    let ok = report.result.as_ref().unwrap();
    assert_eq!(ok.status, 202);
    assert_eq!(
        ok.run.as_deref(),
        Some(format!("{}/jobs/runs/42", app.url).as_str())
    );
    assert_eq!(log(&report)["run"], format!("{}/jobs/runs/42", app.url));

    // 409 with the run's URL: an earlier attempt of the occurrence is still running; that is
    // the occurrence handled, not a failure to retry. A 409 without it is a refusal.
    let app = TargetApp::start(vec![Reply::status(409).header("location", "/jobs/runs/43")]).await;
    let report = stack
        .caller(&app.url)
        .invoke(&input, &ctx("r", Duration::from_secs(10)))
        .await;
    let ok = report.result.as_ref().unwrap();
    assert_eq!((ok.status, ok.attempts), (409, 1));
    assert_eq!(
        ok.run.as_deref(),
        Some(format!("{}/jobs/runs/43", app.url).as_str())
    );
    let app = TargetApp::start(vec![Reply::status(409)]).await;
    let report = stack
        .caller(&app.url)
        .invoke(&input, &ctx("r", Duration::from_secs(10)))
        .await;
    assert_eq!(error_type(&report), "Caller.Rejected.4xx");
}

#[tokio::test]
async fn slow_or_absent_apps_fail_inside_the_deadline() {
    let stack = Stack::start().await;
    let input = ping_input("2026-12-02T05:00:00Z", 1);

    // Slower than the deadline: the attempt is cut off before it, leaving time to report.
    let app = TargetApp::start(vec![Reply::status(200).after(Duration::from_secs(10))]).await;
    let caller = stack.caller(&app.url);
    let started = Instant::now();
    let report = caller
        .invoke(&input, &ctx("r", Duration::from_secs(2)))
        .await;
    let took = started.elapsed();
    assert_eq!(error_type(&report), "Caller.Retryable.Timeout");
    assert!(took < Duration::from_millis(1900), "took {took:?}");
    assert!(took >= Duration::from_millis(1000), "took {took:?}");
    assert_eq!(log(&report)["attempts"], 1);
    assert!(log(&report)["status"].is_null());

    // Nothing listening: connection errors are retried until attempts run out.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let caller = stack.caller(&closed).with_policy(FAST, 3);
    let report = caller
        .invoke(&input, &ctx("r", Duration::from_secs(5)))
        .await;
    assert_eq!(error_type(&report), "Caller.Retryable.Unreachable");
    assert_eq!(log(&report)["attempts"], 5);
}

#[tokio::test]
async fn token_failures_and_bad_events_are_named() {
    let stack = Stack::start().await;
    let app = TargetApp::start(vec![Reply::status(200)]).await;
    let input = ping_input("2026-12-02T05:00:00Z", 1);

    // A token endpoint answering an HTML page.
    let html = TargetApp::start(vec![Reply::status(200).header("content-type", "text/html")]).await;
    let mut env = stack.env(&app.url);
    env.push(("BRIDGE_XSUAA_URL".into(), html.url.clone()));
    let settings = caller::settings::Settings::from_env(&cfenv::Env::from_pairs(env)).unwrap();
    let caller = caller::Caller::new(&settings, stack.binding(&settings)).unwrap();
    let report = caller
        .invoke(&input, &ctx("r", Duration::from_secs(5)))
        .await;
    assert_eq!(error_type(&report), "Caller.Token.Failed");
    assert!(app.seen().is_empty());
    assert!(!report.log.to_json().contains(&stack.client_secret()));

    // XSUAA not there.
    let mut env = stack.env(&app.url);
    env.push(("BRIDGE_XSUAA_URL".into(), "https://127.0.0.1:9".into()));
    let settings = caller::settings::Settings::from_env(&cfenv::Env::from_pairs(env)).unwrap();
    let caller = caller::Caller::new(&settings, stack.binding(&settings)).unwrap();
    let report = caller
        .invoke(&input, &ctx("r", Duration::from_secs(5)))
        .await;
    assert_eq!(error_type(&report), "Caller.Retryable.Token");

    // Events that name no usable occurrence: no call at all.
    let caller = stack.caller(&app.url);
    let rule_without_time = json!({"detail-type":"Scheduled Event","source":"aws.events",
        "resources":["arn:aws:events:eu-central-1:123456789012:rule/r"],"detail":{}});
    let report = caller
        .invoke(&rule_without_time, &ctx("r", Duration::from_secs(5)))
        .await;
    assert_eq!(error_type(&report), "Caller.BadEvent");
    assert_eq!(
        report.result.as_ref().unwrap_err().to_string(),
        "bad event: time: missing: a scheduled event carries its nominal time in `time`"
    );
    let line = log(&report);
    assert!(line["schedule"].is_null());
    assert_eq!(line["attempts"], 0);
    assert!(app.seen().is_empty());

    // The classic envelope with `time` calls the default target.
    let rule = json!({"detail-type":"Scheduled Event","source":"aws.events",
        "time":"2026-12-02T05:00:00Z",
        "resources":["arn:aws:events:eu-central-1:123456789012:rule/r"],"detail":{}});
    let report = caller
        .invoke(&rule, &ctx("r", Duration::from_secs(5)))
        .await;
    assert_eq!(report.result.as_ref().unwrap().target, "GET /jobs/ping");
    assert_eq!(
        app.seen()[0].header("x-bridge-schedule"),
        Some("arn:aws:events:eu-central-1:123456789012:rule/r")
    );
}
