//! S3 on the configured endpoint (normally the Private Link `bucket.` endpoint): the client
//! ([`s3_client`]) and the seam the app uses ([`S3Backend`]: [`SdkS3`] over that client, with
//! paging, streaming and error classification; [`MemoryS3`] for tests).
//!
//! Every setting is deliberate:
//!
//! - **Endpoint and region** from [`AwsSettings`]: `https://bucket.<host>` of the `privatelink`
//!   binding, or `s3Endpoint`, or AWS's regional endpoint. The client's region must be the
//!   endpoint's region: the SDK signs with it whatever the URL says. The endpoint is set on
//!   the S3 config only, never on shared config, so it cannot redirect STS (both:
//!   docs/protocols.md §Addressing).
//! - **Addressing** ([`AwsSettings::path_style`]): virtual-hosted for Private Link (the SDK
//!   sends to `<bucket>.bucket.<host>`, covered by the endpoint's wildcard DNS name) and for
//!   AWS; path-style for an `s3Endpoint` (S3-compatible servers on `localhost` or an IP have no
//!   per-bucket host names); `forcePathStyle` overrides both (use it for bucket names with dots
//!   over https, which a wildcard certificate cannot cover).
//! - **Checksums: `WhenRequired` for requests and responses, on every endpoint.** Since 2025
//!   the SDK adds a CRC32 to every upload (as an `aws-chunked` body with a trailer for streams,
//!   with *signed* chunks over plain http) and validates checksums on every download. S3
//!   clones and emulators reject that form, and it broke presigned PUTs (awslabs/aws-sdk-rust
//!   issue #1240, quickwit-oss/quickwit pull request #6541; docs/protocols.md §Checksums), so
//!   the checksum mode must be a deliberate setting. With `WhenRequired` the SDK sends
//!   checksums only where S3 requires one (e.g. DeleteObjects) and plain bodies otherwise; TLS
//!   protects transport and the document store computes its own content hashes. The same
//!   setting on Private Link and on the dev stand-in means the tests exercise what production
//!   sends.
//! - **Timeouts** ([`Timeouts::S3`]): connect, per attempt, per operation.
//! - **Credentials**: [`RoleCredentials`] with the SDK's identity cache switched off, so our
//!   cache (refresh margin, backoff, counters) is the only one.
//! - **HTTP client**: [`crate::http::http_client`] (extra roots for the dev CA; plain http for
//!   emulators).
//!
//! # The operations
//!
//! - **Upload** ([`S3Backend::put_object`]): the body is a stream ([`ByteStream`]) that the
//!   app feeds as the client's bytes arrive; it may end with the app's own error
//!   ([`BodyError`]: size limit, digest mismatch, client gone), handed back as
//!   [`PutError::Body`]. The body is cut into part buffers of [`PART_SIZE`] (8 MiB;
//!   [`SdkS3::with_part_size`], at least S3's 5 MiB minimum for all parts but the last). A body
//!   that fits into one buffer goes as one PutObject with its `Content-Length`. A larger one
//!   goes as CreateMultipartUpload, UploadPart per part and CompleteMultipartUpload; while one
//!   part uploads the next one fills, so at most two part buffers are in memory per upload
//!   (memory stays bounded by the part size whatever the object's size, and the client is
//!   not held up while a part travels). Each part is sent as one buffer of known length
//!   (`Content-Length`, a plain body: no `aws-chunked` framing, see Checksums above) so the SDK
//!   can retry it.
//! - **No partial object, ever.** Complete is called only after the body ended cleanly. On a
//!   body error or an S3 error the upload is aborted (AbortMultipartUpload, best effort:
//!   logged when it fails) before the error is returned. When the put's future is dropped
//!   mid-way (the HTTP client went away and the server dropped the handler), a drop guard
//!   spawns the abort on the tokio runtime; CreateMultipartUpload runs in a task of its own,
//!   which aborts the upload itself if nobody is left to receive its id. What none of this
//!   can catch (the process dying mid-upload) is for the bucket's lifecycle rule
//!   `AbortIncompleteMultipartUpload`.
//! - **Download** ([`S3Backend::get_object`]): one optional RFC 9110 range ([`ByteRange`]);
//!   the SDK's body is handed on chunk by chunk ([`ObjectStream`]), never collected, with
//!   `Content-Length`, the parsed `Content-Range`, ETag and `Content-Type`. A missing key is
//!   [`Error::is_not_found`], an unsatisfiable range [`Error::is_invalid_range`].
//! - **HeadObject** gives `None` for an absent object; **DeleteObject** of an absent key
//!   succeeds (S3's own semantics, so the app's delete worker can retry blindly);
//!   **ListObjectsV2** gives one page ([`ObjectPage`], up to 1000 keys or
//!   [`SdkS3::with_list_page_size`]) and the token for the next.
//! - **Presigned URLs** ([`S3Backend::presign_put`], [`S3Backend::presign_get`]): a URL signed
//!   with temporary credentials stops working when they expire, whatever its `X-Amz-Expires`
//!   says, so the lifetime is cut to what the credentials have left (the credentials are read
//!   once from the [`RoleCredentials`] cache given by [`SdkS3::with_credentials`] and the URL
//!   is signed with exactly those) and to S3's 7-day maximum ([`MAX_PRESIGN`]);
//!   [`Presigned::expires_at`] is the true end. `Content-Type` and `Content-Length` of a
//!   presigned PUT are signed headers the client must send. [`Presigned`]'s `Debug` hides the
//!   query (signature, session token).

use aws_sdk_s3::config::{
    BehaviorVersion, IdentityCache, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedHttpClient,
};

use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::credentials::RoleCredentials;
use crate::error::Error;
use crate::http::Timeouts;
use crate::settings::AwsSettings;

