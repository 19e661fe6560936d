//! [`MemoryS3`]: the in-memory [`S3Backend`] for tests of the app.

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::objects::{MAX_PARTS, MAX_PRESIGN, PART_SIZE, Parts, now_in_seconds};
use super::{
    Bucket, ByteRange, ObjectBody, ObjectInfo, ObjectPage, Presigned, PutError, PutOutcome,
    PutRequest, S3Backend,
};
use crate::error::Error;

/// Chunk size of the bodies [`MemoryS3`] streams back.
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone)]
struct Stored {
    bytes: Bytes,
    e_tag: String,
    content_type: Option<String>,
    modified: SystemTime,
}

/// An in-memory [`S3Backend`] for tests of the app: buckets kept in order by name, objects in
/// a map, and a failure that can be switched on to stand for S3 refusing, unreachable or slow.
///
/// It follows S3 where the app can tell: object calls on a bucket that was not added are
/// `NoSuchBucket` (404); uploads are cut into parts as [`super::SdkS3`] cuts them ([`PART_SIZE`],
/// or [`MemoryS3::with_part_size`], any size), and an upload is stored only when its body
/// ended cleanly, so a failing or dropped upload leaves nothing (and
/// [`MemoryS3::uploads_in_progress`] goes back to 0); GetObject ranges as RFC 9110 and S3
/// (416 `InvalidRange`); DeleteObject of an absent key succeeds; ListObjectsV2 pages
/// ([`MemoryS3::with_list_page_size`]) in key order. Presigned URLs are `memory://bucket/key`
/// (nothing can fetch them), valid for the asked time cut to 7 days. A failure set by
/// [`MemoryS3::fail_with`] applies to every call, and to every part of an upload in progress.
#[derive(Debug)]
pub struct MemoryS3 {
    buckets: Mutex<BTreeMap<String, SystemTime>>,
    objects: Mutex<BTreeMap<(String, String), Stored>>,
    failure: Mutex<Option<Error>>,
    calls: AtomicU64,
    uploads: AtomicUsize,
    part_size: usize,
    list_page_size: usize,
}

impl Default for MemoryS3 {
    fn default() -> Self {
        Self {
            buckets: Mutex::default(),
            objects: Mutex::default(),
            failure: Mutex::default(),
            calls: AtomicU64::new(0),
            uploads: AtomicUsize::new(0),
            part_size: PART_SIZE,
            list_page_size: 1000,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts an upload in progress while alive.
struct InProgress<'a>(&'a AtomicUsize);

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn refused(operation: &'static str, code: &str, status: u16, message: &str) -> Error {
    Error::S3 {
        operation,
        code: code.to_owned(),
        status: Some(status),
        message: message.to_owned(),
    }
}

/// A stable stand-in for S3's MD5 ETag (opaque to callers): quoted hex, `-N` for N parts.
fn e_tag(bytes: &[u8], parts: u32) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    let hex = format!("{:016x}{:016x}", h.finish(), bytes.len());
    if parts > 1 {
        format!("\"{hex}-{parts}\"")
    } else {
        format!("\"{hex}\"")
    }
}

impl MemoryS3 {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cuts uploads into parts of `bytes` (at least 1): small parts make small bodies go
    /// "multipart".
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(1);
        self
    }

    /// Lists at most `keys` objects per page (at least 1).
    pub fn with_list_page_size(mut self, keys: usize) -> Self {
        self.list_page_size = keys.max(1);
        self
    }

    /// Adds a bucket created at `created`.
    pub fn add_bucket(&self, name: &str, created: SystemTime) {
        lock(&self.buckets).insert(name.to_owned(), created);
    }

    /// Makes every call fail with `failure` (`None`: succeed again).
    pub fn fail_with(&self, failure: Option<Error>) {
        *lock(&self.failure) = failure;
    }

