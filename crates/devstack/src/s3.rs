//! The local S3: [`s3s`] with the [`s3s_fs`] file-system backend, behind the dev account's
//! authentication and IAM policies, served over TLS by the dev CA.
//!
//! - **Storage**: `<data>/s3/<bucket>/<key>` plus s3s-fs's metadata files, so objects survive
//!   restarts. The demo buckets: the dev account's bucket (`AwsIdentity::bucket`, which the
//!   role's permission policy allows) and [`ARCHIVE_BUCKET`] (in no policy: every object call
//!   on it is `AccessDenied`) are created with a `README.txt` on first start.
//! - **Authentication** ([`S3Auth`]): the signing key's secret comes from
//!   [`AwsIdentity::lookup`]; s3s verifies SigV4 headers, aws-chunked bodies and presigned
//!   URLs itself. s3s 0.14 always accepts SigV2 as well and has no switch to turn it off, so
//!   the access hook refuses SigV2 requests (real S3 in new regions does the same).
//! - **Authorization** ([`S3Access::check`], which runs after the signature check):
//!   1. no credentials (unsigned) → 403 `AccessDenied`;
//!   2. the credential scope must name the configured region and `s3`, else 400
//!      `AuthorizationHeaderMalformed`;
//!   3. a temporary key must carry its session token (`x-amz-security-token` header or
//!      `X-Amz-Security-Token` query parameter; the signature covers both): missing → 403
//!      `AccessDenied`, wrong → 400 `InvalidToken`; an ended session → 400 `ExpiredToken`
//!      (time from the dev account's [`crate::aws_identity::Clock`]);
//!   4. object keys with a `.` or `..` segment, a leading `/`, a backslash or a NUL are
//!      refused with 400 `InvalidArgument` before they reach the file system (s3s-fs only
//!      refuses paths that leave its root, and answers those with a 500);
//!   5. every `(action, resource)` of `iam::s3::checks` for the operation must be allowed by
//!      [`crate::aws_identity::Principal::evaluate`]; an operation not in that table is denied.
//!      Any denial is 403 `AccessDenied`.
//! - **Addressing**: path-style for IP-address hosts and any host that is not under one of the
//!   configured base domains; virtual-hosted (`<bucket>.<base domain>`) under them. The dev
//!   stack configures the Private Link names ([`private_link_host`]): the SDK, given the
//!   endpoint `https://bucket.<host>`, sends to `<bucket>.bucket.<host>`.
//! - **Listing**: ListBuckets is sorted by name and paged (`max-buckets`, `continuation-token`,
//!   `prefix`, `bucket-region`) as S3 does it; s3s-fs lists in directory order.
//! - **Errors** ([`LocalS3Service`]): every response carries `x-amz-request-id`, and error
//!   documents have S3's `Code`, `Message`, `Resource` and `RequestId`. Messages never hold a
//!   key, signature or token.
//! - **Logs**: s3s logs whole requests (headers with signatures and session tokens) at debug
//!   level, so everything s3s and s3s-fs do runs with tracing switched off
//!   ([`NoSubscriber`]); this module writes one line per request itself (method, path,
//!   status), never a query string, header or body.

use std::borrow::Cow;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use hyper::StatusCode;
use hyper::header::HeaderMap;
use rustls::ServerConfig;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto;
use s3s::host::{S3Host, VirtualHost};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{HttpError, HttpResponse, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use tokio::net::TcpListener;

use crate::aws_identity::AwsIdentity;
use crate::error::DevError;

/// The demo bucket that no policy allows (for `AccessDenied` tests).
pub const ARCHIVE_BUCKET: &str = "bridge-archive";

/// The name of the object each demo bucket gets on first start.
pub const README_KEY: &str = "README.txt";

/// The endpoint id in the generated Private Link host name.
pub const PRIVATE_LINK_ENDPOINT_ID: &str = "vpce-dev";

/// The Private Link host name (without wildcard and port) of the local S3 in `region`:
/// `vpce-dev.s3.<region>.localhost`. The binding's `hostname` is `*.<this>:<port>`.
pub fn private_link_host(region: &str) -> String {
    format!("{PRIVATE_LINK_ENDPOINT_ID}.s3.{region}.localhost")
}

/// The names the local S3's server certificate must cover for Private Link in `region`:
/// the endpoint names and the per-bucket names under `bucket.` (wildcards).
pub fn private_link_cert_names(region: &str) -> Vec<String> {
    let host = private_link_host(region);
    vec![
        host.clone(),
        format!("*.{host}"),
        format!("bucket.{host}"),
        format!("*.bucket.{host}"),
    ]
}

/// Settings of the local S3.
#[derive(Debug, Clone)]
pub struct LocalS3Config {
    /// The storage directory (`<data>/s3`).
    pub dir: PathBuf,
    /// Base domains under which `<bucket>.<domain>` is virtual-hosted addressing (without
    /// port), e.g. `bucket.vpce-dev.s3.eu-central-1.localhost`.
    pub virtual_host_domains: Vec<String>,
}

/// The local S3 service (cheap to clone).
#[derive(Clone)]
pub struct LocalS3 {
    service: LocalS3Service,
    dir: PathBuf,
}

impl std::fmt::Debug for LocalS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalS3")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl LocalS3 {
    /// Opens (and on first use creates) the storage directory with the demo buckets, and
    /// builds the service for the dev account `aws`.
    pub fn open(config: &LocalS3Config, aws: AwsIdentity) -> Result<Self, DevError> {
        let io = |source: std::io::Error| DevError::Io {
            path: config.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.dir).map_err(io)?;
        for bucket in [aws.bucket(), ARCHIVE_BUCKET] {
            create_demo_bucket(&config.dir, bucket)?;
        }
        let fs = s3s_fs::FileSystem::new(&config.dir).map_err(|e| DevError::Io {
            path: config.dir.clone(),
            source: std::io::Error::other(format!("{e:?}")),
        })?;
        let dir = config.dir.canonicalize().map_err(io)?;
        let mut builder = S3ServiceBuilder::new(Store {
            fs,
            root: dir.clone(),
            region: aws.region().to_owned(),
        });
        builder.set_auth(Auth { aws: aws.clone() });
        builder.set_access(Access {
            aws,
            dir: dir.clone(),
        });
        let mut domains: Vec<String> = config
            .virtual_host_domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        domains.sort_by_key(|d| std::cmp::Reverse(d.len()));
        let hosts = Hosts { domains };
        builder.set_host(hosts.clone());
        Ok(Self {
            service: LocalS3Service {
                inner: builder.build(),
                hosts: Arc::new(hosts),
            },
            dir,
        })
    }

    /// The storage directory (canonical).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The service (a hyper and tower service): s3s with S3's request ids and complete error
    /// documents ([`LocalS3Service`]).
    pub fn service(&self) -> LocalS3Service {
        self.service.clone()
    }
}

