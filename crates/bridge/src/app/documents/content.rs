//! The bytes of a document: `PUT …/content` streams the body to S3, `GET …/content` streams the
//! object back.
//!
//! Upload, in order:
//! 1. `Write` scope; a `Content-Length` above the limit is refused before anything is read
//!    (413), and the client's checksum header, if any, is parsed (400 when malformed);
//! 2. the row goes `pending|failed → uploading` in one statement (a second upload of the same
//!    document meanwhile is 409);
//! 3. the body (raw, or the one file part of a `multipart/form-data` body, streamed through
//!    `multer`) passes the `documents::inspect::Inspector` chunk by chunk on its way to S3:
//!    bytes counted against the limit (413 however much `Content-Length` said), the leading
//!    bytes checked against the media type (415), SHA-256 computed; at the end of the body
//!    the checksum is compared (400) *before* the upload is completed, so a refused body
//!    never becomes an object;
//! 4. `awslink` writes the object (one PUT, or a multipart upload in bounded parts, aborted
//!    when the body fails or the request is dropped);
//! 5. only then the row becomes `available` with size, hash and media type. If the database
//!    fails at that point the object is deleted again (503), so no object exists without its
//!    row's knowledge; if even that fails, reconcile finds it.
//!
//! A failed upload puts the row back to `pending` (the client may try again). A client that
//! sends no byte for [`super::DocumentSettings::transfer_idle_timeout`] is given up on.
//!
//! Download: 404 until the document is `available`; `ETag` is the SHA-256, `If-None-Match`
//! answers 304, one `Range` 206 (416 when unsatisfiable, `If-Range` honoured), the media type
//! as stored with `X-Content-Type-Options: nosniff` and a sandboxing CSP, and
//! `Content-Disposition: attachment` with the file name (RFC 6266). A full download is hashed
//! on the way out; a mismatch with the stored hash (a corrupted object) breaks the connection
//! instead of completing it, so the client never takes a corrupt file for a complete one.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::{Stream, StreamExt};

use super::{DocRequest, odata_error, require_write, settings, store, visible};
use crate::app::error::ApiError;
use crate::app::upstream::{self, dependency};

/// Why the app stopped reading an upload body (the `awslink::s3::BodyError` it hands back).
#[derive(Debug, thiserror::Error)]
enum Stop {
    /// The inspector refused the content.
    #[error("{0}")]
    Refused(documents::inspect::Refusal),
    /// The client's body failed (connection closed, malformed multipart).
    #[error("the request body ended abnormally: {0}")]
    Body(String),
    /// No byte arrived for the idle timeout.
    #[error("no data arrived for {0} s")]
    Idle(u64),
}

impl Stop {
    fn into_api(self) -> ApiError {
        match self {
            Stop::Refused(r) => odata_error(r.status(), r.to_string()),
            Stop::Body(why) => odata_error(400, format!("The upload did not complete: {why}")),
            Stop::Idle(s) => odata_error(408, format!("The upload stalled: no data for {s} s")),
        }
    }
}

