//! The OData V4 service at `/catalog` (the seed's `CatalogService`): entity set `Buckets`
//! (`id` = `name` = the bucket name, `created` = its creation date) read from S3 ListBuckets
//! through `awslink`, the unbound function `getBuckets()` returning the same rows, and the
//! read-only entity set `Runs`, the job run history from the app's database (`runs`); the
//! `Documents` and `DocumentEvents` sets are [`super::documents`]'s, which this module hands
//! their requests to (after the Read scope, before anything else).
//!
//! `Runs` applies the query options in memory over the newest [`runs::history::MAX_LIST`]
//! runs (a bounded page): `$filter`, `$orderby`, `$top` and paging see at most those. Pushing
//! the options down to SQL comes with the documents, which need it for larger sets.
//!
//! The wire format (paths, query options, `$metadata`, payloads, errors) is the `odata`
//! crate's; this module fetches the rows and speaks HTTP:
//!
//! - every read needs the Read scope (authorization comes before any 400/404);
//! - query options are applied to the rows for real (CAP ignores them on custom handlers);
//! - `Buckets('x')` is that bucket or 404 (CAP answers the first row for any key);
//! - server-driven paging: at most [`super::Limits::max_page_size`] rows per page, fewer when
//!   the client sends `Prefer: odata.maxpagesize=N` (answered with `Preference-Applied`);
//! - `$metadata` and the service document carry a strong `ETag` and answer `If-None-Match`
//!   with 304;
//! - the S3 call runs under the upstream deadline; failures are classified by
//!   [`super::upstream`] (502/503/504 naming the dependency and its error code);
//! - `Buckets` and `Runs` take only GET and HEAD: other methods are 405; `$batch` is 501 (not
//!   implemented yet).

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use odata::model::{EdmType, Entity, EntityType, Function, Property, Service, Value};
use odata::path::Resource;
use odata::query::QueryOptions;
use odata::{apply, csdl, document, payload};

use super::AppState;
use super::auth::{Authorized, Read};
use super::documents;
use super::error::ApiError;
use super::upstream::{self, dependency};

/// The path the service is mounted at.
pub const SERVICE_ROOT: &str = "/catalog";

/// The catalog's model and its rendered documents, built once.
struct Catalog {
    service: Service,
    metadata_xml: String,
    metadata_xml_etag: String,
    metadata_json: String,
    metadata_json_etag: String,
    service_document: String,
    service_document_etag: String,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let service = model();
    let metadata_xml = csdl::metadata_xml(&service);
    let metadata_json = csdl::metadata_json(&service);
    let service_document = document::service_document(&service);
    Catalog {
        metadata_xml_etag: csdl::metadata_etag(&metadata_xml),
        metadata_json_etag: csdl::metadata_etag(&metadata_json),
        service_document_etag: csdl::metadata_etag(&service_document),
        service,
        metadata_xml,
        metadata_json,
        service_document,
    }
});

/// The seed's CDS model, plus the run history:
///
/// ```cds
/// service CatalogService @(path : '/catalog') {
///   entity Buckets { key id: String; name: String; created: DateTime; }
///   function getBuckets() returns array of Buckets;
///   @readonly entity Runs {
///     key ID: UUID; idempotencyKey: String; job: String; schedule: String;
///     nominalTime: Timestamp; callerClientId: String; receivedAt: Timestamp;
///     finishedAt: Timestamp; outcome: String; httpStatus: Integer; durationMs: Integer64;
///     attempts: Integer; error: String;
///   }
/// }
/// ```
pub fn model() -> Service {
    super::documents::add_to_model(buckets_and_runs())
}