/// The s3s service plus what S3 puts on every response and s3s 0.14.1 does not: an
/// `x-amz-request-id` header (a new id per request), and error documents with all of S3's
/// elements (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>):
/// `<Error><Code/><Message/><Resource/><RequestId/></Error>`. `Message` is s3s's or ours if
/// set, else S3's documented sentence for the code ([`default_message`]); `Resource` is the
/// bucket or object the request was for (`/bucket` or `/bucket/key`, decoded; none for
/// requests on the service, such as ListBuckets); `RequestId` repeats the header. s3s has no
/// `Resource` field and sets no request id, so this wraps the finished response rather than
/// the `S3Error`s (those of s3s's own checks never pass through our code). Cheap to clone.
#[derive(Clone)]
pub struct LocalS3Service {
    inner: S3Service,
    /// The same addressing rules as s3s uses, to name the bucket of virtual-hosted requests.
    hosts: Arc<Hosts>,
}

impl std::fmt::Debug for LocalS3Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalS3Service").finish_non_exhaustive()
    }
}

impl LocalS3Service {
    /// Calls s3s through `call` and completes its response.
    fn wrap<B>(
        &self,
        req: hyper::Request<B>,
        call: impl FnOnce(hyper::Request<B>) -> BoxFuture<'static, Result<HttpResponse, HttpError>>,
    ) -> BoxFuture<'static, Result<HttpResponse, HttpError>> {
        let request_id = request_id();
        let resource = resource_of(&self.hosts, req.headers(), req.uri());
        // On the service itself (no bucket) S3 knows only GET (ListBuckets).
        let on_service = resource.is_none()
            && !matches!(
                *req.method(),
                hyper::Method::GET | hyper::Method::HEAD | hyper::Method::OPTIONS
            );
        if !is_s3_method(req.method()) || on_service {
            let mut resp = method_not_allowed(req.method());
            complete(&mut resp, &request_id, resource.as_deref());
            return Box::pin(async move { Ok(resp) });
        }
        let is_head = req.method() == hyper::Method::HEAD;
        let fut = call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            complete(&mut resp, &request_id, resource.as_deref());
            if is_head && resp.status().as_u16() >= 400 {
                // A HEAD answer has no body (RFC 9110 §9.3.2), errors included: S3 sends the
                // status and headers only. s3s writes its error document anyway, which breaks
                // an HTTP/2 stream after the status.
                resp.headers_mut().remove(hyper::header::CONTENT_LENGTH);
                resp.headers_mut().remove(hyper::header::CONTENT_TYPE);
                *resp.body_mut() = s3s::Body::empty();
            }
            Ok(resp)
        })
    }
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for LocalS3Service {
    type Response = HttpResponse;
    type Error = HttpError;
    type Future = BoxFuture<'static, Result<HttpResponse, HttpError>>;

    fn call(&self, req: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        let inner = self.inner.clone();
        self.wrap(req, move |req| hyper::service::Service::call(&inner, req))
    }
}

impl<B> tower::Service<hyper::Request<B>> for LocalS3Service
where
    B: hyper::body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = HttpResponse;
    type Error = HttpError;
    type Future = BoxFuture<'static, Result<HttpResponse, HttpError>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: hyper::Request<B>) -> Self::Future {
        let mut inner = self.inner.clone();
        self.wrap(req, move |req| tower::Service::call(&mut inner, req))
    }
}