/// `PUT …/content`.
pub async fn upload(
    req: &DocRequest<'_>,
    id: uuid::Uuid,
    body: Body,
) -> Result<Response, ApiError> {
    require_write(req)?;
    let settings = settings(req.state)?;
    let store = store(req.state)?;
    if let Some(len) = content_length(req.headers)
        && len > settings.max_bytes
    {
        return Err(odata_error(
            413,
            format!(
                "The document is larger than the limit of {} bytes",
                settings.max_bytes
            ),
        ));
    }
    let digest = documents::digest::ClientDigest::from_headers(
        header_str(req.headers, "content-digest").or(header_str(req.headers, "repr-digest")),
        header_str(req.headers, "x-amz-checksum-sha256"),
    )
    .map_err(|e| odata_error(400, e.to_string()))?;
    let content_type = header_str(req.headers, header::CONTENT_TYPE.as_str()).unwrap_or("");
    let current = visible(store, id).await?;
    let actor = super::actor(req.principal);
    // The body: raw, or the file part of a form.
    let (declared, stream): (Option<String>, BodyStream) = if is_form(content_type) {
        let boundary = multer::parse_boundary(content_type)
            .map_err(|_| odata_error(400, "The multipart/form-data body has no boundary"))?;
        file_part(body, boundary).await?
    } else {
        let declared = (!content_type.is_empty()).then(|| content_type.to_owned());
        (
            declared,
            Box::pin(
                body.into_data_stream()
                    .map(|r| r.map_err(|e| e.to_string())),
            ),
        )
    };
    let declared = match declared {
        Some(t) => Some(
            documents::media::MediaPolicy::normalize(&t)
                .map_err(|_| odata_error(415, "The Content-Type is not a media type"))?,
        ),
        None => current.media_type.clone(),
    };
    let inspector = documents::inspect::Inspector::new(
        settings.max_bytes,
        &settings.media,
        declared.as_deref(),
        digest,
    );
    // Refusals that need no byte of the body (a declared type that is not allowed) come
    // before the row is touched.
    if let Some(t) = declared.as_deref()
        && !settings.media.allows(t)
    {
        return Err(odata_error(
            415,
            format!("The media type {t} is not accepted"),
        ));
    }
    upstream::credentials(&req.state.aws, req.state.limits.upstream_timeout).await?;
    let doc = store.begin_upload(id, &actor, Utc::now()).await?;
    let shared = Arc::new(Mutex::new(Some(inspector)));
    let result = Arc::new(Mutex::new(None));
    let inspected = Inspected {
        inner: stream,
        inspector: shared,
        result: result.clone(),
        idle: settings.transfer_idle_timeout,
        sleep: None,
        done: false,
    };
    let put = req.state.aws.s3.put_object(awslink::s3::PutRequest {
        bucket: doc.bucket.clone(),
        key: doc.object_key.clone(),
        content_type: declared.clone(),
        body: Box::pin(inspected),
    });
    let started = std::time::Instant::now();
    let outcome = put.await;
    match outcome {
        Ok(_) => {
            req.state
                .metrics
                .upstream(dependency::S3, "PutObject", "ok", started.elapsed());
            let found = result
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .ok_or_else(|| ApiError::Internal("the upload ended without a result".into()))?;
            let sha256 = documents::digest::hex(&found.sha256);
            match store
                .finish_upload(
                    id,
                    found.size,
                    &sha256,
                    Some(&found.media_type),
                    &actor,
                    Utc::now(),
                )
                .await
            {
                Ok(doc) => {
                    let mut resp = StatusCode::NO_CONTENT.into_response();
                    if let Ok(v) = HeaderValue::from_str(&content_etag(&sha256)) {
                        resp.headers_mut().insert(header::ETAG, v);
                    }
                    if let Ok(v) = HeaderValue::from_str(&documents::digest::content_digest_header(
                        &found.sha256,
                    )) {
                        resp.headers_mut().insert("repr-digest", v);
                    }
                    tracing::info!(document.id = %doc.id, document.size = found.size, "document uploaded");
                    Ok(resp)
                }
                Err(e) => {
                    // The row could not say `available`: take the object away again.
                    let _ = req
                        .state
                        .aws
                        .s3
                        .delete_object(&doc.bucket, &doc.object_key)
                        .await;
                    let _ = store.abort_upload(id, None, Utc::now()).await;
                    Err(e.into())
                }
            }
        }
        Err(awslink::s3::PutError::Body(e)) => {
            let _ = store.abort_upload(id, None, Utc::now()).await;
            match e.0.downcast::<Stop>() {
                Ok(stop) => Err(stop.into_api()),
                Err(other) => Err(odata_error(
                    400,
                    format!("The upload did not complete: {other}"),
                )),
            }
        }
        Err(awslink::s3::PutError::S3(e)) => {
            req.state
                .metrics
                .upstream(dependency::S3, "PutObject", "failed", started.elapsed());
            let _ = store.abort_upload(id, None, Utc::now()).await;
            Err(upstream::aws_error(&e))
        }
    }
}

/// Stores `bytes` as the content of the `pending` document `id`, through the same checks as
/// an upload (for the dev stack's demo documents).
pub async fn store_bytes(
    state: &crate::app::AppState,
    id: uuid::Uuid,
    actor: &str,
    media_type: &str,
    bytes: Bytes,
) -> Result<runs::Document, ApiError> {
    let settings = settings(state)?;
    let store = store(state)?;
    let mut inspector = documents::inspect::Inspector::new(
        settings.max_bytes,
        &settings.media,
        Some(media_type),
        None,
    );
    inspector
        .feed(&bytes)
        .map_err(|r| odata_error(r.status(), r.to_string()))?;
    let found = inspector
        .finish()
        .map_err(|r| odata_error(r.status(), r.to_string()))?;
    let doc = store.begin_upload(id, actor, Utc::now()).await?;
    let body: awslink::s3::ByteStream = Box::pin(futures::stream::once(async move { Ok(bytes) }));
    let put = state
        .aws
        .s3
        .put_object(awslink::s3::PutRequest {
            bucket: doc.bucket.clone(),
            key: doc.object_key.clone(),
            content_type: Some(media_type.to_owned()),
            body,
        })
        .await;
    if let Err(e) = put {
        let _ = store.abort_upload(id, None, Utc::now()).await;
        return Err(match e {
            awslink::s3::PutError::S3(e) => upstream::aws_error(&e),
            awslink::s3::PutError::Body(e) => ApiError::Internal(e.to_string()),
        });
    }
    Ok(store
        .finish_upload(
            id,
            found.size,
            &documents::digest::hex(&found.sha256),
            Some(&found.media_type),
            actor,
            Utc::now(),
        )
        .await?)
}

