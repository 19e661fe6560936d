//! The local Secrets Manager on an ephemeral port: the aws CLI and boto3 (clients nobody here
//! wrote) create, read and update secrets with the operator's key; a session of the caller
//! function's role reads its one secret and is denied another; raw requests signed by the
//! reference signer (`aws-sigv4`) get AWS-style JSON errors for bad input; secrets survive a
//! restart sealed; a secret value never reaches the logs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use devstack::aws_identity::{AwsIdentity, AwsIdentityConfig, CALLER_SECRET_NAME};
use devstack::secrets::LocalSecrets;
use devstack::tls::DevCa;
use serde_json::{Value, json};

/// A local Secrets Manager served over TLS on an ephemeral loopback port, with its own dev
/// account and CA in a temporary directory.
struct Server {
    dir: tempfile::TempDir,
    secrets: LocalSecrets,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start() -> Self {
        Self::start_in(tempfile::tempdir().unwrap()).await
    }

    async fn start_in(dir: tempfile::TempDir) -> Self {
        testkit::logs::init();
        let identity = AwsIdentity::open(&AwsIdentityConfig::new(devstack::layout::aws_dir(
            dir.path(),
        )))
        .unwrap();
        for user in [identity.user(), identity.operator()] {
            testkit::logs::secret(user.secret_access_key.expose());
        }
        testkit::logs::secret(identity.external_id().expose());
        let ca = DevCa::load_or_create(dir.path()).unwrap();
        let tls = ca.server_config(&["127.0.0.1", "localhost"]).unwrap();
        let secrets =
            LocalSecrets::open(&devstack::layout::secrets_dir(dir.path()), identity).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(devstack::tls::serve_tls(
            listener,
            secrets.router(),
            tls,
            devstack::tls::server_limits(),
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            dir,
            secrets,
            url,
            stop: Some(stop),
            task,
        }
    }

    /// Stops the server and starts another on the same data directory.
    async fn restart(mut self) -> Self {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::start_in(dir).await
    }

    fn identity(&self) -> &AwsIdentity {
        self.secrets.identity()
    }

    fn ca_path(&self) -> PathBuf {
        devstack::layout::ca_cert(self.dir.path())
    }

    fn http(&self) -> reqwest::Client {
        let pem = std::fs::read(self.ca_path()).unwrap();
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap()
    }

    fn operator(&self) -> Keys {
        let op = self.identity().operator();
        Keys {
            key: op.access_key_id.clone(),
            secret: op.secret_access_key.expose().to_owned(),
            token: None,
        }
    }

    fn user(&self) -> Keys {
        let user = self.identity().user();
        Keys {
            key: user.access_key_id.clone(),
            secret: user.secret_access_key.expose().to_owned(),
            token: None,
        }
    }

    /// A session of the caller function's execution role, as the local Lambda gets one.
    fn caller_session(&self) -> Keys {
        let role = self.identity().caller_role().name.clone();
        let c = self
            .identity()
            .issue_role_session(&role, "btp-aws-bridge-caller", Duration::from_secs(900))
            .unwrap();
        Keys {
            key: c.access_key_id,
            secret: testkit::logs::secret(c.secret_access_key.expose()),
            token: Some(testkit::logs::secret(c.session_token.expose())),
        }
    }

    /// A raw request for `target` with `body`, signed by the reference signer with `keys`.
    async fn call(&self, keys: &Keys, target: Option<&str>, body: &str) -> Reply {
        self.send(keys, target, body, "application/x-amz-json-1.1")
            .await
    }

    async fn send(&self, keys: &Keys, target: Option<&str>, body: &str, ctype: &str) -> Reply {
        let mut headers: Vec<(String, String)> = vec![("content-type".into(), ctype.into())];
        if let Some(t) = target {
            headers.push(("x-amz-target".into(), format!("secretsmanager.{t}")));
        }
        let identity =
            Credentials::new(&keys.key, &keys.secret, keys.token.clone(), None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.identity().region())
            .name("secretsmanager")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let url = format!("{}/", self.url);
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let (signed_headers, _) = instructions.into_parts();
        let mut req = self.http().post(&url).body(body.to_owned());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        for h in signed_headers {
            req = req.header(h.name(), h.value());
        }
        Reply::of(req.send().await.unwrap()).await
    }
}

struct Keys {
    key: String,
    secret: String,
    token: Option<String>,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

impl Reply {
    async fn of(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        Self {
            status,
            headers,
            json,
        }
    }

