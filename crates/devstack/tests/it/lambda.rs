//! The local Lambda: its Runtime API driven by AWS's own Python runtime interface client
//! (`awslambdaric`, PyPI) and by shell bootstraps that fail on purpose, its Invoke API called
//! by the aws CLI and boto3, and Lambda's asynchronous semantics (retries, on-failure
//! destination) under short retry delays.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devstack::lambda::{
    EventInvokeConfig, FunctionConfig, InvocationRecord, InvocationSink, LocalLambda, Outcome,
};

use crate::common::Stack;

/// A Python handler for `awslambdaric`: echoes the event, fails, sleeps or exits on request.
const HANDLER: &str = r#"
import os, time

def handle(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    if event.get("sleep"):
        time.sleep(float(event["sleep"]))
    if event.get("exit"):
        os._exit(7)
    return {
        "echo": event,
        "requestId": context.aws_request_id,
        "function": context.function_name,
        "remainingMs": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
        "env": {k: os.environ.get(k) for k in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "GREETING", "AWS_ACCESS_KEY_ID"]},
    }
"#;

#[derive(Default)]
struct Recorder(Mutex<Vec<InvocationRecord>>);

impl InvocationSink for Recorder {
    fn record(&self, r: &InvocationRecord) {
        self.0.lock().unwrap().push(r.clone());
    }
}

impl Recorder {
    fn all(&self) -> Vec<InvocationRecord> {
        self.0.lock().unwrap().clone()
    }
}

fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A task root with `bootstrap` running the handler under awslambdaric.
fn python_function(dir: &Path, name: &str) -> FunctionConfig {
    let root = dir.join(name);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("handler.py"), HANDLER).unwrap();
    let python = testkit::python_bin("python");
    executable(
        &root.join("bootstrap"),
        &format!(
            "#!/bin/sh\ncd \"$LAMBDA_TASK_ROOT\"\nexec {} -m awslambdaric handler.handle\n",
            python.display()
        ),
    );
    let mut f = FunctionConfig::new(name, root.join("bootstrap"));
    f.env = vec![("GREETING".into(), "hello".into())];
    f.credentials = Some(Arc::new(|| {
        vec![(
            "AWS_ACCESS_KEY_ID".to_owned(),
            "ASIAEXAMPLEROLEKEY".to_owned(),
        )]
    }));
    f
}

fn shell_function(dir: &Path, name: &str, script: &str) -> FunctionConfig {
    let root = dir.join(name);
    std::fs::create_dir_all(&root).unwrap();
    executable(&root.join("bootstrap"), script);
    FunctionConfig::new(name, root.join("bootstrap"))
}