mod memory;
mod objects;
mod sdk;

pub use memory::MemoryS3;
pub use objects::{
    BodyError, ByteRange, ByteStream, MAX_PART_SIZE, MAX_PARTS, MAX_PRESIGN, MIN_PART_SIZE,
    ObjectBody, ObjectInfo, ObjectPage, ObjectStream, PART_SIZE, Presigned, PutError, PutOutcome,
    PutRequest,
};
pub use sdk::{LIST_PAGE_SIZE, SdkS3};

/// The S3 client configuration described in the module doc.
pub fn s3_config(
    settings: &AwsSettings,
    credentials: RoleCredentials,
    http: SharedHttpClient,
    timeouts: Timeouts,
) -> aws_sdk_s3::Config {
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(credentials)
        .identity_cache(IdentityCache::no_cache())
        .http_client(http)
        .timeout_config(timeouts.config())
        .force_path_style(settings.path_style())
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    config.set_app_name(crate::sts::app_name());
    if let Some(url) = settings.s3_endpoint.url() {
        config = config.endpoint_url(url.as_str().trim_end_matches('/'));
    }
    config.build()
}

/// An S3 client with [`s3_config`].
pub fn s3_client(
    settings: &AwsSettings,
    credentials: RoleCredentials,
    http: SharedHttpClient,
    timeouts: Timeouts,
) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_config(settings, credentials, http, timeouts))
}

/// One bucket, as ListBuckets reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The bucket's name.
    pub name: String,
    /// When it was created, if S3 said.
    pub created: Option<std::time::SystemTime>,
}

/// What the app needs from S3, behind one seam: [`SdkS3`] on the real endpoint, [`MemoryS3`]
/// for tests of the app's routes. Errors are already classified ([`Error::S3`] refused, with
/// S3's code and HTTP status, [`Error::is_not_found`] and [`Error::is_invalid_range`] for the
/// two refusals the app answers itself; [`Error::S3Unreachable`], [`Error::S3Timeout`],
/// [`Error::S3Response`]; a failure to get credentials inside the SDK comes back as the
/// credential error itself, naming Credential Store or STS). The module doc says what each
/// operation does and why.
#[async_trait::async_trait]
pub trait S3Backend: Send + Sync + std::fmt::Debug {
    /// Every bucket the role may list, all pages, in S3's order (by name).
    async fn list_buckets(&self) -> Result<Vec<Bucket>, Error>;

    /// Streams `request.body` into `request.key`: one PutObject when it fits into one part
    /// buffer, else a multipart upload (at most two part buffers in memory). On any failure,
    /// and when this future is dropped mid-way, the multipart upload is aborted, so nothing is
    /// stored under the key (an object already there stays as it was).
    async fn put_object(&self, request: PutRequest) -> Result<PutOutcome, PutError>;

    /// The object (or one range of it), its body streamed as S3 sends it. A missing object is
    /// an error with [`Error::is_not_found`], an unsatisfiable range one with
    /// [`Error::is_invalid_range`].
    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, Error>;

    /// The object's size, ETag and modification time; `None` when it does not exist.
    async fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, Error>;

    /// Deletes the object; deleting an absent key succeeds.
    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error>;

    /// One ListObjectsV2 page (up to 1000 keys) of the keys under `prefix`, continuing after
    /// the page whose `next` was `continuation`.
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        continuation: Option<String>,
    ) -> Result<ObjectPage, Error>;

    /// A presigned PutObject. `content_type` and `content_length`, when given, are signed:
    /// the client must send them as in [`Presigned::headers`]. The lifetime is `expires_in`
    /// cut to the signing credentials' remaining life and to 7 days ([`Presigned::expires_at`]
    /// tells).
    async fn presign_put(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        content_length: Option<u64>,
        expires_in: Duration,
    ) -> Result<Presigned, Error>;

    /// A presigned GetObject, cut like [`S3Backend::presign_put`]; with
    /// `response_content_disposition`, S3 answers with that `Content-Disposition`.
    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
        response_content_disposition: Option<String>,
    ) -> Result<Presigned, Error>;
}

/// Classifies a failed SDK call to S3. A credential failure inside the SDK (the credentials
/// provider is [`RoleCredentials`]) is that failure, so it names Credential Store or STS.
pub fn sdk_error<E>(
    operation: &'static str,
    endpoint: &str,
    e: &aws_sdk_s3::error::SdkError<E, HttpResponse>,
) -> Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_s3::error::SdkError;
    if let Some(inner) = find::<Error>(e) {
        return inner.clone();
    }
    let endpoint = endpoint.to_owned();
    match e {
        SdkError::ServiceError(se) => Error::S3 {
            operation,
            code: se.err().code().unwrap_or("Unknown").to_owned(),
            status: Some(se.raw().status().as_u16()),
            message: crate::error::cut(se.err().message().unwrap_or_default()),
        },
        SdkError::TimeoutError(_) => Error::S3Timeout {
            operation,
            endpoint,
            reason: "the operation or attempt timeout passed".into(),
        },
        SdkError::DispatchFailure(d) if d.is_timeout() => Error::S3Timeout {
            operation,
            endpoint,
            reason: crate::error::cut(&cfenv::text::chain(e)),
        },
        SdkError::DispatchFailure(_) => Error::S3Unreachable {
            operation,
            endpoint,
            reason: crate::error::cut(&cfenv::text::chain(e)),
        },
        SdkError::ResponseError(_) => Error::S3Response {
            operation,
            reason: crate::error::cut(&cfenv::text::chain(e)),
        },
        _ => Error::S3Unreachable {
            operation,
            endpoint,
            reason: crate::error::cut(&cfenv::text::chain(e)),
        },
    }
}

/// The first error of type `T` in `e`'s source chain.
fn find<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}
