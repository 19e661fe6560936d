//! S3 on the configured endpoint (normally the Private Link `bucket.` endpoint): the client
//! ([`s3_client`]) and the seam the app uses ([`S3Backend`]: [`SdkS3`] over that client, with
//! paging and error classification; [`MemoryS3`] for tests).
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

use aws_sdk_s3::config::{
    BehaviorVersion, IdentityCache, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedHttpClient,
};

use crate::credentials::RoleCredentials;
use crate::error::Error;
use crate::http::Timeouts;
use crate::settings::AwsSettings;

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
/// for tests of the app's routes. Errors are already classified ([`Error::S3`] refused,
/// [`Error::S3Unreachable`], [`Error::S3Timeout`], [`Error::S3Response`]; a failure to get
/// credentials inside the SDK comes back as the credential error itself, naming Credential
/// Store or STS). The documents work adds object streaming here.
#[async_trait::async_trait]
pub trait S3Backend: Send + Sync + std::fmt::Debug {
    /// Every bucket the role may list, all pages, in S3's order (by name).
    async fn list_buckets(&self) -> Result<Vec<Bucket>, Error>;
}

/// [`S3Backend`] over an aws-sdk-s3 client (built by [`s3_client`]).
#[derive(Debug, Clone)]
pub struct SdkS3 {
    client: aws_sdk_s3::Client,
    endpoint: String,
}

impl SdkS3 {
    /// The backend for `client`; `endpoint` names it in errors (no secrets: URLs carry none).
    pub fn new(client: aws_sdk_s3::Client, endpoint: impl Into<String>) -> Self {
        Self {
            client,
            endpoint: endpoint.into(),
        }
    }

    /// The SDK client, for what the seam does not cover yet.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }
}

#[async_trait::async_trait]
impl S3Backend for SdkS3 {
    async fn list_buckets(&self) -> Result<Vec<Bucket>, Error> {
        const OPERATION: &str = "ListBuckets";
        let mut out = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let resp = self
                .client
                .list_buckets()
                .set_continuation_token(continuation.take())
                .send()
                .await
                .map_err(|e| sdk_error(OPERATION, &self.endpoint, &e))?;
            for b in resp.buckets() {
                let Some(name) = b.name() else { continue };
                let created = b
                    .creation_date()
                    .and_then(|d| std::time::SystemTime::try_from(*d).ok());
                out.push(Bucket {
                    name: name.to_owned(),
                    created,
                });
            }
            match resp.continuation_token() {
                Some(t) if !t.is_empty() => continuation = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }
}

/// Classifies a failed SDK call to S3. A credential failure inside the SDK (the credentials
/// provider is [`RoleCredentials`]) is that failure, so it names Credential Store or STS.
pub fn sdk_error<E, R>(
    operation: &'static str,
    endpoint: &str,
    e: &aws_sdk_s3::error::SdkError<E, R>,
) -> Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
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
            status: None,
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

/// An in-memory [`S3Backend`] for tests of the app: buckets kept in order by name, and a
/// failure that can be switched on to stand for S3 refusing, unreachable or slow.
#[derive(Debug, Default)]
pub struct MemoryS3 {
    buckets: std::sync::Mutex<std::collections::BTreeMap<String, std::time::SystemTime>>,
    failure: std::sync::Mutex<Option<Error>>,
    calls: std::sync::atomic::AtomicU64,
}

impl MemoryS3 {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a bucket created at `created`.
    pub fn add_bucket(&self, name: &str, created: std::time::SystemTime) {
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), created);
    }

    /// Makes every call fail with `failure` (`None`: succeed again).
    pub fn fail_with(&self, failure: Option<Error>) {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = failure;
    }

    /// How many calls were made.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl S3Backend for MemoryS3 {
    async fn list_buckets(&self) -> Result<Vec<Bucket>, Error> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(e) = self
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Err(e);
        }
        Ok(self
            .buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, created)| Bucket {
                name: name.clone(),
                created: Some(*created),
            })
            .collect())
    }
}
