//! [`SdkS3`]: the [`S3Backend`] over an aws-sdk-s3 client, as the parent module's doc
//! describes (uploads in bounded parts with an abort that survives cancellation, streamed
//! downloads, presigning within the credentials' life).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use super::objects::{
    MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, PART_SIZE, Parts, now_in_seconds, parse_content_range,
    presign_lifetime,
};
use super::{
    Bucket, ByteRange, ObjectBody, ObjectInfo, ObjectPage, PutError, PutOutcome, PutRequest,
    S3Backend, find, sdk_error,
};
use crate::error::Error;

/// Keys per ListObjectsV2 page unless [`SdkS3::with_list_page_size`] says otherwise (S3's
/// maximum).
pub const LIST_PAGE_SIZE: u32 = 1000;

/// [`S3Backend`] over an aws-sdk-s3 client (built by [`super::s3_client`]).
#[derive(Debug, Clone)]
pub struct SdkS3 {
    client: aws_sdk_s3::Client,
    endpoint: String,
    part_size: usize,
    list_page_size: u32,
    /// What presigned URLs are signed with (see [`SdkS3::with_credentials`]).
    credentials: Option<SharedCredentialsProvider>,
}

impl SdkS3 {
    /// The backend for `client`; `endpoint` names it in errors (no secrets: URLs carry none).
    /// Parts of [`PART_SIZE`], listing pages of [`LIST_PAGE_SIZE`].
    pub fn new(client: aws_sdk_s3::Client, endpoint: impl Into<String>) -> Self {
        Self {
            client,
            endpoint: endpoint.into(),
            part_size: PART_SIZE,
            list_page_size: LIST_PAGE_SIZE,
            credentials: None,
        }
    }

    /// Signs presigned URLs with `credentials` (normally the client's own provider, the
    /// [`crate::RoleCredentials`] cache), so their lifetime can be cut to what those
    /// credentials have left: a URL signed with temporary credentials dies when they expire.
    /// Without it the client's provider signs and only the 7-day limit applies.
    pub fn with_credentials(mut self, credentials: impl ProvideCredentials + 'static) -> Self {
        self.credentials = Some(SharedCredentialsProvider::new(credentials));
        self
    }

