//! The local Scheduler's API checked with clients nobody here wrote: the aws CLI (v1, PyPI)
//! and boto3 create, get, list, update and delete schedules over HTTPS with SigV4; a schedule
//! created through the CLI fires against a recording invoker within seconds; invalid
//! schedules are `ValidationException`s naming the field, with nothing stored.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devstack::aws_identity::{AwsIdentity, AwsIdentityConfig};
use devstack::scheduler::delivery::{InvokeFailure, Invoker, MemorySink};
use devstack::scheduler::{LocalScheduler, SchedulerConfig};
use devstack::tls::DevCa;
use devstack::{layout, tls};
use tokio::sync::watch;

const MISSING_FUNCTION: &str = "arn:aws:lambda:eu-central-1:000000000000:function:missing";

/// Records invocations; the function `missing` does not exist.
#[derive(Default)]
struct Recording {
    calls: Mutex<Vec<(String, serde_json::Value)>>,
}

#[async_trait::async_trait]
impl Invoker for Recording {
    async fn invoke_event(
        &self,
        arn: &str,
        payload: Vec<u8>,
    ) -> Result<Option<String>, InvokeFailure> {
        let v = serde_json::from_slice(&payload).unwrap_or(serde_json::Value::Null);
        self.calls.lock().unwrap().push((arn.to_owned(), v));
        if arn == MISSING_FUNCTION {
            return Err(InvokeFailure::permanent(
                "ResourceNotFoundException",
                "Function not found",
            ));
        }
        Ok(None)
    }
}

