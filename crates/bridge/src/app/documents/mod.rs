//! Documents (see `docs/DOCUMENTS.md`): the `Documents` media entity set and the
//! `DocumentEvents` audit log of the catalog, the bytes in S3 through `awslink`'s seam, the
//! metadata in the app's database (`runs`), and the background work that keeps both
//! consistent (the delete outbox, `POST /jobs/reconcile`).
//!
//! Modules: [`content`] streams uploads and downloads, [`actions`] holds the bound actions
//! (presigned URLs and `finalize`), [`worker`] the outbox worker and the reconcile job.
//! The rules of what is accepted (key template, media types, checksums, ranges, file names)
//! are the pure `documents` crate's; this module applies them and speaks HTTP.
//!
//! Scopes: reads need `Read` (the catalog's dispatcher checks it first), everything that
//! changes a document needs `Write` as well ([`require_write`]); `createdBy`/`modifiedBy` are
//! the token's user (or client, for machine tokens).

pub mod actions;
pub mod content;
pub mod demo;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use odata::model::{Action, ActionReturn, EdmType, Entity, EntityType, Property, Value};
use odata::path::Resource;
use odata::payload;
use odata::query::QueryOptions;
use serde_json::Map;

use super::AppState;
use super::auth::Principal;
use super::error::ApiError;

/// The entity set of documents.
pub const SET: &str = "Documents";
/// The entity set of the audit log.
pub const EVENTS_SET: &str = "DocumentEvents";
/// The complex type the presigning actions return.
pub const PRESIGNED_TYPE: &str = "PresignedUrl";
/// Longest JSON body of a create, PATCH or action call.
pub const MAX_JSON_BODY: usize = 64 * 1024;
/// Longest file name accepted (bytes, as most file systems allow).
pub const MAX_FILE_NAME: usize = 255;
/// Longest `documentNumber` / `location`.
pub const MAX_FIELD: usize = 100;
/// Largest `attributes` object (bytes of its JSON).
pub const MAX_ATTRIBUTES: usize = 16 * 1024;

/// How the app keeps documents: where, under which keys, what it accepts.
#[derive(Debug, Clone)]
pub struct DocumentSettings {
    /// The bucket (the `aws-config` service's `bucket`).
    pub bucket: String,
    /// The object key template.
    pub key_template: documents::keys::KeyTemplate,
    /// The largest document (bytes).
    pub max_bytes: u64,
    /// The media types accepted.
    pub media: documents::media::MediaPolicy,
    /// Objects without rows and `uploading` rows younger than this are left alone by
    /// reconcile (an upload may be in flight).
    pub reconcile_grace: Duration,
    /// An upload or download that moves no byte for this long is given up.
    pub transfer_idle_timeout: Duration,
    /// Longest lifetime of a presigned URL (also clamped to the credentials' life).
    pub presign_lifetime: Duration,
}

/// The default key template.
pub const DEFAULT_KEY_TEMPLATE: &str = "documents/{documentNumber}/{ID}/{fileName}";
/// The default size limit: 5 GiB, S3's limit for one PUT (multipart goes to 5 TiB).
pub const DEFAULT_MAX_BYTES: u64 = 5 * 1024 * 1024 * 1024;

impl DocumentSettings {
    /// The defaults for `bucket`.
    pub fn new(bucket: impl Into<String>) -> Result<Self, documents::Error> {
        Ok(Self {
            bucket: bucket.into(),
            key_template: documents::keys::KeyTemplate::parse(DEFAULT_KEY_TEMPLATE)?,
            max_bytes: DEFAULT_MAX_BYTES,
            media: documents::media::MediaPolicy::default(),
            reconcile_grace: Duration::from_secs(3600),
            transfer_idle_timeout: Duration::from_secs(60),
            presign_lifetime: Duration::from_secs(900),
        })
    }
}

/// Signals the outbox worker that a delete was queued.
#[derive(Debug, Clone, Default)]
pub struct OutboxSignal(pub Arc<tokio::sync::Notify>);

