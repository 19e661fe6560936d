//! Documents when a dependency goes away in the middle of an upload, against the dev stack's
//! local S3, STS and Credential Store (the app built from the generated `VCAP_SERVICES` and
//! served on `127.0.0.1:0`) and a real database: SQLite in a temporary directory, or a
//! PostgreSQL server of the test's own.
//!
//! - S3 stopped after the first part of a multipart upload is stored: the rest of the body is
//!   read, the next part cannot be sent, and the answer is a 503 OData error naming S3; no
//!   object exists under the key, the row is `pending` again, and the same document uploads
//!   once S3 is back.
//! - The database taken away while the bytes stream (the SQLite pool closed; the PostgreSQL
//!   server stopped): the object is written, the row cannot say `available`, so the object is
//!   deleted again and the answer is a 503; nothing is left in the bucket.

use std::time::{Duration, Instant};

use bridge::app::{AppOptions, AppState, build_router, serve_with, server_limits};
use bytes::Bytes;
use cfenv::Vcap;
use devstack::{DevConfig, DevStack, Service};
use futures::SinkExt as _;
use futures::channel::mpsc;
use serde_json::{Value, json};
use tokio::sync::oneshot;

const READ: &str = "bridge!t1.Read";
const WRITE: &str = "bridge!t1.Write";
const MIB: usize = 1 << 20;

