//! The document scenario end to end under `bridge dev` (the binary, every service on an
//! ephemeral port, its data in a temporary directory): the dev user `alice` (Bridge Editor)
//! signs in with the local XSUAA's password grant, and every byte goes the production way —
//! the app streams it over the Private Link name to the local S3 with the role credentials
//! that the local STS issued for the IAM user's key from the local Credential Store, and keeps
//! the metadata in its SQLite database.
//!
//! - A 1 GiB PDF streamed from a generator (never held in memory) with its `Content-Digest`,
//!   and streamed back: the same SHA-256 and size (`BRIDGE_TEST_BIG_MIB` scales it; the times
//!   are printed, not asserted).
//! - 100 concurrent uploads and downloads of 1 KiB to 20 MiB (part-size boundaries included),
//!   text and PDF, raw bodies with and without a length: not one byte differs, and the aws CLI
//!   lists every object under the key template's prefix with its size.
//! - Presigned transfer straight against the local S3: `uploadUrl`, a PUT to the URL,
//!   `finalize` → `available`; a finalize declaring another SHA-256 → 400, the row `failed`
//!   with its reason and the object gone; `downloadUrl` → the bytes with the document's
//!   `Content-Disposition`. Ranges of a multipart object (206, suffix, across a part boundary,
//!   416 beyond the end), and the aws CLI sees the objects at
//!   `documents/{documentNumber}/{ID}/{fileName}`.
//! - The demo documents are there after the first start, content and all.
//! - `kill -9` of `bridge dev` during 50 concurrent uploads, a restart on the same data
//!   directory and ports, then `POST /jobs/reconcile` (grace 0) as the JobRunner: the killed
//!   uploads are `pending` again, every `available` row has its object and its content hashes
//!   to its `sha256`, no object is left without its row (a planted orphan is deleted), and a
//!   pending document can be uploaded again.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::digest::{Context as Sha256, SHA256};
use aws_lc_rs::iv::FixedLength;
use base64::Engine as _;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};

use crate::util::{bridge, bridge_for, run};

/// The dev account's documents bucket.
const BUCKET: &str = "bridge-documents";
const MIB: u64 = 1 << 20;
/// The app's part size (`awslink::s3::PART_SIZE`): bodies above it go as multipart uploads.
const PART: u64 = 8 * MIB;
/// The generator's chunk size.
const CHUNK: u64 = MIB;
const PDF_HEADER: &[u8] = b"%PDF-1.7\n";
/// Text content maps each keystream byte to one of these (no NUL, no `#!`, no markup).
const TEXT_ALPHABET: &[u8; 64] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n";

// ---------------------------------------------------------------------------------------------
// Content made on the fly.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pdf,
    Text,
}

impl Kind {
    fn media_type(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Text => "text/plain",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Text => "txt",
        }
    }
}

/// Deterministic pseudo-random content of `size` bytes, made chunk by chunk and never held
/// whole: the AES-128-CTR keystream under a key made from `seed` (a PDF starts with
/// `%PDF-1.7\n`; text maps every byte into [`TEXT_ALPHABET`]). The same `seed` and `size` give
/// the same bytes, so a SHA-256 can be computed in a dry run before the bytes are sent.
#[derive(Debug, Clone, Copy)]
struct Content {
    seed: u64,
    size: u64,
    kind: Kind,
}

/// How an upload body trickles: the first `fast` bytes at once, then `piece`-byte pieces
/// `delay` apart.
#[derive(Debug, Clone, Copy)]
struct Pacing {
    fast: u64,
    piece: usize,
    delay: Duration,
}

impl Content {
    fn new(seed: u64, size: u64, kind: Kind) -> Self {
        Self { seed, size, kind }
    }

    fn chunks(&self) -> u64 {
        self.size.div_ceil(CHUNK)
    }