/// The methods S3's REST API uses; any other is answered 405 `MethodNotAllowed`, as S3 does
/// (s3s answers 501 `NotImplemented`, which tells a client the server is at fault).
fn is_s3_method(method: &hyper::Method) -> bool {
    use hyper::Method as M;
    [M::GET, M::HEAD, M::PUT, M::POST, M::DELETE, M::OPTIONS].contains(method)
}

/// S3's answer to a method it does not know (the `Method` element names it, cut and made safe
/// for XML: a method is a token, but a long one need not be echoed whole).
fn method_not_allowed(method: &hyper::Method) -> HttpResponse {
    let name: String = method
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>MethodNotAllowed</Code>\
         <Message>The specified method is not allowed against this resource.</Message>\
         <Method>{name}</Method></Error>"
    );
    let mut resp = HttpResponse::new(s3s::Body::from(doc));
    *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/xml"),
    );
    resp
}

/// A new request id: 16 upper-case hex digits, the shape of S3's `x-amz-request-id`.
fn request_id() -> String {
    let id = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    id[..16].to_owned()
}

/// The bucket or object a request is for, as S3's `<Resource>` names it: `/bucket` or
/// `/bucket/key` (percent-decoded); `None` for the service itself (`/`).
fn resource_of(hosts: &Hosts, headers: &HeaderMap, uri: &hyper::Uri) -> Option<String> {
    // HTTP/2 sends the host as the `:authority` pseudo-header, which hyper puts in the URI.
    let host = headers
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let bucket = host
        .and_then(|h| hosts.parse_host_header(h).ok())
        .and_then(|vh| vh.bucket().map(str::to_owned));
    let path = percent_decode(uri.path()).unwrap_or_else(|| uri.path().to_owned());
    let resource = match bucket {
        Some(bucket) => format!("/{bucket}{path}"),
        None => path,
    };
    let resource = resource.strip_suffix('/').unwrap_or(&resource);
    (!resource.is_empty()).then(|| resource.to_owned())
}

/// Adds the request id header and completes an error document (see [`LocalS3Service`]).
fn complete(resp: &mut HttpResponse, request_id: &str, resource: Option<&str>) {
    if let Ok(v) = hyper::header::HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    if resp.status().as_u16() < 400 {
        return;
    }
    let Some(bytes) = resp.body().bytes() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return;
    };
    let Some(doc) = complete_error_document(text, request_id, resource) else {
        return;
    };
    resp.headers_mut().remove(hyper::header::CONTENT_LENGTH);
    *resp.body_mut() = s3s::Body::from(doc);
}

/// `text` (an s3s error document) with `Message`, `Resource` and `RequestId` filled in where
/// missing, in S3's element order; `None` if `text` is not an error document.
fn complete_error_document(text: &str, request_id: &str, resource: Option<&str>) -> Option<String> {
    if !text.contains("<Error>") || !text.contains("</Error>") {
        return None;
    }
    let code_start = text.find("<Code>")? + "<Code>".len();
    let code_end = code_start + text[code_start..].find("</Code>")?;
    let code = &text[code_start..code_end];
    let mut doc = text.to_owned();
    if !doc.contains("<Message>") {
        let at = code_end + "</Code>".len();
        doc.insert_str(
            at,
            &format!(
                "<Message>{}</Message>",
                crate::sts::xml(&default_message(code))
            ),
        );
    }
    let mut tail = String::new();
    if let Some(resource) = resource
        && !doc.contains("<Resource>")
    {
        tail.push_str(&format!(
            "<Resource>{}</Resource>",
            crate::sts::xml(resource)
        ));
    }
    if !doc.contains("<RequestId>") {
        tail.push_str(&format!("<RequestId>{request_id}</RequestId>"));
    }
    let at = doc.find("<RequestId>").or_else(|| doc.rfind("</Error>"))?;
    doc.insert_str(at, &tail);
    Some(doc)
}

