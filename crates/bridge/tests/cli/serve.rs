//! `bridge serve` as Cloud Foundry runs it: configured by `VCAP_SERVICES` (here the dev stack's
//! generated file), `VCAP_APPLICATION` and `PORT` alone; JSON request logs; the catalog end to
//! end; `/metrics` off without a token on CF; graceful stop on SIGTERM; clear exit 2 when a
//! binding is missing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{bridge_for, dev_stack, run};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Serve {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Serve {
    fn start(cmd: &mut std::process::Command) -> Self {
        let mut child = cmd
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit status within 10 s.
    fn terminate(&mut self) -> std::process::ExitStatus {
        std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                testkit::logs::capture_output("bridge serve (stderr)", &self.log());
                return status;
            }
            assert!(Instant::now() < deadline, "bridge serve ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if self.reader.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("bridge serve did not become healthy");
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_the_catalog_from_the_bindings_alone_with_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dev_stack(dir.path()).await;
    testkit::logs::secret(dev.aws_identity().user().secret_access_key.expose());
    let secret = dev.xsuaa().register_client(
        devstack::xsuaa::ClientSpec::new("serve-reader").with_authorities(&["bridge!t1.Read"]),
    );
    testkit::logs::secret(secret.expose());
    let port = free_port();
    let mut serve = Serve::start(
        bridge_for(dir.path())
            .arg("serve")
            .env("PORT", port.to_string())
            .env(
                "VCAP_APPLICATION",
                r#"{"application_name":"bridge","space_name":"dev"}"#,
            )
            .env("RUST_LOG", "info"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(dev.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    wait_healthy(&http, &base).await;

    let token: serde_json::Value = http
        .post(format!("{}/oauth/token", dev.xsuaa_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "serve-reader"),
            ("client_secret", secret.expose()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = testkit::logs::secret(token["access_token"].as_str().unwrap());
    let r = http
        .get(format!("{base}/catalog/Buckets?$orderby=name"))
        .bearer_auth(&token)
        .header("x-vcap-request-id", "req-from-the-router-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let names: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bridge-archive", "bridge-documents"]);
    let r = http
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // On Cloud Foundry without BRIDGE_METRICS_TOKEN, /metrics is not served (routes are public).
    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    let status = serve.terminate();
    assert!(status.success(), "{status}");
    let log = serve.log();
    // One JSON object per line, one request line per request, with the router's request id.
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["request.id"] == "req-from-the-router-1")
        .unwrap_or_else(|| panic!("no request line: {log}"));
    assert_eq!(request["http.route"], "/catalog/Buckets");
    assert_eq!(request["http.status"], 200);
    assert!(request["duration_ms"].is_u64());
    assert!(log.contains("bridge serve stopped"), "{log}");
    assert!(!log.contains(&token));
    dev.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_aws_binding_is_a_clear_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dev_stack(dir.path()).await;
    // The generated bindings without the user-provided aws-config.
    let mut vcap = dev.vcap_services().clone();
    vcap.as_object_mut().unwrap().remove("user-provided");
    let path = dir.path().join("no-aws.json");
    std::fs::write(&path, vcap.to_string()).unwrap();
    let r = run(
        bridge_for(dir.path())
            .arg("serve")
            .env("VCAP_SERVICES_FILE_PATH", &path)
            .env("PORT", free_port().to_string()),
        "",
        false,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("aws-config"), "{}", r.stderr);
    dev.stop().await;
}

/// Two `bridge serve` processes bound to one PostgreSQL (a `postgresql-db` binding next to the
/// dev stack's) get the same occurrence from several callers at once: it runs once, the other
/// calls answer the recorded result or 409, and `bridge runs` reads the one run from the
/// binding.
#[tokio::test(flavor = "multi_thread")]
async fn two_instances_on_one_postgresql_run_an_occurrence_once() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dev_stack(dir.path()).await;
    let secret = dev.xsuaa().register_client(
        devstack::xsuaa::ClientSpec::new("serve-jobs").with_authorities(&["bridge!t1.JobRunner"]),
    );
    testkit::logs::secret(secret.expose());
    let pg = testkit::postgres::shared();
    let url = pg.create_database();
    let dbname = url.rsplit('/').next().unwrap().to_owned();
    let mut vcap = dev.vcap_services().clone();
    vcap["postgresql-db"] = serde_json::json!([{
        "name": "bridge-db", "label": "postgresql-db", "plan": "standard",
        "tags": ["relational", "database"],
        "credentials": {
            "hostname": "127.0.0.1", "port": pg.port().to_string(), "dbname": dbname,
            "username": "postgres", "password": "unused-with-trust",
            "uri": format!("postgres://postgres:unused-with-trust@127.0.0.1:{}/{dbname}", pg.port()),
        }
    }]);
    let vcap_file = dir.path().join("vcap-with-db.json");
    std::fs::write(&vcap_file, vcap.to_string()).unwrap();
    let ports = [free_port(), free_port()];
    let mut serves: Vec<Serve> = ports
        .iter()
        .map(|port| {
            Serve::start(
                bridge_for(dir.path())
                    .arg("serve")
                    .env("VCAP_SERVICES_FILE_PATH", &vcap_file)
                    .env("PORT", port.to_string())
                    .env("RUST_LOG", "info"),
            )
        })
        .collect();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(dev.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    for port in ports {
        wait_healthy(&http, &format!("http://127.0.0.1:{port}")).await;
    }
    let token: serde_json::Value = http
        .post(format!("{}/oauth/token", dev.xsuaa_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "serve-jobs"),
            ("client_secret", secret.expose()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = testkit::logs::secret(token["access_token"].as_str().unwrap());
    let arn = "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/ping";
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let http = http.clone();
            let token = token.clone();
            let url = format!("http://127.0.0.1:{}/jobs/ping", ports[i % 2]);
            tokio::spawn(async move {
                let r = http
                    .post(url)
                    .bearer_auth(&token)
                    .header("idempotency-key", "\"serve-occ-1\"")
                    .header("x-bridge-schedule", arn)
                    .header("x-bridge-scheduled-time", "2026-03-01T12:00:00Z")
                    .header("x-bridge-attempt", (i + 1).to_string())
                    .send()
                    .await
                    .unwrap();
                (
                    r.status().as_u16(),
                    r.headers().contains_key("idempotent-replayed"),
                )
            })
        })
        .collect();
    let mut answers = Vec::new();
    for c in calls {
        answers.push(c.await.unwrap());
    }
    assert_eq!(
        answers.iter().filter(|(s, r)| *s == 200 && !r).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 409),
        "{answers:?}"
    );

    let r = run(
        bridge_for(dir.path())
            .args(["runs", "--json"])
            .env("VCAP_SERVICES_FILE_PATH", &vcap_file),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["attempts"], 10);
    assert_eq!(rows[0]["callerClientId"], "serve-jobs");
    assert_eq!(rows[0]["outcome"], "succeeded");
    for serve in &mut serves {
        assert!(serve.terminate().success());
        let log = serve.log();
        assert!(log.contains("database ready"), "{log}");
        assert!(!log.contains(&token));
    }
    dev.stop().await;
}