/// Longest text field of a form before its file part.
pub const MAX_FORM_FIELD: usize = 64 * 1024;

type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

fn is_form(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The first part of a form that carries a file (a `filename`), as a stream, with its
/// declared type. Other parts before it (small text fields) are skipped, at most 16 of them.
async fn file_part(body: Body, boundary: String) -> Result<(Option<String>, BodyStream), ApiError> {
    let malformed = |e: multer::Error| {
        odata_error(
            400,
            format!("The multipart/form-data body is malformed: {e}"),
        )
    };
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    for _ in 0..16 {
        let Some(mut field) = form.next_field().await.map_err(malformed)? else {
            break;
        };
        if field.file_name().is_none() {
            // A plain form field (UI5 may send some before the file): read and dropped, at
            // most MAX_FORM_FIELD bytes.
            let mut read = 0usize;
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                read += chunk.len();
                if read > MAX_FORM_FIELD {
                    return Err(odata_error(
                        413,
                        format!(
                            "A form field before the file is larger than {MAX_FORM_FIELD} bytes"
                        ),
                    ));
                }
            }
            continue;
        }
        let declared = field.content_type().map(ToString::to_string);
        // The form owns the stream; keep it alive by moving it into the part's stream.
        let stream = futures::stream::unfold((form, field), |(form, mut field)| async move {
            match field.chunk().await {
                Ok(Some(bytes)) => Some((Ok(bytes), (form, field))),
                Ok(None) => None,
                Err(e) => Some((Err(e.to_string()), (form, field))),
            }
        });
        return Ok((declared, Box::pin(stream)));
    }
    Err(odata_error(
        400,
        "The multipart/form-data body has no file part",
    ))
}

/// The upload body on its way to S3: every chunk through the inspector, an idle timeout
/// between chunks, the final checks at the end (as an error item, before the end of the
/// stream, so that the upload is aborted rather than completed).
struct Inspected {
    inner: BodyStream,
    inspector: Arc<Mutex<Option<documents::inspect::Inspector>>>,
    result: Arc<Mutex<Option<documents::inspect::Inspected>>>,
    idle: std::time::Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    done: bool,
}

impl Inspected {
    fn stop(&mut self, stop: Stop) -> Poll<Option<Result<Bytes, awslink::s3::BodyError>>> {
        self.done = true;
        Poll::Ready(Some(Err(awslink::s3::BodyError(Box::new(stop)))))
    }
}

impl Stream for Inspected {
    type Item = Result<Bytes, awslink::s3::BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Pending => {
                let idle = self.idle;
                let sleep = self
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => self.stop(Stop::Idle(idle.as_secs())),
                    Poll::Pending => Poll::Pending,
                }
            }
            Poll::Ready(Some(Ok(bytes))) => {
                self.sleep = None;
                let refused = {
                    let mut guard = self.inspector.lock().unwrap_or_else(|e| e.into_inner());
                    match guard.as_mut() {
                        Some(i) => i.feed(&bytes).err(),
                        None => None,
                    }
                };
                match refused {
                    Some(r) => self.stop(Stop::Refused(r)),
                    None => Poll::Ready(Some(Ok(bytes))),
                }
            }
            Poll::Ready(Some(Err(e))) => self.stop(Stop::Body(e)),
            Poll::Ready(None) => {
                let inspector = self
                    .inspector
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                let Some(inspector) = inspector else {
                    self.done = true;
                    return Poll::Ready(None);
                };
                match inspector.finish() {
                    Ok(found) => {
                        *self.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(found);
                        self.done = true;
                        Poll::Ready(None)
                    }
                    Err(r) => self.stop(Stop::Refused(r)),
                }
            }
        }
    }
}

use std::future::Future as _;