struct Api {
    url: String,
    ca_path: PathBuf,
    identity: AwsIdentity,
    scheduler: LocalScheduler,
    invoker: Arc<Recording>,
    dir: tempfile::TempDir,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Api {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir).await
    }

    async fn start_in(dir: tempfile::TempDir) -> Self {
        testkit::logs::init();
        let ca = DevCa::load_or_create(dir.path()).unwrap();
        let identity =
            AwsIdentity::open(&AwsIdentityConfig::new(layout::aws_dir(dir.path()))).unwrap();
        testkit::logs::secret(identity.user().secret_access_key.expose());
        let invoker = Arc::new(Recording::default());
        let config = SchedulerConfig::new(dir.path(), identity.region(), identity.account_id());
        let scheduler =
            LocalScheduler::open(config, invoker.clone(), Arc::new(MemorySink::new(100))).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let tls_config = ca.server_config(&["127.0.0.1", "localhost"]).unwrap();
        let (stop, rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let router = scheduler.router(identity.clone());
        let serve = tokio::spawn(tls::serve_tls(
            listener,
            router,
            tls_config,
            tls::server_limits(),
            stopped(rx.clone()),
        ));
        let engine = scheduler.clone();
        let run = tokio::spawn(async move { engine.run(stopped(rx)).await });
        Self {
            url,
            ca_path: layout::ca_cert(dir.path()),
            identity,
            scheduler,
            invoker,
            dir,
            stop,
            tasks: vec![serve, run],
        }
    }

    async fn stop(self) -> tempfile::TempDir {
        let _ = self.stop.send(true);
        for t in self.tasks {
            t.await.unwrap();
        }
        self.dir
    }

    fn env(&self, cmd: &mut Command, home: &Path) {
        let config = home.join("config");
        std::fs::write(&config, "[default]\nregion = eu-central-1\n").unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("none"))
            .env("AWS_CA_BUNDLE", &self.ca_path)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", &self.identity.user().access_key_id)
            .env(
                "AWS_SECRET_ACCESS_KEY",
                self.identity.user().secret_access_key.expose(),
            )
            .env("ENDPOINT", &self.url)
            .stdin(Stdio::null());
    }

    /// Runs `aws scheduler ARGS --endpoint-url …`: (success, stdout, stderr).
    fn aws(&self, args: &[&str]) -> (bool, String, String) {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(testkit::python_bin("aws"));
        self.env(&mut cmd, home.path());
        cmd.arg("scheduler")
            .args(args)
            .args(["--endpoint-url", &self.url, "--output", "json"]);
        let out = cmd.output().expect("aws CLI (cargo xtask install)");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        testkit::logs::capture_output("aws scheduler (stderr)", &stderr);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        )
    }

    fn aws_ok(&self, args: &[&str]) -> serde_json::Value {
        let (ok, out, err) = self.aws(args);
        assert!(ok, "aws scheduler {args:?}: {err}");
        if out.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&out).unwrap()
        }
    }

    /// Runs a Python script with boto3; its last stdout line is JSON.
    fn python(&self, script: &str) -> serde_json::Value {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(testkit::python_bin("python"));
        self.env(&mut cmd, home.path());
        cmd.args(["-c", script]);
        let out = cmd.output().expect("python (cargo xtask install)");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        testkit::logs::capture_output("boto3 (stderr)", &stderr);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "boto3 script failed: {stderr}{stdout}"
        );
        serde_json::from_str(stdout.lines().last().unwrap_or("null")).unwrap()
    }

    async fn wait_for_calls(&self, n: usize) -> Vec<(String, serde_json::Value)> {
        for _ in 0..100 {
            let calls = self.invoker.calls.lock().unwrap().clone();
            if calls.len() >= n {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the schedule did not fire within 10 s");
    }
}

const FUNCTION: &str = "arn:aws:lambda:eu-central-1:000000000000:function:btp-aws-bridge-caller";
const ROLE: &str = "arn:aws:iam::000000000000:role/btp-aws-bridge-scheduler";

fn target(input: &str) -> String {
    serde_json::json!({ "Arn": FUNCTION, "RoleArn": ROLE, "Input": input }).to_string()
}

fn in_seconds(s: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::seconds(s))
        .format("at(%Y-%m-%dT%H:%M:%S)")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_cli_creates_a_schedule_that_fires_then_gets_lists_updates_deletes() {
    let api = Api::start().await;
    let input = r#"{"method":"GET","path":"/jobs/ping","scheduleArn":"<aws.scheduler.schedule-arn>","scheduledTime":"<aws.scheduler.scheduled-time>","attempt":"<aws.scheduler.attempt-number>"}"#;
    let expression = in_seconds(2);
    let created = api.aws_ok(&[
        "create-schedule",
        "--name",
        "cli-ping",
        "--schedule-expression",
        &expression,
        "--flexible-time-window",
        "Mode=OFF",
        "--target",
        &target(input),
        "--description",
        "from the aws CLI",
    ]);
    let arn = "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/cli-ping";
    assert_eq!(created["ScheduleArn"], arn);

    let got = api.aws_ok(&["get-schedule", "--name", "cli-ping"]);
    assert_eq!(got["Name"], "cli-ping");
    assert_eq!(got["GroupName"], "default");
    assert_eq!(got["Arn"], arn);
    assert_eq!(got["ScheduleExpression"], expression.as_str());
    assert_eq!(got["State"], "ENABLED");
    assert_eq!(got["Description"], "from the aws CLI");
    assert_eq!(got["Target"]["Input"], input);
    assert_eq!(got["FlexibleTimeWindow"]["Mode"], "OFF");
    assert!(got["CreationDate"].is_string() || got["CreationDate"].is_number());

    // It fires within seconds, with the context attributes filled in.
    let calls = api.wait_for_calls(1).await;
    assert_eq!(calls[0].0, FUNCTION);
    assert_eq!(calls[0].1["scheduleArn"], arn);
    assert_eq!(calls[0].1["attempt"], "1");
    let nominal = expression.trim_start_matches("at(").trim_end_matches(')');
    assert_eq!(calls[0].1["scheduledTime"], format!("{nominal}Z"));

    let listed = api.aws_ok(&["list-schedules"]);
    let schedules = listed["Schedules"].as_array().unwrap();
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0]["Name"], "cli-ping");
    assert_eq!(schedules[0]["Target"]["Arn"], FUNCTION);

    let updated = api.aws_ok(&[
        "update-schedule",
        "--name",
        "cli-ping",
        "--schedule-expression",
        "rate(5 minutes)",
        "--flexible-time-window",
        "Mode=FLEXIBLE,MaximumWindowInMinutes=2",
        "--state",
        "DISABLED",
        "--target",
        &target("{}"),
    ]);
    assert_eq!(updated["ScheduleArn"], arn);
    let got = api.aws_ok(&["get-schedule", "--name", "cli-ping"]);
    assert_eq!(got["State"], "DISABLED");
    assert_eq!(got["ScheduleExpression"], "rate(5 minutes)");
    assert!(
        got.get("Description").is_none(),
        "an update replaces every field"
    );
    let disabled = api.aws_ok(&["list-schedules", "--state", "DISABLED"]);
    assert_eq!(disabled["Schedules"].as_array().unwrap().len(), 1);
    let enabled = api.aws_ok(&["list-schedules", "--state", "ENABLED"]);
    assert_eq!(enabled["Schedules"].as_array().unwrap().len(), 0);

    // Creating it again is a conflict.
    let (ok, _, err) = api.aws(&[
        "create-schedule",
        "--name",
        "cli-ping",
        "--schedule-expression",
        "rate(1 hour)",
        "--flexible-time-window",
        "Mode=OFF",
        "--target",
        &target("{}"),
    ]);
    assert!(!ok && err.contains("ConflictException"), "{err}");

    api.aws_ok(&["delete-schedule", "--name", "cli-ping"]);
    let (ok, _, err) = api.aws(&["get-schedule", "--name", "cli-ping"]);
    assert!(!ok && err.contains("ResourceNotFoundException"), "{err}");
    let (ok, _, err) = api.aws(&["delete-schedule", "--name", "cli-ping"]);
    assert!(!ok && err.contains("ResourceNotFoundException"), "{err}");
    let (ok, _, err) = api.aws(&["get-schedule", "--name", "x", "--group-name", "other"]);
    assert!(!ok && err.contains("ResourceNotFoundException"), "{err}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_schedules_are_validation_exceptions_naming_the_field_and_nothing_is_stored() {
    let api = Api::start().await;
    let cases: &[(&[&str], &str)] = &[
        (
            &["--schedule-expression", "rate(0 minutes)"],
            "ScheduleExpression",
        ),
        (&["--schedule-expression", "cron(0 12 * * * *)"], "Day-of"),
        (
            &[
                "--schedule-expression",
                "rate(1 hour)",
                "--schedule-expression-timezone",
                "Mars/Olympus_Mons",
            ],
            "ScheduleExpressionTimezone",
        ),
        (
            &[
                "--schedule-expression",
                "rate(1 hour)",
                "--start-date",
                "2030-01-02T00:00:00Z",
                "--end-date",
                "2030-01-01T00:00:00Z",
            ],
            "EndDate",
        ),
    ];
    for (args, field) in cases {
        let mut all = vec![
            "create-schedule",
            "--name",
            "bad",
            "--flexible-time-window",
            "Mode=OFF",
        ];
        all.extend_from_slice(args);
        let t = target("{}");
        all.extend_from_slice(&["--target", &t]);
        let (ok, _, err) = api.aws(&all);
        assert!(!ok, "{args:?} accepted");
        assert!(
            err.contains("ValidationException") && err.contains(field),
            "{args:?}: {err}"
        );
    }
    let not_json = target("not json");
    let (ok, _, err) = api.aws(&[
        "create-schedule",
        "--name",
        "bad",
        "--schedule-expression",
        "rate(1 hour)",
        "--flexible-time-window",
        "Mode=OFF",
        "--target",
        &not_json,
    ]);
    assert!(
        !ok && err.contains("ValidationException") && err.contains("Target.Input"),
        "{err}"
    );
    let listed = api.aws_ok(&["list-schedules"]);
    assert_eq!(listed["Schedules"], serde_json::json!([]));
    assert!(api.scheduler.schedule_names().is_empty());
    api.stop().await;
}