struct Lambda {
    lambda: LocalLambda,
    url: String,
    sink: Arc<Recorder>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(s: &Stack, functions: Vec<FunctionConfig>) -> Lambda {
    let identity = s.dev.aws_identity().clone();
    let sink = Arc::new(Recorder::default());
    let lambda = LocalLambda::new(
        Some(identity.clone()),
        identity.region(),
        identity.account_id(),
        functions,
        sink.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = lambda.router();
    tokio::spawn(httpserve::serve(
        listener,
        httpserve::Transport::Plain,
        httpserve::Limits::default(),
        move |_| router.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    Lambda {
        lambda,
        url,
        sink,
        _stop: stop,
    }
}

fn aws(s: &Stack, dir: &Path) -> Command {
    let identity = s.dev.aws_identity();
    testkit::logs::secret(identity.user().secret_access_key.expose());
    let mut cmd = Command::new(testkit::python_bin("aws"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_CONFIG_FILE", dir.join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("none"))
        .env("AWS_DEFAULT_REGION", identity.region())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", &identity.user().access_key_id)
        .env(
            "AWS_SECRET_ACCESS_KEY",
            identity.user().secret_access_key.expose(),
        )
        .stdin(Stdio::null());
    cmd
}

fn output(cmd: &mut Command, label: &str) -> (bool, String, String) {
    let out = cmd.output().expect("aws CLI (cargo xtask install)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    testkit::logs::capture_output(&format!("{label} (stderr)"), &stderr);
    (out.status.success(), stdout, stderr)
}

fn read_json(path: &PathBuf) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_cli_invokes_a_python_function_on_awslambdaric_and_reuses_the_warm_environment() {
    let s = Stack::start().await;
    let l = start(&s, vec![python_function(s.dir.path(), "echo")]).await;
    let out = s.dir.path().join("out.json");
    let invoke = |payload: &str| {
        output(
            aws(&s, s.dir.path()).args([
                "lambda",
                "invoke",
                "--endpoint-url",
                &l.url,
                "--function-name",
                "echo",
                "--payload",
                payload,
                "--log-type",
                "Tail",
                out.to_str().unwrap(),
            ]),
            "aws lambda invoke",
        )
    };
    let (ok, stdout, stderr) = invoke(r#"{"n":1}"#);
    assert!(ok, "{stderr}");
    let meta: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(meta["StatusCode"], 200);
    assert_eq!(meta["ExecutedVersion"], "$LATEST");
    assert!(meta.get("FunctionError").is_none(), "{meta}");
    let log = base64_decode(meta["LogResult"].as_str().unwrap());
    assert!(log.contains("START RequestId: "), "{log}");
    assert!(log.contains("REPORT RequestId: "), "{log}");
    assert!(
        log.contains("Init Duration"),
        "first call is a cold start: {log}"
    );
    let first = read_json(&out);
    assert_eq!(first["echo"], serde_json::json!({"n": 1}));
    assert_eq!(first["function"], "echo");
    assert_eq!(first["env"]["AWS_LAMBDA_FUNCTION_NAME"], "echo");
    assert_eq!(first["env"]["AWS_REGION"], s.dev.aws_identity().region());
    assert_eq!(first["env"]["GREETING"], "hello");
    assert_eq!(first["env"]["AWS_ACCESS_KEY_ID"], "ASIAEXAMPLEROLEKEY");
    let remaining = first["remainingMs"].as_i64().unwrap();
    assert!(
        remaining > 0 && remaining <= 3000,
        "deadline within the 3 s timeout: {remaining}"
    );

    let (ok, _, stderr) = invoke(r#"{"n":2}"#);
    assert!(ok, "{stderr}");
    let second = read_json(&out);
    assert_eq!(
        second["pid"], first["pid"],
        "the warm environment is reused"
    );
    assert_ne!(second["requestId"], first["requestId"]);
    assert_eq!(l.lambda.counters().cold_starts, 1);

    // A function error is HTTP 200 with X-Amz-Function-Error and the error document.
    let (ok, stdout, stderr) = invoke(r#"{"fail":true}"#);
    assert!(ok, "{stderr}");
    let meta: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(meta["FunctionError"], "Unhandled");
    let err = read_json(&out);
    assert_eq!(err["errorType"], "ValueError");
    assert_eq!(err["errorMessage"], "asked to fail");
    let records = l.sink.all();
    assert_eq!(records.len(), 3);
    assert!(records[0].init_duration.is_some() && records[1].init_duration.is_none());
}

fn base64_decode(s: &str) -> String {
    use base64::Engine as _;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(s).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_crashes_and_failed_inits_are_reported_as_lambda_does() {
    let s = Stack::start().await;
    let mut slow = python_function(s.dir.path(), "slow");
    slow.timeout = Duration::from_secs(1);
    let failing_init = shell_function(
        s.dir.path(),
        "broken",
        "#!/bin/sh\necho 'cannot read configuration' >&2\nexit 3\n",
    );
    let l = start(&s, vec![slow, failing_init]).await;

    let r = l
        .lambda
        .invoke("slow", r#"{"sleep":5}"#.into(), None)
        .await
        .unwrap();
    let Outcome::Error { error_type, body } = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(error_type, "Sandbox.Timedout");
    let doc: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert!(
        doc["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Task timed out after 1.00 seconds"),
        "{doc}"
    );
    // The timed-out environment is gone; the next invocation gets a fresh one and succeeds.
    let r = l
        .lambda
        .invoke("slow", r#"{"n":1}"#.into(), None)
        .await
        .unwrap();
    assert!(matches!(r.outcome, Outcome::Success(_)), "{:?}", r.outcome);
    assert_eq!(l.lambda.counters().cold_starts, 2);
    assert_eq!(l.lambda.counters().timeouts, 1);

    // A process that dies during an invocation.
    let r = l
        .lambda
        .invoke("slow", r#"{"exit":true}"#.into(), None)
        .await
        .unwrap();
    let Outcome::Error { error_type, body } = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(error_type, "Runtime.ExitError");
    assert!(String::from_utf8_lossy(body).contains("exit status 7"));

    // A bootstrap that exits at init.
    let r = l.lambda.invoke("broken", "{}".into(), None).await.unwrap();
    let Outcome::Error { error_type, body } = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(error_type, "Runtime.ExitError");
    assert!(
        String::from_utf8_lossy(body).contains("Runtime exited with error: exit status 3"),
        "{}",
        String::from_utf8_lossy(body)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_event_invocations_retry_then_reach_the_on_failure_destination() {
    let s = Stack::start().await;
    let mut f = python_function(s.dir.path(), "async-echo");
    f.event_invoke = EventInvokeConfig {
        maximum_retry_attempts: 2,
        maximum_event_age: Duration::from_secs(3600),
        retry_delays: [Duration::from_millis(200), Duration::from_millis(400)],
    };
    let l = start(&s, vec![f]).await;
    let identity = s.dev.aws_identity();
    let script = r#"
import boto3, json, sys
c = boto3.client("lambda", endpoint_url=sys.argv[1], region_name=sys.argv[2])
out = {}
r = c.invoke(FunctionName="async-echo", InvocationType="Event", Payload=b'{"fail": true}')
out["event"] = r["StatusCode"]
r = c.invoke(FunctionName="async-echo", InvocationType="Event", Payload=b'{"ok": 1}')
out["event_ok"] = r["StatusCode"]
r = c.invoke(FunctionName="async-echo", InvocationType="DryRun", Payload=b'{}')
out["dry"] = r["StatusCode"]
for name, kwargs in [
    ("missing", dict(FunctionName="nope", Payload=b'{}')),
    ("badjson", dict(FunctionName="async-echo", Payload=b'{not json')),
    ("toolarge", dict(FunctionName="async-echo", InvocationType="Event", Payload=b'"' + b"x" * (1024 * 1024 + 10) + b'"')),
]:
    try:
        c.invoke(**kwargs)
        out[name] = "no error"
    except c.exceptions.ClientError as e:
        out[name] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
r = c.invoke(FunctionName="arn:aws:lambda:%s:%s:function:async-echo" % (sys.argv[2], sys.argv[3]), Payload=b'{"byarn": 1}')
out["by_arn"] = json.loads(r["Payload"].read())["echo"]
print(json.dumps(out))
"#;
    let out = Command::new(testkit::python_bin("python"))
        .args([
            "-c",
            script,
            &l.url,
            identity.region(),
            identity.account_id(),
        ])
        .env("AWS_ACCESS_KEY_ID", &identity.user().access_key_id)
        .env(
            "AWS_SECRET_ACCESS_KEY",
            testkit::logs::secret(identity.user().secret_access_key.expose()),
        )
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    testkit::logs::capture_output("boto3 lambda (stderr)", &stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["event"], 202);
    assert_eq!(v["event_ok"], 202);
    assert_eq!(v["dry"], 204);
    assert_eq!(
        v["missing"],
        serde_json::json!(["ResourceNotFoundException", 404])
    );
    assert_eq!(
        v["badjson"],
        serde_json::json!(["InvalidRequestContentException", 400])
    );
    assert_eq!(
        v["toolarge"],
        serde_json::json!(["RequestTooLargeException", 413])
    );
    assert_eq!(v["by_arn"], serde_json::json!({"byarn": 1}));

    // The failing event: one attempt and two retries, then the destination record.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let failures = loop {
        let f = l.lambda.failures("async-echo").unwrap();
        if !f.is_empty() || std::time::Instant::now() > deadline {
            break f;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    let rec = &failures[0];
    assert_eq!(rec["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(rec["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(rec["requestPayload"], serde_json::json!({"fail": true}));
    assert_eq!(rec["responseContext"]["functionError"], "Unhandled");
    assert_eq!(rec["responsePayload"]["errorType"], "ValueError");

    let records = l.sink.all();
    let failed: Vec<_> = records
        .iter()
        .filter(|r| r.request_id == rec["requestContext"]["requestId"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        failed.iter().map(|r| r.last).collect::<Vec<_>>(),
        vec![false, false, true]
    );
    assert_eq!(l.lambda.counters().retries, 2);
    assert_eq!(l.lambda.counters().failed_events, 1);

    // The destination is listable over HTTP too.
    let resp = reqwest::get(format!(
        "{}/2015-03-31/functions/async-echo/failures",
        l.url
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), 403, "unsigned requests are refused");
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
}