    /// Uploads in parts of `bytes`, clamped to S3's limits ([`MIN_PART_SIZE`] to
    /// [`MAX_PART_SIZE`]): a smaller part size lets tests go multipart with less data.
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.clamp(MIN_PART_SIZE, MAX_PART_SIZE);
        self
    }

    /// Lists at most `keys` objects per page (1 to 1000; S3 never sends more than 1000).
    pub fn with_list_page_size(mut self, keys: u32) -> Self {
        self.list_page_size = keys.clamp(1, LIST_PAGE_SIZE);
        self
    }

    /// The part size of uploads.
    pub fn part_size(&self) -> usize {
        self.part_size
    }

    /// The SDK client, for what the seam does not cover yet.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        part: Bytes,
    ) -> Result<CompletedPart, PutError> {
        const OPERATION: &str = "UploadPart";
        let length = i64::try_from(part.len()).unwrap_or(i64::MAX);
        let out = self
            .client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(length)
            .body(SdkByteStream::from(part))
            .send()
            .await
            .map_err(|e| sdk_error(OPERATION, &self.endpoint, &e))?;
        let e_tag = out.e_tag().ok_or_else(|| Error::S3Response {
            operation: OPERATION,
            reason: "no ETag for the part".into(),
        })?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .e_tag(e_tag)
            .build())
    }

    /// CreateMultipartUpload in a task of its own, so that a put dropped while it is in
    /// flight does not lose the upload id: the task then aborts the upload itself.
    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<String>,
    ) -> Result<String, Error> {
        const OPERATION: &str = "CreateMultipartUpload";
        let (client, endpoint) = (self.client.clone(), self.endpoint.clone());
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let create = async move {
            client
                .create_multipart_upload()
                .bucket(&bucket)
                .key(&key)
                .set_content_type(content_type)
                .send()
                .await
                .map_err(|e| sdk_error(OPERATION, &endpoint, &e))
                .and_then(|out| {
                    out.upload_id()
                        .map(str::to_owned)
                        .ok_or_else(|| Error::S3Response {
                            operation: OPERATION,
                            reason: "no UploadId".into(),
                        })
                })
                .map(|id| (id, client, endpoint, bucket, key))
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return create.await.map(|(id, ..)| id);
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            let created = create.await;
            if let Err(Ok((id, client, endpoint, bucket, key))) = tx.send(created) {
                // The put was dropped while the upload was being created.
                abort_upload(&client, &endpoint, &bucket, &key, &id).await;
            }
        });
        match rx.await {
            Ok(created) => created.map(|(id, ..)| id),
            Err(_) => Err(Error::S3Response {
                operation: OPERATION,
                reason: "the task creating the upload ended without an answer".into(),
            }),
        }
    }

    /// The multipart upload after the first part is known: every part (one uploading while
    /// the next fills), then CompleteMultipartUpload.
    async fn upload_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        first: Bytes,
        parts: &mut Parts,
    ) -> Result<PutOutcome, PutError> {
        let mut completed = Vec::new();
        let mut size = 0u64;
        let mut number: u32 = 1;
        let mut current = first;
        loop {
            size += current.len() as u64;
            let part_number = i32::try_from(number).unwrap_or(i32::MAX);
            // A second handle on the part's buffer, to reuse it once the part is sent.
            let sent = current.clone();
            let upload = self.upload_part(bucket, key, upload_id, part_number, current);
            let next = async { parts.next_part().await.map_err(PutError::Body) };
            let (done, next) = tokio::try_join!(upload, next)?;
            completed.push(done);
            parts.recycle(sent);
            match next {
                None => break,
                Some(_) if number >= MAX_PARTS => {
                    return Err(PutError::S3(Error::Invalid {
                        what: "upload body",
                        reason: format!("more than {MAX_PARTS} parts of {} bytes", self.part_size),
                    }));
                }
                Some(part) => {
                    number += 1;
                    current = part;
                }
            }
        }
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_error("CompleteMultipartUpload", &self.endpoint, &e))?;
        Ok(PutOutcome {
            size,
            e_tag: out.e_tag().map(str::to_owned),
            parts: number,
        })
    }

    /// The credentials to presign with, when [`SdkS3::with_credentials`] gave a provider.
    async fn signing_credentials(&self) -> Result<Option<Credentials>, Error> {
        let Some(provider) = &self.credentials else {
            return Ok(None);
        };
        provider.provide_credentials().await.map(Some).map_err(|e| {
            find::<Error>(&e)
                .cloned()
                .unwrap_or_else(|| Error::Invalid {
                    what: "S3 credentials",
                    reason: crate::error::cut(&cfenv::text::chain(&e)),
                })
        })
    }

    /// The presigning config for `requested`, signed now with `credentials`: the lifetime is
    /// cut to what the credentials have left and to 7 days.
    fn presigning(
        requested: Duration,
        credentials: Option<&Credentials>,
    ) -> Result<(PresigningConfig, SystemTime), Error> {
        let start = now_in_seconds();
        let life = presign_lifetime(start, requested, credentials.and_then(|c| c.expiry()))?;
        let config = PresigningConfig::builder()
            .start_time(start)
            .expires_in(life)
            .build()
            .map_err(|e| Error::Invalid {
                what: "presigned URL lifetime",
                reason: crate::error::cut(&e.to_string()),
            })?;
        Ok((config, start + life))
    }

    /// A config override that signs with exactly `credentials`, whose expiry the lifetime was
    /// cut to (the cache could otherwise hand the signer newer ones; never older ones).
    fn signed_with(credentials: Option<Credentials>) -> aws_sdk_s3::config::Builder {
        let mut config = aws_sdk_s3::config::Builder::default();
        if let Some(c) = credentials {
            config = config.credentials_provider(c);
        }
        config
    }
}

fn presigned(
    req: &PresignedRequest,
    method: &'static str,
    expires_at: SystemTime,
) -> super::Presigned {
    super::Presigned {
        url: req.uri().to_owned(),
        method,
        headers: req
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
        expires_at,
    }
}

