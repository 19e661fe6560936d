//! The object types of the [`super::S3Backend`] seam (bodies, ranges, outcomes, presigned
//! requests) and [`Parts`], which cuts an upload body into part buffers of a bounded size.
//! Shared by [`super::SdkS3`] and [`super::MemoryS3`], so both cut a body the same way.

use std::fmt;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};

use crate::error::Error;

/// The part buffer size of uploads: a body up to this size goes as one PutObject, a larger one
/// as a multipart upload in parts of this size (the last one shorter).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// The smallest part S3 accepts for every part but the last (5 MiB), and so the smallest part
/// size [`super::SdkS3::with_part_size`] takes.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The largest part S3 accepts (5 GiB).
pub const MAX_PART_SIZE: usize = 5 * 1024 * 1024 * 1024;

/// The most parts one multipart upload may have.
pub const MAX_PARTS: u32 = 10_000;

/// The longest lifetime S3 accepts for a presigned URL (SigV4 query signing: 7 days).
pub const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// An upload body: chunks as they arrive, or the app's reason to stop ([`BodyError`]).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + Send + 'static>>;

/// A download body: chunks as S3 sends them, or why the transfer broke off.
pub type ObjectStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send + 'static>>;

/// Why an upload body stopped: the app's own error (the client went away, the size limit was
/// passed, the digest did not match, …), kept so the app can downcast it
/// (`body_error.0.downcast_ref::<MyError>()`). Display and Debug show the inner error's
/// Display only: it must not carry a secret.
pub struct BodyError(pub Box<dyn std::error::Error + Send + Sync>);

impl BodyError {
    /// Wraps `error`.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BodyError")
            .field(&format_args!("{}", self.0))
            .finish()
    }
}

impl std::error::Error for BodyError {
    // Display already shows the inner error, so the chain continues below it.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Why [`super::S3Backend::put_object`] failed. Either way nothing was stored under the key
/// (a multipart upload was aborted).
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// The body stream ended with an error: the app's reason, handed back.
    #[error("the upload body failed: {0}")]
    Body(BodyError),
    /// S3 failed (classified as everywhere in this crate).
    #[error(transparent)]
    S3(#[from] Error),
}

/// What to upload.
pub struct PutRequest {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// `Content-Type` to store with the object.
    pub content_type: Option<String>,
    /// The bytes, streamed.
    pub body: ByteStream,
}

impl fmt::Debug for PutRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutRequest")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// What an upload stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    /// Bytes stored.
    pub size: u64,
    /// The object's ETag as S3 gave it (quoted; `"…-N"` after a multipart upload).
    pub e_tag: Option<String>,
    /// 1 for a single PutObject; else the number of parts of the multipart upload (at least 2).
    pub parts: u32,
}

/// One byte range (RFC 9110 §14.1.2), inclusive positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=start-end`. An `end` before `start` is no valid range: S3 ignores it and sends
    /// the whole object (`content_range` is then `None`).
    FromTo(u64, u64),
    /// `bytes=start-`.
    From(u64),
    /// `bytes=-len`: the last `len` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The `Range` header value, e.g. `bytes=100-199`.
    pub fn header_value(&self) -> String {
        match self {
            ByteRange::FromTo(start, end) => format!("bytes={start}-{end}"),
            ByteRange::From(start) => format!("bytes={start}-"),
            ByteRange::Suffix(len) => format!("bytes=-{len}"),
        }
    }

    /// The inclusive `(start, end)` this range selects from `size` bytes, `None` when it is
    /// unsatisfiable (416), as RFC 9110 §14.1.2 and S3 decide: a start at or past the end,
    /// a zero suffix, or any range of an empty object. An end past the end is cut to it.
    /// [`ByteRange::FromTo`] with `end < start` also gives `None` here; callers that follow
    /// S3 treat it as no range at all (see the variant).
    pub fn resolve(&self, size: u64) -> Option<(u64, u64)> {
        let last = size.checked_sub(1)?;
        match *self {
            ByteRange::FromTo(start, end) if start <= end && start <= last => {
                Some((start, end.min(last)))
            }
            ByteRange::From(start) if start <= last => Some((start, last)),
            ByteRange::Suffix(len) if len > 0 => Some((size - len.min(size), last)),
            _ => None,
        }
    }
}