/// `GET …/content`.
pub async fn download(req: &DocRequest<'_>, id: uuid::Uuid) -> Result<Response, ApiError> {
    let store = store(req.state)?;
    let doc = visible(store, id).await?;
    if doc.status != runs::DocStatus::Available {
        return Err(odata_error(
            404,
            format!(
                "The document {id} has no content yet (status {})",
                doc.status.as_str()
            ),
        ));
    }
    let sha256 = doc.sha256.clone().unwrap_or_default();
    let size = doc.size.unwrap_or(0);
    let etag = content_etag(&sha256);
    if etag_matches(req.headers.get(header::IF_NONE_MATCH), &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let range_header = header_str(req.headers, header::RANGE.as_str());
    let if_range_ok =
        header_str(req.headers, header::IF_RANGE.as_str()).is_none_or(|v| v.trim() == etag);
    let outcome = match range_header {
        Some(r) if if_range_ok => documents::range::parse_range(r, size),
        _ => documents::range::RangeOutcome::Full,
    };
    let range = match outcome {
        documents::range::RangeOutcome::Unsatisfiable => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                odata_error(416, "The range is outside the document").into_response(),
            )
                .into_response());
        }
        documents::range::RangeOutcome::Partial { start, end } => {
            Some(awslink::s3::ByteRange::FromTo(start, end))
        }
        documents::range::RangeOutcome::Full => None,
    };
    upstream::credentials(&req.state.aws, req.state.limits.upstream_timeout).await?;
    let object = upstream::call(
        &req.state.metrics,
        dependency::S3,
        "GetObject",
        req.state.limits.upstream_timeout,
        req.state.aws.s3.get_object(&doc.bucket, &doc.object_key, range),
        upstream::aws_error,
    )
    .await
    .map_err(|e| match e {
        ApiError::Upstream(ref f) if f.code.as_deref() == Some("NoSuchKey") => {
            tracing::warn!(document.id = %id, "document is available but its object is missing; reconcile will mark it");
            odata_error(404, format!("The content of document {id} is missing"))
        }
        other => other,
    })?;
    let _ = store
        .record_event(&runs::NewEvent {
            at: Utc::now(),
            actor: super::actor(req.principal),
            action: "read".into(),
            document_id: Some(id),
            detail: range.map(|_| "range".to_owned()),
        })
        .await;
    let partial = object.content_range.is_some();
    let expected = (!partial)
        .then(|| documents::digest::parse_hex(&sha256))
        .flatten();
    let body = verify(object.body, expected, req.state.metrics.clone());
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = resp.headers_mut();
    let media = doc
        .media_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut put = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    put(header::CONTENT_TYPE, &media);
    put(header::CONTENT_LENGTH, &object.content_length.to_string());
    put(header::ETAG, &etag);
    put(header::ACCEPT_RANGES, "bytes");
    put(header::CACHE_CONTROL, "private, no-cache");
    put(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    put(
        header::CONTENT_SECURITY_POLICY,
        "sandbox; default-src 'none'",
    );
    put(
        header::CONTENT_DISPOSITION,
        &documents::disposition::content_disposition("attachment", &doc.file_name),
    );
    if let Some((start, end, total)) = object.content_range {
        put(
            header::CONTENT_RANGE,
            &documents::range::content_range(start, end, total),
        );
    }
    Ok(resp)
}

/// The object's bytes as they go out; for a full read, hashed, and the stream ended with an
/// error (the connection breaks) when the hash is not the stored one.
fn verify(
    body: awslink::s3::ObjectStream,
    expected: Option<[u8; 32]>,
    metrics: Arc<crate::app::metrics::Metrics>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let hasher = expected.map(|e| {
        (
            aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
            e,
        )
    });
    futures::stream::unfold(
        (body, hasher, false),
        move |(mut body, mut hasher, finished)| {
            let metrics = metrics.clone();
            async move {
                if finished {
                    return None;
                }
                match body.next().await {
                    Some(Ok(bytes)) => {
                        if let Some((ctx, _)) = hasher.as_mut() {
                            ctx.update(&bytes);
                        }
                        Some((Ok(bytes), (body, hasher, false)))
                    }
                    Some(Err(e)) => Some((
                        Err(std::io::Error::other(e.to_string())),
                        (body, hasher, true),
                    )),
                    None => match hasher.take().map(|(ctx, want)| (ctx.finish(), want)) {
                        Some((got, want)) if got.as_ref() != want.as_slice() => {
                            metrics.upstream(
                                dependency::S3,
                                "GetObject",
                                "corrupt",
                                std::time::Duration::ZERO,
                            );
                            tracing::error!(
                                "a document's object does not match its stored SHA-256; the download was broken off"
                            );
                            Some((
                                Err(std::io::Error::other(
                                    "the object does not match its SHA-256",
                                )),
                                (body, None, true),
                            ))
                        }
                        _ => None,
                    },
                }
            }
        },
    )
}

/// The strong ETag of a document's content: its SHA-256.
pub fn content_etag(sha256_hex: &str) -> String {
    format!("\"{sha256_hex}\"")
}

fn etag_matches(header: Option<&HeaderValue>, etag: &str) -> bool {
    header.and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag))
    })
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.trim().parse().ok())
}