    /// How many calls were made.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The bytes stored under `bucket`/`key`.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        lock(&self.objects)
            .get(&(bucket.to_owned(), key.to_owned()))
            .map(|o| o.bytes.to_vec())
    }

    /// The stored `Content-Type` of `bucket`/`key`.
    pub fn object_content_type(&self, bucket: &str, key: &str) -> Option<String> {
        lock(&self.objects)
            .get(&(bucket.to_owned(), key.to_owned()))
            .and_then(|o| o.content_type.clone())
    }

    /// Every stored object as `(bucket, key)`, in order.
    pub fn object_keys(&self) -> Vec<(String, String)> {
        lock(&self.objects).keys().cloned().collect()
    }

    /// Stores an object directly, as a client's upload to a presigned URL would (the bucket
    /// must have been added; no call is counted, no failure applies).
    pub fn insert_object(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        bytes: impl Into<Bytes>,
    ) {
        let bytes = bytes.into();
        let stored = Stored {
            e_tag: e_tag(&bytes, 1),
            bytes,
            content_type: content_type.map(str::to_owned),
            modified: SystemTime::now(),
        };
        lock(&self.objects).insert((bucket.to_owned(), key.to_owned()), stored);
    }

    /// Uploads whose body is still streaming (a multipart upload in S3's terms): 0 once every
    /// upload finished, failed or was dropped.
    pub fn uploads_in_progress(&self) -> usize {
        self.uploads.load(Ordering::SeqCst)
    }

    /// Counts the call; the switched-on failure, if any.
    fn call(&self) -> Result<(), Error> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.failed()
    }

    fn failed(&self) -> Result<(), Error> {
        match lock(&self.failure).clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn bucket_exists(&self, operation: &'static str, bucket: &str) -> Result<(), Error> {
        if lock(&self.buckets).contains_key(bucket) {
            Ok(())
        } else {
            Err(refused(
                operation,
                "NoSuchBucket",
                404,
                "The specified bucket does not exist.",
            ))
        }
    }

    fn presign(
        &self,
        operation: &'static str,
        method: &'static str,
        bucket: &str,
        key: &str,
        expires_in: Duration,
        headers: Vec<(String, String)>,
    ) -> Result<Presigned, Error> {
        self.call()?;
        self.bucket_exists(operation, bucket)?;
        let start = now_in_seconds();
        let life = super::objects::presign_lifetime(start, expires_in.min(MAX_PRESIGN), None)?;
        let mut url = url::Url::parse(&format!("memory://{bucket}/")).map_err(|_| {
            refused(
                operation,
                "InvalidBucketName",
                400,
                "The specified bucket is not valid.",
            )
        })?;
        url.set_path(key);
        url.query_pairs_mut()
            .append_pair("method", method)
            .append_pair("expires-in", &life.as_secs().to_string());
        Ok(Presigned {
            url: url.into(),
            method,
            headers,
            expires_at: start + life,
        })
    }
}

#[async_trait::async_trait]
impl S3Backend for MemoryS3 {
    async fn list_buckets(&self) -> Result<Vec<Bucket>, Error> {
        self.call()?;
        Ok(lock(&self.buckets)
            .iter()
            .map(|(name, created)| Bucket {
                name: name.clone(),
                created: Some(*created),
            })
            .collect())
    }

