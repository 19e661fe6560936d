//! The object operations of `S3Backend` through `SdkS3`, each scenario twice: against the dev
//! stack's local S3 (Private Link name, TLS, SigV4 and the role's IAM policy checked) and
//! against moto (a second S3 implementation, which also has ListMultipartUploads). Uploads use
//! 5 MiB parts, the smallest both servers accept for all parts but the last.
//!
//! Whether a multipart upload is left over: moto answers ListMultipartUploads and ListParts;
//! the local S3 has no ListMultipartUploads (s3s-fs 0.14.1 lacks it, and the role may not
//! call it), so there the check reads its storage directory, where s3s-fs keeps every
//! upload in progress as a `.upload-<id>.json` and its parts as `.upload_id-<id>.part-<n>`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use awslink::s3::{
    BodyError, ByteRange, ByteStream, MIN_PART_SIZE, ObjectBody, PutError, PutRequest, S3Backend,
    SdkS3,
};
use awslink::{AwsLink, RoleCredentials};
use bytes::Bytes;
use futures::StreamExt as _;

use crate::common::Moto;
use crate::local_s3::{self, Local, register};

const MIB: usize = 1024 * 1024;

enum Server {
    Dev(Box<Local>),
    /// Kept for its lifetime: dropping it kills moto.
    Moto {
        server: Moto,
    },
}

/// One S3 server with the clients the tests need.
struct Target {
    /// The seam under test: 5 MiB parts, listing pages of 3, presigning with the link's
    /// credentials.
    s3: SdkS3,
    link: AwsLink,
    bucket: String,
    server: Server,
}

fn seam(link: &AwsLink) -> SdkS3 {
    SdkS3::new(link.s3.clone(), "test S3")
        .with_part_size(MIN_PART_SIZE)
        .with_list_page_size(3)
        .with_credentials(link.credentials.clone())
}

impl Target {
    async fn dev() -> Target {
        let local = local_s3::start().await;
        let link = local.link.clone();
        register(&link.credentials.credentials().await.unwrap());
        Target {
            s3: seam(&link),
            link,
            bucket: local_s3::BUCKET.to_owned(),
            server: Server::Dev(Box::new(local)),
        }
    }

    async fn moto() -> Target {
        testkit::logs::init();
        let moto = Moto::start().await;
        let link = AwsLink::new(
            crate::moto::settings(&moto.url),
            crate::moto::keys().await,
            &crate::moto::options(Vec::new()),
        )
        .unwrap();
        register(&link.credentials.credentials().await.unwrap());
        let bucket = "acme-documents";
        link.s3
            .create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::EuCentral1)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        Target {
            s3: seam(&link),
            link,
            bucket: bucket.to_owned(),
            server: Server::Moto { server: moto },
        }
    }

    async fn stop(self) {
        if let Server::Dev(local) = self.server {
            local.dev.stop().await;
        }
    }

    fn credentials(&self) -> &RoleCredentials {
        &self.link.credentials
    }

    fn put(&self, key: &str, body: ByteStream) -> PutRequest {
        PutRequest {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            content_type: Some("application/octet-stream".to_owned()),
            body,
        }
    }

    /// Multipart uploads in progress and the parts they hold.
    async fn uploads(&self) -> (usize, usize) {
        match &self.server {
            Server::Moto { server } => {
                let out = self
                    .link
                    .s3
                    .list_multipart_uploads()
                    .bucket(&self.bucket)
                    .send()
                    .await
                    .unwrap();
                let (mut uploads, mut parts) = (0, 0);
                for u in out.uploads() {
                    // moto 5.2.5 answers ListParts with a `ListPartsResponse` root, which the
                    // SDK refuses, so the parts are counted in the XML itself (moto checks no
                    // signatures: a plain GET is enough).
                    let url = format!(
                        "{}/{}/{}?uploadId={}",
                        server.url,
                        self.bucket,
                        u.key().unwrap(),
                        u.upload_id().unwrap()
                    );
                    let xml = reqwest::get(&url).await.unwrap().text().await.unwrap();
                    if xml.contains("<Code>NoSuchUpload</Code>") {
                        continue; // aborted since it was listed
                    }
                    assert!(xml.contains("<ListPartsResponse"), "{xml}");
                    uploads += 1;
                    parts += xml.matches("<Part>").count();
                }
                (uploads, parts)
            }
            Server::Dev(local) => {
                let (mut uploads, mut parts) = (0, 0);
                for entry in std::fs::read_dir(local.dev.s3().dir()).unwrap() {
                    let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                    if name.starts_with(".upload-") && name.ends_with(".json") {
                        uploads += 1;
                    } else if name.starts_with(".upload_id-") {
                        parts += 1;
                    }
                }
                (uploads, parts)
            }
        }
    }

    /// Polls [`Target::uploads`] until `done` holds (at most 30 s: a liveness bound, not a
    /// timing assertion).
    async fn wait_for_uploads(&self, what: &str, done: impl Fn((usize, usize)) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.uploads().await;
            if done(now) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: still {now:?} (uploads, parts) after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A plain HTTP client that reaches the server's presigned URLs.
    fn http(&self, url: &str) -> reqwest::Client {
        let mut builder = reqwest::Client::builder();
        if let Server::Dev(local) = &self.server {
            let u = url::Url::parse(url).unwrap();
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), u.port().unwrap());
            builder = builder
                .add_root_certificate(
                    reqwest::Certificate::from_pem(local.dev.ca_pem().as_bytes()).unwrap(),
                )
                .resolve(u.host_str().unwrap(), addr);
        }
        builder.build().unwrap()
    }
}