fn buckets_and_runs() -> Service {
    Service::new("CatalogService")
        .entity_set(
            "Buckets",
            EntityType::new("Buckets")
                .key(Property::new("id", EdmType::String))
                .property(Property::new("name", EdmType::String))
                .property(Property::new("created", EdmType::DateTimeOffset)),
        )
        .entity_set(
            "Runs",
            EntityType::new("Runs")
                .key(Property::new("ID", EdmType::Guid))
                .property(Property::new("idempotencyKey", EdmType::String))
                .property(Property::new("job", EdmType::String))
                .property(Property::new("schedule", EdmType::String))
                .property(Property::new("nominalTime", EdmType::DateTimeOffset))
                .property(Property::new("callerClientId", EdmType::String))
                .property(Property::new("receivedAt", EdmType::DateTimeOffset))
                .property(Property::new("finishedAt", EdmType::DateTimeOffset))
                .property(Property::new("outcome", EdmType::String))
                .property(Property::new("httpStatus", EdmType::Int32))
                .property(Property::new("durationMs", EdmType::Int64))
                .property(Property::new("attempts", EdmType::Int32))
                .property(Property::new("error", EdmType::String)),
        )
        .function(Function::new("getBuckets").returns_collection_of("Buckets"))
}

/// The entity set a resource reads (`getBuckets()` reads `Buckets`).
fn set_name<'a>(resource: &'a Resource<'_>) -> &'a str {
    match resource {
        Resource::Collection { set }
        | Resource::Count { set }
        | Resource::Entity { set, .. }
        | Resource::Property { set, .. }
        | Resource::PropertyValue { set, .. } => set.name.as_str(),
        _ => "Buckets",
    }
}

/// The catalog's routes (merged into the app's router).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            SERVICE_ROOT,
            get(|| async { Redirect::permanent("/catalog/") }),
        )
        .route("/catalog/", any(dispatch))
        .route("/catalog/{*path}", any(dispatch))
}

/// The label the request log and metrics use for a catalog request: the resource's shape
/// (`/catalog/Buckets(…)`), never the raw key.
#[derive(Debug, Clone)]
pub struct RouteLabel(pub String);