    async fn put_object(&self, request: PutRequest) -> Result<PutOutcome, PutError> {
        const OPERATION: &str = "PutObject";
        self.call()?;
        self.bucket_exists(OPERATION, &request.bucket)?;
        self.uploads.fetch_add(1, Ordering::SeqCst);
        let _in_progress = InProgress(&self.uploads);
        let mut parts = Parts::new(request.body, self.part_size);
        let mut whole = Vec::new();
        let mut count: u32 = 0;
        while let Some(part) = parts.next_part().await.map_err(PutError::Body)? {
            self.failed()?;
            count += 1;
            if count > MAX_PARTS {
                return Err(PutError::S3(Error::Invalid {
                    what: "upload body",
                    reason: format!("more than {MAX_PARTS} parts of {} bytes", self.part_size),
                }));
            }
            whole.extend_from_slice(&part);
        }
        let count = count.max(1);
        let bytes = Bytes::from(whole);
        let stored = Stored {
            e_tag: e_tag(&bytes, count),
            bytes,
            content_type: request.content_type,
            modified: SystemTime::now(),
        };
        let outcome = PutOutcome {
            size: stored.bytes.len() as u64,
            e_tag: Some(stored.e_tag.clone()),
            parts: count,
        };
        lock(&self.objects).insert((request.bucket, request.key), stored);
        Ok(outcome)
    }

    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, Error> {
        const OPERATION: &str = "GetObject";
        self.call()?;
        self.bucket_exists(OPERATION, bucket)?;
        let Some(stored) = lock(&self.objects)
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
        else {
            return Err(refused(
                OPERATION,
                "NoSuchKey",
                404,
                "The specified key does not exist.",
            ));
        };
        let size = stored.bytes.len() as u64;
        // S3 ignores a FromTo range whose end is before its start (no valid range).
        let range = range.filter(|r| !matches!(r, ByteRange::FromTo(s, e) if e < s));
        let (bytes, content_range) = match range {
            None => (stored.bytes.clone(), None),
            Some(r) => {
                let (start, end) = r.resolve(size).ok_or_else(|| {
                    refused(
                        OPERATION,
                        "InvalidRange",
                        416,
                        "The requested range is not satisfiable",
                    )
                })?;
                let (s, e) = (
                    usize::try_from(start).unwrap_or(usize::MAX),
                    usize::try_from(end).unwrap_or(usize::MAX),
                );
                (stored.bytes.slice(s..=e), Some((start, end, size)))
            }
        };
        let content_length = bytes.len() as u64;
        let chunks: Vec<Result<Bytes, Error>> = (0..bytes.len())
            .step_by(CHUNK)
            .map(|at| Ok(bytes.slice(at..(at + CHUNK).min(bytes.len()))))
            .collect();
        Ok(ObjectBody {
            body: Box::pin(futures::stream::iter(chunks)),
            content_length,
            content_range,
            e_tag: Some(stored.e_tag),
            content_type: stored.content_type,
        })
    }

    async fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, Error> {
        self.call()?;
        self.bucket_exists("HeadObject", bucket)?;
        Ok(lock(&self.objects)
            .get(&(bucket.to_owned(), key.to_owned()))
            .map(|o| ObjectInfo {
                key: key.to_owned(),
                size: o.bytes.len() as u64,
                e_tag: Some(o.e_tag.clone()),
                last_modified: Some(o.modified),
            }))
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.call()?;
        self.bucket_exists("DeleteObject", bucket)?;
        lock(&self.objects).remove(&(bucket.to_owned(), key.to_owned()));
        Ok(())
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        continuation: Option<String>,
    ) -> Result<ObjectPage, Error> {
        self.call()?;
        self.bucket_exists("ListObjectsV2", bucket)?;
        let prefix = prefix.unwrap_or_default();
        let objects = lock(&self.objects);
        // The continuation token is the last key of the previous page.
        let mut matching = objects
            .iter()
            .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
            .filter(|((_, k), _)| continuation.as_ref().is_none_or(|after| k > after))
            .map(|((_, k), o)| ObjectInfo {
                key: k.clone(),
                size: o.bytes.len() as u64,
                e_tag: Some(o.e_tag.clone()),
                last_modified: Some(o.modified),
            });
        let page: Vec<ObjectInfo> = matching.by_ref().take(self.list_page_size).collect();
        let next = match (matching.next(), page.last()) {
            (Some(_), Some(last)) => Some(last.key.clone()),
            _ => None,
        };
        Ok(ObjectPage {
            objects: page,
            next,
        })
    }