const BOTO3: &str = r#"
import json, os
import boto3, botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
s = boto3.client("scheduler", endpoint_url=os.environ["ENDPOINT"])
out = {}
target = {"Arn": "arn:aws:lambda:eu-central-1:000000000000:function:btp-aws-bridge-caller",
          "RoleArn": "arn:aws:iam::000000000000:role/btp-aws-bridge-scheduler", "Input": "{}"}
for i in range(5):
    s.create_schedule(Name=f"b-{i}", ScheduleExpression="rate(1 hour)",
                      FlexibleTimeWindow={"Mode": "OFF"}, Target=target,
                      StartDate="2030-01-01T00:00:00Z")
got = s.get_schedule(Name="b-0", GroupName="default")
out["start"] = got["StartDate"].isoformat()
out["created_type"] = type(got["CreationDate"]).__name__
pages = [[x["Name"] for x in p["Schedules"]]
         for p in s.get_paginator("list_schedules").paginate(PaginationConfig={"PageSize": 2})]
out["pages"] = pages
out["prefix"] = [x["Name"] for x in s.list_schedules(NamePrefix="b-3")["Schedules"]]
s.update_schedule(Name="b-1", ScheduleExpression="cron(0 8 ? * MON-FRI *)",
                  ScheduleExpressionTimezone="Europe/Berlin",
                  FlexibleTimeWindow={"Mode": "OFF"}, Target=target)
out["updated"] = s.get_schedule(Name="b-1")["ScheduleExpressionTimezone"]
s.delete_schedule(Name="b-4")
def code(f):
    try:
        f()
    except botocore.exceptions.ClientError as e:
        return [e.response["Error"]["Code"], e.response["Error"]["Message"],
                e.response["ResponseMetadata"]["HTTPStatusCode"]]