async fn dispatch(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Read>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let raw_path = uri.path().strip_prefix("/catalog/").unwrap_or("");
    let (label, result) = match odata::path::parse(&CATALOG.service, raw_path) {
        Ok(resource) => {
            let label = label(&resource);
            let result = if documents::owns(&resource) {
                let req = documents::DocRequest {
                    state: &state,
                    principal: &principal,
                    method: &method,
                    query: uri.query(),
                    headers: &headers,
                };
                documents::handle(req, &CATALOG.service, &resource, body).await
            } else if matches!(resource, Resource::Batch) {
                Err(ApiError::OData(
                    odata::Error::new(
                        501,
                        "$batch is not supported yet; send requests one by one \
                         (UI5: groupId \"$direct\")",
                    )
                    .with_code("501"),
                ))
            } else if method == Method::GET || method == Method::HEAD {
                read(&state, &resource, uri.query(), &headers).await
            } else {
                Err(ApiError::OData(
                    odata::Error::new(405, format!("Method {method} is not allowed here"))
                        .with_code("405"),
                ))
            };
            (label, result)
        }
        Err(e) => ("/catalog/<invalid>".to_owned(), Err(ApiError::OData(e))),
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    resp.extensions_mut().insert(RouteLabel(label));
    resp
}

fn label(resource: &Resource<'_>) -> String {
    match resource {
        Resource::ServiceDocument => "/catalog/".into(),
        Resource::Metadata => "/catalog/$metadata".into(),
        Resource::Batch => "/catalog/$batch".into(),
        Resource::Collection { set } => format!("/catalog/{}", set.name),
        Resource::Count { set } => format!("/catalog/{}/$count", set.name),
        Resource::Entity { set, .. } => format!("/catalog/{}(…)", set.name),
        Resource::Property { set, property, .. }
        | Resource::PropertyValue { set, property, .. } => {
            let name = set
                .entity_type
                .properties
                .get(*property)
                .map_or("?", |p| p.name.as_str());
            let value = if matches!(resource, Resource::PropertyValue { .. }) {
                "/$value"
            } else {
                ""
            };
            format!("/catalog/{}(…)/{name}{value}", set.name)
        }
        Resource::FunctionCall { function, .. } => format!("/catalog/{}()", function.name),
        Resource::Stream { set, .. } => format!("/catalog/{}(…)/content", set.name),
        Resource::BoundAction { set, action, .. } => {
            format!("/catalog/{}(…)/{}", set.name, action.name)
        }
    }
}

async fn read(
    state: &AppState,
    resource: &Resource<'_>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    match resource {
        Resource::ServiceDocument => {
            odata::query::document_format(query)?;
            Ok(cached_document(
                headers,
                &CATALOG.service_document,
                &CATALOG.service_document_etag,
                odata::CONTENT_TYPE_JSON,
            ))
        }
        Resource::Metadata => {
            let format = odata::query::document_format(query)?;
            Ok(if csdl::wants_json(format, accept) {
                cached_document(
                    headers,
                    &CATALOG.metadata_json,
                    &CATALOG.metadata_json_etag,
                    "application/json",
                )
            } else {
                cached_document(
                    headers,
                    &CATALOG.metadata_xml,
                    &CATALOG.metadata_xml_etag,
                    odata::CONTENT_TYPE_XML,
                )
            })
        }
        Resource::Batch | Resource::Stream { .. } | Resource::BoundAction { .. } => Err(
            ApiError::Internal("a document resource reached read".into()),
        ),
        Resource::Collection { .. } | Resource::FunctionCall { .. } => {
            let ty = entity_type(resource)?;
            let options = QueryOptions::parse(query, ty)?;
            let format = payload::JsonFormat::negotiate(accept, &options)?;
            let preferred = headers
                .get_all("prefer")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(payload::parse_prefer_maxpagesize);
            let page_size = preferred.map_or(state.limits.max_page_size, |p| {
                p.clamp(1, state.limits.max_page_size)
            });
            let rows = rows(state, set_name(resource)).await?;
            let page = apply::apply(ty, rows, &options, page_size);
            let body = payload::collection(&CATALOG.service, resource, &page, &options, format)?;
            let mut resp = respond(body, format.content_type());
            if let Some(p) = preferred {
                let applied = format!(
                    "odata.maxpagesize={}",
                    p.clamp(1, state.limits.max_page_size)
                );
                if let Ok(v) = HeaderValue::from_str(&applied) {
                    resp.headers_mut().insert("preference-applied", v);
                }
            }
            Ok(resp)
        }
        Resource::Count { .. } => {
            let ty = entity_type(resource)?;
            let options = QueryOptions::parse(query, ty)?;
            let rows = rows(state, set_name(resource)).await?;
            let n = apply::count(ty, &rows, &options);
            Ok(respond(n.to_string(), odata::CONTENT_TYPE_TEXT))
        }
        Resource::Entity { key, .. }
        | Resource::Property { key, .. }
        | Resource::PropertyValue { key, .. } => {
            let ty = entity_type(resource)?;
            let options = QueryOptions::parse(query, ty)?;
            options.check_single()?;
            let format = payload::JsonFormat::negotiate(accept, &options)?;
            let set = set_name(resource);
            let rows = rows(state, set).await?;
            let Some(row) = rows.into_iter().find(|r| key.matches(r)) else {
                let what = if set == "Runs" { "run" } else { "bucket" };
                return Err(ApiError::OData(
                    odata::Error::not_found(format!("No {what} with this key")).with_code("404"),
                ));
            };
            match resource {
                Resource::Entity { .. } => {
                    let body = payload::entity(&CATALOG.service, resource, &row, &options, format)?;
                    Ok(respond(body, format.content_type()))
                }
                Resource::Property { .. } => Ok(respond(
                    payload::property(resource, &row, format)?,
                    format.content_type(),
                )),
                Resource::PropertyValue { property, .. } => {
                    match payload::raw_value(row.get(*property)) {
                        Some((bytes, content_type)) => Ok((
                            [(header::CONTENT_TYPE, content_type)],
                            odata_version(),
                            Body::from(bytes),
                        )
                            .into_response()),
                        None => Ok((StatusCode::NO_CONTENT, odata_version()).into_response()),
                    }
                }
                _ => Err(ApiError::Internal("unreachable resource kind".into())),
            }
        }
    }
}