/// AbortMultipartUpload, once (the SDK retries inside); failures are logged, not returned:
/// the abort is the clean-up of a failure that is already being reported. A bucket lifecycle
/// rule (`AbortIncompleteMultipartUpload`) catches what this cannot (the process dying).
async fn abort_upload(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    bucket: &str,
    key: &str,
    upload_id: &str,
) {
    let result = client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
    match result {
        Ok(_) => tracing::debug!(
            s3.bucket = bucket,
            s3.upload_id = upload_id,
            "aborted the multipart upload"
        ),
        Err(e) => {
            let err = sdk_error("AbortMultipartUpload", endpoint, &e);
            if !matches!(&err, Error::S3 { code, .. } if code == "NoSuchUpload") {
                tracing::warn!(
                    s3.bucket = bucket,
                    s3.upload_id = upload_id,
                    error = %err,
                    "aborting a failed multipart upload failed; its parts stay until a lifecycle rule removes them"
                );
            }
        }
    }
}

/// Aborts the multipart upload when dropped while armed: on the error path (awaited) and when
/// the put's future is dropped mid-way (spawned on the runtime, since a destructor cannot
/// await).
struct AbortGuard {
    client: aws_sdk_s3::Client,
    endpoint: String,
    bucket: String,
    key: String,
    upload_id: String,
    armed: bool,
}