/// S3's sentence for an error code, from
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>, for the errors s3s
/// and s3s-fs raise without a message.
fn default_message(code: &str) -> Cow<'static, str> {
    let text = match code {
        "AccessDenied" => "Access Denied",
        "BadDigest" => {
            "The Content-MD5 or checksum value that you specified did not match what the server received."
        }
        "BucketAlreadyExists" => {
            "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Select a different name and try again."
        }
        "BucketAlreadyOwnedByYou" => {
            "The bucket that you tried to create already exists, and you own it."
        }
        "BucketNotEmpty" => "The bucket that you tried to delete is not empty.",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed object size.",
        "EntityTooSmall" => "Your proposed upload is smaller than the minimum allowed object size.",
        "IncompleteBody" => {
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        }
        "InternalError" => "We encountered an internal error. Please try again.",
        "InvalidArgument" => "Invalid Argument",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "InvalidPart" => {
            "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified ETag might not have matched the uploaded part's ETag."
        }
        "InvalidPartOrder" => {
            "The list of parts was not in ascending order. The parts list must be specified in order by part number."
        }
        "InvalidRange" => "The requested range cannot be satisfied.",
        "InvalidRequest" => "The request is not valid.",
        "InvalidStorageClass" => "The storage class that you specified is not valid.",
        "InvalidURI" => "The specified URI couldn't be parsed.",
        "KeyTooLongError" => "Your key is too long.",
        "MalformedXML" => {
            "The XML that you provided was not well formed or did not validate against our published schema."
        }
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "NoSuchBucket" => "The specified bucket does not exist.",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchUpload" => {
            "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."
        }
        "NotImplemented" => {
            "A header that you provided implies functionality that is not implemented."
        }
        "PreconditionFailed" => {
            "At least one of the preconditions that you specified did not hold."
        }
        "RequestTimeTooSkewed" => {
            "The difference between the request time and the server's time is too large."
        }
        "SignatureDoesNotMatch" => {
            "The request signature that we calculated does not match the signature that you provided. Check your AWS secret access key and signing method."
        }
        other => {
            return Cow::Owned(format!(
                "The local S3 refused the request with {}.",
                cfenv::text::prefix(other, 64)
            ));
        }
    };
    Cow::Borrowed(text)
}