/// The `Documents` and `DocumentEvents` entity types and the `PresignedUrl` result, in CAP's
/// terms:
///
/// ```cds
/// entity Documents : cuid, managed {
///   bucket: String; objectKey: String; fileName: String; mediaType: String;
///   size: Integer64; sha256: String; documentNumber: String; location: String;
///   status: String; statusReason: String; attributes: Map;
///   content: LargeBinary @Core.MediaType: mediaType @Core.ContentDisposition.Filename: fileName;
/// } actions {
///   action uploadUrl(size: Integer64, sha256: String) returns PresignedUrl;
///   action finalize(size: Integer64, sha256: String) returns Documents;
///   action downloadUrl() returns PresignedUrl;
/// }
/// @readonly entity DocumentEvents { key ID: UUID; at: Timestamp; actor: String;
///   action: String; documentId: UUID; detail: String; }
/// type PresignedUrl { url: String; method: String; headers: Map; expiresAt: Timestamp; }
/// ```
pub fn add_to_model(service: odata::model::Service) -> odata::model::Service {
    let size_and_hash = vec![
        Property::new("size", EdmType::Int64),
        Property::new("sha256", EdmType::String),
    ];
    service
        .entity_set(
            SET,
            EntityType::new(SET)
                .key(Property::new("ID", EdmType::Guid))
                .property(Property::new("createdAt", EdmType::DateTimeOffset))
                .property(Property::new("createdBy", EdmType::String).max_length(255))
                .property(Property::new("modifiedAt", EdmType::DateTimeOffset))
                .property(Property::new("modifiedBy", EdmType::String).max_length(255))
                .property(Property::new("bucket", EdmType::String))
                .property(Property::new("objectKey", EdmType::String))
                .property(Property::new("fileName", EdmType::String))
                .property(Property::new("mediaType", EdmType::String))
                .property(Property::new("size", EdmType::Int64))
                .property(Property::new("sha256", EdmType::String))
                .property(Property::new("documentNumber", EdmType::String))
                .property(Property::new("location", EdmType::String))
                .property(Property::new("status", EdmType::String))
                .property(Property::new("statusReason", EdmType::String))
                .property(Property::new("attributes", EdmType::Map))
                .stream("content", "mediaType", Some("fileName"))
                .action(Action {
                    name: "uploadUrl".into(),
                    parameters: size_and_hash.clone(),
                    returns: ActionReturn::Complex(PRESIGNED_TYPE.into()),
                })
                .action(Action {
                    name: "finalize".into(),
                    parameters: size_and_hash,
                    returns: ActionReturn::BoundEntity,
                })
                .action(Action {
                    name: "downloadUrl".into(),
                    parameters: Vec::new(),
                    returns: ActionReturn::Complex(PRESIGNED_TYPE.into()),
                })
                .keyset_paging(),
        )
        .entity_set(
            EVENTS_SET,
            EntityType::new(EVENTS_SET)
                .key(Property::new("ID", EdmType::Guid))
                .property(Property::new("at", EdmType::DateTimeOffset))
                .property(Property::new("actor", EdmType::String))
                .property(Property::new("action", EdmType::String))
                .property(Property::new("documentId", EdmType::Guid))
                .property(Property::new("detail", EdmType::String))
                .keyset_paging(),
        )
        .complex_type(
            PRESIGNED_TYPE,
            vec![
                Property::new("url", EdmType::String).not_null(),
                Property::new("method", EdmType::String).not_null(),
                Property::new("headers", EdmType::Map),
                Property::new("expiresAt", EdmType::DateTimeOffset).not_null(),
            ],
        )
}

/// Whether `resource` is one of this module's.
pub fn owns(resource: &Resource<'_>) -> bool {
    resource
        .entity_type()
        .is_some_and(|t| t.name == SET || t.name == EVENTS_SET)
}

/// Everything a document request needs from the catalog's dispatcher.
pub struct DocRequest<'r> {
    /// The app.
    pub state: &'r AppState,
    /// The caller (already holding `Read`).
    pub principal: &'r Principal,
    /// The method.
    pub method: &'r Method,
    /// The raw query.
    pub query: Option<&'r str>,
    /// The headers.
    pub headers: &'r HeaderMap,
}