out["missing"] = code(lambda: s.get_schedule(Name="b-4"))
out["invalid"] = code(lambda: s.create_schedule(Name="b-9", ScheduleExpression="rate(1 fortnight)",
                      FlexibleTimeWindow={"Mode": "OFF"}, Target=target))
out["conflict"] = code(lambda: s.create_schedule(Name="b-0", ScheduleExpression="rate(1 hour)",
                      FlexibleTimeWindow={"Mode": "OFF"}, Target=target))
out["group"] = s.get_schedule_group(Name="default")["State"]
# A target that does not exist: dead-lettered at once (not retryable).
s.create_schedule(Name="b-dead", ScheduleExpression="rate(1 minute)",
                  FlexibleTimeWindow={"Mode": "OFF"},
                  Target=dict(target, Arn="arn:aws:lambda:eu-central-1:000000000000:function:missing",
                              DeadLetterConfig={"Arn": "arn:aws:sqs:eu-central-1:000000000000:dlq"}))
import time
creds = boto3.Session().get_credentials()
for _ in range(50):
    req = AWSRequest(method="GET", url=os.environ["ENDPOINT"] + "/local/dead-letters")
    SigV4Auth(creds, "scheduler", "eu-central-1").add_auth(req)
    import urllib.request, ssl
    ctx = ssl.create_default_context(cafile=os.environ["AWS_CA_BUNDLE"])
    r = urllib.request.Request(req.url, headers=dict(req.headers.items()), method="GET")
    letters = json.load(urllib.request.urlopen(r, context=ctx))
    if letters:
        break
    time.sleep(0.1)