    /// Bytes `index * CHUNK ..` (at most [`CHUNK`] of them).
    fn chunk(&self, index: u64) -> Bytes {
        let start = index * CHUNK;
        let len = usize::try_from(self.size.saturating_sub(start).min(CHUNK)).unwrap();
        let mut buf = vec![0u8; len];
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&self.seed.to_be_bytes());
        key[8..].copy_from_slice(b"bridgedc");
        let key = EncryptingKey::ctr(UnboundCipherKey::new(&AES_128, &key).unwrap()).unwrap();
        let mut iv = [0u8; 16];
        iv[..8].copy_from_slice(&index.to_be_bytes());
        key.less_safe_encrypt(&mut buf, EncryptionContext::Iv128(FixedLength::from(iv)))
            .unwrap();
        match self.kind {
            Kind::Text => {
                for b in &mut buf {
                    *b = TEXT_ALPHABET[usize::from(*b & 63)];
                }
            }
            Kind::Pdf if index == 0 => {
                let n = PDF_HEADER.len().min(len);
                buf[..n].copy_from_slice(&PDF_HEADER[..n]);
            }
            Kind::Pdf => {}
        }
        Bytes::from(buf)
    }

    /// All the bytes (for small contents).
    fn bytes(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(usize::try_from(self.size).unwrap());
        for i in 0..self.chunks() {
            all.extend_from_slice(&self.chunk(i));
        }
        all
    }

    /// The SHA-256, from a dry run of the generator.
    fn sha256(&self) -> [u8; 32] {
        let mut ctx = Sha256::new(&SHA256);
        for i in 0..self.chunks() {
            ctx.update(&self.chunk(i));
        }
        ctx.finish().as_ref().try_into().unwrap()
    }

    /// The bytes as a request body stream, made as it is read.
    fn stream(
        self,
        pacing: Option<Pacing>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        futures::stream::iter(0..self.chunks())
            .flat_map(move |i| {
                let chunk = self.chunk(i);
                let end = i * CHUNK + chunk.len() as u64;
                let pieces: Vec<(Bytes, Option<Duration>)> = match pacing {
                    Some(p) if end > p.fast => (0..chunk.len())
                        .step_by(p.piece)
                        .map(|o| {
                            (
                                chunk.slice(o..(o + p.piece).min(chunk.len())),
                                Some(p.delay),
                            )
                        })
                        .collect(),
                    _ => vec![(chunk, None)],
                };
                futures::stream::iter(pieces)
            })
            .then(|(bytes, delay)| async move {
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                Ok(bytes)
            })
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    aws_lc_rs::digest::digest(&SHA256, bytes)
        .as_ref()
        .try_into()
        .unwrap()
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 9530 `Content-Digest` for a SHA-256.
fn content_digest(digest: &[u8; 32]) -> String {
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// A document number no other test uses.
fn number(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

fn id_of(doc: &Value) -> String {
    doc["ID"].as_str().unwrap().to_owned()
}

/// Hashes a response body as it arrives: SHA-256 and length.
async fn hash_body(resp: reqwest::Response) -> Result<([u8; 32], u64), reqwest::Error> {
    let mut ctx = Sha256::new(&SHA256);
    let mut n = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        n += chunk.len() as u64;
        ctx.update(&chunk);
    }
    Ok((ctx.finish().as_ref().try_into().unwrap(), n))
}

// ---------------------------------------------------------------------------------------------
// `bridge dev`.

/// The ports of one `bridge dev`'s services (0: any free port).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ports {
    app: u16,
    credstore: u16,
    xsuaa: u16,
    sts: u16,
    s3: u16,
    alerts: u16,
}

impl Ports {
    /// Free ports below the kernel's ephemeral range, so that no `bind(…:0)` of another test
    /// takes one of them while this `bridge dev` is down between a kill and its restart.
    fn outside_the_ephemeral_range() -> Self {
        let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|r| r.split_whitespace().next().and_then(|p| p.parse().ok()))
            .unwrap_or(32768);
        let span = low.saturating_sub(10_000).max(1);
        let mut next = 10_000 + (uuid::Uuid::new_v4().as_u128() % u128::from(span)) as u16;
        let mut take = || loop {
            next = if next + 1 >= low { 10_000 } else { next + 1 };
            if std::net::TcpListener::bind(("127.0.0.1", next)).is_ok() {
                return next;
            }
        };
        Self {
            app: take(),
            credstore: take(),
            xsuaa: take(),
            sts: take(),
            s3: take(),
            alerts: take(),
        }
    }

    fn args(self) -> Vec<String> {
        [
            ("--app-port", self.app),
            ("--credstore-port", self.credstore),
            ("--xsuaa-port", self.xsuaa),
            ("--sts-port", self.sts),
            ("--s3-port", self.s3),
            ("--alerts-port", self.alerts),
            // Not started under --no-schedules.
            ("--lambda-port", 0),
            ("--scheduler-port", 0),
            ("--secrets-port", 0),
        ]
        .iter()
        .flat_map(|(flag, port)| [(*flag).to_owned(), port.to_string()])
        .collect()
    }
}

/// Temporary AWS credentials (or the IAM user's keys, without a session token).
struct Creds {
    key: String,
    secret: String,
    token: Option<String>,
}