/// Serves a `Documents` or `DocumentEvents` resource.
pub async fn handle(
    req: DocRequest<'_>,
    service: &odata::model::Service,
    resource: &Resource<'_>,
    body: Body,
) -> Result<Response, ApiError> {
    let is_events = resource.entity_type().is_some_and(|t| t.name == EVENTS_SET);
    let read = *req.method == Method::GET || *req.method == Method::HEAD;
    match resource {
        Resource::Collection { .. } | Resource::Count { .. } if read => {
            if is_events {
                events(&req, service, resource).await
            } else {
                collection(&req, service, resource).await
            }
        }
        Resource::Collection { .. } if *req.method == Method::POST && !is_events => {
            create(&req, service, resource, body).await
        }
        Resource::Entity { key, .. } if !is_events => {
            let id = key_id(key)?;
            match *req.method {
                Method::GET | Method::HEAD => one(&req, service, resource, id).await,
                Method::PATCH => patch(&req, service, resource, id, body).await,
                Method::DELETE => delete(&req, id).await,
                _ => Err(method_not_allowed(req.method)),
            }
        }
        Resource::Entity { key, .. } if read => {
            let id = key_id(key)?;
            event(&req, service, resource, id).await
        }
        Resource::Stream { key, .. } => {
            let id = key_id(key)?;
            match *req.method {
                Method::GET | Method::HEAD => content::download(&req, id).await,
                Method::PUT => content::upload(&req, id, body).await,
                _ => Err(method_not_allowed(req.method)),
            }
        }
        Resource::BoundAction { key, action, .. } => {
            if *req.method != Method::POST {
                return Err(method_not_allowed(req.method));
            }
            let id = key_id(key)?;
            actions::call(&req, service, resource, &action.name, id, body).await
        }
        Resource::Property { .. } | Resource::PropertyValue { .. } if read => Err(odata_error(
            400,
            "Read the whole document (or its content at /content); single properties are not served",
        )),
        _ => Err(method_not_allowed(req.method)),
    }
}

/// The document settings, or 503 when the app has no documents bucket.
pub fn settings(state: &AppState) -> Result<&DocumentSettings, ApiError> {
    state
        .documents
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable {
            dependency: "S3",
            detail: "no documents bucket is configured (the aws-config service's `bucket`)".into(),
        })
}

/// The database, or 503.
pub fn store(state: &AppState) -> Result<&runs::Store, ApiError> {
    state.store.as_ref().ok_or_else(|| ApiError::Unavailable {
        dependency: "database",
        detail: "the app runs without a database".into(),
    })
}

/// 403 unless the caller also holds `Write`.
pub fn require_write(req: &DocRequest<'_>) -> Result<(), ApiError> {
    if req.principal.token.has_local_scope("Write") {
        Ok(())
    } else {
        Err(ApiError::InsufficientScope {
            scope: format!("{}.Write", req.state.xsappname),
        })
    }
}

/// Who the caller is, for `createdBy`/`modifiedBy` and the audit log: the user name of a user
/// token, else the client id.
pub fn actor(principal: &Principal) -> String {
    let t = &principal.token;
    t.user_name()
        .or_else(|| t.client_id())
        .unwrap_or("unknown")
        .chars()
        .take(255)
        .collect()
}

/// An OData error with its status as the code, as CAP sends them.
pub fn odata_error(status: u16, message: impl Into<String>) -> ApiError {
    ApiError::OData(odata::Error::new(status, message).with_code(status.to_string()))
}

fn method_not_allowed(method: &Method) -> ApiError {
    odata_error(405, format!("Method {method} is not allowed here"))
}

fn not_found(id: uuid::Uuid) -> ApiError {
    odata_error(404, format!("No document with ID {id}"))
}

fn key_id(key: &odata::path::Key) -> Result<uuid::Uuid, ApiError> {
    match key.values().first() {
        Some((_, Value::Guid(g))) => {
            uuid::Uuid::parse_str(g).map_err(|_| odata_error(400, "The key is not a valid UUID"))
        }
        _ => Err(odata_error(400, "The key must be a UUID")),
    }
}

/// The row of a document for the `Documents` entity type.
pub fn entity(d: &runs::Document) -> Entity {
    d.entity(documents_type())
}