fn entity_type<'a>(resource: &'a Resource<'_>) -> Result<&'a EntityType, ApiError> {
    resource
        .entity_type()
        .ok_or_else(|| ApiError::Internal("resource without an entity type".into()))
}

/// The rows of entity set `set`.
async fn rows(state: &AppState, set: &str) -> Result<Vec<Entity>, ApiError> {
    match set {
        "Runs" => run_rows(state).await,
        _ => bucket_rows(state).await,
    }
}

/// The rows of `Runs`: the newest [`runs::history::MAX_LIST`] runs.
async fn run_rows(state: &AppState) -> Result<Vec<Entity>, ApiError> {
    let store = state.store.as_ref().ok_or_else(|| ApiError::Unavailable {
        dependency: "database",
        detail: "the app runs without a run history".into(),
    })?;
    let page = store
        .list(&runs::RunFilter {
            limit: runs::history::MAX_LIST,
            ..runs::RunFilter::default()
        })
        .await?;
    let text = |s: Option<String>| s.map_or(Value::Null, Value::String);
    let time =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(Value::Null, Value::DateTimeOffset);
    Ok(page
        .runs
        .into_iter()
        .map(|r| {
            Entity::new(vec![
                Value::Guid(r.id.to_string()),
                text(r.idempotency_key),
                Value::String(r.job),
                text(r.schedule),
                time(r.nominal_time),
                text(r.caller_client_id),
                Value::DateTimeOffset(r.received_at),
                time(r.finished_at),
                Value::String(r.outcome.to_string()),
                r.http_status
                    .map_or(Value::Null, |s| Value::Int(i64::from(s))),
                r.duration_ms.map_or(Value::Null, |d| {
                    Value::Int(i64::try_from(d).unwrap_or(i64::MAX))
                }),
                Value::Int(i64::from(r.attempts)),
                text(r.error),
            ])
        })
        .collect())
}

/// The rows of `Buckets`: S3 ListBuckets (all pages) with the role's temporary credentials.
async fn bucket_rows(state: &AppState) -> Result<Vec<Entity>, ApiError> {
    let buckets = list_buckets(state).await?;
    Ok(buckets
        .into_iter()
        .map(|(name, created)| {
            Entity::new(vec![
                Value::String(name.clone()),
                Value::String(name),
                created.map_or(Value::Null, Value::DateTimeOffset),
            ])
        })
        .collect())
}

/// Bucket names and creation dates, in S3's order (by name): the credentials first (so a
/// failure names Credential Store or STS), then ListBuckets, all pages, through the S3 seam.
pub async fn list_buckets(
    state: &AppState,
) -> Result<Vec<(String, Option<chrono::DateTime<chrono::Utc>>)>, ApiError> {
    let deadline = state.limits.upstream_timeout;
    upstream::credentials(&state.aws, deadline).await?;
    let buckets = upstream::call(
        &state.metrics,
        dependency::S3,
        "ListBuckets",
        deadline,
        state.aws.s3.list_buckets(),
        upstream::aws_error,
    )
    .await?;
    Ok(buckets
        .into_iter()
        .map(|b| (b.name, b.created.map(chrono::DateTime::<chrono::Utc>::from)))
        .collect())
}

fn odata_version() -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::HeaderName::from_static("odata-version"),
        HeaderValue::from_static(odata::ODATA_VERSION),
    )]
}

/// A 200 with `body` as `content_type` and the OData version header.
fn respond(body: String, content_type: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, content_type)],
        odata_version(),
        body,
    )
        .into_response()
}

/// A fixed document with its `ETag`: 304 when the client has it.
fn cached_document(
    headers: &HeaderMap,
    body: &'static str,
    etag: &'static str,
    content_type: &'static str,
) -> Response {
    let has_it = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag));
    let etag_header = (header::ETAG, HeaderValue::from_static(etag));
    if has_it {
        return (StatusCode::NOT_MODIFIED, [etag_header], odata_version()).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            etag_header,
        ],
        odata_version(),
        body,
    )
        .into_response()
}