/// A downloaded object (or the requested range of it), its body not yet read.
pub struct ObjectBody {
    /// The bytes, streamed as S3 sends them; never collected by this crate.
    pub body: ObjectStream,
    /// Bytes in `body` (the range's length for a range).
    pub content_length: u64,
    /// For a range: `(start, end, total)` from S3's `Content-Range` (inclusive `end`).
    pub content_range: Option<(u64, u64, u64)>,
    /// The object's ETag (quoted).
    pub e_tag: Option<String>,
    /// The stored `Content-Type`.
    pub content_type: Option<String>,
}

impl fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectBody")
            .field("content_length", &self.content_length)
            .field("content_range", &self.content_range)
            .field("e_tag", &self.e_tag)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// One object's metadata (HeadObject, ListObjectsV2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag (quoted).
    pub e_tag: Option<String>,
    /// When it was last written, if S3 said.
    pub last_modified: Option<SystemTime>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPage {
    /// The objects of this page, in key order (UTF-8 binary).
    pub objects: Vec<ObjectInfo>,
    /// The continuation token of the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A presigned request: anyone holding `url` may send `method` with `headers` until
/// `expires_at`. `Debug` shows scheme, host and path only: the query holds the signature and
/// the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Presigned {
    /// The URL, signature in its query.
    pub url: String,
    /// `PUT` or `GET`.
    pub method: &'static str,
    /// Headers the request must carry as signed (e.g. `content-type`).
    pub headers: Vec<(String, String)>,
    /// When the URL stops working (at most the signing credentials' expiry).
    pub expires_at: SystemTime,
}

impl Presigned {
    /// Scheme, host, port and path of the URL, without the query: safe to show.
    pub fn redacted_url(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(u) => {
                let host = u.host_str().unwrap_or_default();
                let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!("{}://{host}{port}{}", u.scheme(), u.path())
            }
            Err(_) => "<unparsable URL>".to_owned(),
        }
    }
}

impl fmt::Debug for Presigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Presigned")
            .field("url", &self.redacted_url())
            .field("method", &self.method)
            .field("headers", &header_names)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// How long a presigned URL may live, signed at `start` (whole seconds, as SigV4's `X-Amz-Date`):
/// the request, cut to the credentials' remaining life and to [`MAX_PRESIGN`], in whole seconds
/// (as `X-Amz-Expires`). An error when nothing is left.
pub(crate) fn presign_lifetime(
    start: SystemTime,
    requested: Duration,
    credentials_expiry: Option<SystemTime>,
) -> Result<Duration, Error> {
    let mut life = requested.min(MAX_PRESIGN);
    if let Some(expiry) = credentials_expiry {
        life = life.min(expiry.duration_since(start).unwrap_or(Duration::ZERO));
    }
    let life = Duration::from_secs(life.as_secs());
    if life.is_zero() {
        return Err(Error::Invalid {
            what: "presigned URL lifetime",
            reason: if requested.as_secs() == 0 {
                "less than one second was asked for".into()
            } else {
                "the signing credentials expire within a second".into()
            },
        });
    }
    Ok(life)
}

/// Now, cut to whole seconds (SigV4 dates have no fraction).
pub(crate) fn now_in_seconds() -> SystemTime {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs())
}

/// `bytes <start>-<end>/<total>` → `(start, end, total)`.
pub(crate) fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end, total) = (
        start.trim().parse().ok()?,
        end.trim().parse().ok()?,
        total.trim().parse().ok()?,
    );
    (start <= end && end < total).then_some((start, end, total))
}

/// Cuts an upload body into parts of `part_size` bytes (the last one shorter). It holds at
/// most one part buffer plus the rest of the chunk that overflowed it. The first part's
/// buffer grows by at most doubling up to `part_size` (a small body stays small); once a body
/// is known to need more than one part, each later buffer is allocated at `part_size` at once,
/// or is a spent part handed back through [`Parts::recycle`]. So memory per part never
/// exceeds `part_size` (plus one chunk of the body, whose size is the body producer's), and a
/// multipart upload that recycles its parts allocates two part buffers in all, whatever its
/// size, instead of freeing and allocating 8 MiB per part (which an allocator may keep).
pub(crate) struct Parts {
    body: ByteStream,
    part_size: usize,
    /// The unread rest of the last chunk.
    leftover: Option<Bytes>,
    ended: bool,
    /// Parts cut so far.
    cut: usize,
    /// A spent part's buffer, for the next part.
    spare: Option<Vec<u8>>,
}

/// The first allocation of a part buffer: small bodies stay small.
const FIRST_ALLOCATION: usize = 64 * 1024;

impl Parts {
    pub(crate) fn new(body: ByteStream, part_size: usize) -> Self {
        Self {
            body,
            part_size: part_size.max(1),
            leftover: None,
            ended: false,
            cut: 0,
            spare: None,
        }
    }