/// The `Documents` entity type of the catalog.
fn documents_type() -> &'static EntityType {
    static TYPE: std::sync::LazyLock<EntityType> = std::sync::LazyLock::new(|| {
        add_to_model(odata::model::Service::new("CatalogService"))
            .find_entity_set(SET)
            .map(|s| s.entity_type.clone())
            .unwrap_or_else(|| EntityType::new(SET))
    });
    &TYPE
}

/// The weak ETag of a document's metadata (its version).
pub fn metadata_etag(d: &runs::Document) -> String {
    format!("W/\"{}\"", d.version)
}

fn respond_json(body: String, format: payload::JsonFormat) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (
                header::HeaderName::from_static("odata-version"),
                HeaderValue::from_static(odata::ODATA_VERSION),
            ),
        ],
        body,
    )
        .into_response()
}

fn page_size(req: &DocRequest<'_>) -> (usize, Option<usize>) {
    let max = req.state.limits.max_page_size;
    let preferred = req
        .headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(payload::parse_prefer_maxpagesize);
    (preferred.map_or(max, |p| p.clamp(1, max)), preferred)
}

async fn collection(
    req: &DocRequest<'_>,
    service: &odata::model::Service,
    resource: &Resource<'_>,
) -> Result<Response, ApiError> {
    let ty = resource
        .entity_type()
        .ok_or_else(|| ApiError::Internal("a collection without a type".into()))?;
    let options = QueryOptions::parse(req.query, ty)?;
    let store = store(req.state)?;
    if let Resource::Count { .. } = resource {
        let n = store.count_documents(ty, &options).await?;
        return Ok((
            [(header::CONTENT_TYPE, odata::CONTENT_TYPE_TEXT)],
            n.to_string(),
        )
            .into_response());
    }
    let accept = req
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = payload::JsonFormat::negotiate(accept, &options)?;
    let (size, preferred) = page_size(req);
    let page = store
        .query_documents(ty, &options, options.skiptoken_text.as_deref(), size)
        .await?;
    let page = odata::apply::Page {
        rows: page
            .rows
            .into_iter()
            .map(|d| d.into_entity(documents_type()))
            .collect(),
        count: page.count.map(|c| usize::try_from(c).unwrap_or(usize::MAX)),
        next_skiptoken: None,
        next_token: page.next_token,
    };
    let body = payload::collection(service, resource, &page, &options, format)?;
    let mut resp = respond_json(body, format);
    if let Some(p) = preferred
        && let Ok(v) = HeaderValue::from_str(&format!(
            "odata.maxpagesize={}",
            p.clamp(1, req.state.limits.max_page_size)
        ))
    {
        resp.headers_mut().insert("preference-applied", v);
    }
    Ok(resp)
}

/// A visible document (not `deleted`), or 404.
pub async fn visible(store: &runs::Store, id: uuid::Uuid) -> Result<runs::Document, ApiError> {
    match store.get_document(id).await? {
        Some(d) if d.status != runs::DocStatus::Deleted => Ok(d),
        _ => Err(not_found(id)),
    }
}

async fn one(
    req: &DocRequest<'_>,
    service: &odata::model::Service,
    resource: &Resource<'_>,
    id: uuid::Uuid,
) -> Result<Response, ApiError> {
    let ty = resource
        .entity_type()
        .ok_or_else(|| ApiError::Internal("an entity without a type".into()))?;
    let options = QueryOptions::parse(req.query, ty)?;
    options.check_single()?;
    let accept = req
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = payload::JsonFormat::negotiate(accept, &options)?;
    let doc = visible(store(req.state)?, id).await?;
    entity_response(service, resource, &doc, &options, format, StatusCode::OK)
}