out["dead"] = [[l["scheduleName"], l["errorCode"], l["attempts"]] for l in letters]
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn boto3_manages_schedules_pages_and_reads_the_dead_letters() {
    let api = Api::start().await;
    let out = api.python(BOTO3);
    assert_eq!(out["start"], "2030-01-01T00:00:00+00:00");
    assert_eq!(out["created_type"], "datetime");
    assert_eq!(
        out["pages"],
        serde_json::json!([["b-0", "b-1"], ["b-2", "b-3"], ["b-4"]])
    );
    assert_eq!(out["prefix"], serde_json::json!(["b-3"]));
    assert_eq!(out["updated"], "Europe/Berlin");
    assert_eq!(out["missing"][0], "ResourceNotFoundException");
    assert_eq!(out["missing"][2], 404);
    assert_eq!(out["invalid"][0], "ValidationException");
    assert!(
        out["invalid"][1]
            .as_str()
            .unwrap()
            .starts_with("ScheduleExpression: "),
        "{out}"
    );
    assert_eq!(out["invalid"][2], 400);
    assert_eq!(out["conflict"][0], "ConflictException");
    assert_eq!(out["conflict"][2], 409);
    assert_eq!(out["group"], "ACTIVE");
    assert_eq!(
        out["dead"],
        serde_json::json!([["b-dead", "ResourceNotFoundException", 1]])
    );
    assert_eq!(api.scheduler.dead_letters().len(), 1);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_and_badly_signed_requests_are_refused_in_json_role_sessions_accepted() {
    let api = Api::start().await;
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&api.ca_path).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let resp = http
        .get(format!("{}/schedules", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["Message"].as_str().unwrap().contains("Authentication"));

    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(testkit::python_bin("aws"));
    api.env(&mut cmd, home.path());
    cmd.env("AWS_SECRET_ACCESS_KEY", "not-the-secret").args([
        "scheduler",
        "list-schedules",
        "--endpoint-url",
        &api.url,
    ]);
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("InvalidSignatureException"),
        "{err}"
    );

    // A role session of the account may manage schedules too.
    let session = api.identity.issue(devstack::aws_identity::SessionRequest {
        session_name: "scheduler-cli".to_owned(),
        duration: Duration::from_secs(900),
        session_policy: None,
    });
    testkit::logs::secret(session.secret_access_key.expose());
    testkit::logs::secret(session.session_token.expose());
    let with_session = |token: bool| {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(testkit::python_bin("aws"));
        api.env(&mut cmd, home.path());
        cmd.env("AWS_ACCESS_KEY_ID", &session.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", session.secret_access_key.expose())
            .args(["scheduler", "list-schedules", "--endpoint-url", &api.url]);
        if token {
            cmd.env("AWS_SESSION_TOKEN", session.session_token.expose());
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        testkit::logs::capture_output("aws scheduler (stderr)", &err);
        (out.status.success(), err)
    };
    let (ok, err) = with_session(true);
    assert!(ok, "{err}");
    // Without its token, the session's key is refused.
    let (ok, err) = with_session(false);
    assert!(!ok && err.contains("UnrecognizedClientException"), "{err}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_created_through_the_api_survive_a_restart() {
    let api = Api::start().await;
    api.aws_ok(&[
        "create-schedule",
        "--name",
        "kept",
        "--schedule-expression",
        "cron(0 6 * * ? *)",
        "--flexible-time-window",
        "Mode=OFF",
        "--target",
        &target("{}"),
    ]);
    let before = api.aws_ok(&["get-schedule", "--name", "kept"]);
    let dir = api.stop().await;
    let api = Api::start_in(dir).await;
    let after = api.aws_ok(&["get-schedule", "--name", "kept"]);
    assert_eq!(before, after);
    api.stop().await;
}

/// Signs raw requests with botocore and prints `[status, error type, message]` for each.
const RAW: &str = r#"
import json, os, ssl, urllib.request, urllib.error
import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
creds = boto3.Session().get_credentials()
ctx = ssl.create_default_context(cafile=os.environ["AWS_CA_BUNDLE"])
def call(method, path, body=b""):
    req = AWSRequest(method=method, url=os.environ["ENDPOINT"] + path, data=body,
                     headers={"Content-Type": "application/json"})
    SigV4Auth(creds, "scheduler", "eu-central-1").add_auth(req)
    r = urllib.request.Request(req.url, data=body or None, headers=dict(req.headers.items()), method=method)
    # A body over the limit is refused before it is read: the server may close the connection
    # while the client still writes, so the client can miss the answer; try a few times.
    for attempt in range(5):
        try:
            resp = urllib.request.urlopen(r, context=ctx)
            return [resp.status, None, json.load(resp)]
        except urllib.error.HTTPError as e:
            return [e.code, e.headers.get("x-amzn-errortype"), json.load(e)["Message"]]
        except (ConnectionError, urllib.error.URLError) as e:
            last = str(e)
    return [0, "connection closed", last]
target = {"Arn": "arn:aws:lambda:eu-central-1:000000000000:function:f",
          "RoleArn": "arn:aws:iam::000000000000:role/r"}
ok = {"ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": target}
out = [
    call("POST", "/schedules/raw", b"not json"),
    call("POST", "/schedules/raw", json.dumps(dict(ok, Target=dict(target, EcsParameters={}))).encode()),
    call("POST", "/schedules/raw", json.dumps({"ScheduleExpression": "rate(1 hour)"}).encode()),
    call("POST", "/schedules/raw", b"{" + b" " * 300000 + b"}"),
    call("POST", "/schedules/bad%20name", json.dumps(ok).encode()),
    call("POST", "/schedules/raw", json.dumps(dict(ok, GroupName="other")).encode()),
    call("GET", "/schedules?MaxResults=0"),
    call("GET", "/schedules?State=PAUSED"),
    call("PATCH", "/schedules/raw"),
    call("GET", "/schedules/raw"),
]
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_are_refused_in_the_aws_json_shape() {
    let api = Api::start().await;
    let out = api.python(RAW);
    let expect = [
        (
            400,
            "ValidationException",
            "request body: is not a JSON object",
        ),
        (
            400,
            "ValidationException",
            "request body: unknown field `EcsParameters`",
        ),
        (400, "ValidationException", "request body: missing field"),
        (400, "ValidationException", "larger than 256 KiB"),
        (400, "ValidationException", "Name: 'bad name'"),
        (
            404,
            "ResourceNotFoundException",
            "Schedule group other does not exist.",
        ),
        (
            400,
            "ValidationException",
            "MaxResults: '0' is not 1 to 100",
        ),
        (
            400,
            "ValidationException",
            "State: 'PAUSED' is not ENABLED or DISABLED",
        ),
        (
            404,
            "UnknownOperationException",
            "No operation PATCH /schedules/raw",
        ),
        (
            404,
            "ResourceNotFoundException",
            "Schedule raw does not exist.",
        ),
    ];
    for (i, (status, code, message)) in expect.iter().enumerate() {
        let got = &out[i];
        assert_eq!(got[0], *status, "{i}: {got}");
        assert_eq!(got[1], *code, "{i}: {got}");
        assert!(got[2].as_str().unwrap().contains(message), "{i}: {got}");
    }
    assert!(api.scheduler.schedule_names().is_empty());
    api.stop().await;
}