/// Feeds an upload body chunk by chunk.
type BodySender = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// The dev stack and the app on a database of the test's choosing.
struct Docs {
    dev: DevStack,
    app: String,
    state: AppState,
    /// An S3 client of the test's own on the same chain (for what the bucket holds).
    s3: std::sync::Arc<dyn awslink::s3::S3Backend>,
    bucket: String,
    http: reqwest::Client,
    token: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Docs {
    /// The dev stack, and the app on SQLite in a temporary directory or on `database`.
    async fn start(database: Option<runs::StoreConfig>) -> Self {
        testkit::logs::init();
        let dir = tempfile::tempdir().unwrap();
        let dev = DevStack::start(DevConfig::new(dir.path().join("dev")).ephemeral())
            .await
            .unwrap();
        let v = dev.vcap_services();
        for s in [
            &v["credstore"][0]["credentials"]["password"],
            &v["credstore"][0]["credentials"]["encryption"]["client_private_key"],
            &v["xsuaa"][0]["credentials"]["clientsecret"],
        ] {
            if let Some(s) = s.as_str() {
                testkit::logs::secret(s);
            }
        }
        testkit::logs::secret(dev.aws_identity().user().secret_access_key.expose());
        testkit::logs::secret(dev.aws_identity().external_id().expose());
        let vcap = Vcap::from_json(&v.to_string(), "VCAP_SERVICES").unwrap();
        let mut options = AppOptions {
            jwks: xsuaa::jwks::JwksOptions {
                extra_roots_pem: vec![dev.ca_pem().as_bytes().to_vec()],
                ..xsuaa::jwks::JwksOptions::default()
            },
            data_dir: Some(dir.path().join("app")),
            ..AppOptions::default()
        };
        options.limits.upstream_timeout = Duration::from_secs(10);
        let mut state = AppState::from_vcap(&vcap, options.clone()).unwrap();
        if let Some(config) = database {
            state = state
                .with_store(runs::Store::connect_lazy(&config).unwrap())
                .unwrap();
        }
        state.store.as_ref().unwrap().ready().await.unwrap();
        let bucket = state.documents.as_ref().unwrap().bucket.clone();
        let s3 = bridge::app::aws_link(&vcap, &options).unwrap().backend();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_with(
            listener,
            build_router(state.clone()),
            server_limits(),
            async move {
                let _ = stopped.await;
            },
        ));
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(dev.ca_pem().as_bytes()).unwrap())
            .build()
            .unwrap();
        let secret = dev.xsuaa().register_client(
            devstack::xsuaa::ClientSpec::new("doc-writer").with_authorities(&[READ, WRITE]),
        );
        testkit::logs::secret(secret.expose());
        let r = http
            .post(format!("{}/oauth/token", dev.xsuaa_url()))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "doc-writer"),
                ("client_secret", secret.expose()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let token = testkit::logs::secret(body["access_token"].as_str().unwrap());
        Self {
            dev,
            app,
            state,
            s3,
            bucket,
            http,
            token,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.dev.stop().await;
    }

    /// Creates a PDF document: its ID and object key.
    async fn create(&self, name: &str) -> (String, String) {
        let r = self
            .http
            .post(format!("{}/catalog/Documents", self.app))
            .bearer_auth(&self.token)
            .json(&json!({"fileName": name, "mediaType": "application/pdf", "documentNumber": "FAULT-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let doc: Value = r.json().await.unwrap();
        (
            doc["ID"].as_str().unwrap().to_owned(),
            doc["objectKey"].as_str().unwrap().to_owned(),
        )
    }

    async fn status(&self, id: &str) -> String {
        let r = self
            .http
            .get(format!("{}/catalog/Documents({id})", self.app))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let doc: Value = r.json().await.unwrap();
        doc["status"].as_str().unwrap().to_owned()
    }

    /// Starts `PUT …/content` with a body the test feeds through the returned sender; the
    /// task answers the status and the body.
    fn upload(&self, id: &str) -> (BodySender, tokio::task::JoinHandle<(u16, Value)>) {
        let (tx, rx) = mpsc::channel(2);
        let req = self
            .http
            .put(format!("{}/catalog/Documents({id})/content", self.app))
            .bearer_auth(&self.token)
            .header("content-type", "application/pdf")
            .body(reqwest::Body::wrap_stream(rx));
        let task = tokio::spawn(async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        });
        (tx, task)
    }

    /// The keys in the bucket that belong to document `id`.
    async fn objects_of(&self, id: &str) -> Vec<String> {
        let page = self
            .s3
            .list_objects(&self.bucket, Some("documents/"), None)
            .await
            .unwrap();
        assert!(page.next.is_none());
        page.objects
            .into_iter()
            .map(|o| o.key)
            .filter(|k| k.contains(id))
            .collect()
    }
}

/// MiB number `i` of a PDF body.
fn mib(i: usize) -> Bytes {
    let mut b = vec![u8::try_from(i % 251).unwrap(); MIB];
    if i == 0 {
        b[..9].copy_from_slice(b"%PDF-1.7\n");
    }
    Bytes::from(b)
}

async fn send(tx: &mut BodySender, range: std::ops::Range<usize>) {
    for i in range {
        tx.send(Ok(mib(i))).await.unwrap();
    }
}

/// Polls `check` every 50 ms until it holds, for at most `within`.
async fn until<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_gone_during_a_multipart_upload_is_503_keeps_no_object_and_the_row_is_pending() {
    let s = Docs::start(None).await;
    let (id, key) = s.create("s3-goes-away.pdf").await;
    let (mut tx, put) = s.upload(&id);
    // 9 MiB: the first 8 MiB part goes to S3 as soon as the app knows there is more.
    send(&mut tx, 0..9).await;
    let s3_dir = s.dev.s3().dir().to_path_buf();
    until(Duration::from_secs(30), "part 1 stored", || {
        let dir = s3_dir.clone();
        async move {
            std::fs::read_dir(&dir).unwrap().flatten().any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(".upload_id-") && n.ends_with(".part-1")
            })
        }
    })
    .await;
    assert_eq!(s.status(&id).await, "uploading");
    s.dev.stop_service(Service::S3).await;
    // The rest of the body, so the app has read all of it when part 2 fails.
    send(&mut tx, 9..12).await;
    drop(tx);
    let (status, body) = tokio::time::timeout(Duration::from_secs(60), put)
        .await
        .expect("the upload is answered")
        .unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "503", "{body}");
    assert_eq!(body["error"]["target"], "S3", "{body}");
    assert_eq!(s.status(&id).await, "pending");

    s.dev.start_service(Service::S3).await.unwrap();
    assert_eq!(s.s3.head_object(&s.bucket, &key).await.unwrap(), None);
    assert!(s.objects_of(&id).await.is_empty());
    // S3 is back: the same document uploads.
    let (mut tx, put) = s.upload(&id);
    send(&mut tx, 0..12).await;
    drop(tx);
    let (status, body) = put.await.unwrap();
    assert_eq!(status, 204, "{body}");
    assert_eq!(s.status(&id).await, "available");
    let head = s.s3.head_object(&s.bucket, &key).await.unwrap().unwrap();
    assert_eq!(head.size, 12 * MIB as u64);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_gone_during_an_upload_is_503_and_the_object_is_taken_away() {
    for db in ["sqlite", "postgres"] {
        let pg = (db == "postgres").then(|| testkit::postgres::Server::start().unwrap());
        let config = pg
            .as_ref()
            .map(|pg| runs::StoreConfig::postgres_url(&pg.create_database()).unwrap());
        let s = Docs::start(config).await;
        let (id, key) = s.create("database-goes-away.pdf").await;
        let (mut tx, put) = s.upload(&id);
        send(&mut tx, 0..1).await;
        let (docs, doc_id) = (&s, id.as_str());
        until(
            Duration::from_secs(30),
            "the row uploading",
            || async move { docs.status(doc_id).await == "uploading" },
        )
        .await;
        match &pg {
            Some(pg) => pg.stop(),
            None => s.state.store.as_ref().unwrap().close().await,
        }
        // 10 MiB in all: a multipart upload that completes, then the row cannot say so.
        send(&mut tx, 1..10).await;
        drop(tx);
        let (status, body) = tokio::time::timeout(Duration::from_secs(60), put)
            .await
            .expect("the upload is answered")
            .unwrap();
        assert_eq!(status, 503, "{db}: {body}");
        assert_eq!(body["error"]["code"], "503", "{db}: {body}");
        assert_eq!(
            s.s3.head_object(&s.bucket, &key).await.unwrap(),
            None,
            "{db}: no object without its row"
        );
        assert!(s.objects_of(&id).await.is_empty(), "{db}");
        s.stop().await;
    }
}