/// A document as an OData entity body with its `ETag`.
pub fn entity_response(
    service: &odata::model::Service,
    resource: &Resource<'_>,
    doc: &runs::Document,
    options: &QueryOptions,
    format: payload::JsonFormat,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let resource = match resource {
        Resource::Entity { .. } => resource.clone(),
        Resource::Collection { set }
        | Resource::BoundAction { set, .. }
        | Resource::Stream { set, .. } => Resource::Entity {
            set,
            key: odata::path::parse(service, &format!("{}({})", set.name, doc.id))
                .ok()
                .and_then(|r| match r {
                    Resource::Entity { key, .. } => Some(key),
                    _ => None,
                })
                .ok_or_else(|| ApiError::Internal("cannot address the document".into()))?,
        },
        _ => return Err(ApiError::Internal("not a document resource".into())),
    };
    let body = payload::entity(service, &resource, &entity(doc), options, format)?;
    let mut resp = respond_json(body, format);
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&metadata_etag(doc)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!("Documents({})", doc.id))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// Reads a JSON object body of at most [`MAX_JSON_BODY`] bytes.
pub async fn json_object(
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, serde_json::Value>, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(odata_error(415, "Send the body as application/json"));
    }
    let bytes = axum::body::to_bytes(body, MAX_JSON_BODY)
        .await
        .map_err(|_| {
            odata_error(
                413,
                format!("The body is larger than {MAX_JSON_BODY} bytes"),
            )
        })?;
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(odata_error(400, "The body must be a JSON object")),
        Err(e) => Err(odata_error(
            400,
            format!(
                "The body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )),
    }
}

/// The fields a client may set, and which of them are read-only.
const WRITABLE: [&str; 5] = [
    "fileName",
    "mediaType",
    "documentNumber",
    "location",
    "attributes",
];
const READ_ONLY: [&str; 11] = [
    "ID",
    "createdAt",
    "createdBy",
    "modifiedAt",
    "modifiedBy",
    "bucket",
    "objectKey",
    "size",
    "sha256",
    "status",
    "statusReason",
];

/// The client's fields of a create or PATCH body, checked.
#[derive(Debug, Default)]
struct Fields {
    file_name: Option<String>,
    media_type: Option<Option<String>>,
    document_number: Option<Option<String>>,
    location: Option<Option<String>>,
    attributes: Option<Map<String, serde_json::Value>>,
}

fn fields(
    body: &Map<String, serde_json::Value>,
    media: &documents::media::MediaPolicy,
    may_set_media_type: bool,
) -> Result<Fields, ApiError> {
    let mut f = Fields::default();
    for (name, value) in body {
        if name.starts_with('@') {
            continue; // instance annotations such as @odata.type
        }
        if READ_ONLY.contains(&name.as_str()) {
            return Err(ApiError::OData(
                odata::Error::bad_request(format!("The property '{name}' is read-only"))
                    .with_code("400")
                    .with_target(name),
            ));
        }
        if !WRITABLE.contains(&name.as_str()) || (name == "mediaType" && !may_set_media_type) {
            return Err(ApiError::OData(
                odata::Error::bad_request(format!(
                    "The property {} cannot be set here",
                    odata::error::quote(name)
                ))
                .with_code("400")
                .with_target(name),
            ));
        }
        let bad = |why: &str| {
            ApiError::OData(
                odata::Error::bad_request(format!("The property '{name}' {why}"))
                    .with_code("400")
                    .with_target(name),
            )
        };
        let text = |max: usize| -> Result<Option<String>, ApiError> {
            match value {
                serde_json::Value::Null => Ok(None),
                serde_json::Value::String(s) => {
                    check_text(s, max).map_err(&bad)?;
                    Ok(Some(s.clone()))
                }
                _ => Err(bad("must be a string")),
            }
        };
        match name.as_str() {
            "fileName" => {
                let Some(s) = text(MAX_FILE_NAME)? else {
                    return Err(bad("must not be null"));
                };
                check_file_name(&s).map_err(&bad)?;
                f.file_name = Some(s);
            }
            "mediaType" => {
                f.media_type = Some(match text(255)? {
                    None => None,
                    Some(t) => {
                        let t = documents::media::MediaPolicy::normalize(&t)
                            .map_err(|_| bad("is not a media type (type/subtype)"))?;
                        if !media.allows(&t) {
                            return Err(ApiError::OData(
                                odata::Error::new(
                                    415,
                                    format!("The media type {t} is not accepted"),
                                )
                                .with_code("415")
                                .with_target(name),
                            ));
                        }
                        Some(t)
                    }
                });
            }
            "documentNumber" => f.document_number = Some(text(MAX_FIELD)?),
            "location" => f.location = Some(text(MAX_FIELD)?),
            "attributes" => match value {
                serde_json::Value::Object(m) => {
                    if value.to_string().len() > MAX_ATTRIBUTES {
                        return Err(bad(&format!("is larger than {MAX_ATTRIBUTES} bytes")));
                    }
                    f.attributes = Some(m.clone());
                }
                serde_json::Value::Null => f.attributes = Some(Map::new()),
                _ => return Err(bad("must be a JSON object")),
            },
            _ => {}
        }
    }
    Ok(f)
}

/// Text fields: at most `max` bytes, no control characters.
fn check_text(s: &str, max: usize) -> Result<(), &'static str> {
    if s.len() > max {
        return Err("is too long");
    }
    if s.chars()
        .any(|c| c.is_control() || is_invisible_override(c))
    {
        return Err("contains control characters");
    }
    Ok(())
}