/// A running `bridge dev --no-schedules` (SIGTERM on drop).
struct Dev {
    child: Child,
    /// Its data directory.
    data: PathBuf,
    banner: String,
    app: String,
    ports: Ports,
    passwords: HashMap<String, String>,
    vcap: Value,
    http: reqwest::Client,
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    /// Starts `bridge dev` on `data` and `ports` with `env` set, and waits for its banner.
    fn start(data: &Path, ports: Ports, env: &[(&str, &str)]) -> Self {
        testkit::logs::init();
        let mut child = bridge()
            .arg("dev")
            .args(ports.args())
            .arg("--no-schedules")
            .arg("--data-dir")
            .arg(data)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
            testkit::logs::capture_output("bridge dev for documents (stderr)", &text);
        });
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        let mut passwords = HashMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!(
                    "bridge dev ended before its banner (see its stderr in the test logs): {banner}"
                );
            }
            // `  user alice    password <password>   (Bridge Editor)`
            if let Some(rest) = line.trim_start().strip_prefix("user ") {
                let words: Vec<&str> = rest.split_whitespace().collect();
                if let [name, "password", password, ..] = words[..] {
                    testkit::logs::secret(password);
                    passwords.insert(name.to_owned(), password.to_owned());
                }
                continue;
            }
            banner.push_str(&line);
            if line.contains("Press Ctrl-C") {
                break;
            }
        }
        // Nothing more is printed on stdout, but a late line must not meet a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        testkit::logs::capture_output("bridge dev for documents (stdout)", &banner);
        let vcap: Value =
            serde_json::from_slice(&std::fs::read(data.join("vcap-services.json")).unwrap())
                .unwrap();
        // (The banner shows the role's external id: `bridge dev` does not count it a secret.)
        for secret in [
            &vcap["xsuaa"][0]["credentials"]["clientsecret"],
            &vcap["credstore"][0]["credentials"]["password"],
            &vcap["credstore"][0]["credentials"]["encryption"]["client_private_key"],
        ] {
            if let Some(s) = secret.as_str() {
                testkit::logs::secret(s);
            }
        }
        let url = |service: &str| banner_url(&banner, service);
        let app = url("App");
        let started = Ports {
            app: port_of(&app),
            credstore: port_of(&url("Credential Store")),
            xsuaa: port_of(&url("XSUAA")),
            sts: port_of(&url("STS")),
            s3: port_of(&url("S3")),
            alerts: port_of(&url("Alert Notif.")),
        };
        assert!(
            ports == Ports::default() || ports == started,
            "asked for {ports:?}, got {started:?}"
        );
        let http = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(data.join("ca.pem")).unwrap())
                    .unwrap(),
            )
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        assert!(passwords.contains_key("alice"), "{banner}");
        Self {
            child,
            data: data.to_path_buf(),
            banner,
            app,
            ports: started,
            passwords,
            vcap,
            http,
        }
    }

    /// Ends the process with SIGKILL (no shutdown of any kind) and reaps it.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app)
    }

    fn xsuaa_credentials(&self) -> (String, String, String) {
        let c = &self.vcap["xsuaa"][0]["credentials"];
        (
            c["url"].as_str().unwrap().to_owned(),
            c["clientid"].as_str().unwrap().to_owned(),
            c["clientsecret"].as_str().unwrap().to_owned(),
        )
    }

    async fn token(&self, form: &[(&str, &str)]) -> String {
        let (url, id, secret) = self.xsuaa_credentials();
        let mut fields = form.to_vec();
        fields.extend([
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ]);
        let r = self
            .http
            .post(format!("{url}/oauth/token"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{}", body["error"]);
        testkit::logs::secret(body["access_token"].as_str().unwrap())
    }

    /// A user token through XSUAA's password grant with the `xsuaa` binding's client.
    async fn user_token(&self, user: &str) -> String {
        let password = self.passwords[user].clone();
        self.token(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", &password),
        ])
        .await
    }

    /// The `xsuaa` binding's own client-credentials token (authority JobRunner).
    async fn app_token(&self) -> String {
        self.token(&[("grant_type", "client_credentials")]).await
    }

    async fn create(&self, token: &str, body: Value) -> Value {
        let r = self
            .http
            .post(self.url("/catalog/Documents"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["status"], "pending", "{v}");
        v
    }

    async fn put_content(
        &self,
        token: &str,
        id: &str,
        media_type: &str,
        body: reqwest::Body,
        digest: Option<String>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self
            .http
            .put(self.url(&format!("/catalog/Documents({id})/content")))
            .bearer_auth(token)
            .header("content-type", media_type)
            .body(body);
        if let Some(d) = digest {
            req = req.header("content-digest", d);
        }
        req.send().await
    }

    async fn download(&self, token: &str, id: &str, range: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(self.url(&format!("/catalog/Documents({id})/content")))
            .bearer_auth(token);
        if let Some(r) = range {
            req = req.header("range", r);
        }
        req.send().await.unwrap()
    }

    async fn post_json(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn doc(&self, token: &str, id: &str) -> Value {
        let r = self
            .http
            .get(self.url(&format!("/catalog/Documents({id})")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Every visible document with `documentNumber` `number`.
    async fn numbered(&self, token: &str, number: &str) -> Vec<Value> {
        let r = self
            .http
            .get(self.url("/catalog/Documents"))
            .bearer_auth(token)
            .query(&[
                ("$filter", format!("documentNumber eq '{number}'")),
                ("$top", "1000".to_owned()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        assert!(page["@odata.nextLink"].is_null(), "one page: {page}");
        page["value"].as_array().unwrap().clone()
    }

    /// A request to a presigned URL (the local S3's Private Link name, resolved to loopback as
    /// Private Link's DNS would resolve it to the endpoint), with the headers it was signed
    /// with.
    async fn presigned(
        &self,
        url: &str,
        method: reqwest::Method,
        headers: &Value,
        body: Option<Vec<u8>>,
    ) -> reqwest::Response {
        let parsed = url::Url::parse(url).unwrap();
        for (k, v) in parsed.query_pairs() {
            if k == "X-Amz-Signature" || k == "X-Amz-Security-Token" {
                testkit::logs::secret(v.into_owned());
            }
        }
        let host = parsed.host_str().unwrap().to_owned();
        let port = parsed.port().unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(self.data.join("ca.pem")).unwrap())
                    .unwrap(),
            )
            .resolve(&host, SocketAddr::from(([127, 0, 0, 1], port)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut req = client.request(method, url);
        for (k, v) in headers.as_object().into_iter().flatten() {
            // reqwest sets both from the URL and the body.
            if k.eq_ignore_ascii_case("host") || k.eq_ignore_ascii_case("content-length") {
                continue;
            }
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        req.send().await.unwrap()
    }

    /// The `aws` CLI (v1 from the tools venv) with these credentials, the dev CA, the dev
    /// region, path-style addressing and no ambient configuration.
    fn aws(&self, creds: &Creds) -> Command {
        let home = self.data.with_file_name("aws-home");
        std::fs::create_dir_all(&home).unwrap();
        let config = home.join("config");
        let region = self.vcap["user-provided"][0]["credentials"]["region"]
            .as_str()
            .unwrap();
        std::fs::write(
            &config,
            format!(
                "[default]\nregion = {region}\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new(testkit::python_bin("aws"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("none"))
            .env("AWS_CA_BUNDLE", self.data.join("ca.pem"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", &creds.key)
            .env("AWS_SECRET_ACCESS_KEY", &creds.secret);
        if let Some(t) = &creds.token {
            cmd.env("AWS_SESSION_TOKEN", t);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs `aws ARGS`: success and stdout, or failure and stderr. The arguments are not
    /// logged (an external id may be among them).
    fn aws_run(&self, creds: &Creds, args: &[&str], label: &str) -> Result<String, String> {
        let out = self.aws(creds).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        testkit::logs::capture_output(&format!("aws {label} (stderr)"), &stderr);
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(stderr)
        }
    }

    /// The role's session credentials: the IAM user's key read from the local Credential Store
    /// with `bridge creds`, then `aws sts assume-role` at the local STS with the role and
    /// external id of the `aws-config` binding.
    fn role_credentials(&self) -> Creds {
        let r = run(
            bridge_for(&self.data).args(["creds", "-n", "aws", "get", "aws-iam-user"]),
            "",
            false,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let meta: Value = serde_json::from_str(&r.stdout).unwrap();
        let key = meta["username"].as_str().unwrap().to_owned();
        let r = run(
            bridge_for(&self.data).args(["creds", "-n", "aws", "get", "aws-iam-user", "--value"]),
            "",
            true,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let user = Creds {
            key,
            secret: testkit::logs::secret(r.stdout.trim_end()),
            token: None,
        };
        let aws = &self.vcap["user-provided"][0]["credentials"];
        let out = self
            .aws_run(
                &user,
                &[
                    "sts",
                    "assume-role",
                    "--endpoint-url",
                    aws["stsEndpoint"].as_str().unwrap(),
                    "--role-arn",
                    aws["roleArn"].as_str().unwrap(),
                    "--role-session-name",
                    "documents-test",
                    "--external-id",
                    aws["externalId"].as_str().unwrap(),
                    "--output",
                    "json",
                ],
                "sts assume-role",
            )
            .unwrap_or_else(|e| panic!("assume-role: {e}"));
        let v: Value = serde_json::from_str(&out).unwrap();
        let c = &v["Credentials"];
        Creds {
            key: c["AccessKeyId"].as_str().unwrap().to_owned(),
            secret: testkit::logs::secret(c["SecretAccessKey"].as_str().unwrap()),
            token: Some(testkit::logs::secret(c["SessionToken"].as_str().unwrap())),
        }
    }

    fn s3_endpoint(&self) -> String {
        banner_url(&self.banner, "S3")
    }

    /// `aws s3api list-objects-v2` under `prefix` (all pages): key → size.
    fn list_objects(&self, creds: &Creds, prefix: &str) -> HashMap<String, u64> {
        let endpoint = self.s3_endpoint();
        let out = self
            .aws_run(
                creds,
                &[
                    "s3api",
                    "list-objects-v2",
                    "--bucket",
                    BUCKET,
                    "--prefix",
                    prefix,
                    "--endpoint-url",
                    &endpoint,
                    "--output",
                    "json",
                ],
                "s3api list-objects-v2",
            )
            .unwrap_or_else(|e| panic!("list-objects-v2: {e}"));
        if out.trim().is_empty() {
            return HashMap::new();
        }
        let v: Value = serde_json::from_str(&out).unwrap();
        v["Contents"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                (
                    o["Key"].as_str().unwrap().to_owned(),
                    o["Size"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    /// `aws s3api head-object`: the object's size, or `None` when S3 answers 404.
    fn head_object(&self, creds: &Creds, key: &str) -> Option<u64> {
        let endpoint = self.s3_endpoint();
        match self.aws_run(
            creds,
            &[
                "s3api",
                "head-object",
                "--bucket",
                BUCKET,
                "--key",
                key,
                "--endpoint-url",
                &endpoint,
                "--output",
                "json",
            ],
            "s3api head-object",
        ) {
            Ok(out) => Some(
                serde_json::from_str::<Value>(&out).unwrap()["ContentLength"]
                    .as_u64()
                    .unwrap(),
            ),
            Err(e) if e.contains("404") || e.contains("Not Found") => None,
            Err(e) => panic!("head-object: {e}"),
        }
    }
}

/// The URL the banner prints for `service` (without a trailing `/`).
fn banner_url(banner: &str, service: &str) -> String {
    banner
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(service)
                .filter(|rest| rest.starts_with(' '))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {service} in the banner: {banner}"))
        .trim_end_matches('/')
        .to_owned()
}

fn port_of(url: &str) -> u16 {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::print_stderr)] // the times are reported, not asserted
async fn a_gibibyte_streams_up_and_down_with_its_sha256() {
    let mib: u64 = std::env::var("BRIDGE_TEST_BIG_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(&dir.path().join("dev"), Ports::default(), &[]);
    let token = dev.user_token("alice").await;
    let content = Content::new(0x1_6161, mib * MIB, Kind::Pdf);
    let want = content.sha256();
    let doc = dev
        .create(
            &token,
            json!({"fileName": "big.pdf", "mediaType": "application/pdf",
                   "documentNumber": number("BIG")}),
        )
        .await;
    let id = id_of(&doc);
    assert_eq!(doc["createdBy"], "alice");

    // The bytes as they go out are hashed again: what was sent is what the digest says.
    let sent = Arc::new(Mutex::new(Some(Sha256::new(&SHA256))));
    let tap = sent.clone();
    let body = content.stream(None).inspect(move |c| {
        if let (Ok(b), Some(ctx)) = (c, tap.lock().unwrap().as_mut()) {
            ctx.update(b);
        }
    });
    let started = Instant::now();
    let r = dev
        .put_content(
            &token,
            &id,
            "application/pdf",
            reqwest::Body::wrap_stream(body),
            Some(content_digest(&want)),
        )
        .await
        .unwrap();
    let up = started.elapsed();
    let status = r.status();
    let etag = r.headers().get("etag").cloned();
    assert_eq!(status, 204, "{}", r.text().await.unwrap());
    let sent = sent.lock().unwrap().take().unwrap().finish();
    assert_eq!(sent.as_ref(), want.as_slice());
    assert_eq!(etag.unwrap(), format!("\"{}\"", hex(&want)).as_str());
    let doc = dev.doc(&token, &id).await;
    assert_eq!(doc["status"], "available", "{doc}");
    assert_eq!(doc["size"], mib * MIB);
    assert_eq!(doc["sha256"], hex(&want));

    let started = Instant::now();
    let r = dev.download(&token, &id, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        (mib * MIB).to_string().as_str()
    );
    let (got, n) = hash_body(r).await.unwrap();
    let down = started.elapsed();
    assert_eq!(n, mib * MIB);
    assert_eq!(hex(&got), hex(&want));
    eprintln!(
        "{mib} MiB through bridge dev: upload {:.1} s ({:.0} MiB/s), download {:.1} s ({:.0} MiB/s)",
        up.as_secs_f64(),
        mib as f64 / up.as_secs_f64(),
        down.as_secs_f64(),
        mib as f64 / down.as_secs_f64()
    );
}

/// The sizes of the concurrent test: 1 KiB to 20 MiB, spread evenly on a log scale, and the
/// edges of the app's part buffer and of the generator's chunks.
fn mixed_sizes(n: usize) -> Vec<u64> {
    let mut sizes: Vec<u64> = (0..n)
        .map(|i| (1024.0 * 20480f64.powf(i as f64 / (n - 1) as f64)) as u64)
        .collect();
    for (i, size) in [
        (3, 1),
        (10, CHUNK - 1),
        (20, CHUNK + 1),
        (60, PART - 1),
        (61, PART),
        (62, PART + 1),
        (80, 2 * PART),
        (n - 1, 20 * MIB),
    ] {
        sizes[i] = size;
    }
    sizes
}

/// What one concurrent transfer found.
#[derive(Debug)]
struct Transfer {
    id: String,
    key: String,
    size: u64,
    /// Anything that was not as expected.
    mismatch: Option<String>,
}

async fn transfer(dev: Arc<Dev>, token: Arc<String>, doc: Value, content: Content) -> Transfer {
    let i = usize::try_from(content.seed - 1000).unwrap();
    let (kind, size) = (content.kind, content.size);
    let want = content.sha256();
    let id = id_of(&doc);
    let mut t = Transfer {
        id: id.clone(),
        key: doc["objectKey"].as_str().unwrap().to_owned(),
        size,
        mismatch: None,
    };
    // Half with a length, half chunked; PDFs with the client's digest.
    let body = if i % 2 == 0 {
        reqwest::Body::from(content.bytes())
    } else {
        reqwest::Body::wrap_stream(content.stream(None))
    };
    let digest = (kind == Kind::Pdf).then(|| content_digest(&want));
    let r = match dev
        .put_content(&token, &id, kind.media_type(), body, digest)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            t.mismatch = Some(format!("upload failed: {e}"));
            return t;
        }
    };
    if r.status() != 204 {
        t.mismatch = Some(format!(
            "upload: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        ));
        return t;
    }
    let doc = dev.doc(&token, &id).await;
    if doc["status"] != "available" || doc["size"] != size || doc["sha256"] != hex(&want) {
        t.mismatch = Some(format!("row after upload: {doc}"));
        return t;
    }
    let r = dev.download(&token, &id, None).await;
    if r.status() != 200 {
        t.mismatch = Some(format!("download: {}", r.status()));
        return t;
    }
    match hash_body(r).await {
        Ok((got, n)) if got == want && n == size => {}
        Ok((got, n)) => {
            t.mismatch = Some(format!(
                "downloaded {n} bytes with SHA-256 {}, sent {size} with {}",
                hex(&got),
                hex(&want)
            ));
        }
        Err(e) => t.mismatch = Some(format!("download broke off: {e}")),
    }
    t
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::print_stderr)] // the time is reported, not asserted
async fn a_hundred_concurrent_transfers_of_mixed_sizes_keep_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Arc::new(Dev::start(&dir.path().join("dev"), Ports::default(), &[]));
    let token = Arc::new(dev.user_token("alice").await);
    let number = number("MIX");
    let sizes = mixed_sizes(100);
    // Every document created and transferred at once (creates, uploads and downloads all
    // concurrent: on SQLite the writers queue for the write lock).
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, size) in sizes.iter().copied().enumerate() {
        let kind = if i % 3 == 0 { Kind::Text } else { Kind::Pdf };
        let content = Content::new(1000 + i as u64, size, kind);
        let name = format!("file-{i:03}.{}", kind.extension());
        let (dev, token, number) = (dev.clone(), token.clone(), number.clone());
        tasks.spawn(async move {
            let doc = dev
                .create(
                    &token,
                    json!({"fileName": name, "mediaType": kind.media_type(), "documentNumber": number}),
                )
                .await;
            transfer(dev, token, doc, content).await
        });
    }
    let mut done = Vec::new();
    while let Some(t) = tasks.join_next().await {
        done.push(t.unwrap());
    }
    let took = started.elapsed();
    let bad: Vec<&Transfer> = done.iter().filter(|t| t.mismatch.is_some()).collect();
    assert!(bad.is_empty(), "{} of 100 differ: {bad:#?}", bad.len());
    eprintln!(
        "100 concurrent transfers ({} MiB each way) in {:.1} s",
        sizes.iter().sum::<u64>() / MIB,
        took.as_secs_f64()
    );

    // The aws CLI sees exactly these objects, each where its row says, with its size.
    let creds = dev.role_credentials();
    let listed = dev.list_objects(&creds, &format!("documents/{number}/"));
    let want: HashMap<String, u64> = done.iter().map(|t| (t.key.clone(), t.size)).collect();
    assert_eq!(listed, want);
    for t in &done {
        assert!(
            t.key
                .starts_with(&format!("documents/{number}/{}/file-", t.id)),
            "{}",
            t.key
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn presigned_transfers_ranges_and_the_keys_the_aws_cli_lists() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(&dir.path().join("dev"), Ports::default(), &[]);
    let token = dev.user_token("alice").await;
    let number = number("PRE");
    let pl_host = {
        let line = dev
            .banner
            .lines()
            .find(|l| l.contains("Private Link name *."))
            .unwrap();
        let host = line.split("Private Link name *.").nth(1).unwrap();
        host.trim_end().trim_end_matches(')').to_owned()
    };

    // Presigned upload, then finalize: available.
    let bytes = Content::new(7, 3 * MIB + 17, Kind::Pdf).bytes();
    let sha = hex(&sha256(&bytes));
    let name = "Übersicht Etage 3.pdf";
    let direct = dev
        .create(
            &token,
            json!({"fileName": name, "mediaType": "application/pdf",
                   "documentNumber": number, "location": "Building 7"}),
        )
        .await;
    let id = id_of(&direct);
    let actions =
        |id: &str, action: &str| format!("/catalog/Documents({id})/CatalogService.{action}");
    let (status, put) = dev
        .post_json(
            &token,
            &actions(&id, "uploadUrl"),
            json!({"size": bytes.len(), "sha256": sha}),
        )
        .await;
    assert_eq!(status, 200, "{}", put["error"]);
    assert_eq!(put["method"], "PUT");
    let url = put["url"].as_str().unwrap().to_owned();
    let host = url::Url::parse(&url).unwrap();
    assert_eq!(
        format!("{}:{}", host.host_str().unwrap(), host.port().unwrap()),
        format!("{BUCKET}.bucket.{pl_host}"),
        "the URL is on the Private Link name"
    );
    assert_eq!(dev.doc(&token, &id).await["status"], "uploading");
    let r = dev
        .presigned(
            &url,
            reqwest::Method::PUT,
            &put["headers"],
            Some(bytes.clone()),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let (status, done) = dev
        .post_json(
            &token,
            &actions(&id, "finalize"),
            json!({"size": bytes.len(), "sha256": sha}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "available");
    assert_eq!(done["size"], bytes.len() as u64);
    assert_eq!(done["sha256"], sha);

    // A finalize that declares another SHA-256: 400, the row failed, the object gone.
    let refused_bytes = Content::new(8, 300_000, Kind::Pdf).bytes();
    let refused = dev
        .create(
            &token,
            json!({"fileName": "refused.pdf", "mediaType": "application/pdf", "documentNumber": number}),
        )
        .await;
    let refused_id = id_of(&refused);
    let (status, put) = dev
        .post_json(
            &token,
            &actions(&refused_id, "uploadUrl"),
            json!({"size": refused_bytes.len()}),
        )
        .await;
    assert_eq!(status, 200, "{}", put["error"]);
    let r = dev
        .presigned(
            put["url"].as_str().unwrap(),
            reqwest::Method::PUT,
            &put["headers"],
            Some(refused_bytes.clone()),
        )
        .await;
    assert_eq!(r.status(), 200);
    let creds = dev.role_credentials();
    let refused_key = refused["objectKey"].as_str().unwrap();
    assert_eq!(
        dev.head_object(&creds, refused_key),
        Some(refused_bytes.len() as u64),
        "the presigned PUT stored it"
    );
    let (status, e) = dev
        .post_json(
            &token,
            &actions(&refused_id, "finalize"),
            json!({"size": refused_bytes.len(), "sha256": hex(&sha256(b"other bytes"))}),
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["code"], "400", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refused and removed"),
        "{e}"
    );
    let row = dev.doc(&token, &refused_id).await;
    assert_eq!(row["status"], "failed", "{row}");
    assert!(
        row["statusReason"]
            .as_str()
            .is_some_and(|r| r.starts_with("finalize refused the object")),
        "{row}"
    );
    assert_eq!(
        dev.head_object(&creds, refused_key),
        None,
        "the object is gone"
    );

    // downloadUrl: the bytes, named as the app names them.
    let r = dev.download(&token, &id, None).await;
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("filename*=UTF-8''%C3%9Cbersicht"),
        "{disposition}"
    );
    assert_eq!(r.bytes().await.unwrap(), bytes.as_slice());
    let (status, get) = dev
        .post_json(&token, &actions(&id, "downloadUrl"), json!({}))
        .await;
    assert_eq!(status, 200, "{}", get["error"]);
    let get_url = get["url"].as_str().unwrap();
    let asked = url::Url::parse(get_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "response-content-disposition")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        asked.as_deref(),
        Some(disposition.as_str()),
        "the signed URL asks S3 to answer with the document's name"
    );
    let r = dev
        .presigned(get_url, reqwest::Method::GET, &Value::Null, None)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"].to_str().unwrap(),
        disposition,
        "S3 answers with the document's name"
    );
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.bytes().await.unwrap(), bytes.as_slice());

    // Ranges of a multipart object, through the app from the real S3.
    let ranged = Content::new(9, PART + MIB + 3, Kind::Pdf);
    let all = ranged.bytes();
    let size = all.len();
    let doc = dev
        .create(
            &token,
            json!({"fileName": "ranged.pdf", "mediaType": "application/pdf", "documentNumber": number}),
        )
        .await;
    let ranged_id = id_of(&doc);
    let r = dev
        .put_content(
            &token,
            &ranged_id,
            "application/pdf",
            reqwest::Body::wrap_stream(ranged.stream(None)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let p = PART as usize;
    for (range, from, to) in [
        ("bytes=0-99".to_owned(), 0, 99),
        ("bytes=-100".to_owned(), size - 100, size - 1),
        (format!("bytes={}-{}", p - 50, p + 49), p - 50, p + 49),
        (format!("bytes={}-", size - 1), size - 1, size - 1),
    ] {
        let r = dev.download(&token, &ranged_id, Some(&range)).await;
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {from}-{to}/{size}").as_str(),
            "{range}"
        );
        assert_eq!(r.bytes().await.unwrap(), &all[from..=to], "{range}");
    }
    for range in [
        format!("bytes={size}-"),
        format!("bytes={}-{}", size + 10, size + 20),
    ] {
        let r = dev.download(&token, &ranged_id, Some(&range)).await;
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes */{size}").as_str()
        );
    }

    // The aws CLI: the two available documents where the key template puts them; the refused
    // one is not there.
    let listed = dev.list_objects(&creds, &format!("documents/{number}/"));
    let want: HashMap<String, u64> = [
        (
            format!("documents/{number}/{id}/{name}"),
            bytes.len() as u64,
        ),
        (
            format!("documents/{number}/{ranged_id}/ranged.pdf"),
            size as u64,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(listed, want);
    assert_eq!(
        direct["objectKey"],
        format!("documents/{number}/{id}/{name}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_documents_are_there_after_start() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(&dir.path().join("dev"), Ports::default(), &[]);
    let token = dev.user_token("alice").await;
    let r = dev
        .http
        .get(dev.url("/catalog/Documents"))
        .bearer_auth(&token)
        .query(&[("$orderby", "fileName")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    let docs = page["value"].as_array().unwrap();
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["fileName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["README.txt", "floor-plan.pdf"], "{page}");
    for doc in docs {
        assert_eq!(doc["status"], "available", "{doc}");
        let r = dev.download(&token, &id_of(doc), None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            doc["mediaType"].as_str().unwrap()
        );
        let bytes = r.bytes().await.unwrap();
        assert_eq!(doc["size"], bytes.len() as u64);
        assert_eq!(doc["sha256"], hex(&sha256(&bytes)));
        match doc["fileName"].as_str().unwrap() {
            "README.txt" => assert!(
                String::from_utf8_lossy(&bytes).contains("Welcome to btp-aws-bridge"),
                "{}",
                String::from_utf8_lossy(&bytes)
            ),
            _ => assert!(bytes.starts_with(b"%PDF-")),
        }
    }
}

/// Statuses of the documents numbered `number`: ID → (status, objectKey, sha256, size).
async fn statuses(dev: &Dev, token: &str, number: &str) -> HashMap<String, Value> {
    dev.numbered(token, number)
        .await
        .into_iter()
        .map(|d| (id_of(&d), d))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_fifty_uploads_then_reconcile_leaves_rows_and_objects_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    let mut dev = Dev::start(&data, Ports::outside_the_ephemeral_range(), &[]);
    let token = dev.user_token("alice").await;
    let number = number("KILL");
    // 10 quick uploads that finish, and 40 that trickle for a long time (the larger ones get
    // their first 9 MiB at once, so a multipart upload is under way when the process dies).
    let quick: usize = 10;
    let mut contents = Vec::new();
    for i in 0..50u64 {
        let kind = if i % 4 == 0 { Kind::Text } else { Kind::Pdf };
        let size = match i.checked_sub(10) {
            None => 64 * 1024 * (i + 1),
            Some(slow) => 256 * 1024 + slow * 512 * 1024,
        };
        contents.push(Content::new(5000 + i, size, kind));
    }
    let mut ids = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        let doc = dev
            .create(
                &token,
                json!({"fileName": format!("k-{i:02}.{}", c.kind.extension()),
                       "mediaType": c.kind.media_type(), "documentNumber": number}),
            )
            .await;
        ids.push(id_of(&doc));
    }
    let mut uploads = tokio::task::JoinSet::new();
    for (i, (c, id)) in contents
        .iter()
        .copied()
        .zip(ids.iter().cloned())
        .enumerate()
    {
        let pacing = (i >= quick).then(|| Pacing {
            fast: (c.size / 2).min(PART + MIB),
            piece: 64 * 1024,
            // The slow half takes 60 s or more: far beyond the kill.
            delay: Duration::from_millis((60_000 / (c.size / 2).div_ceil(64 * 1024)).max(50)),
        });
        let http = dev.http.clone();
        let url = dev.url(&format!("/catalog/Documents({id})/content"));
        let token = token.clone();
        uploads.spawn(async move {
            let r = http
                .put(url)
                .bearer_auth(token)
                .header("content-type", c.kind.media_type())
                .body(reqwest::Body::wrap_stream(c.stream(pacing)))
                .send()
                .await;
            (i, r.map(|r| r.status().as_u16()))
        });
    }
    // Kill once the quick ones are available, the slow ones uploading, and at least one part
    // of a multipart upload is in the local S3 (s3s-fs keeps parts as `.upload_id-*.part-N`).
    // Well before the slow uploads could end.
    let deadline = Instant::now() + Duration::from_secs(40);
    let s3_dir = data.join("s3");
    loop {
        let rows = statuses(&dev, &token, &number).await;
        let count = |s: &str| rows.values().filter(|d| d["status"] == s).count();
        let parts = std::fs::read_dir(&s3_dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(".upload_id-") && n.contains(".part-")
            })
            .count();
        if count("available") >= quick && count("uploading") == 50 - quick && parts > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not there within 40 s: {} available, {} uploading, {parts} parts",
            count("available"),
            count("uploading")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    dev.kill9();
    let mut finished = HashSet::new();
    while let Some(joined) = tokio::time::timeout(Duration::from_secs(30), uploads.join_next())
        .await
        .expect("the uploads end once the app is gone")
    {
        let (i, r) = joined.unwrap();
        if let Ok(204) = r {
            finished.insert(ids[i].clone());
        }
    }
    let ports = dev.ports;
    drop(dev);

    // The same data directory and ports, reconcile without a grace period.
    let dev = Dev::start(&data, ports, &[("BRIDGE_RECONCILE_GRACE_S", "0")]);
    assert_eq!(dev.ports, ports);
    let token = dev.user_token("alice").await;
    let before = statuses(&dev, &token, &number).await;
    let stalled: HashSet<String> = before
        .iter()
        .filter(|(_, d)| d["status"] == "uploading")
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!stalled.is_empty());
    for id in &finished {
        assert_eq!(before[id]["status"], "available", "{}", before[id]);
    }
    // An object nobody has a row for (as a process dying between PUT and INSERT would leave).
    let creds = dev.role_credentials();
    let orphan = format!(
        "documents/{number}/{}/left-behind.pdf",
        uuid::Uuid::new_v4()
    );
    let file = dir.path().join("orphan.pdf");
    std::fs::write(&file, b"%PDF-1.7\nleft behind\n").unwrap();
    let endpoint = dev.s3_endpoint();
    dev.aws_run(
        &creds,
        &[
            "s3api",
            "put-object",
            "--bucket",
            BUCKET,
            "--key",
            &orphan,
            "--body",
            file.to_str().unwrap(),
            "--endpoint-url",
            &endpoint,
        ],
        "s3api put-object",
    )
    .unwrap_or_else(|e| panic!("put-object: {e}"));

    let runner = dev.app_token().await;
    let (status, report) = dev.post_json(&runner, "/jobs/reconcile", json!({})).await;
    assert_eq!(status, 200, "{report}");
    let reset: HashSet<String> = report["staleUploadsReset"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(stalled.is_subset(&reset), "{report}");
    assert_eq!(report["rowsWithoutObjects"], json!([]), "{report}");
    assert!(
        report["objectsWithoutRows"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": orphan, "deleted": true})),
        "{report}"
    );

    // Rows and objects agree.
    let after = statuses(&dev, &token, &number).await;
    assert_eq!(after.len(), 50);
    for (id, d) in &after {
        let status = d["status"].as_str().unwrap();
        if stalled.contains(id) {
            assert_eq!(status, "pending", "{d}");
        } else {
            assert!(status == "available" || status == "pending", "{d}");
        }
    }
    let objects = dev.list_objects(&creds, &format!("documents/{number}/"));
    let available: HashMap<String, &Value> = after
        .values()
        .filter(|d| d["status"] == "available")
        .map(|d| (d["objectKey"].as_str().unwrap().to_owned(), d))
        .collect();
    let keys: HashSet<&String> = objects.keys().collect();
    assert_eq!(
        keys,
        available.keys().collect::<HashSet<_>>(),
        "every object belongs to an available row and every available row has its object"
    );
    for (key, d) in &available {
        assert_eq!(objects[key], d["size"].as_u64().unwrap(), "{d}");
        let r = dev.download(&token, &id_of(d), None).await;
        assert_eq!(r.status(), 200, "{d}");
        let (got, n) = hash_body(r).await.unwrap();
        assert_eq!(hex(&got), d["sha256"].as_str().unwrap(), "{d}");
        assert_eq!(n, d["size"].as_u64().unwrap());
    }
    // A document reset to pending uploads again.
    let (i, id) = ids
        .iter()
        .enumerate()
        .find(|(_, id)| stalled.contains(*id))
        .unwrap();
    let c = contents[i];
    let r = dev
        .put_content(
            &token,
            id,
            c.kind.media_type(),
            reqwest::Body::wrap_stream(c.stream(None)),
            Some(content_digest(&c.sha256())),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(dev.doc(&token, id).await["sha256"], hex(&c.sha256()));
}
