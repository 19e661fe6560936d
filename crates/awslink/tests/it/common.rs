//! Helpers shared by the test modules: fixtures, VCAP builders, a counting fake STS and the
//! moto server (installed into `.tools/python` by `cargo xtask install`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use awslink::{AssumeRoleApi, AssumeRoleRequest, Error};
use cfenv::Vcap;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Text of a fixture in `tests/data`.
pub(crate) fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// The sample `VCAP_SERVICES` of `tests/data/vcap_services.json`: every binding the bridge
/// reads, in Cloud Foundry's shapes (docs/protocols.md §Bindings we read).
pub(crate) fn spec_vcap() -> Vcap {
    Vcap::from_json(&fixture("vcap_services.json"), "VCAP_SERVICES").unwrap()
}

/// The minimal config service credentials: the two required keys.
pub(crate) fn minimal_config() -> Value {
    json!({"region": "eu-central-1", "roleArn": "arn:aws:iam::123456789012:role/btp-s3-access"})
}

/// A document with a user-provided `aws-config` holding `config`, plus the given
/// `privatelink` instances as `(name, hostname)`.
pub(crate) fn vcap_with(config: Value, privatelinks: &[(&str, &str)]) -> Vcap {
    let mut doc = json!({
        "user-provided": [{
            "label": "user-provided", "name": "aws-config", "tags": [], "credentials": config,
        }],
    });
    if !privatelinks.is_empty() {
        let entries: Vec<Value> = privatelinks
            .iter()
            .map(|(name, host)| {
                json!({"label": "privatelink", "plan": "standard", "name": name, "tags": [],
                       "credentials": {"hostname": host}})
            })
            .collect();
        doc["privatelink"] = Value::Array(entries);
    }
    Vcap::from_json(&doc.to_string(), "VCAP_SERVICES").unwrap()
}

/// How the fake STS answers.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// Issues credentials.
    Up,
    /// Refuses with this STS error code (HTTP 403).
    Refuse(&'static str),
    /// Cannot be reached.
    Down,
}

/// An `AssumeRoleApi` that counts calls, takes `latency` on the tokio clock, issues
/// credentials valid for `lifetime`, and remembers until when (tokio clock) each one it issued
/// is valid, so tests can prove no caller ever got an expired one.
pub(crate) struct FakeSts {
    pub(crate) calls: AtomicU64,
    mode: Mutex<Mode>,
    latency: Duration,
    lifetime: Duration,
    issued: Mutex<Vec<(String, Instant)>>,
}

impl FakeSts {
    pub(crate) fn new(lifetime: Duration, latency: Duration) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicU64::new(0),
            mode: Mutex::new(Mode::Up),
            latency,
            lifetime,
            issued: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Until when (tokio clock) the credentials with this access key id are valid.
    pub(crate) fn valid_until(&self, access_key_id: &str) -> Instant {
        self.issued
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _)| id == access_key_id)
            .map(|(_, until)| *until)
            .unwrap()
    }
}

#[async_trait]
impl AssumeRoleApi for FakeSts {
    async fn assume_role(&self, request: &AssumeRoleRequest) -> Result<Credentials, Error> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.latency).await;
        let mode = self.mode.lock().unwrap().clone();
        match mode {
            Mode::Up => {
                let id = format!("ASIAFAKE{n:012}");
                self.issued
                    .lock()
                    .unwrap()
                    .push((id.clone(), Instant::now() + self.lifetime));
                Ok(Credentials::new(
                    id,
                    format!("fake-secret-{n}"),
                    Some(format!("fake-token-{n}")),
                    Some(SystemTime::now() + self.lifetime),
                    "fake-sts",
                ))
            }
            Mode::Refuse(code) => Err(Error::Sts {
                role_arn: request.role_arn.clone(),
                code: code.to_owned(),
                status: Some(403),
                message: "refused by the fake".into(),
            }),
            Mode::Down => Err(Error::StsUnreachable {
                endpoint: "https://sts.fake".into(),
                reason: "connection refused".into(),
            }),
        }
    }
}

/// Where `cargo xtask install` puts moto's server script.
pub(crate) fn moto_server_path() -> PathBuf {
    let path = testkit::tools_dir()
        .join("python")
        .join("bin")
        .join("moto_server");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask install` (or `cargo xtask ci`), which installs the \
         pinned Python test tools of tools/python/requirements.txt into .tools/python",
        path.display()
    );
    path
}

/// A moto server on a free loopback port, killed on drop.
pub(crate) struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>` (or `https://localhost:<port>` with TLS).
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// Starts moto over plain http.
    pub(crate) async fn start() -> Moto {
        Self::spawn(None).await
    }

    /// Starts moto over https with the given certificate and key (PEM).
    pub(crate) async fn start_tls(cert_pem: &str, key_pem: &str) -> Moto {
        Self::spawn(Some((cert_pem, key_pem))).await
    }

    async fn spawn(tls: Option<(&str, &str)>) -> Moto {
        let server = moto_server_path();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("moto.log")).unwrap();
        let mut cmd = Command::new(&server);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let url = match tls {
            Some((cert, key)) => {
                let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
                std::fs::write(&c, cert).unwrap();
                std::fs::write(&k, key).unwrap();
                cmd.arg("-c").arg(&c).arg("-k").arg(&k);
                format!("https://localhost:{port}")
            }
            None => format!("http://127.0.0.1:{port}"),
        };
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let mut moto = Moto {
            child,
            url,
            _dir: dir,
        };
        moto.wait_until_listening(port).await;
        moto
    }

    async fn wait_until_listening(&mut self, port: u16) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "moto_server exited with {status} before listening:\n{}",
                    self.log()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not listen on port {port} within 60 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What moto printed so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("moto.log")).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now: bind port 0, read the port, close.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