    async fn presign_put(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        content_length: Option<u64>,
        expires_in: Duration,
    ) -> Result<Presigned, Error> {
        let mut headers = Vec::new();
        if let Some(t) = content_type {
            headers.push(("content-type".to_owned(), t.to_owned()));
        }
        if let Some(l) = content_length {
            headers.push(("content-length".to_owned(), l.to_string()));
        }
        self.presign("PutObject", "PUT", bucket, key, expires_in, headers)
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
        _response_content_disposition: Option<String>,
    ) -> Result<Presigned, Error> {
        self.presign("GetObject", "GET", bucket, key, expires_in, Vec::new())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::s3::{BodyError, ByteStream};
    use futures::StreamExt as _;

    const B: &str = "docs";

    fn store() -> MemoryS3 {
        let s3 = MemoryS3::new().with_part_size(4).with_list_page_size(2);
        s3.add_bucket(B, SystemTime::UNIX_EPOCH);
        s3
    }

    fn body(chunks: &[&[u8]]) -> ByteStream {
        let chunks: Vec<Result<Bytes, BodyError>> = chunks
            .iter()
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Box::pin(futures::stream::iter(chunks))
    }

    fn put(key: &str, body: ByteStream) -> PutRequest {
        PutRequest {
            bucket: B.into(),
            key: key.into(),
            content_type: Some("text/plain".into()),
            body,
        }
    }

    async fn read(body: ObjectBody) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = body.body;
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn put_get_head_delete() {
        let s3 = store();
        let small = s3.put_object(put("a.txt", body(&[b"abc"]))).await.unwrap();
        assert_eq!((small.size, small.parts), (3, 1));
        let big = s3
            .put_object(put("b.txt", body(&[b"hello ", b"world"])))
            .await
            .unwrap();
        assert_eq!((big.size, big.parts), (11, 3));
        assert!(big.e_tag.as_deref().unwrap().ends_with("-3\""));
        assert_eq!(s3.object(B, "b.txt").unwrap(), b"hello world");
        assert_eq!(
            s3.object_content_type(B, "b.txt").as_deref(),
            Some("text/plain")
        );

        let got = s3.get_object(B, "b.txt", None).await.unwrap();
        assert_eq!((got.content_length, got.content_range), (11, None));
        assert_eq!(got.e_tag, big.e_tag);
        assert_eq!(read(got).await, b"hello world");

        let head = s3.head_object(B, "b.txt").await.unwrap().unwrap();
        assert_eq!((head.size, head.e_tag), (11, big.e_tag));
        assert_eq!(s3.head_object(B, "nope").await.unwrap(), None);

        s3.delete_object(B, "b.txt").await.unwrap();
        s3.delete_object(B, "b.txt").await.unwrap();
        assert_eq!(s3.head_object(B, "b.txt").await.unwrap(), None);
        let err = s3.get_object(B, "b.txt", None).await.unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert_eq!(s3.object_keys(), vec![(B.to_owned(), "a.txt".to_owned())]);
    }

    #[tokio::test]
    async fn ranges_follow_s3() {
        let s3 = store();
        s3.insert_object(B, "r", None, (0..100u8).collect::<Vec<u8>>());
        for (range, start, end) in [
            (ByteRange::FromTo(10, 19), 10, 19),
            (ByteRange::FromTo(95, 500), 95, 99),
            (ByteRange::From(90), 90, 99),
            (ByteRange::Suffix(5), 95, 99),
        ] {
            let got = s3.get_object(B, "r", Some(range)).await.unwrap();
            assert_eq!(got.content_range, Some((start, end, 100)), "{range:?}");
            assert_eq!(got.content_length, end - start + 1);
            let want: Vec<u8> = (start as u8..=end as u8).collect();
            assert_eq!(read(got).await, want, "{range:?}");
        }
        let err = s3
            .get_object(B, "r", Some(ByteRange::From(100)))
            .await
            .unwrap_err();
        assert!(err.is_invalid_range() && !err.is_not_found(), "{err}");
        let ignored = s3
            .get_object(B, "r", Some(ByteRange::FromTo(9, 3)))
            .await
            .unwrap();
        assert_eq!((ignored.content_length, ignored.content_range), (100, None));
    }

    #[tokio::test]
    async fn a_failing_body_stores_nothing() {
        let s3 = store();
        s3.insert_object(B, "k", None, &b"old"[..]);
        let failing: ByteStream = Box::pin(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"new bytes")),
            Err(BodyError::new("too large")),
        ]));
        let err = s3.put_object(put("k", failing)).await.unwrap_err();
        assert!(
            matches!(&err, PutError::Body(b) if b.to_string() == "too large"),
            "{err}"
        );
        assert_eq!(
            s3.object(B, "k").unwrap(),
            b"old",
            "the old object is intact"
        );
        assert_eq!(s3.uploads_in_progress(), 0);
    }

    #[tokio::test]
    async fn a_dropped_upload_stores_nothing() {
        let s3 = std::sync::Arc::new(store());
        let pending: ByteStream = Box::pin(
            futures::stream::iter(vec![Ok(Bytes::from_static(b"12345678"))])
                .chain(futures::stream::pending()),
        );
        let task = tokio::spawn({
            let s3 = s3.clone();
            async move { s3.put_object(put("k", pending)).await }
        });
        while s3.uploads_in_progress() == 0 {
            tokio::task::yield_now().await;
        }
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(s3.uploads_in_progress(), 0);
        assert_eq!(s3.object(B, "k"), None);
    }

    #[tokio::test]
    async fn lists_page_by_key_under_a_prefix() {
        let s3 = store();
        for k in ["p/3", "p/1", "q/1", "p/2", "p/4", "p/5"] {
            s3.insert_object(B, k, None, &b"x"[..]);
        }
        let mut keys = Vec::new();
        let mut next = None;
        let mut pages = 0;
        loop {
            let page = s3.list_objects(B, Some("p/"), next.take()).await.unwrap();
            pages += 1;
            keys.extend(page.objects.into_iter().map(|o| o.key));
            match page.next {
                Some(t) => next = Some(t),
                None => break,
            }
        }
        assert_eq!(keys, ["p/1", "p/2", "p/3", "p/4", "p/5"]);
        assert_eq!(pages, 3);
    }

    #[tokio::test]
    async fn failures_and_unknown_buckets() {
        let s3 = store();
        let err = s3.head_object("other", "k").await.unwrap_err();
        assert!(
            matches!(&err, Error::S3 { code, .. } if code == "NoSuchBucket"),
            "{err}"
        );
        assert!(!err.is_not_found());

        s3.fail_with(Some(Error::S3Timeout {
            operation: "any",
            endpoint: "memory".into(),
            reason: "switched on".into(),
        }));
        let before = s3.calls();
        assert!(s3.head_object(B, "k").await.is_err());
        assert!(s3.list_objects(B, None, None).await.is_err());
        assert!(s3.delete_object(B, "k").await.is_err());
        assert!(s3.get_object(B, "k", None).await.is_err());
        assert!(matches!(
            s3.put_object(put("k", body(&[b"x"]))).await,
            Err(PutError::S3(Error::S3Timeout { .. }))
        ));
        assert!(
            s3.presign_get(B, "k", Duration::from_secs(60), None)
                .await
                .is_err()
        );
        assert_eq!(s3.calls() - before, 6);
        s3.fail_with(None);
        assert!(s3.head_object(B, "k").await.is_ok());
        assert_eq!(s3.object_keys(), vec![]);
    }

    #[tokio::test]
    async fn presigned_urls_are_memory_urls_cut_to_seven_days() {
        let s3 = store();
        let p = s3
            .presign_put(
                B,
                "docs/a b.pdf",
                Some("application/pdf"),
                Some(5),
                Duration::from_secs(30 * 24 * 3600),
            )
            .await
            .unwrap();
        assert!(
            p.url.starts_with("memory://docs/docs/a%20b.pdf?"),
            "{}",
            p.url
        );
        assert_eq!(p.method, "PUT");
        assert_eq!(
            p.headers,
            vec![
                ("content-type".to_owned(), "application/pdf".to_owned()),
                ("content-length".to_owned(), "5".to_owned())
            ]
        );
        let life = p.expires_at.duration_since(SystemTime::now()).unwrap();
        assert!(
            life <= MAX_PRESIGN && life > MAX_PRESIGN - Duration::from_secs(5),
            "{life:?}"
        );
        let g = s3
            .presign_get(B, "k", Duration::from_secs(60), None)
            .await
            .unwrap();
        assert_eq!(g.method, "GET");
    }
}
