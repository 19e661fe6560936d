//! The bound actions of `Documents`: presigned direct transfer over the Private Link endpoint.
//!
//! - `uploadUrl(size, sha256)`: `Write`; the document must be `pending` or `failed`. The
//!   declared size must be within the limit. Answers a presigned `PUT` URL (with the headers
//!   the client must send) whose lifetime is the configured one, clamped by `awslink` to
//!   what is left of the role credentials it is signed with. The row becomes `uploading`.
//! - `finalize(size, sha256)`: `Write`; the document must be `uploading`. The object is read
//!   back through the same inspector as a streamed upload (size, media type against its
//!   leading bytes, SHA-256): when it matches the declaration the document becomes
//!   `available`; otherwise the object is deleted and the row is `failed` with the reason,
//!   and the answer is a 400 naming it.
//! - `downloadUrl()`: `Read`; an `available` document; a presigned `GET` URL that makes S3
//!   answer with the document's `Content-Disposition`.
//!
//! Presigned URLs are bearer credentials: they are never logged; the audit log records that
//! one was issued, not the URL.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use odata::path::Resource;
use odata::query::QueryOptions;
use serde_json::{Map, Value, json};

use super::{DocRequest, json_object, odata_error, require_write, settings, store, visible};
use crate::app::error::ApiError;
use crate::app::upstream::{self, dependency};

/// Dispatches a bound action.
pub async fn call(
    req: &DocRequest<'_>,
    service: &odata::model::Service,
    resource: &Resource<'_>,
    action: &str,
    id: uuid::Uuid,
    body: Body,
) -> Result<Response, ApiError> {
    match action {
        "uploadUrl" => upload_url(req, id, body).await,
        "finalize" => finalize(req, service, resource, id, body).await,
        "downloadUrl" => download_url(req, id).await,
        other => Err(odata_error(404, format!("No action '{other}'"))),
    }
}

/// `size` and `sha256` of an action body (both optional, checked).
fn declaration(body: &Map<String, Value>) -> Result<(Option<u64>, Option<[u8; 32]>), ApiError> {
    let bad = |name: &str, why: &str| {
        ApiError::OData(
            odata::Error::bad_request(format!("The parameter '{name}' {why}"))
                .with_code("400")
                .with_target(name),
        )
    };
    for name in body.keys() {
        if name != "size" && name != "sha256" {
            return Err(bad(name, "is not a parameter of this action"));
        }
    }
    let size = match body.get("size") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| bad("size", "must be a whole number ≥ 0"))?,
        ),
        Some(Value::String(s)) => Some(
            s.parse::<u64>()
                .map_err(|_| bad("size", "must be a whole number ≥ 0"))?,
        ),
        Some(_) => return Err(bad("size", "must be a number")),
    };
    let sha256 = match body.get("sha256") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            documents::digest::parse_hex(s)
                .ok_or_else(|| bad("sha256", "must be 64 hexadecimal digits"))?,
        ),
        Some(_) => return Err(bad("sha256", "must be a string")),
    };
    Ok((size, sha256))
}

fn presigned_body(p: &awslink::s3::Presigned) -> Response {
    let headers: Map<String, Value> = p
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let expires: DateTime<Utc> = p.expires_at.into();
    let body = json!({
        "@odata.context": format!("$metadata#CatalogService.{}", super::PRESIGNED_TYPE),
        "url": p.url,
        "method": p.method,
        "headers": headers,
        "expiresAt": odata::payload::format_datetime(&expires),
    });
    let mut resp = axum::Json(body).into_response_parts_json();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// Small extension so a JSON body carries OData's content type.
trait IntoJsonResponse {
    fn into_response_parts_json(self) -> Response;
}

impl IntoJsonResponse for axum::Json<Value> {
    fn into_response_parts_json(self) -> Response {
        use axum::response::IntoResponse as _;
        let mut resp = self.into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(odata::CONTENT_TYPE_JSON),
        );
        resp
    }
}

async fn upload_url(
    req: &DocRequest<'_>,
    id: uuid::Uuid,
    body: Body,
) -> Result<Response, ApiError> {
    require_write(req)?;
    let settings = settings(req.state)?;
    let (size, sha256) = declaration(&json_object(req.headers, body).await?)?;
    if let Some(n) = size
        && n > settings.max_bytes
    {
        return Err(odata_error(
            413,
            format!(
                "The document is larger than the limit of {} bytes",
                settings.max_bytes
            ),
        ));
    }
    let store = store(req.state)?;
    let current = visible(store, id).await?;
    let Some(media_type) = current.media_type.clone() else {
        return Err(ApiError::OData(
            odata::Error::bad_request(
                "Set the document's mediaType when creating it before asking for an upload URL",
            )
            .with_code("400")
            .with_target("mediaType"),
        ));
    };
    upstream::credentials(&req.state.aws, req.state.limits.upstream_timeout).await?;
    let actor = super::actor(req.principal);
    let doc = store.begin_upload(id, &actor, Utc::now()).await?;
    let presigned = req
        .state
        .aws
        .s3
        .presign_put(
            &doc.bucket,
            &doc.object_key,
            Some(&media_type),
            size,
            settings.presign_lifetime,
        )
        .await;
    let presigned = match presigned {
        Ok(p) => p,
        Err(e) => {
            let _ = store.abort_upload(id, None, Utc::now()).await;
            return Err(upstream::aws_error(&e));
        }
    };
    let _ = store
        .record_event(&runs::NewEvent {
            at: Utc::now(),
            actor,
            action: "presign_put".into(),
            document_id: Some(id),
            detail: Some(format!(
                "size {}, sha256 {}",
                size.map_or("-".into(), |s| s.to_string()),
                sha256.map_or("-".into(), |h| documents::digest::hex(&h))
            )),
        })
        .await;
    Ok(presigned_body(&presigned))
}