/// Deterministic, position-dependent bytes (a shifted part would not compare equal).
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// `data` in chunks of `chunk` bytes (an odd size, so chunks straddle part boundaries).
fn chunked(data: &[u8], chunk: usize) -> Vec<Result<Bytes, BodyError>> {
    data.chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect()
}

fn stream(chunks: Vec<Result<Bytes, BodyError>>) -> ByteStream {
    Box::pin(futures::stream::iter(chunks))
}

async fn read(body: ObjectBody) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = body.body;
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// The app's reason to stop a body, as the app would define it.
#[derive(Debug, thiserror::Error)]
#[error("the document exceeds the size limit")]
struct TooLarge;

async fn small_roundtrip_head_and_delete(t: &Target) {
    let data = pattern(1000);
    let put =
        t.s3.put_object(PutRequest {
            content_type: Some("text/plain".to_owned()),
            ..t.put("docs/small one.txt", stream(chunked(&data, 333)))
        })
        .await
        .unwrap();
    assert_eq!((put.size, put.parts), (1000, 1));
    let e_tag = put.e_tag.clone().unwrap();

    let got =
        t.s3.get_object(&t.bucket, "docs/small one.txt", None)
            .await
            .unwrap();
    assert_eq!(got.content_length, 1000);
    assert_eq!(got.content_range, None);
    assert_eq!(got.e_tag.as_deref(), Some(e_tag.as_str()));
    assert_eq!(got.content_type.as_deref(), Some("text/plain"));
    assert!(read(got).await == data, "the object came back changed");

    let head =
        t.s3.head_object(&t.bucket, "docs/small one.txt")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(head.key, "docs/small one.txt");
    assert_eq!(head.size, 1000);
    assert_eq!(head.e_tag.as_deref(), Some(e_tag.as_str()));
    let modified = head.last_modified.unwrap();
    assert!(modified <= SystemTime::now() + Duration::from_secs(5));
    assert_eq!(
        t.s3.head_object(&t.bucket, "docs/absent").await.unwrap(),
        None
    );

    let err =
        t.s3.get_object(&t.bucket, "docs/absent", None)
            .await
            .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(!err.is_transient(), "{err:?}");

    // An empty body is an empty object.
    let empty =
        t.s3.put_object(t.put("docs/empty", stream(Vec::new())))
            .await
            .unwrap();
    assert_eq!((empty.size, empty.parts), (0, 1));
    let got =
        t.s3.get_object(&t.bucket, "docs/empty", None)
            .await
            .unwrap();
    assert_eq!(got.content_length, 0);
    assert!(read(got).await.is_empty());

    t.s3.delete_object(&t.bucket, "docs/small one.txt")
        .await
        .unwrap();
    t.s3.delete_object(&t.bucket, "docs/small one.txt")
        .await
        .unwrap();
    assert_eq!(
        t.s3.head_object(&t.bucket, "docs/small one.txt")
            .await
            .unwrap(),
        None
    );
}