    /// Hands back a part that has been sent: when nothing else holds it any more (the S3
    /// client dropped its copy) and it has a whole part's capacity, its buffer becomes the
    /// next part's. A part that is still shared, or smaller, is simply dropped.
    pub(crate) fn recycle(&mut self, spent: Bytes) {
        if let Ok(unique) = spent.try_into_mut() {
            let mut buffer = Vec::from(unique);
            if buffer.capacity() >= self.part_size {
                buffer.clear();
                self.spare = Some(buffer);
            }
        }
    }

    /// The next chunk: the leftover first, then the body's. `None` at the end.
    async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        if let Some(c) = self.leftover.take() {
            return Ok(Some(c));
        }
        while !self.ended {
            match self.body.next().await {
                None => self.ended = true,
                Some(Err(e)) => return Err(e),
                Some(Ok(c)) if c.is_empty() => {}
                Some(Ok(c)) => return Ok(Some(c)),
            }
        }
        Ok(None)
    }

    /// The next part: `part_size` bytes, or fewer for the last one; `None` when the body has
    /// ended (never an empty part).
    pub(crate) async fn next_part(&mut self) -> Result<Option<Bytes>, BodyError> {
        let size = self.part_size;
        let mut buf: Vec<u8> = match self.spare.take() {
            Some(spare) => spare,
            None if self.cut > 0 => Vec::with_capacity(size),
            None => Vec::new(),
        };
        let part = self.fill(&mut buf, size).await?;
        if buf.capacity() >= size {
            // Not used (a whole part came in one chunk, or the body ended): kept for the next.
            self.spare = Some(buf);
        }
        self.cut = self.cut.saturating_add(1);
        Ok(part)
    }

    /// Fills `buf` (empty) up to `size` bytes: the part, or `None` at the end of the body.
    async fn fill(&mut self, buf: &mut Vec<u8>, size: usize) -> Result<Option<Bytes>, BodyError> {
        while buf.len() < size {
            let Some(mut chunk) = self.chunk().await? else {
                break;
            };
            if buf.is_empty() && chunk.len() >= size {
                // A whole part in one chunk: no copy.
                let rest = chunk.split_off(size);
                if !rest.is_empty() {
                    self.leftover = Some(rest);
                }
                return Ok(Some(chunk));
            }
            let take = chunk.len().min(size - buf.len());
            let needed = buf.len() + take;
            if needed > buf.capacity() {
                let target = needed
                    .max(buf.capacity().saturating_mul(2))
                    .max(FIRST_ALLOCATION)
                    .min(size);
                buf.reserve_exact(target - buf.len());
            }
            buf.extend_from_slice(&chunk[..take]);
            if take < chunk.len() {
                self.leftover = Some(chunk.slice(take..));
            }
        }
        Ok((!buf.is_empty()).then(|| Bytes::from(std::mem::take(buf))))
    }

    /// Whether any byte is left, reading ahead at most one chunk.
    pub(crate) async fn has_more(&mut self) -> Result<bool, BodyError> {
        match self.chunk().await? {
            Some(c) => {
                self.leftover = Some(c);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn body(chunks: Vec<Result<Vec<u8>, &'static str>>) -> ByteStream {
        Box::pin(futures::stream::iter(chunks.into_iter().map(|c| {
            c.map(Bytes::from).map_err(|e| BodyError::new(e.to_owned()))
        })))
    }

    #[tokio::test]
    async fn parts_are_cut_at_the_part_size_across_chunks() {
        let mut parts = Parts::new(
            body(vec![
                Ok(vec![1; 3]),
                Ok(vec![]),
                Ok(vec![2; 9]),
                Ok(vec![3; 2]),
            ]),
            5,
        );
        let mut got = Vec::new();
        while let Some(p) = parts.next_part().await.unwrap() {
            assert!(p.len() <= 5);
            got.push(p.to_vec());
        }
        assert_eq!(
            got,
            vec![vec![1, 1, 1, 2, 2], vec![2, 2, 2, 2, 2], vec![2, 2, 3, 3]]
        );
        assert!(!parts.has_more().await.unwrap());
    }

    #[tokio::test]
    async fn a_large_chunk_is_split_without_a_partial_part() {
        let mut parts = Parts::new(body(vec![Ok(vec![7; 10])]), 5);
        assert_eq!(parts.next_part().await.unwrap().unwrap().len(), 5);
        assert!(parts.has_more().await.unwrap());
        assert_eq!(parts.next_part().await.unwrap().unwrap().len(), 5);
        assert!(!parts.has_more().await.unwrap());
        assert!(parts.next_part().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_spent_part_is_the_next_parts_buffer_and_a_shared_one_is_not() {
        let chunks = (0u8..8).map(|i| Ok(vec![i; 3])).collect();
        let mut parts = Parts::new(body(chunks), 5);
        let first = parts.next_part().await.unwrap().unwrap();
        let first_at = first.as_ptr();
        parts.recycle(first);
        let second = parts.next_part().await.unwrap().unwrap();
        assert_eq!(second.as_ptr(), first_at, "the spent buffer is reused");
        assert_eq!(second.to_vec(), [1, 2, 2, 2, 3]);
        let held = second.clone();
        parts.recycle(second);
        let third = parts.next_part().await.unwrap().unwrap();
        assert_ne!(
            third.as_ptr(),
            held.as_ptr(),
            "a part still held is never overwritten"
        );
        assert_eq!(held.to_vec(), [1, 2, 2, 2, 3]);
        assert_eq!(third.to_vec(), [3, 3, 4, 4, 4]);
    }

    #[tokio::test]
    async fn an_error_is_handed_back_and_an_empty_body_has_no_part() {
        let mut parts = Parts::new(body(vec![Ok(vec![1; 2]), Err("client went away")]), 5);
        let err = parts.next_part().await.unwrap_err();
        assert_eq!(err.to_string(), "client went away");
        let mut empty = Parts::new(body(vec![]), 5);
        assert!(empty.next_part().await.unwrap().is_none());
        assert!(!empty.has_more().await.unwrap());
    }

    #[test]
    fn ranges_resolve_as_rfc_9110_says() {
        assert_eq!(ByteRange::FromTo(100, 199).resolve(1000), Some((100, 199)));
        assert_eq!(ByteRange::FromTo(995, 5000).resolve(1000), Some((995, 999)));
        assert_eq!(ByteRange::FromTo(1000, 1001).resolve(1000), None);
        assert_eq!(ByteRange::FromTo(5, 3).resolve(1000), None);
        assert_eq!(ByteRange::From(990).resolve(1000), Some((990, 999)));
        assert_eq!(ByteRange::From(1000).resolve(1000), None);
        assert_eq!(ByteRange::Suffix(10).resolve(1000), Some((990, 999)));
        assert_eq!(ByteRange::Suffix(5000).resolve(1000), Some((0, 999)));
        assert_eq!(ByteRange::Suffix(0).resolve(1000), None);
        assert_eq!(ByteRange::From(0).resolve(0), None);
        assert_eq!(ByteRange::FromTo(1, 2).header_value(), "bytes=1-2");
        assert_eq!(ByteRange::From(1).header_value(), "bytes=1-");
        assert_eq!(ByteRange::Suffix(3).header_value(), "bytes=-3");
    }

    #[test]
    fn content_ranges_parse() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some((100, 199, 1000))
        );
        assert_eq!(parse_content_range("bytes */1000"), None);
        assert_eq!(parse_content_range("bytes 5-3/1000"), None);
        assert_eq!(parse_content_range("bytes 0-1000/1000"), None);
    }

    #[test]
    fn presign_lifetimes_are_clamped() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let week = Duration::from_secs(8 * 24 * 3600);
        assert_eq!(presign_lifetime(start, week, None).unwrap(), MAX_PRESIGN);
        let expiry = start + Duration::from_millis(899_500);
        assert_eq!(
            presign_lifetime(start, week, Some(expiry)).unwrap(),
            Duration::from_secs(899)
        );
        assert_eq!(
            presign_lifetime(start, Duration::from_secs(60), Some(expiry)).unwrap(),
            Duration::from_secs(60)
        );
        assert!(presign_lifetime(start, week, Some(start)).is_err());
        assert!(presign_lifetime(start, Duration::from_millis(500), None).is_err());
    }

    #[test]
    fn presigned_debug_hides_the_query() {
        let p = Presigned {
            url: "https://b.bucket.example:8443/docs/a%20b?X-Amz-Signature=abc&X-Amz-Security-Token=tok"
                .into(),
            method: "GET",
            headers: vec![("content-type".into(), "application/pdf".into())],
            expires_at: SystemTime::UNIX_EPOCH,
        };
        let shown = format!("{p:?}");
        assert!(
            shown.contains("https://b.bucket.example:8443/docs/a%20b"),
            "{shown}"
        );
        assert!(!shown.contains("abc") && !shown.contains("tok"), "{shown}");
        assert!(!shown.contains("application/pdf"), "{shown}");
    }
}