impl AbortGuard {
    /// Aborts now; if this future is dropped before the abort finished, the drop still does.
    async fn abort(&mut self) {
        abort_upload(
            &self.client,
            &self.endpoint,
            &self.bucket,
            &self.key,
            &self.upload_id,
        )
        .await;
        self.armed = false;
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (client, endpoint) = (self.client.clone(), std::mem::take(&mut self.endpoint));
        let (bucket, key) = (
            std::mem::take(&mut self.bucket),
            std::mem::take(&mut self.key),
        );
        let upload_id = std::mem::take(&mut self.upload_id);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    abort_upload(&client, &endpoint, &bucket, &key, &upload_id).await;
                });
            }
            Err(_) => tracing::warn!(
                s3.bucket = bucket,
                s3.upload_id = upload_id,
                "an interrupted multipart upload cannot be aborted outside a tokio runtime; \
                 its parts stay until a lifecycle rule removes them"
            ),
        }
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
                    .and_then(|d| SystemTime::try_from(*d).ok());
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

    async fn put_object(&self, request: PutRequest) -> Result<PutOutcome, PutError> {
        let PutRequest {
            bucket,
            key,
            content_type,
            body,
        } = request;
        let mut parts = Parts::new(body, self.part_size);
        let first = parts
            .next_part()
            .await
            .map_err(PutError::Body)?
            .unwrap_or_default();
        if !parts.has_more().await.map_err(PutError::Body)? {
            let size = first.len() as u64;
            let out = self
                .client
                .put_object()
                .bucket(&bucket)
                .key(&key)
                .set_content_type(content_type)
                .content_length(i64::try_from(size).unwrap_or(i64::MAX))
                .body(SdkByteStream::from(first))
                .send()
                .await
                .map_err(|e| sdk_error("PutObject", &self.endpoint, &e))?;
            return Ok(PutOutcome {
                size,
                e_tag: out.e_tag().map(str::to_owned),
                parts: 1,
            });
        }
        let upload_id = self.create_upload(&bucket, &key, content_type).await?;
        let mut guard = AbortGuard {
            client: self.client.clone(),
            endpoint: self.endpoint.clone(),
            bucket: bucket.clone(),
            key: key.clone(),
            upload_id: upload_id.clone(),
            armed: true,
        };
        match self
            .upload_parts(&bucket, &key, &upload_id, first, &mut parts)
            .await
        {
            Ok(outcome) => {
                guard.armed = false;
                Ok(outcome)
            }
            Err(e) => {
                guard.abort().await;
                Err(e)
            }
        }
    }

    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, Error> {
        const OPERATION: &str = "GetObject";
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_range(range.map(|r| r.header_value()))
            .send()
            .await
            .map_err(|e| sdk_error(OPERATION, &self.endpoint, &e))?;
        let content_length = out
            .content_length()
            .and_then(|l| u64::try_from(l).ok())
            .ok_or_else(|| Error::S3Response {
                operation: OPERATION,
                reason: "no Content-Length".into(),
            })?;
        let content_range = match out.content_range() {
            None => None,
            Some(v) => Some(parse_content_range(v).ok_or_else(|| Error::S3Response {
                operation: OPERATION,
                reason: format!("unreadable Content-Range {:?}", cfenv::text::prefix(v, 64)),
            })?),
        };
        let e_tag = out.e_tag().map(str::to_owned);
        let content_type = out.content_type().map(str::to_owned);
        let body = futures::stream::unfold(out.body, |mut body| async move {
            let chunk = body.next().await?.map_err(|e| Error::S3Response {
                operation: OPERATION,
                reason: crate::error::cut(&format!(
                    "the body broke off: {}",
                    cfenv::text::chain(&e)
                )),
            });
            Some((chunk, body))
        });
        Ok(ObjectBody {
            body: Box::pin(body),
            content_length,
            content_range,
            e_tag,
            content_type,
        })
    }

    async fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, Error> {
        let result = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(ObjectInfo {
                key: key.to_owned(),
                size: out
                    .content_length()
                    .and_then(|l| u64::try_from(l).ok())
                    .unwrap_or(0),
                e_tag: out.e_tag().map(str::to_owned),
                last_modified: out
                    .last_modified()
                    .and_then(|d| SystemTime::try_from(*d).ok()),
            })),
            Err(e) => {
                // HeadObject's answer is its status line: a 404 is "absent" even when the
                // response then breaks (a HEAD response must not have a body; a server that
                // sends one anyway makes the HTTP/2 stream fail after the status arrived).
                if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) {
                    return Ok(None);
                }
                let err = sdk_error("HeadObject", &self.endpoint, &e);
                if err.is_not_found() {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        match self
            .client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = sdk_error("DeleteObject", &self.endpoint, &e);
                // S3 answers 204 for an absent key; some S3-compatible servers say NoSuchKey.
                if matches!(&err, Error::S3 { code, .. } if code == "NoSuchKey") {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        continuation: Option<String>,
    ) -> Result<ObjectPage, Error> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .set_prefix(prefix.map(str::to_owned))
            .set_continuation_token(continuation)
            .max_keys(i32::try_from(self.list_page_size).unwrap_or(1000))
            .send()
            .await
            .map_err(|e| sdk_error("ListObjectsV2", &self.endpoint, &e))?;
        let objects = out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(ObjectInfo {
                    key: o.key()?.to_owned(),
                    size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    e_tag: o.e_tag().map(str::to_owned),
                    last_modified: o
                        .last_modified()
                        .and_then(|d| SystemTime::try_from(*d).ok()),
                })
            })
            .collect();
        let next = match out.next_continuation_token() {
            Some(t) if out.is_truncated() == Some(true) && !t.is_empty() => Some(t.to_owned()),
            _ => None,
        };
        Ok(ObjectPage { objects, next })
    }

    async fn presign_put(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        content_length: Option<u64>,
        expires_in: Duration,
    ) -> Result<super::Presigned, Error> {
        let credentials = self.signing_credentials().await?;
        let (config, expires_at) = Self::presigning(expires_in, credentials.as_ref())?;
        let req = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .set_content_type(content_type.map(str::to_owned))
            .set_content_length(content_length.and_then(|l| i64::try_from(l).ok()))
            .customize()
            .config_override(Self::signed_with(credentials))
            .presigned(config)
            .await
            .map_err(|e| sdk_error("PutObject", &self.endpoint, &e))?;
        Ok(presigned(&req, "PUT", expires_at))
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
        response_content_disposition: Option<String>,
    ) -> Result<super::Presigned, Error> {
        let credentials = self.signing_credentials().await?;
        let (config, expires_at) = Self::presigning(expires_in, credentials.as_ref())?;
        let req = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_response_content_disposition(response_content_disposition)
            .customize()
            .config_override(Self::signed_with(credentials))
            .presigned(config)
            .await
            .map_err(|e| sdk_error("GetObject", &self.endpoint, &e))?;
        Ok(presigned(&req, "GET", expires_at))
    }
}