fn create_demo_bucket(root: &Path, bucket: &str) -> Result<(), DevError> {
    let dir = root.join(bucket);
    if dir.exists() {
        return Ok(());
    }
    let io = |source| DevError::Io {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let text = format!(
        "This is the local S3 of the btp-aws-bridge dev stack (`bridge dev`).\n\
         Bucket `{bucket}`. Objects are stored under the data directory's `s3/` folder.\n"
    );
    std::fs::write(dir.join(README_KEY), text).map_err(io)
}

/// s3s-fs with two fixes; every other operation is forwarded unchanged.
///
/// - s3s-fs 0.14.1 writes an uploaded object to its final path before it compares the
///   checksums, so a `BadDigest` upload would still be stored (and replace a good object).
///   `put_object` here keeps a hard link to the previous object first and, on `BadDigest`,
///   puts it back (or removes the new file if there was none): nothing is written by a
///   refused upload.
/// - s3s-fs lists buckets in directory order and ignores ListBuckets' parameters; S3 lists
///   them by name and pages them ([`page_buckets`]).
struct Store {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
    /// The region every bucket is in (ListBuckets' `bucket-region` and `BucketRegion`).
    region: String,
}

#[async_trait::async_trait]
impl s3s::S3 for Store {
    async fn create_bucket(
        &self,
        req: S3Request<dto::CreateBucketInput>,
    ) -> S3Result<S3Response<dto::CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<dto::DeleteBucketInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketOutput>> {
        self.fs.delete_bucket(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<dto::HeadBucketInput>,
    ) -> S3Result<S3Response<dto::HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<dto::GetBucketLocationInput>,
    ) -> S3Result<S3Response<dto::GetBucketLocationOutput>> {
        self.fs.get_bucket_location(req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<dto::ListBucketsInput>,
    ) -> S3Result<S3Response<dto::ListBucketsOutput>> {
        let input = req.input.clone();
        let mut resp = self.fs.list_buckets(req).await?;
        let all = resp.output.buckets.take().unwrap_or_default();
        resp.output = page_buckets(all, &input, &self.region)?;
        Ok(resp)
    }

    async fn list_objects(
        &self,
        req: S3Request<dto::ListObjectsInput>,
    ) -> S3Result<S3Response<dto::ListObjectsOutput>> {
        self.fs.list_objects(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<dto::ListObjectsV2Input>,
    ) -> S3Result<S3Response<dto::ListObjectsV2Output>> {
        self.fs.list_objects_v2(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<dto::GetObjectInput>,
    ) -> S3Result<S3Response<dto::GetObjectOutput>> {
        self.fs.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<dto::HeadObjectInput>,
    ) -> S3Result<S3Response<dto::HeadObjectOutput>> {
        self.fs.head_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<dto::DeleteObjectInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectOutput>> {
        self.fs.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<dto::DeleteObjectsInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectsOutput>> {
        self.fs.delete_objects(req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<dto::CopyObjectInput>,
    ) -> S3Result<S3Response<dto::CopyObjectOutput>> {
        self.fs.copy_object(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<dto::CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CreateMultipartUploadOutput>> {
        self.fs.create_multipart_upload(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<dto::UploadPartInput>,
    ) -> S3Result<S3Response<dto::UploadPartOutput>> {
        self.fs.upload_part(req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<dto::UploadPartCopyInput>,
    ) -> S3Result<S3Response<dto::UploadPartCopyOutput>> {
        self.fs.upload_part_copy(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<dto::ListPartsInput>,
    ) -> S3Result<S3Response<dto::ListPartsOutput>> {
        self.fs.list_parts(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<dto::CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CompleteMultipartUploadOutput>> {
        self.fs.complete_multipart_upload(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<dto::AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::AbortMultipartUploadOutput>> {
        self.fs.abort_multipart_upload(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<dto::PutObjectInput>,
    ) -> S3Result<S3Response<dto::PutObjectOutput>> {
        // The access hook refused keys that could leave the bucket directory.
        let target = self.root.join(&req.input.bucket).join(&req.input.key);
        let backup = self
            .root
            .join(format!(".bridge-backup-{}", uuid::Uuid::new_v4()));
        let had_previous = target.is_file() && std::fs::hard_link(&target, &backup).is_ok();
        let result = self.fs.put_object(req).await;
        let refused = matches!(&result, Err(e) if *e.code() == S3ErrorCode::BadDigest);
        if refused {
            if had_previous {
                let _ = std::fs::rename(&backup, &target);
            } else {
                let _ = std::fs::remove_file(&target);
            }
        } else if had_previous {
            let _ = std::fs::remove_file(&backup);
        }
        result
    }
}

/// The largest page of ListBuckets (`max-buckets`), and the page size S3 applies when a
/// request has `prefix`, `continuation-token` or `bucket-region` but no `max-buckets`
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html>).
const MAX_BUCKETS_PER_PAGE: usize = 10_000;

/// One page of ListBuckets out of `all` buckets, the way S3 answers it
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html>): sorted by name,
/// filtered by `prefix` and `bucket-region`, starting after the bucket the continuation token
/// names, at most `max-buckets` (default and maximum 10 000) long, with a `ContinuationToken`
/// when more follow. The token is the base64url of the last name on the page, so paging keeps
/// to the same order even if buckets are created or deleted in between.
fn page_buckets(
    mut all: Vec<dto::Bucket>,
    input: &dto::ListBucketsInput,
    region: &str,
) -> S3Result<dto::ListBucketsOutput> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let invalid = |message: &'static str| {
        error(
            S3ErrorCode::InvalidArgument,
            StatusCode::BAD_REQUEST,
            message,
        )
    };
    let after = match input.continuation_token.as_deref() {
        None | Some("") => None,
        Some(token) => {
            let name = b64
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid("The continuation token provided is incorrect."))?;
            Some(name)
        }
    };
    let limit = match input.max_buckets {
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_BUCKETS_PER_PAGE).contains(n))
            .ok_or_else(|| invalid("max-buckets must be between 1 and 10000."))?,
        None => MAX_BUCKETS_PER_PAGE,
    };
    let with_parameters = input.max_buckets.is_some()
        || input.prefix.is_some()
        || input.continuation_token.is_some()
        || input.bucket_region.is_some();
    let prefix = input.prefix.as_deref().unwrap_or("");
    let in_region = input.bucket_region.as_deref().is_none_or(|r| r == region);
    all.retain(|b| {
        b.name.as_deref().is_some_and(|n| {
            in_region && n.starts_with(prefix) && after.as_deref().is_none_or(|a| n > a)
        })
    });
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let continuation_token = if all.len() > limit {
        all.truncate(limit);
        all.last()
            .and_then(|b| b.name.as_deref())
            .map(|n| b64.encode(n))
    } else {
        None
    };
    if with_parameters {
        for b in &mut all {
            b.bucket_region = Some(region.to_owned());
        }
    }
    Ok(dto::ListBucketsOutput {
        buckets: Some(all),
        continuation_token,
        owner: None,
        prefix: input.prefix.clone(),
    })
}

/// Serves `s3` over TLS on `listener` under `limits` until `shutdown` resolves (`httpserve`).
/// s3s runs with tracing off (see the module doc); each request is logged here, at info,
/// through the dispatcher of the caller: method, path (bucket and key, never a query string,
/// which may hold a presigned URL's signature), status and duration.
pub async fn serve(
    listener: TcpListener,
    s3: LocalS3,
    config: Arc<ServerConfig>,
    limits: httpserve::Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let outer = tracing::dispatcher::get_default(Clone::clone);
    let limits = httpserve::Limits {
        quiet: true,
        ..limits
    };
    httpserve::serve(
        listener,
        httpserve::Transport::Tls(config),
        limits,
        move |_| {
            let service = s3.service();
            let outer = outer.clone();
            tower::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let service = service.clone();
                let outer = outer.clone();
                async move {
                    let started = std::time::Instant::now();
                    let method = req.method().clone();
                    let path = req.uri().path().to_owned();
                    let res = hyper::service::Service::call(&service, req).await;
                    let duration_ms =
                        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    let res = tracing::dispatcher::with_default(&outer, || match res {
                        Ok(r) => {
                            tracing::info!(http.method = %method, http.path = %path,
                                http.status = r.status().as_u16(), duration_ms, "local s3 request");
                            r
                        }
                        Err(_) => {
                            tracing::warn!(http.method = %method, http.path = %path, duration_ms,
                                "local s3 request failed inside s3s");
                            internal_error()
                        }
                    });
                    Ok::<_, std::convert::Infallible>(res)
                }
            })
        },
        shutdown,
    )
    .await;
}

/// S3's answer when the server itself failed: 500 with an `InternalError` body.
fn internal_error() -> hyper::Response<s3s::Body> {
    let mut resp = hyper::Response::new(s3s::Body::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>\
         <Message>We encountered an internal error. Please try again.</Message></Error>"
            .to_owned(),
    ));
    *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/xml"),
    );
    resp
}

/// `<bucket>.<domain>` under a configured base domain is virtual-hosted; anything else is
/// path-style.
#[derive(Debug, Clone)]
struct Hosts {
    /// Longest first, lower case.
    domains: Vec<String>,
}

impl S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = strip_port(host).to_ascii_lowercase();
        for domain in &self.domains {
            if name == *domain {
                return Ok(VirtualHost::new(domain.as_str()));
            }
            if let Some(bucket) = name.strip_suffix(domain.as_str())
                && let Some(bucket) = bucket.strip_suffix('.')
                && !bucket.is_empty()
            {
                return Ok(VirtualHost::new(domain.as_str()).with_bucket(bucket.to_owned()));
            }
        }
        Ok(VirtualHost::new(Cow::Owned(name)))
    }
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The signing key's secret from the dev account.
struct Auth {
    aws: AwsIdentity,
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.aws.lookup(access_key) {
            Some(p) => Ok(SecretKey::from(p.secret_access_key.expose())),
            None => Err(error(
                S3ErrorCode::InvalidAccessKeyId,
                StatusCode::FORBIDDEN,
                "The AWS Access Key Id you provided does not exist in our records.",
            )),
        }
    }
}

fn error(code: S3ErrorCode, status: StatusCode, message: &'static str) -> S3Error {
    let mut e = S3Error::with_message(code, message);
    e.set_status_code(status);
    e
}

fn access_denied() -> S3Error {
    error(
        S3ErrorCode::AccessDenied,
        StatusCode::FORBIDDEN,
        "Access Denied",
    )
}

/// Session tokens, expiry, region, key safety and IAM policies (see the module doc).
struct Access {
    aws: AwsIdentity,
    /// The storage root, to tell a missing object from a forbidden one (see `check`).
    dir: PathBuf,
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let query = query_pairs(cx.uri());
        if is_sig_v2(cx.headers(), &query) {
            return Err(error(
                S3ErrorCode::AccessDenied,
                StatusCode::FORBIDDEN,
                "Signature Version 2 is disabled by server configuration; use Signature Version 4",
            ));
        }
        let Some(creds) = cx.credentials() else {
            return Err(error(
                S3ErrorCode::AccessDenied,
                StatusCode::FORBIDDEN,
                "Signature is required",
            ));
        };
        let Some(principal) = self.aws.lookup(&creds.access_key) else {
            return Err(error(
                S3ErrorCode::InvalidAccessKeyId,
                StatusCode::FORBIDDEN,
                "The AWS Access Key Id you provided does not exist in our records.",
            ));
        };
        check_scope(cx.headers(), &query, self.aws.region())?;

        let token = cx
            .headers()
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                query
                    .iter()
                    .find(|(k, _)| k == "X-Amz-Security-Token")
                    .map(|(_, v)| v.clone())
            });
        match (&principal.session_token, token) {
            (Some(_), None) => return Err(access_denied()),
            (Some(expected), Some(given)) => {
                if !constant_time_eq(expected.expose().as_bytes(), given.as_bytes()) {
                    return Err(invalid_token());
                }
            }
            (None, Some(_)) => return Err(invalid_token()),
            (None, None) => {}
        }
        if principal.is_expired(self.aws.now()) {
            return Err(error(
                S3ErrorCode::ExpiredToken,
                StatusCode::BAD_REQUEST,
                "The provided token has expired.",
            ));
        }

        let op = cx.s3_op().name().to_owned();
        let path = cx.s3_path();
        let bucket = path.get_bucket_name().map(str::to_owned);
        let key = path.get_object_key().map(str::to_owned);
        if let Some(k) = &key {
            check_key(k)?;
        }
        let copy_source = if matches!(op.as_str(), "CopyObject" | "UploadPartCopy") {
            let raw = cx
                .headers()
                .get("x-amz-copy-source")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    error(
                        S3ErrorCode::InvalidArgument,
                        StatusCode::BAD_REQUEST,
                        "Invalid copy source",
                    )
                })?;
            let (b, k) = parse_copy_source(raw).ok_or_else(|| {
                error(
                    S3ErrorCode::InvalidArgument,
                    StatusCode::BAD_REQUEST,
                    "Invalid copy source",
                )
            })?;
            check_key(&k)?;
            Some((b, k))
        } else {
            None
        };
        let Some(checks) = iam::s3::checks(
            &op,
            bucket.as_deref(),
            key.as_deref(),
            copy_source.as_ref().map(|(b, k)| (b.as_str(), k.as_str())),
        ) else {
            tracing::debug!(operation = %op, "s3: operation not allowed by the local S3");
            return Err(access_denied());
        };
        for check in checks {
            let mut ctx = principal.request(check.action, &check.resource);
            if check.action == "s3:ListBucket" {
                for (name, cond) in [
                    ("prefix", "s3:prefix"),
                    ("delimiter", "s3:delimiter"),
                    ("max-keys", "s3:max-keys"),
                ] {
                    if let Some((_, v)) = query.iter().find(|(k, _)| k == name) {
                        ctx = ctx.with_key(cond, v.clone());
                    }
                }
            }
            let decision = principal.evaluate(&ctx, None);
            if !decision.is_allowed() {
                tracing::debug!(
                    operation = %op,
                    principal = %principal.arn,
                    action = check.action,
                    resource = %check.resource,
                    decision = %decision.explain(),
                    "s3: access denied"
                );
                return Err(access_denied());
            }
        }
        // S3 answers 404 NoSuchKey for a missing object only to callers who may list the
        // bucket; everyone else gets 403, so a missing key cannot be told from a forbidden one.
        if matches!(op.as_str(), "GetObject" | "HeadObject")
            && let (Some(bucket), Some(key)) = (bucket.as_deref(), key.as_deref())
            && !self.dir.join(bucket).join(key).is_file()
        {
            let ctx = principal.request("s3:ListBucket", &iam::s3::bucket_arn(bucket));
            if !principal.evaluate(&ctx, None).is_allowed() {
                return Err(access_denied());
            }
        }
        Ok(())
    }
}