/// Bidirectional overrides and isolates, which make a name display as something else.
fn is_invisible_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// A file name is one name, not a path: no separators, not `.` or `..`, not empty.
fn check_file_name(s: &str) -> Result<(), &'static str> {
    if s.trim().is_empty() {
        return Err("must not be empty");
    }
    if s.contains(['/', '\\']) {
        return Err("must be a file name, not a path (no '/' or '\\')");
    }
    if s.trim_matches('.').is_empty() {
        return Err("must not be '.' or '..'");
    }
    Ok(())
}

async fn create(
    req: &DocRequest<'_>,
    service: &odata::model::Service,
    resource: &Resource<'_>,
    body: Body,
) -> Result<Response, ApiError> {
    require_write(req)?;
    let settings = settings(req.state)?;
    let object = json_object(req.headers, body).await?;
    let f = fields(&object, &settings.media, true)?;
    let Some(file_name) = f.file_name else {
        return Err(ApiError::OData(
            odata::Error::bad_request("The property 'fileName' is required")
                .with_code("400")
                .with_target("fileName"),
        ));
    };
    let id = uuid::Uuid::new_v4();
    let now = Utc::now();
    let document_number = f.document_number.flatten();
    let location = f.location.flatten();
    let object_key = settings.key_template.render(&documents::keys::KeyInput {
        id,
        document_number: document_number.as_deref(),
        location: location.as_deref(),
        file_name: &file_name,
        created: now,
    });
    let doc = store(req.state)?
        .create_document(&runs::NewDocument {
            id,
            actor: actor(req.principal),
            at: now,
            bucket: settings.bucket.clone(),
            object_key,
            file_name,
            media_type: f.media_type.flatten(),
            document_number,
            location,
            attributes: f.attributes.unwrap_or_default(),
        })
        .await?;
    let options = QueryOptions::default();
    let accept = req
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = payload::JsonFormat::negotiate(accept, &options)?;
    entity_response(
        service,
        resource,
        &doc,
        &options,
        format,
        StatusCode::CREATED,
    )
}

/// The version an `If-Match` header asks for: `None` without one (or `*`); 412 when it names
/// something that is not a version ETag of ours.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("").trim();
    if v == "*" {
        return Ok(None);
    }
    v.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| odata_error(412, "If-Match does not name a version of this document"))
}

async fn patch(
    req: &DocRequest<'_>,
    service: &odata::model::Service,
    resource: &Resource<'_>,
    id: uuid::Uuid,
    body: Body,
) -> Result<Response, ApiError> {
    require_write(req)?;
    let settings = settings(req.state)?;
    let expected = if_match(req.headers)?;
    let object = json_object(req.headers, body).await?;
    let f = fields(&object, &settings.media, false)?;
    let store = store(req.state)?;
    visible(store, id).await?;
    let doc = store
        .update_document(
            id,
            &runs::DocumentPatch {
                file_name: f.file_name,
                document_number: f.document_number,
                location: f.location,
                attributes: f.attributes,
            },
            &actor(req.principal),
            Utc::now(),
            expected,
        )
        .await?;
    let options = QueryOptions::default();
    let accept = req
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = payload::JsonFormat::negotiate(accept, &options)?;
    entity_response(service, resource, &doc, &options, format, StatusCode::OK)
}