    /// Asserts an AWS JSON error and returns its message.
    #[track_caller]
    fn error(&self, status: u16, kind: &str) -> String {
        assert_eq!(
            (self.status, self.json["__type"].as_str()),
            (status, Some(kind)),
            "{}",
            self.json
        );
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/x-amz-json-1.1")
        );
        assert!(self.headers.contains_key("x-amzn-requestid"));
        self.json["message"].as_str().unwrap_or_default().to_owned()
    }
}

fn run(cmd: &mut Command, label: &str) -> (bool, String, String) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("tool must be installed (cargo xtask install)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    testkit::logs::capture_output(&format!("{label} (stderr)"), &stderr);
    (out.status.success(), stdout, stderr)
}

/// An `aws` command with the dev CA trusted, the given keys and no ambient configuration.
fn aws(s: &Server, home: &Path, keys: &Keys) -> Command {
    let config = home.join("config");
    std::fs::write(&config, "[default]\nregion = eu-central-1\n").unwrap();
    let mut cmd = Command::new(testkit::python_bin("aws"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("none"))
        .env("AWS_CA_BUNDLE", s.ca_path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", &keys.key)
        .env("AWS_SECRET_ACCESS_KEY", &keys.secret);
    if let Some(t) = &keys.token {
        cmd.env("AWS_SESSION_TOKEN", t);
    }
    cmd
}

fn value() -> String {
    testkit::logs::secret(format!(
        r#"{{"clientid":"sb-bridge-caller!t1","clientsecret":"{}","url":"https://uaa.example"}}"#,
        uuid::Uuid::new_v4()
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_cli_creates_reads_and_updates_a_secret() {
    let s = Server::start().await;
    let home = tempfile::tempdir().unwrap();
    let op = s.operator();
    let first = value();
    let second = value();
    let file = home.path().join("service-key.json");
    std::fs::write(&file, &first).unwrap();
    let file_arg = format!("file://{}", file.display());

    let (ok, out, err) = run(
        aws(&s, home.path(), &op).args([
            "secretsmanager",
            "create-secret",
            "--endpoint-url",
            &s.url,
            "--name",
            "cli/service-key",
            "--description",
            "made by the aws CLI",
            "--secret-string",
            &file_arg,
            "--output",
            "json",
        ]),
        "aws secretsmanager create-secret",
    );
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let arn = created["ARN"].as_str().unwrap().to_owned();
    assert!(
        arn.starts_with("arn:aws:secretsmanager:eu-central-1:000000000000:secret:cli/service-key-"),
        "{arn}"
    );
    assert_eq!(arn.len() - arn.rfind('-').unwrap() - 1, 6);
    assert_eq!(created["Name"], "cli/service-key");
    let first_version = created["VersionId"].as_str().unwrap().to_owned();

    // The same name again: ResourceExistsException, and the CLI fails.
    let (ok, _, err) = run(
        aws(&s, home.path(), &op).args([
            "secretsmanager",
            "create-secret",
            "--endpoint-url",
            &s.url,
            "--name",
            "cli/service-key",
            "--secret-string",
            "x",
        ]),
        "aws secretsmanager create-secret again",
    );
    assert!(!ok && err.contains("ResourceExistsException"), "{err}");

    let get = |by: &str, extra: &[&str]| {
        let mut cmd = aws(&s, home.path(), &op);
        cmd.args([
            "secretsmanager",
            "get-secret-value",
            "--endpoint-url",
            &s.url,
            "--secret-id",
            by,
            "--output",
            "json",
        ])
        .args(extra);
        let (ok, out, err) = run(&mut cmd, "aws secretsmanager get-secret-value");
        assert!(ok, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let got = get("cli/service-key", &[]);
    assert_eq!(got["SecretString"].as_str(), Some(first.as_str()));
    assert_eq!(got["VersionId"].as_str(), Some(first_version.as_str()));
    assert_eq!(got["VersionStages"], json!(["AWSCURRENT"]));
    assert_eq!(got["ARN"].as_str(), Some(arn.as_str()));
    // CreatedDate is epoch seconds (aws CLI v1 prints it as received).
    let created_at = got["CreatedDate"].as_f64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - created_at).abs() < 120.0, "CreatedDate {created_at}");

    let (ok, out, err) = run(
        aws(&s, home.path(), &op).args([
            "secretsmanager",
            "put-secret-value",
            "--endpoint-url",
            &s.url,
            "--secret-id",
            &arn,
            "--secret-string",
            &second,
            "--output",
            "json",
        ]),
        "aws secretsmanager put-secret-value",
    );
    assert!(ok, "{err}");
    let put: Value = serde_json::from_str(&out).unwrap();
    assert_ne!(put["VersionId"].as_str(), Some(first_version.as_str()));
    assert_eq!(put["VersionStages"], json!(["AWSCURRENT"]));

    // By full ARN and by partial ARN (no suffix); the old value is AWSPREVIOUS.
    assert_eq!(
        get(&arn, &[])["SecretString"].as_str(),
        Some(second.as_str())
    );
    let partial = &arn[..arn.rfind('-').unwrap()];
    assert_eq!(
        get(partial, &["--version-stage", "AWSPREVIOUS"])["SecretString"].as_str(),
        Some(first.as_str())
    );
    assert_eq!(
        get("cli/service-key", &["--version-id", &first_version])["VersionStages"],
        json!(["AWSPREVIOUS"])
    );

    let (ok, out, err) = run(
        aws(&s, home.path(), &op).args([
            "secretsmanager",
            "describe-secret",
            "--endpoint-url",
            &s.url,
            "--secret-id",
            "cli/service-key",
            "--output",
            "json",
        ]),
        "aws secretsmanager describe-secret",
    );
    assert!(ok, "{err}");
    let described: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(described["Description"], "made by the aws CLI");
    assert_eq!(
        described["VersionIdsToStages"][&first_version],
        json!(["AWSPREVIOUS"])
    );
    assert!(!out.contains(&first) && !out.contains(&second));

    let (ok, _, err) = run(
        aws(&s, home.path(), &op).args([
            "secretsmanager",
            "get-secret-value",
            "--endpoint-url",
            &s.url,
            "--secret-id",
            "no/such/secret",
        ]),
        "aws secretsmanager get-secret-value missing",
    );
    assert!(
        !ok && err.contains("ResourceNotFoundException")
            && err.contains("Secrets Manager can't find the specified secret."),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_caller_role_reads_its_secret_with_boto3_and_nothing_else() {
    let s = Server::start().await;
    let own = value();
    let other = value();
    let arn = s
        .secrets
        .put_secret_string(CALLER_SECRET_NAME, &own)
        .unwrap();
    s.secrets.put_secret_string("someone/else", &other).unwrap();
    let keys = s.caller_session();

    let script = r#"
import hashlib, json, os, sys
import boto3, botocore.exceptions
c = boto3.client("secretsmanager", endpoint_url=os.environ["ENDPOINT"],
                 region_name="eu-central-1", verify=os.environ["CA"])
out = {}
def attempt(name, f):
    try:
        r = f()
        out[name] = {"ok": True, "sha256": hashlib.sha256(r.get("SecretString", "").encode()).hexdigest(), "arn": r.get("ARN")}
    except botocore.exceptions.ClientError as e:
        out[name] = {"ok": False, "code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                     "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
attempt("own", lambda: c.get_secret_value(SecretId=os.environ["OWN"]))
attempt("own_by_arn", lambda: c.get_secret_value(SecretId=os.environ["OWN_ARN"]))
attempt("other", lambda: c.get_secret_value(SecretId="someone/else"))
attempt("missing", lambda: c.get_secret_value(SecretId="no/such/secret"))
attempt("put", lambda: c.put_secret_value(SecretId=os.environ["OWN"], SecretString="x"))
attempt("describe", lambda: c.describe_secret(SecretId=os.environ["OWN"]))
attempt("create", lambda: c.create_secret(Name="mine-now", SecretString="x"))
print(json.dumps(out))
"#;
    let mut cmd = Command::new(testkit::python_bin("python"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.dir.path())
        .env("AWS_CONFIG_FILE", s.dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", s.dir.path().join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", &keys.key)
        .env("AWS_SECRET_ACCESS_KEY", &keys.secret)
        .env("AWS_SESSION_TOKEN", keys.token.as_deref().unwrap())
        .env("ENDPOINT", &s.url)
        .env("CA", s.ca_path())
        .env("OWN", CALLER_SECRET_NAME)
        .env("OWN_ARN", &arn)
        .args(["-c", script]);
    let (ok, out, err) = run(&mut cmd, "boto3 secretsmanager");
    testkit::logs::capture_output("boto3 secretsmanager (stdout)", &out);
    assert!(ok, "{err}");
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    let sha = |v: &str| {
        use std::fmt::Write as _;
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, v.as_bytes());
        d.as_ref().iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    assert_eq!(r["own"]["ok"], true, "{r}");
    assert_eq!(r["own"]["sha256"].as_str(), Some(sha(&own).as_str()));
    assert_eq!(r["own"]["arn"].as_str(), Some(arn.as_str()));
    assert_eq!(r["own_by_arn"]["sha256"].as_str(), Some(sha(&own).as_str()));
    let session = s
        .identity()
        .caller_role()
        .session_arn("btp-aws-bridge-caller");
    for (case, action) in [
        ("other", "GetSecretValue"),
        ("missing", "GetSecretValue"),
        ("put", "PutSecretValue"),
        ("describe", "DescribeSecret"),
        ("create", "CreateSecret"),
    ] {
        assert_eq!(r[case]["code"], "AccessDeniedException", "{case}: {r}");
        assert_eq!(r[case]["status"], 400, "{case}");
        let message = r[case]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "User: {session} is not authorized to perform: secretsmanager:{action} on resource: "
            )),
            "{case}: {message}"
        );
    }
    // The caller's denied write changed nothing.
    let again = s
        .call(
            &s.operator(),
            Some("GetSecretValue"),
            &json!({"SecretId": CALLER_SECRET_NAME}).to_string(),
        )
        .await;
    assert_eq!(again.json["SecretString"].as_str(), Some(own.as_str()));

    // The deployed IAM user may not read secrets either (its policy is sts:AssumeRole only).
    let user = s
        .call(
            &s.user(),
            Some("GetSecretValue"),
            &json!({"SecretId": CALLER_SECRET_NAME}).to_string(),
        )
        .await;
    user.error(400, "AccessDeniedException");

    // Nothing the server logged holds a value.
    let logs = std::fs::read_dir(testkit::logs::dir()).unwrap();
    for entry in logs.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                !text.contains(&own) && !text.contains(&other),
                "{}",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_aws_json_errors() {
    let s = Server::start().await;
    let op = s.operator();
    let value = value();
    s.secrets.put_secret_string("known", &value).unwrap();

    let m = s
        .call(&op, Some("GetSecretValue"), "{not json")
        .await
        .error(400, "SerializationException");
    assert!(m.contains("line 1"), "{m}");
    s.call(&op, Some("GetSecretValue"), "[1]")
        .await
        .error(400, "SerializationException");
    let m = s
        .call(&op, Some("GetSecretValue"), "{}")
        .await
        .error(400, "ValidationException");
    assert!(
        m.contains("secretId") && m.contains("must not be null"),
        "{m}"
    );
    s.call(&op, Some("GetSecretValue"), r#"{"SecretId": ""}"#)
        .await
        .error(400, "ValidationException");
    s.call(&op, Some("GetSecretValue"), r#"{"SecretId": 7}"#)
        .await
        .error(400, "SerializationException");
    let m = s
        .call(&op, Some("GetSecretValue"), r#"{"SecretId": "nope"}"#)
        .await
        .error(400, "ResourceNotFoundException");
    assert_eq!(m, "Secrets Manager can't find the specified secret.");
    let m = s
        .call(
            &op,
            Some("GetSecretValue"),
            r#"{"SecretId": "known", "VersionStage": "AWSPREVIOUS"}"#,
        )
        .await
        .error(400, "ResourceNotFoundException");
    assert!(m.contains("staging label: AWSPREVIOUS"), "{m}");
    s.call(
        &op,
        Some("GetSecretValue"),
        r#"{"SecretId": "known", "VersionId": "v-none"}"#,
    )
    .await
    .error(400, "ResourceNotFoundException");
    s.call(&op, Some("DeleteSecret"), r#"{"SecretId": "known"}"#)
        .await
        .error(400, "UnknownOperationException");
    s.call(&op, None, r#"{"SecretId": "known"}"#)
        .await
        .error(400, "UnknownOperationException");
    s.send(
        &op,
        Some("GetSecretValue"),
        r#"{"SecretId": "known"}"#,
        "text/plain",
    )
    .await
    .error(400, "SerializationException");
    let m = s
        .call(
            &op,
            Some("CreateSecret"),
            r#"{"Name": "known", "SecretString": "x"}"#,
        )
        .await
        .error(400, "ResourceExistsException");
    assert_eq!(
        m,
        "The operation failed because the secret known already exists."
    );
    s.call(
        &op,
        Some("CreateSecret"),
        r#"{"Name": "bad name!", "SecretString": "x"}"#,
    )
    .await
    .error(400, "ValidationException");
    s.call(
        &op,
        Some("CreateSecret"),
        r#"{"Name": "both", "SecretString": "x", "SecretBinary": "eA=="}"#,
    )
    .await
    .error(400, "InvalidParameterException");
    s.call(&op, Some("PutSecretValue"), r#"{"SecretId": "known"}"#)
        .await
        .error(400, "InvalidRequestException");
    s.call(
        &op,
        Some("PutSecretValue"),
        r#"{"SecretId": "known", "SecretString": "x", "ClientRequestToken": "short"}"#,
    )
    .await
    .error(400, "ValidationException");

    // An idempotent retry of PutSecretValue returns the same version; another value under the
    // same token is refused.
    let token = uuid::Uuid::new_v4().to_string();
    let body =
        json!({"SecretId": "known", "SecretString": "y-value-1", "ClientRequestToken": token})
            .to_string();
    let first = s.call(&op, Some("PutSecretValue"), &body).await;
    assert_eq!(first.status, 200, "{}", first.json);
    let again = s.call(&op, Some("PutSecretValue"), &body).await;
    assert_eq!(again.json["VersionId"], first.json["VersionId"]);
    let changed =
        json!({"SecretId": "known", "SecretString": "y-value-2", "ClientRequestToken": token})
            .to_string();
    s.call(&op, Some("PutSecretValue"), &changed)
        .await
        .error(400, "ResourceExistsException");

    // A binary secret comes back as base64.
    let bin = s
        .call(
            &op,
            Some("CreateSecret"),
            r#"{"Name": "bin", "SecretBinary": "AAEC"}"#,
        )
        .await;
    assert_eq!(bin.status, 200, "{}", bin.json);
    let got = s
        .call(&op, Some("GetSecretValue"), r#"{"SecretId": "bin"}"#)
        .await;
    assert_eq!(got.json["SecretBinary"], "AAEC");
    assert!(got.json.get("SecretString").is_none());
    assert!(got.json["CreatedDate"].as_f64().unwrap() > 1.7e9);

    // A secret without a value has no AWSCURRENT version.
    let empty = s
        .call(&op, Some("CreateSecret"), r#"{"Name": "empty"}"#)
        .await;
    assert!(empty.json.get("VersionId").is_none(), "{}", empty.json);
    s.call(&op, Some("GetSecretValue"), r#"{"SecretId": "empty"}"#)
        .await
        .error(400, "ResourceNotFoundException");

    // Authentication: unsigned, unknown key, wrong secret, a session key without its token.
    let unsigned = s
        .http()
        .post(format!("{}/", s.url))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "secretsmanager.GetSecretValue")
        .body(r#"{"SecretId": "known"}"#)
        .send()
        .await
        .unwrap();
    Reply::of(unsigned)
        .await
        .error(403, "MissingAuthenticationTokenException");
    let body = r#"{"SecretId": "known"}"#;
    let stranger = Keys {
        key: "AKIAIOSFODNN7EXAMPLE".into(),
        secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        token: None,
    };
    s.call(&stranger, Some("GetSecretValue"), body)
        .await
        .error(400, "UnrecognizedClientException");
    let wrong = Keys {
        secret: "x".repeat(40),
        ..s.operator()
    };
    s.call(&wrong, Some("GetSecretValue"), body)
        .await
        .error(400, "InvalidSignatureException");
    let session = s.caller_session();
    let tokenless = Keys {
        token: None,
        ..session
    };
    s.call(&tokenless, Some("GetSecretValue"), body)
        .await
        .error(400, "UnrecognizedClientException");

    // A body over the limit.
    let big = json!({"SecretId": "known", "SecretString": "x".repeat(200 * 1024)}).to_string();
    let resp = s.call(&op, Some("PutSecretValue"), &big).await;
    resp.error(413, "RequestEntityTooLargeException");
    // A value over 65 536 bytes that fits the body.
    let long = json!({"SecretId": "known", "SecretString": "x".repeat(70_000)}).to_string();
    s.call(&op, Some("PutSecretValue"), &long)
        .await
        .error(400, "ValidationException");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_survive_a_restart_sealed() {
    let s = Server::start().await;
    let v = value();
    let arn = s.secrets.put_secret_string(CALLER_SECRET_NAME, &v).unwrap();
    // Seeding the same value again adds no version.
    assert_eq!(
        s.secrets.put_secret_string(CALLER_SECRET_NAME, &v).unwrap(),
        arn
    );
    let file = devstack::layout::secrets_dir(s.dir.path()).join("secrets.bin");
    let sealed = std::fs::read(&file).unwrap();
    let needle = v.as_bytes();
    assert!(!sealed.windows(needle.len()).any(|w| w == needle));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let s = s.restart().await;
    assert_eq!(
        s.secrets.secret_arn(CALLER_SECRET_NAME).as_deref(),
        Some(arn.as_str())
    );
    let keys = s.caller_session();
    let got = s
        .call(
            &keys,
            Some("DescribeSecret"),
            &json!({"SecretId": CALLER_SECRET_NAME}).to_string(),
        )
        .await;
    got.error(400, "AccessDeniedException");
    let got = s
        .call(
            &keys,
            Some("GetSecretValue"),
            &json!({"SecretId": CALLER_SECRET_NAME}).to_string(),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.json);
    assert_eq!(got.json["SecretString"].as_str(), Some(v.as_str()));
    let described = s
        .call(
            &s.operator(),
            Some("DescribeSecret"),
            &json!({"SecretId": CALLER_SECRET_NAME}).to_string(),
        )
        .await;
    assert_eq!(
        described.json["VersionIdsToStages"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
}