fn invalid_token() -> S3Error {
    error(
        S3ErrorCode::InvalidToken,
        StatusCode::BAD_REQUEST,
        "The provided token is malformed or otherwise invalid.",
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_pairs(uri: &hyper::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn is_sig_v2(headers: &HeaderMap, query: &[(String, String)]) -> bool {
    let header = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS "));
    header || query.iter().any(|(k, _)| k == "AWSAccessKeyId")
}

/// The credential scope (`AKID/date/region/service/aws4_request`) must be for this region
/// and `s3`.
fn check_scope(headers: &HeaderMap, query: &[(String, String)], region: &str) -> S3Result<()> {
    let from_header = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .map(|v| v.split([',', ' ']).next().unwrap_or_default().to_owned());
    let from_query = || {
        query
            .iter()
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.clone())
    };
    let Some(credential) = from_header.or_else(from_query) else {
        return Ok(());
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let (scope_region, service) = match parts.as_slice() {
        [_, _, r, s, "aws4_request"] => (*r, *s),
        _ => {
            return Err(error(
                S3ErrorCode::AuthorizationHeaderMalformed,
                StatusCode::BAD_REQUEST,
                "The authorization header is malformed; the Credential is mal-formed.",
            ));
        }
    };
    if scope_region != region {
        let mut e = S3Error::with_message(
            S3ErrorCode::AuthorizationHeaderMalformed,
            format!(
                "The authorization header is malformed; the region '{}' is wrong; expecting '{region}'",
                cfenv::text::prefix(scope_region, 32)
            ),
        );
        e.set_status_code(StatusCode::BAD_REQUEST);
        return Err(e);
    }
    if service != "s3" {
        return Err(error(
            S3ErrorCode::AuthorizationHeaderMalformed,
            StatusCode::BAD_REQUEST,
            "The authorization header is malformed; the service in the credential scope must be 's3'.",
        ));
    }
    Ok(())
}

/// Refuses keys the file-system backend cannot store safely inside the bucket's directory.
fn check_key(key: &str) -> S3Result<()> {
    let bad = key.starts_with('/')
        || key.contains('\\')
        || key.contains('\0')
        || key.split('/').any(|seg| seg == "." || seg == "..");
    if bad {
        return Err(error(
            S3ErrorCode::InvalidArgument,
            StatusCode::BAD_REQUEST,
            "The local S3 does not accept object keys with `.` or `..` segments, a leading `/`, a backslash or NUL.",
        ));
    }
    Ok(())
}

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded.
fn parse_copy_source(raw: &str) -> Option<(String, String)> {
    let raw = raw.split('?').next().unwrap_or(raw);
    let decoded = percent_decode(raw)?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = decoded.split_once('/')?;
    if bucket.is_empty() || key.is_empty() {
        return None;
    }
    Some((bucket.to_owned(), key.to_owned()))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hosts_split_bucket_from_base_domain() {
        let hosts = Hosts {
            domains: vec![
                "bucket.vpce-dev.s3.eu-central-1.localhost".into(),
                "vpce-dev.s3.eu-central-1.localhost".into(),
            ],
        };
        let vh = hosts
            .parse_host_header("docs.bucket.vpce-dev.s3.eu-central-1.localhost:4014")
            .ok();
        assert_eq!(vh.as_ref().and_then(|v| v.bucket()), Some("docs"));
        let vh = hosts
            .parse_host_header("bucket.vpce-dev.s3.eu-central-1.localhost:4014")
            .ok();
        assert_eq!(vh.as_ref().map(|v| v.bucket().is_none()), Some(true));
        let vh = hosts.parse_host_header("example.com").ok();
        assert_eq!(vh.as_ref().map(|v| v.bucket().is_none()), Some(true));
    }

    #[test]
    fn copy_source_and_keys() {
        assert_eq!(
            parse_copy_source("/b/a%20c.txt?versionId=1"),
            Some(("b".into(), "a c.txt".into()))
        );
        assert_eq!(parse_copy_source("b"), None);
        assert!(check_key("a/b.txt").is_ok());
        for bad in ["../x", "a/../../x", "/etc/passwd", "a/./b", ".."] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    fn bucket(name: &str) -> dto::Bucket {
        dto::Bucket {
            bucket_region: None,
            creation_date: None,
            name: Some(name.to_owned()),
        }
    }

    fn names(out: &dto::ListBucketsOutput) -> Vec<&str> {
        out.buckets
            .iter()
            .flatten()
            .filter_map(|b| b.name.as_deref())
            .collect()
    }

    #[test]
    fn list_buckets_pages_by_name() {
        let all = || ["c", "a", "d", "b", "e"].map(bucket).to_vec();
        let input = dto::ListBucketsInput::default();
        let out = page_buckets(all(), &input, "eu-central-1").unwrap();
        assert_eq!(names(&out), ["a", "b", "c", "d", "e"]);
        assert_eq!(out.continuation_token, None);
        assert!(
            out.buckets
                .iter()
                .flatten()
                .all(|b| b.bucket_region.is_none())
        );

        let mut input = dto::ListBucketsInput {
            max_buckets: Some(2),
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let out = page_buckets(all(), &input, "eu-central-1").unwrap();
            seen.extend(names(&out).into_iter().map(str::to_owned));
            assert!(
                out.buckets
                    .iter()
                    .flatten()
                    .all(|b| b.bucket_region.is_some())
            );
            match out.continuation_token {
                Some(t) => input.continuation_token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, ["a", "b", "c", "d", "e"]);

        let input = dto::ListBucketsInput {
            prefix: Some("d".into()),
            ..Default::default()
        };
        let out = page_buckets(all(), &input, "eu-central-1").unwrap();
        assert_eq!(names(&out), ["d"]);
        assert_eq!(out.prefix.as_deref(), Some("d"));
        let input = dto::ListBucketsInput {
            bucket_region: Some("us-east-1".into()),
            ..Default::default()
        };
        let out = page_buckets(all(), &input, "eu-central-1").unwrap();
        assert!(names(&out).is_empty());

        for bad in [
            dto::ListBucketsInput {
                max_buckets: Some(0),
                ..Default::default()
            },
            dto::ListBucketsInput {
                max_buckets: Some(10_001),
                ..Default::default()
            },
            dto::ListBucketsInput {
                continuation_token: Some("!!".into()),
                ..Default::default()
            },
        ] {
            let e = page_buckets(all(), &bad, "eu-central-1").unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::InvalidArgument);
        }
    }

    #[test]
    fn error_documents_are_completed_in_s3s_order() {
        let bare =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code></Error>";
        assert_eq!(
            complete_error_document(bare, "0123456789ABCDEF", Some("/b/a&b<c>.txt")).as_deref(),
            Some(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>\
                 <Message>The specified key does not exist.</Message>\
                 <Resource>/b/a&amp;b&lt;c&gt;.txt</Resource>\
                 <RequestId>0123456789ABCDEF</RequestId></Error>"
            )
        );
        let with_message =
            "<Error><Code>AccessDenied</Code><Message>Signature is required</Message></Error>";
        assert_eq!(
            complete_error_document(with_message, "ID", None).as_deref(),
            Some(
                "<Error><Code>AccessDenied</Code><Message>Signature is required</Message>\
                 <RequestId>ID</RequestId></Error>"
            )
        );
        assert_eq!(
            complete_error_document("<Error><Code>Odd&lt;</Code></Error>", "ID", None).as_deref(),
            Some(
                "<Error><Code>Odd&lt;</Code><Message>The local S3 refused the request with \
                 Odd&amp;lt;.</Message><RequestId>ID</RequestId></Error>"
            )
        );
        assert_eq!(complete_error_document("not xml", "ID", None), None);
        assert_eq!(request_id().len(), 16);
        assert_ne!(request_id(), request_id());
    }

    #[test]
    fn resources_name_the_bucket_and_key() {
        let hosts = Hosts {
            domains: vec!["bucket.vpce-dev.s3.eu-central-1.localhost".into()],
        };
        let check = |host: &str, target: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(hyper::header::HOST, host.parse().unwrap());
            resource_of(&hosts, &headers, &target.parse().unwrap())
        };
        assert_eq!(
            check("127.0.0.1:4014", "/docs/a%20b.txt?x=1").as_deref(),
            Some("/docs/a b.txt")
        );
        assert_eq!(check("127.0.0.1:4014", "/docs/").as_deref(), Some("/docs"));
        assert_eq!(check("127.0.0.1:4014", "/"), None);
        let vh = "docs.bucket.vpce-dev.s3.eu-central-1.localhost:4014";
        assert_eq!(check(vh, "/k/1.txt").as_deref(), Some("/docs/k/1.txt"));
        assert_eq!(check(vh, "/").as_deref(), Some("/docs"));
    }
}