async fn delete(req: &DocRequest<'_>, id: uuid::Uuid) -> Result<Response, ApiError> {
    require_write(req)?;
    let store = store(req.state)?;
    match store
        .delete_document(id, &actor(req.principal), Utc::now())
        .await?
    {
        Some(_) => {
            req.state.outbox.0.notify_one();
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => Err(not_found(id)),
    }
}

async fn events(
    req: &DocRequest<'_>,
    service: &odata::model::Service,
    resource: &Resource<'_>,
) -> Result<Response, ApiError> {
    let ty = resource
        .entity_type()
        .ok_or_else(|| ApiError::Internal("a collection without a type".into()))?;
    let options = QueryOptions::parse(req.query, ty)?;
    let store = store(req.state)?;
    let accept = req
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = payload::JsonFormat::negotiate(accept, &options)?;
    let (size, _) = page_size(req);
    if let Resource::Count { .. } = resource {
        let n = store.count_events(ty, &options).await?;
        return Ok((
            [(header::CONTENT_TYPE, odata::CONTENT_TYPE_TEXT)],
            n.to_string(),
        )
            .into_response());
    }
    let page = store
        .query_events(ty, &options, options.skiptoken_text.as_deref(), size)
        .await?;
    let page = odata::apply::Page {
        rows: page.rows.iter().map(|e| e.entity(ty)).collect(),
        count: page.count.map(|c| usize::try_from(c).unwrap_or(usize::MAX)),
        next_skiptoken: None,
        next_token: page.next_token,
    };
    let body = payload::collection(service, resource, &page, &options, format)?;
    Ok(respond_json(body, format))
}

async fn event(
    req: &DocRequest<'_>,
    service: &odata::model::Service,
    resource: &Resource<'_>,
    id: uuid::Uuid,
) -> Result<Response, ApiError> {
    let ty = resource
        .entity_type()
        .ok_or_else(|| ApiError::Internal("an entity without a type".into()))?;
    let options = QueryOptions::parse(req.query, ty)?;
    options.check_single()?;
    let accept = req
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = payload::JsonFormat::negotiate(accept, &options)?;
    let filter = format!("$filter=ID%20eq%20{id}");
    let by_id = QueryOptions::parse(Some(&filter), ty)?;
    let page = store(req.state)?.query_events(ty, &by_id, None, 1).await?;
    let Some(e) = page.rows.first() else {
        return Err(odata_error(404, format!("No audit event with ID {id}")));
    };
    let body = payload::entity(service, resource, &e.entity(ty), &options, format)?;
    Ok(respond_json(body, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_names() {
        for bad in [
            "",
            " ",
            ".",
            "..",
            "...",
            "../x",
            "/etc/passwd",
            "a\\b",
            "C:\\x",
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        for good in ["a.pdf", "Übersicht 2026.xlsx", ".profile", "a..b"] {
            assert!(check_file_name(good).is_ok(), "{good:?}");
        }
        assert!(check_text("a\u{0}b", 10).is_err());
        assert!(check_text("a\u{202E}fdp.exe", 100).is_err());
        assert!(check_text(&"x".repeat(256), 255).is_err());
    }

    #[test]
    fn the_model_is_the_stores() {
        let s = add_to_model(odata::model::Service::new("CatalogService"));
        for (set, store_props) in [
            (SET, runs::documents::properties()),
            (EVENTS_SET, runs::audit::properties()),
        ] {
            let ours: Vec<(String, EdmType)> = s
                .find_entity_set(set)
                .expect("set")
                .entity_type
                .properties
                .iter()
                .map(|p| (p.name.clone(), p.ty))
                .collect();
            let theirs: Vec<(String, EdmType)> =
                store_props.into_iter().map(|p| (p.name, p.ty)).collect();
            assert_eq!(ours, theirs, "{set}");
        }
        for name in WRITABLE.iter().chain(READ_ONLY.iter()) {
            assert!(documents_type().property_index(name).is_some(), "{name}");
        }
    }
}
