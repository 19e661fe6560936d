//! Helpers: a dev stack (its local XSUAA issues the tokens), a scripted target app on an
//! ephemeral port, settings for a caller pointing at both, and the log-scan registration of
//! every secret and token involved.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use caller::settings::Settings;
use caller::{Caller, InvocationContext, Report};
use cfenv::{Env, XsuaaBinding};
use devstack::{DevConfig, DevStack};
use serde_json::Value;

pub(crate) const ARN: &str =
    "arn:aws:scheduler:eu-central-1:123456789012:schedule/default/bridge-ping";

/// A dev stack in a temporary directory.
pub(crate) struct Stack {
    pub(crate) dev: DevStack,
    _dir: tempfile::TempDir,
}

impl Stack {
    pub(crate) async fn start() -> Self {
        testkit::logs::init();
        let dir = tempfile::tempdir().unwrap();
        let dev = DevStack::start(DevConfig::new(dir.path()).ephemeral())
            .await
            .unwrap();
        // The secret fields of the service key (ids, URLs and names are not secrets).
        let key = &dev.vcap_services()["xsuaa"][0]["credentials"];
        for field in ["clientsecret", "key", "certificate"] {
            if let Some(s) = key[field].as_str() {
                testkit::logs::secret(s);
            }
        }
        Self { dev, _dir: dir }
    }

    /// The local XSUAA's service key: the `credentials` of the generated `xsuaa` binding.
    pub(crate) fn service_key(&self) -> Value {
        self.dev.vcap_services()["xsuaa"][0]["credentials"].clone()
    }

    pub(crate) fn client_secret(&self) -> String {
        self.service_key()["clientsecret"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The XSUAA binding as the caller builds it from the service key.
    pub(crate) fn binding(&self, settings: &Settings) -> XsuaaBinding {
        caller::secret::binding(
            &cfenv::Secret::new(self.service_key().to_string()),
            settings,
        )
        .unwrap()
    }

    /// Settings for a caller of `app_url`, trusting the dev CA.
    pub(crate) fn settings(&self, app_url: &str) -> Settings {
        Settings::from_env(&Env::from_pairs(self.env(app_url))).unwrap()
    }

    /// The caller's environment (without Lambda's own variables).
    pub(crate) fn env(&self, app_url: &str) -> Vec<(String, String)> {
        let aws_secret = testkit::logs::secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        [
            ("BRIDGE_APP_URL", app_url),
            ("BRIDGE_SECRET_ID", "btp-aws-bridge/caller/xsuaa"),
            (
                "BRIDGE_EXTRA_CA_CERTS",
                self.dev.ca_path().to_str().unwrap(),
            ),
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", aws_secret.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    pub(crate) fn caller(&self, app_url: &str) -> Caller {
        let settings = self.settings(app_url);
        Caller::new(&settings, self.binding(&settings)).unwrap()
    }
}

/// One scripted answer of the target app.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) delay: Duration,
}

impl Reply {
    pub(crate) fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request the target app received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) at: std::time::Instant,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    last: Option<Reply>,
    seen: Vec<Seen>,
}

/// The target app: answers its script in order (the last reply repeats), records requests.
pub(crate) struct TargetApp {
    pub(crate) url: String,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl TargetApp {
    pub(crate) async fn start(replies: Vec<Reply>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            replies: replies.into(),
            ..Script::default()
        }));
        let state = script.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { answer(state, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, script, task }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }
}

impl Drop for TargetApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    state: Arc<Mutex<Script>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut s = state.lock().unwrap();
        s.seen.push(Seen {
            method,
            uri,
            headers,
            body,
            at: std::time::Instant::now(),
        });
        let next = s.replies.pop_front().or_else(|| s.last.clone());
        s.last = next.clone();
        next.unwrap_or_else(|| Reply::status(200))
    };
    tokio::time::sleep(reply.delay).await;
    let mut resp = StatusCode::from_u16(reply.status).unwrap().into_response();
    for (name, value) in reply.headers {
        resp.headers_mut().insert(name, value.parse().unwrap());
    }
    resp
}

/// An invocation context with `deadline_in` left.
pub(crate) fn ctx(request_id: &str, deadline_in: Duration) -> InvocationContext {
    InvocationContext {
        request_id: request_id.to_owned(),
        deadline: SystemTime::now() + deadline_in,
    }
}

/// The ping schedule's Input, substituted for the occurrence at `time`.
pub(crate) fn ping_input(time: &str, attempt: u32) -> Value {
    serde_json::json!({"method":"GET","path":"/jobs/ping","scheduleArn":ARN,
        "scheduledTime":time,"attempt":attempt.to_string()})
}

/// Checks that nothing the invocation produced holds a secret or a token seen by the app, and
/// adds its log line to the scanned test output.
pub(crate) fn assert_no_secrets(report: &Report, secrets: &[String], app: &TargetApp) {
    let line = report.log.to_json();
    testkit::logs::capture_output("caller log line", &line);
    let mut texts = vec![line];
    match &report.result {
        Ok(ok) => texts.push(serde_json::to_string(ok).unwrap()),
        Err(e) => texts.push(e.to_string()),
    }
    let mut all: Vec<String> = secrets.to_vec();
    for seen in app.seen() {
        if let Some(auth) = seen.header("authorization") {
            let token = auth.trim_start_matches("Bearer ").to_owned();
            testkit::logs::secret(token.clone());
            all.push(token);
        }
    }
    for text in &texts {
        assert!(!text.contains("Bearer"), "{text}");
        for secret in &all {
            assert!(
                !text.contains(secret.as_str()),
                "a secret or token leaked into {text}"
            );
        }
    }
}

/// A moto server (`moto_server` from `.tools/python`) on a free loopback port, killed on drop:
/// a second implementation of the Secrets Manager API.
pub(crate) struct Moto {
    child: std::process::Child,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Moto {
    pub(crate) async fn start() -> Moto {
        let server = testkit::tools_dir()
            .join("python")
            .join("bin")
            .join("moto_server");
        assert!(
            server.is_file(),
            "{} is missing: run `cargo xtask install` (or `cargo xtask ci`), which installs the \
             pinned Python test tools of tools/python/requirements.txt into .tools/python",
            server.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.path().join("moto.log")).unwrap();
        let mut child = std::process::Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto_server exited with {status} before listening");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not listen"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// `CreateSecret` over moto's JSON protocol (moto does not check signatures).
    pub(crate) async fn create_secret(&self, name: &str, value: &str) {
        let resp = reqwest::Client::new()
            .post(format!("{}/", self.url))
            .header("X-Amz-Target", "secretsmanager.CreateSecret")
            // moto takes the region from the credential scope; the caller asks eu-central-1.
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261202/eu-central-1/\
                 secretsmanager/aws4_request, SignedHeaders=host, Signature=00",
            )
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(serde_json::json!({"Name": name, "SecretString": value}).to_string())
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "CreateSecret: {}",
            resp.status()
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
