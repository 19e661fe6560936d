//! Documents through the router: the metadata in a real database (every test on SQLite and on
//! PostgreSQL), the bytes in the in-memory S3. Scopes, the upload rules (size counted while
//! streaming, media types against the content, checksums), downloads with ranges and ETags,
//! PATCH rules, the delete outbox, reconcile, and failures of S3 and of the database that
//! must leave nothing behind.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use super::TestApp;

const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

/// Both databases: a fresh SQLite file, and a fresh database on the shared PostgreSQL.
fn apps() -> Vec<(&'static str, TestApp)> {
    let url = testkit::postgres::shared().create_database();
    let pg = runs::StoreConfig::postgres_url(&url).unwrap();
    vec![
        ("sqlite", TestApp::new()),
        (
            "postgres",
            TestApp::with_database(|_| {}, bridge::app::metrics::MetricsAccess::Open, &pg),
        ),
    ]
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sha256_b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

impl TestApp {
    fn editor(&self) -> String {
        self.token(&["Read", "Write"])
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> super::Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.request(req.body(body).unwrap()).await
    }

    /// Creates a document and answers its entity.
    async fn create(&self, body: Value) -> Value {
        let r = self
            .send(
                "POST",
                "/catalog/Documents",
                &self.editor(),
                &[("content-type", "application/json")],
                Body::from(body.to_string()),
            )
            .await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v
    }

    async fn upload(&self, id: &str, media: &str, bytes: &[u8]) -> super::Resp {
        self.send(
            "PUT",
            &format!("/catalog/Documents({id})/content"),
            &self.editor(),
            &[("content-type", media)],
            Body::from(bytes.to_vec()),
        )
        .await
    }

    async fn doc(&self, id: &str) -> Value {
        let r = self
            .get(&format!("/catalog/Documents({id})"), &self.editor())
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// Every object key in the in-memory S3's documents bucket.
    fn objects(&self) -> Vec<String> {
        self.s3
            .object_keys()
            .into_iter()
            .filter(|(b, _)| b == "bridge-documents")
            .map(|(_, k)| k)
            .collect()
    }
}

/// A refused upload: what it is, its headers, its body, the status it gets.
type Case = (
    &'static str,
    Vec<(&'static str, String)>,
    Vec<u8>,
    StatusCode,
);

fn id_of(v: &Value) -> String {
    v["ID"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn create_upload_download_patch_delete() {
    for (db, app) in apps() {
        let created = app
            .create(json!({
                "fileName": "floor plan 7.pdf", "mediaType": "application/pdf",
                "documentNumber": "INSP-2026-0007", "location": "Building 7",
                "attributes": {"inspector": "Ada", "floors": 3}
            }))
            .await;
        let id = id_of(&created);
        assert_eq!(created["status"], "pending", "{db}");
        assert_eq!(created["createdBy"], "sb-test-client", "{db}");
        let key = created["objectKey"].as_str().unwrap();
        assert_eq!(
            key,
            format!("documents/INSP-2026-0007/{id}/floor plan 7.pdf"),
            "{db}"
        );
        assert_eq!(created["attributes"]["floors"], 3, "{db}");

        let r = app.upload(&id, "application/pdf", PDF).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{db}");
        let etag = format!("\"{}\"", sha256_hex(PDF));
        assert_eq!(r.headers()["etag"], etag.as_str(), "{db}");
        let doc = app.doc(&id).await;
        assert_eq!(doc["status"], "available", "{db}");
        assert_eq!(doc["size"], PDF.len() as u64, "{db}");
        assert_eq!(doc["sha256"], sha256_hex(PDF), "{db}");
        assert_eq!(app.s3.object("bridge-documents", key).unwrap(), PDF, "{db}");

        // Download: whole, ranges, conditional.
        let path = format!("/catalog/Documents({id})/content");
        let r = app.get(&path, &app.editor()).await;
        assert_eq!(r.status(), StatusCode::OK, "{db}");
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert_eq!(r.headers()["etag"], etag.as_str());
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(disposition.contains("floor plan 7.pdf"), "{disposition}");
        assert_eq!(r.bytes(), PDF);
        let r = app
            .get_with(&path, Some(&app.editor()), &[("range", "bytes=1-4")])
            .await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{db}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes 1-4/{}", PDF.len()).as_str()
        );
        assert_eq!(r.text().await.unwrap(), "PDF-");
        let r = app
            .get_with(&path, Some(&app.editor()), &[("range", "bytes=-6")])
            .await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.text().await.unwrap(), "%%EOF\n");
        let r = app
            .get_with(&path, Some(&app.editor()), &[("range", "bytes=99999-")])
            .await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{db}");
        let r = app
            .get_with(&path, Some(&app.editor()), &[("if-none-match", &etag)])
            .await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{db}");

        // PATCH: metadata yes, read-only fields no, versions checked.
        let version = doc_etag(&app, &id).await;
        let r = app
            .send(
                "PATCH",
                &format!("/catalog/Documents({id})"),
                &app.editor(),
                &[("content-type", "application/json"), ("if-match", &version)],
                Body::from(json!({"location": "Building 8"}).to_string()),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{db}");
        let patched: Value = r.json().await.unwrap();
        assert_eq!(patched["location"], "Building 8");
        for field in ["size", "sha256", "status", "createdBy", "objectKey", "ID"] {
            let r = app
                .send(
                    "PATCH",
                    &format!("/catalog/Documents({id})"),
                    &app.editor(),
                    &[("content-type", "application/json")],
                    Body::from(json!({ field: "x" }).to_string()),
                )
                .await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{db} {field}");
            let e: Value = r.json().await.unwrap();
            assert_eq!(e["error"]["target"], field, "{db} {e}");
        }
        let r = app
            .send(
                "PATCH",
                &format!("/catalog/Documents({id})"),
                &app.editor(),
                &[("content-type", "application/json"), ("if-match", &version)],
                Body::from(json!({"location": "stale"}).to_string()),
            )
            .await;
        assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED, "{db}");

        // Delete: gone at once for readers, the object once the outbox ran.
        let r = app
            .send(
                "DELETE",
                &format!("/catalog/Documents({id})"),
                &app.editor(),
                &[],
                Body::empty(),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{db}");
        let r = app
            .get(&format!("/catalog/Documents({id})"), &app.editor())
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{db}");
        let done = bridge::app::documents::worker::outbox_round(&app.state)
            .await
            .unwrap();
        assert_eq!(done, 1, "{db}");
        assert!(app.objects().is_empty(), "{db}: {:?}", app.objects());
        assert!(
            app.store
                .get_document(id.parse().unwrap())
                .await
                .unwrap()
                .is_none()
        );

        // The audit log saw all of it.
        let r = app
            .get(
                &format!("/catalog/DocumentEvents?$filter=documentId%20eq%20{id}&$orderby=at"),
                &app.editor(),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{db}");
        let events: Value = r.json().await.unwrap();
        let actions: Vec<&str> = events["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for a in ["create", "upload", "read", "update", "delete"] {
            assert!(actions.contains(&a), "{db}: {actions:?}");
        }
    }
}

async fn doc_etag(app: &TestApp, id: &str) -> String {
    let r = app
        .get(&format!("/catalog/Documents({id})"), &app.editor())
        .await;
    r.headers()["etag"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn multipart_form_uploads_as_ui5_sends_them() {
    for (db, app) in apps() {
        let id = id_of(&app.create(json!({"fileName": "notes.txt"})).await);
        let boundary = "----bridgeboundary";
        let form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nhello from a form\r\n--{boundary}--\r\n"
        );
        let r = app
            .send(
                "PUT",
                &format!("/catalog/Documents({id})/content"),
                &app.editor(),
                &[(
                    "content-type",
                    &format!("multipart/form-data; boundary={boundary}"),
                )],
                Body::from(form),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::NO_CONTENT,
            "{db}: {:?}",
            r.text().await
        );
        let doc = app.doc(&id).await;
        assert_eq!(doc["size"], 17, "{db}");
        assert_eq!(doc["mediaType"], "text/plain", "{db}");
        assert_eq!(doc["sha256"], sha256_hex(b"hello from a form"), "{db}");
    }
}

/// Every refusal is an OData error, the row goes back to `pending`, and no object is left.
#[tokio::test]
async fn refused_uploads_keep_nothing() {
    for (db, app) in apps() {
        let limit = app.state.documents.as_ref().unwrap().max_bytes;
        let id = id_of(
            &app.create(json!({"fileName": "a.pdf", "mediaType": "application/pdf"}))
                .await,
        );
        let path = format!("/catalog/Documents({id})/content");
        let cases: Vec<Case> = vec![
            (
                "a Content-Length over the limit",
                vec![
                    ("content-type", "application/pdf".into()),
                    ("content-length", (limit + 1).to_string()),
                ],
                Vec::new(),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                "a forbidden media type",
                vec![("content-type", "application/x-msdownload".into())],
                b"MZ\x90\x00".to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                "content that is not what it says",
                vec![("content-type", "application/pdf".into())],
                b"MZ\x90\x00 this is an executable".to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                "a wrong x-amz-checksum-sha256",
                vec![
                    ("content-type", "application/pdf".into()),
                    ("x-amz-checksum-sha256", sha256_b64(b"something else")),
                ],
                PDF.to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "a wrong Content-Digest",
                vec![
                    ("content-type", "application/pdf".into()),
                    (
                        "content-digest",
                        format!("sha-256=:{}:", sha256_b64(b"something else")),
                    ),
                ],
                PDF.to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "a malformed Content-Digest",
                vec![
                    ("content-type", "application/pdf".into()),
                    ("content-digest", "sha-256=:not base64!:".into()),
                ],
                PDF.to_vec(),
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (what, headers, body, status) in cases {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = app
                .send("PUT", &path, &app.editor(), &headers, Body::from(body))
                .await;
            assert_eq!(r.status(), status, "{db}: {what}");
            let e: Value = r.json().await.unwrap();
            assert_eq!(
                e["error"]["code"],
                status.as_u16().to_string(),
                "{db}: {what}: {e}"
            );
            assert_eq!(app.doc(&id).await["status"], "pending", "{db}: {what}");
            assert!(
                app.objects().is_empty(),
                "{db}: {what}: {:?}",
                app.objects()
            );
        }
        // The right checksum passes.
        let r = app
            .send(
                "PUT",
                &path,
                &app.editor(),
                &[
                    ("content-type", "application/pdf"),
                    ("x-amz-checksum-sha256", &sha256_b64(PDF)),
                ],
                Body::from(PDF.to_vec()),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{db}");
        // A second upload of an available document is a conflict.
        let r = app.upload(&id, "application/pdf", PDF).await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{db}");
    }
}

/// The size limit holds against a body longer than its `Content-Length` claims, counted as
/// the bytes stream (a chunked body has no length at all).
#[tokio::test]
async fn the_size_limit_is_counted_not_trusted() {
    let mut app = TestApp::new();
    let mut settings = app.state.documents.clone().unwrap();
    settings.max_bytes = 1024;
    app = app.with_documents(settings);
    let id = id_of(&app.create(json!({"fileName": "big.txt"})).await);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b'a'; 512])).collect();
    let body = Body::from_stream(futures::stream::iter(chunks));
    let r = app
        .send(
            "PUT",
            &format!("/catalog/Documents({id})/content"),
            &app.editor(),
            &[("content-type", "text/plain")],
            body,
        )
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(app.objects().is_empty());
    assert_eq!(app.doc(&id).await["status"], "pending");
}

#[tokio::test]
async fn bad_metadata_is_a_clear_odata_error() {
    for (db, app) in apps() {
        let long = "x".repeat(10_000);
        for (body, target) in [
            (json!({"fileName": "../../etc/passwd"}), "fileName"),
            (json!({"fileName": "/etc/passwd"}), "fileName"),
            (json!({"fileName": "C:\\boot.ini"}), "fileName"),
            (json!({"fileName": ".."}), "fileName"),
            (json!({"fileName": "a\u{0}b.pdf"}), "fileName"),
            (json!({"fileName": "line\nbreak.pdf"}), "fileName"),
            (json!({"fileName": "gpj.exe\u{202E}"}), "fileName"),
            (json!({"fileName": long}), "fileName"),
            (json!({}), "fileName"),
            (
                json!({"fileName": "a.pdf", "status": "available"}),
                "status",
            ),
            (json!({"fileName": "a.pdf", "size": 1}), "size"),
            (json!({"fileName": "a.pdf", "colour": "red"}), "colour"),
            (
                json!({"fileName": "a.pdf", "attributes": [1, 2]}),
                "attributes",
            ),
            (
                json!({"fileName": "a.pdf", "documentNumber": long}),
                "documentNumber",
            ),
        ] {
            let r = app
                .send(
                    "POST",
                    "/catalog/Documents",
                    &app.editor(),
                    &[("content-type", "application/json")],
                    Body::from(body.to_string()),
                )
                .await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{db}: {body}");
            let e: Value = r.json().await.unwrap();
            assert_eq!(e["error"]["target"], target, "{db}: {body}: {e}");
        }
        let r = app
            .send(
                "POST",
                "/catalog/Documents",
                &app.editor(),
                &[("content-type", "application/json")],
                Body::from("{not json"),
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{db}");
        let r = app
            .send(
                "POST",
                "/catalog/Documents",
                &app.editor(),
                &[("content-type", "application/json")],
                Body::from(
                    json!({"fileName": "x.exe", "mediaType": "application/x-msdownload"})
                        .to_string(),
                ),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{db}");
        // Nothing was created by any of it.
        let r = app.get("/catalog/Documents/$count", &app.editor()).await;
        assert_eq!(r.text().await.unwrap(), "0", "{db}");
        // Unknown documents and malformed queries.
        let unknown = "00000000-0000-4000-8000-000000000000";
        for path in [
            format!("/catalog/Documents({unknown})"),
            format!("/catalog/Documents({unknown})/content"),
        ] {
            let r = app.get(&path, &app.editor()).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{db}: {path}");
        }
        for q in [
            "$filter=size%20eq",
            "$filter=nosuch%20eq%201",
            "$filter=attributes%20eq%20null",
            "$orderby=attributes",
            "$skiptoken=forged",
            "$filter=fileName%20eq%201",
        ] {
            let r = app
                .get(&format!("/catalog/Documents?{q}"), &app.editor())
                .await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{db}: {q}");
            let e: Value = r.json().await.unwrap();
            assert_eq!(e["error"]["code"], "400", "{db}: {q}: {e}");
        }
    }
}

#[tokio::test]
async fn readers_cannot_write() {
    let app = TestApp::new();
    let viewer = app.token(&["Read"]);
    let id = id_of(&app.create(json!({"fileName": "a.txt"})).await);
    for (method, path, body) in [
        (
            "POST",
            "/catalog/Documents".to_owned(),
            json!({"fileName": "b.txt"}).to_string(),
        ),
        (
            "PUT",
            format!("/catalog/Documents({id})/content"),
            "text".to_owned(),
        ),
        (
            "PATCH",
            format!("/catalog/Documents({id})"),
            json!({"location": "x"}).to_string(),
        ),
        ("DELETE", format!("/catalog/Documents({id})"), String::new()),
        (
            "POST",
            format!("/catalog/Documents({id})/CatalogService.uploadUrl"),
            "{}".to_owned(),
        ),
    ] {
        let r = app
            .send(
                method,
                &path,
                &viewer,
                &[("content-type", "application/json")],
                Body::from(body),
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    // No token at all: 401, before anything about the path is revealed.
    let r = app.get_with("/catalog/Documents", None, &[]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.doc(&id).await["status"], "pending");
}

#[tokio::test]
async fn s3_down_during_an_upload_is_503_and_keeps_nothing() {
    for (db, app) in apps() {
        let id = id_of(&app.create(json!({"fileName": "a.pdf"})).await);
        app.s3.fail_with(Some(awslink::Error::S3Unreachable {
            operation: "PutObject",
            endpoint: "https://bucket.vpce.example".into(),
            reason: "connection refused".into(),
        }));
        let r = app.upload(&id, "application/pdf", PDF).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{db}");
        app.s3.fail_with(None);
        assert!(app.objects().is_empty(), "{db}");
        assert_eq!(app.doc(&id).await["status"], "pending", "{db}");
        // Once S3 is back, the same document uploads.
        assert_eq!(
            app.upload(&id, "application/pdf", PDF).await.status(),
            StatusCode::NO_CONTENT,
            "{db}"
        );
    }
}

#[tokio::test]
async fn database_down_is_503_and_leaves_no_object() {
    let app = TestApp::new();
    let id = id_of(&app.create(json!({"fileName": "a.pdf"})).await);
    app.store.close().await;
    let r = app.upload(&id, "application/pdf", PDF).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "503");
    assert!(app.objects().is_empty(), "{:?}", app.objects());
    let r = app.get("/catalog/Documents", &app.editor()).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn queries_page_by_key_and_search_names() {
    for (db, app) in apps() {
        for i in 0..7 {
            app.create(json!({
                "fileName": format!("invoice-{i}.pdf"),
                "documentNumber": format!("FI-2026-{i:07}"),
                "location": if i % 2 == 0 { "LOC-1" } else { "LOC-2" },
            }))
            .await;
        }
        // Pages of 3 by key: all 7, in order, no duplicate.
        let mut seen = Vec::new();
        let mut next = Some("/catalog/Documents?$orderby=documentNumber%20desc".to_owned());
        let mut pages = 0;
        while let Some(path) = next.take() {
            let r = app
                .get_with(
                    &path,
                    Some(&app.editor()),
                    &[("prefer", "odata.maxpagesize=3")],
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK, "{db}: {path}");
            let page: Value = r.json().await.unwrap();
            for d in page["value"].as_array().unwrap() {
                seen.push(d["documentNumber"].as_str().unwrap().to_owned());
            }
            next = page["@odata.nextLink"]
                .as_str()
                .map(|l| format!("/catalog/{l}"));
            pages += 1;
        }
        assert_eq!(pages, 3, "{db}");
        let mut want: Vec<String> = (0..7).map(|i| format!("FI-2026-{i:07}")).collect();
        want.reverse();
        assert_eq!(seen, want, "{db}");
        // Filters, count and search.
        let r = app
            .get(
                "/catalog/Documents?$filter=location%20eq%20'LOC-1'%20and%20startswith(documentNumber,'FI-2026')&$count=true&$top=2",
                &app.editor(),
            )
            .await;
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["@odata.count"], 4, "{db}: {page}");
        assert_eq!(page["value"].as_array().unwrap().len(), 2, "{db}");
        let r = app
            .get("/catalog/Documents?$search=invoice-3", &app.editor())
            .await;
        let page: Value = r.json().await.unwrap();
        let names: Vec<&str> = page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["fileName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["invoice-3.pdf"], "{db}");
    }
}

#[tokio::test]
async fn reconcile_repairs_both_directions() {
    for (db, app) in apps() {
        // No grace: every unreferenced object counts as left behind.
        let mut settings = app.state.documents.clone().unwrap();
        settings.reconcile_grace = std::time::Duration::ZERO;
        let app = app.with_documents(settings);
        let ok = id_of(&app.create(json!({"fileName": "ok.pdf"})).await);
        assert_eq!(
            app.upload(&ok, "application/pdf", PDF).await.status(),
            StatusCode::NO_CONTENT
        );
        let lost = app.create(json!({"fileName": "lost.pdf"})).await;
        assert_eq!(
            app.upload(&id_of(&lost), "application/pdf", PDF)
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        {
            use awslink::s3::S3Backend as _;
            app.s3
                .delete_object("bridge-documents", lost["objectKey"].as_str().unwrap())
                .await
                .unwrap();
        }
        app.s3.insert_object(
            "bridge-documents",
            "documents/_/orphan/left-behind.pdf",
            Some("application/pdf"),
            PDF.to_vec(),
        );
        // An upload the app died in after S3 completed the object, before the row said so.
        let stalled = app.create(json!({"fileName": "stalled.pdf"})).await;
        let stalled_id: uuid::Uuid = id_of(&stalled).parse().unwrap();
        app.store
            .begin_upload(stalled_id, "sb-test-client", chrono::Utc::now())
            .await
            .unwrap();
        app.s3.insert_object(
            "bridge-documents",
            stalled["objectKey"].as_str().unwrap(),
            Some("application/pdf"),
            PDF.to_vec(),
        );
        let runner = app.token(&["JobRunner"]);
        let r = app.post("/jobs/reconcile", &runner).await;
        assert_eq!(r.status(), StatusCode::OK, "{db}");
        let report: Value = r.json().await.unwrap();
        assert_eq!(report["objectsDeleted"], 2, "{db}: {report}");
        assert_eq!(
            report["staleUploadsReset"][0],
            stalled_id.to_string(),
            "{db}: {report}"
        );
        assert_eq!(
            app.doc(&stalled_id.to_string()).await["status"],
            "pending",
            "{db}"
        );
        assert!(
            !app.objects().iter().any(|k| k.contains("stalled")),
            "{db}: {:?}",
            app.objects()
        );
        assert_eq!(
            report["rowsWithoutObjects"][0],
            id_of(&lost),
            "{db}: {report}"
        );
        let lost_now = app.doc(&id_of(&lost)).await;
        assert_eq!(lost_now["status"], "failed", "{db}");
        assert!(!app.objects().iter().any(|k| k.contains("orphan")), "{db}");
        assert_eq!(app.doc(&ok).await["status"], "available", "{db}");
        // Readers may not run it.
        let r = app.post("/jobs/reconcile", &app.token(&["Read"])).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn metadata_declares_a_media_entity_in_caps_layout() {
    let app = TestApp::new();
    let r = app.get("/catalog/$metadata", &app.editor()).await;
    let xml = r.text().await.unwrap();
    for needle in [
        "<EntitySet Name=\"Documents\" EntityType=\"CatalogService.Documents\"/>",
        "<Property Name=\"content\" Type=\"Edm.Stream\"/>",
        "<Property Name=\"attributes\" Type=\"CatalogService.cds_Map\"/>",
        "<ComplexType Name=\"cds_Map\" OpenType=\"true\"/>",
        "<Action Name=\"finalize\" IsBound=\"true\" EntitySetPath=\"in\">",
        "<Annotation Term=\"Core.MediaType\" Path=\"mediaType\"/>",
    ] {
        assert!(xml.contains(needle), "{needle}\n{xml}");
    }
}