async fn finalize(
    req: &DocRequest<'_>,
    service: &odata::model::Service,
    resource: &Resource<'_>,
    id: uuid::Uuid,
    body: Body,
) -> Result<Response, ApiError> {
    require_write(req)?;
    let settings = settings(req.state)?;
    let (size, sha256) = declaration(&json_object(req.headers, body).await?)?;
    let store = store(req.state)?;
    let doc = visible(store, id).await?;
    if doc.status != runs::DocStatus::Uploading {
        return Err(odata_error(
            409,
            format!(
                "The document is {}; finalize follows an upload through uploadUrl",
                doc.status.as_str()
            ),
        ));
    }
    let actor = super::actor(req.principal);
    upstream::credentials(&req.state.aws, req.state.limits.upstream_timeout).await?;
    let object = upstream::call(
        &req.state.metrics,
        dependency::S3,
        "GetObject",
        req.state.limits.upstream_timeout,
        req.state
            .aws
            .s3
            .get_object(&doc.bucket, &doc.object_key, None),
        upstream::aws_error,
    )
    .await;
    let object = match object {
        Ok(o) => o,
        Err(ApiError::Upstream(f)) if f.code.as_deref() == Some("NoSuchKey") => {
            return Err(odata_error(
                409,
                "No object has been uploaded to the presigned URL yet",
            ));
        }
        Err(e) => return Err(e),
    };
    let mut inspector = documents::inspect::Inspector::new(
        settings.max_bytes,
        &settings.media,
        doc.media_type.as_deref(),
        sha256,
    );
    let mut refused = None;
    let mut stream = object.body;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                if let Err(r) = inspector.feed(&bytes) {
                    refused = Some(r.to_string());
                    break;
                }
            }
            Err(e) => return Err(upstream::aws_error(&e)),
        }
    }
    let verdict = match refused {
        Some(why) => Err(why),
        None => match inspector.finish() {
            Err(r) => Err(r.to_string()),
            Ok(found) if size.is_some_and(|s| s != found.size) => Err(format!(
                "the object has {} bytes, {} were declared",
                found.size,
                size.unwrap_or(0)
            )),
            Ok(found) => Ok(found),
        },
    };
    match verdict {
        Ok(found) => {
            let doc = store
                .finish_upload(
                    id,
                    found.size,
                    &documents::digest::hex(&found.sha256),
                    Some(&found.media_type),
                    &actor,
                    Utc::now(),
                )
                .await?;
            let _ = store
                .record_event(&runs::NewEvent {
                    at: Utc::now(),
                    actor,
                    action: "finalize".into(),
                    document_id: Some(id),
                    detail: None,
                })
                .await;
            let options = QueryOptions::default();
            let format = odata::payload::JsonFormat::default();
            super::entity_response(service, resource, &doc, &options, format, StatusCode::OK)
        }
        Err(why) => {
            let _ = req
                .state
                .aws
                .s3
                .delete_object(&doc.bucket, &doc.object_key)
                .await;
            store
                .abort_upload(
                    id,
                    Some(format!("finalize refused the object: {why}")),
                    Utc::now(),
                )
                .await?;
            Err(odata_error(
                400,
                format!("The uploaded object was refused and removed: {why}"),
            ))
        }
    }
}

async fn download_url(req: &DocRequest<'_>, id: uuid::Uuid) -> Result<Response, ApiError> {
    let settings = settings(req.state)?;
    let store = store(req.state)?;
    let doc = visible(store, id).await?;
    if doc.status != runs::DocStatus::Available {
        return Err(odata_error(
            409,
            format!(
                "The document is {}; it has no content to download",
                doc.status.as_str()
            ),
        ));
    }
    upstream::credentials(&req.state.aws, req.state.limits.upstream_timeout).await?;
    let presigned = req
        .state
        .aws
        .s3
        .presign_get(
            &doc.bucket,
            &doc.object_key,
            settings.presign_lifetime,
            Some(documents::disposition::content_disposition(
                "attachment",
                &doc.file_name,
            )),
        )
        .await
        .map_err(|e| upstream::aws_error(&e))?;
    let _ = store
        .record_event(&runs::NewEvent {
            at: Utc::now(),
            actor: super::actor(req.principal),
            action: "presign_get".into(),
            document_id: Some(id),
            detail: None,
        })
        .await;
    Ok(presigned_body(&presigned))
}