async fn multipart_roundtrip(t: &Target) {
    let data = pattern(12 * MIB);
    let put =
        t.s3.put_object(t.put("docs/big.bin", stream(chunked(&data, 100_003))))
            .await
            .unwrap();
    assert_eq!((put.size, put.parts), (12 * MIB as u64, 3));
    let e_tag = put.e_tag.unwrap();
    assert!(e_tag.ends_with("-3\""), "{e_tag}");
    let got =
        t.s3.get_object(&t.bucket, "docs/big.bin", None)
            .await
            .unwrap();
    assert_eq!(got.content_length, 12 * MIB as u64);
    assert_eq!(got.e_tag.as_deref(), Some(e_tag.as_str()));
    let back = read(got).await;
    assert_eq!(back.len(), data.len());
    assert!(back == data, "the multipart object came back changed");
    assert_eq!(t.uploads().await, (0, 0), "nothing left in progress");
}

async fn a_failing_body_leaves_nothing(t: &Target) {
    // An object already at the key stays as it was.
    t.s3.put_object(t.put("docs/kept.bin", stream(chunked(b"the old bytes", 5))))
        .await
        .unwrap();
    for key in ["docs/failed.bin", "docs/kept.bin"] {
        let mut chunks = chunked(&pattern(7 * MIB), 65_536);
        chunks.push(Err(BodyError::new(TooLarge)));
        let err =
            t.s3.put_object(t.put(key, stream(chunks)))
                .await
                .unwrap_err();
        match &err {
            PutError::Body(b) => assert!(b.0.downcast_ref::<TooLarge>().is_some(), "{b:?}"),
            other => panic!("{key}: {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "the upload body failed: the document exceeds the size limit"
        );
        assert_eq!(t.uploads().await, (0, 0), "{key}: the upload was aborted");
    }
    assert_eq!(
        t.s3.head_object(&t.bucket, "docs/failed.bin")
            .await
            .unwrap(),
        None
    );
    let kept =
        t.s3.get_object(&t.bucket, "docs/kept.bin", None)
            .await
            .unwrap();
    assert_eq!(read(kept).await, b"the old bytes");

    // A body that fails before the first part is full never reaches S3.
    let chunks = vec![
        Ok(Bytes::from_static(b"abc")),
        Err(BodyError::new(TooLarge)),
    ];
    let err =
        t.s3.put_object(t.put("docs/early.bin", stream(chunks)))
            .await
            .unwrap_err();
    assert!(matches!(err, PutError::Body(_)), "{err:?}");
    assert_eq!(
        t.s3.head_object(&t.bucket, "docs/early.bin").await.unwrap(),
        None
    );
}

async fn a_dropped_upload_is_aborted(t: &Target) {
    // One full part and a byte more (so it must go multipart), then the client stalls.
    let chunks = chunked(&pattern(MIN_PART_SIZE + 1), 65_536);
    let body: ByteStream =
        Box::pin(futures::stream::iter(chunks).chain(futures::stream::pending()));
    let s3 = Arc::new(t.s3.clone());
    let request = t.put("docs/dropped.bin", body);
    let put = tokio::spawn(async move { s3.put_object(request).await });
    t.wait_for_uploads("the first part", |(uploads, parts)| {
        uploads == 1 && parts == 1
    })
    .await;
    // The client goes away: the server drops the handler's future.
    put.abort();
    assert!(put.await.unwrap_err().is_cancelled());
    t.wait_for_uploads("the abort", |now| now == (0, 0)).await;
    assert_eq!(
        t.s3.head_object(&t.bucket, "docs/dropped.bin")
            .await
            .unwrap(),
        None
    );
}

async fn ranges(t: &Target) {
    let data = pattern(1000);
    t.s3.put_object(t.put("docs/range.bin", stream(chunked(&data, 1000))))
        .await
        .unwrap();
    for (range, start, end) in [
        (ByteRange::FromTo(100, 199), 100, 199),
        (ByteRange::FromTo(995, 5000), 995, 999),
        (ByteRange::From(990), 990, 999),
        (ByteRange::Suffix(10), 990, 999),
        (ByteRange::Suffix(5000), 0, 999),
    ] {
        if matches!(
            (&t.server, range),
            (Server::Dev(_), ByteRange::Suffix(5000))
        ) {
            // s3s-fs 0.14.1 seeks `length` bytes back from the end without cutting `length` to
            // the object's size and answers 500; S3 (and moto) send the whole object.
            continue;
        }
        let got =
            t.s3.get_object(&t.bucket, "docs/range.bin", Some(range))
                .await
                .unwrap();
        assert_eq!(got.content_range, Some((start, end, 1000)), "{range:?}");
        assert_eq!(got.content_length, end - start + 1, "{range:?}");
        assert_eq!(
            read(got).await,
            &data[start as usize..=end as usize],
            "{range:?}"
        );
    }
    let err =
        t.s3.get_object(&t.bucket, "docs/range.bin", Some(ByteRange::From(1000)))
            .await
            .unwrap_err();
    assert!(err.is_invalid_range(), "{err:?}");
    assert!(!err.is_not_found(), "{err:?}");
}

async fn list_pages_under_a_prefix(t: &Target) {
    for key in [
        "other/a", "paged/5", "paged/1", "paged/7", "paged/3", "paged/2", "paged/6", "paged/4",
        "pagedX",
    ] {
        t.s3.put_object(t.put(key, stream(chunked(key.as_bytes(), 4))))
            .await
            .unwrap();
    }
    let (mut keys, mut next, mut pages) = (Vec::new(), None, 0);
    loop {
        let page =
            t.s3.list_objects(&t.bucket, Some("paged/"), next.take())
                .await
                .unwrap();
        pages += 1;
        assert!(page.objects.len() <= 3, "{page:?}");
        for o in page.objects {
            assert_eq!(o.size, o.key.len() as u64);
            assert!(o.last_modified.is_some(), "{o:?}");
            if let Server::Moto { .. } = t.server {
                // s3s-fs 0.14.1 lists no ETags; S3 and moto do.
                assert!(o.e_tag.is_some(), "{o:?}");
            }
            keys.push(o.key);
        }
        match page.next {
            Some(token) => next = Some(token),
            None => break,
        }
    }
    assert_eq!(
        keys,
        [
            "paged/1", "paged/2", "paged/3", "paged/4", "paged/5", "paged/6", "paged/7"
        ]
    );
    assert_eq!(pages, 3);
    let all = t.s3.list_objects(&t.bucket, None, None).await.unwrap();
    assert!(
        all.next.is_some(),
        "more than 3 objects in the bucket: {all:?}"
    );
}

async fn presigned_put_and_get(t: &Target) {
    let data = pattern(4096);
    let put =
        t.s3.presign_put(
            &t.bucket,
            "docs/presigned report.pdf",
            Some("application/pdf"),
            Some(data.len() as u64),
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    testkit::logs::secret(signature(&put.url));
    assert_eq!(put.method, "PUT");
    assert!(
        put.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("content-type") && v == "application/pdf"),
        "{put:?}"
    );
    let mut req = t.http(&put.url).put(&put.url);
    for (name, value) in &put.headers {
        req = req.header(name, value);
    }
    let resp = req.body(data.clone()).send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let got =
        t.s3.get_object(&t.bucket, "docs/presigned report.pdf", None)
            .await
            .unwrap();
    assert_eq!(got.content_type.as_deref(), Some("application/pdf"));
    assert!(read(got).await == data, "the presigned upload differs");

    assert!(
        put.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("content-length") && v == "4096"),
        "{put:?}"
    );
    if let Server::Dev(_) = t.server {
        // The length is signed: another one is refused (the local S3 checks signatures; moto
        // does not).
        let mut req = t.http(&put.url).put(&put.url);
        for (name, value) in &put.headers {
            if !name.eq_ignore_ascii_case("content-length") {
                req = req.header(name, value);
            }
        }
        let resp = req.body(pattern(4095)).send().await.unwrap();
        assert_eq!(resp.status(), 403);
    }

    let disposition = "attachment; filename=\"report.pdf\"";
    let get =
        t.s3.presign_get(
            &t.bucket,
            "docs/presigned report.pdf",
            Duration::from_secs(300),
            Some(disposition.to_owned()),
        )
        .await
        .unwrap();
    testkit::logs::secret(signature(&get.url));
    assert_eq!(get.method, "GET");
    let resp = t.http(&get.url).get(&get.url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    if let Server::Moto { .. } = t.server {
        // s3s-fs 0.14.1 ignores `response-content-disposition`; moto honours it, as S3 does.
        assert_eq!(
            resp.headers()["content-disposition"].to_str().unwrap(),
            disposition
        );
    }
    assert!(
        resp.bytes().await.unwrap() == data,
        "the presigned download differs"
    );
}

/// The `X-Amz-Signature` of a presigned URL.
fn signature(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-Signature")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

async fn presign_lifetime_is_cut_to_the_credentials(t: &Target) {
    // Through the link's own backend: `AwsLink::backend` wires the credentials in.
    let backend = t.link.backend();
    let asked = Duration::from_secs(7 * 24 * 3600);
    let p = backend
        .presign_get(&t.bucket, "docs/any", asked, None)
        .await
        .unwrap();
    testkit::logs::secret(signature(&p.url));
    let expiry = t.credentials().expiry().unwrap();
    assert!(
        p.expires_at <= expiry,
        "{p:?} outlives the credentials ({expiry:?})"
    );
    assert!(p.expires_at > SystemTime::now(), "{p:?}");
    // What the URL says agrees with `expires_at`.
    let u = url::Url::parse(&p.url).unwrap();
    let q = |name: &str| {
        u.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let expires: u64 = q("X-Amz-Expires").parse().unwrap();
    let left = expiry.duration_since(SystemTime::now()).unwrap().as_secs();
    assert!(
        expires <= left + 1 && expires + 60 >= left,
        "{expires} s vs {left} s left"
    );
    assert!(
        q("X-Amz-Credential")
            .starts_with(t.credentials().credentials().await.unwrap().access_key_id()),
        "signed with the cached credentials"
    );
    // Debug shows where, never the signature or the session token.
    let shown = format!("{p:?}");
    assert!(!shown.contains("X-Amz"), "{shown}");
    assert!(!shown.contains(&signature(&p.url)), "{shown}");

    // A short lifetime stays as asked.
    let short =
        t.s3.presign_put(&t.bucket, "docs/any", None, None, Duration::from_secs(60))
            .await
            .unwrap();
    testkit::logs::secret(signature(&short.url));
    let life = short
        .expires_at
        .duration_since(SystemTime::now() - Duration::from_secs(1))
        .unwrap();
    assert!(life <= Duration::from_secs(61), "{life:?}");
    assert!(short.url.contains("X-Amz-Expires=60"), "{short:?}");
}

macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        /// Against the dev stack's local S3.
        mod dev {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let t = super::Target::dev().await;
                    super::$scenario(&t).await;
                    t.stop().await;
                }
            )*
        }
        /// Against moto.
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let t = super::Target::moto().await;
                    super::$scenario(&t).await;
                    t.stop().await;
                }
            )*
        }
    };
}

on_both!(
    small_roundtrip_head_and_delete,
    multipart_roundtrip,
    a_failing_body_leaves_nothing,
    a_dropped_upload_is_aborted,
    ranges,
    list_pages_under_a_prefix,
    presigned_put_and_get,
    presign_lifetime_is_cut_to_the_credentials,
);
