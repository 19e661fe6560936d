//! The documents' metadata (docs/DOCUMENTS.md): one row per file the app keeps in S3, its
//! lifecycle, the outbox of object deletes, and queries for the `Documents` entity set.
//!
//! Lifecycle, each step one compare-and-set statement on the status, so concurrent callers
//! (also on several app instances) cannot both win:
//!
//! ```text
//! create ─► pending ─begin_upload─► uploading ─finish_upload─► available
//!              ▲  failed ─begin_upload─┘  │
//!              └──── abort_upload(None) ──┤ abort_upload(Some(reason)) ─► failed
//! any but deleted ─delete_document─► deleted ─(outbox worker: object gone)─► row removed
//! ```
//!
//! Every change bumps `version` (the app's ETag; `If-Match` is
//! [`Store::update_document`]'s `if_version`). [`Store::create_document`],
//! [`Store::finish_upload`], [`Store::update_document`] and [`Store::delete_document`] write their
//! audit event ([`crate::audit`]) in the same transaction as the change; the delete also writes
//! its outbox entry there, so a row marked `deleted` always has its object's delete queued.
//!
//! The outbox is worked by [`Store::outbox_due`] (claims due entries for [`OUTBOX_LEASE`], so
//! two instances do not work on one entry), [`Store::outbox_done`] (the entry and the row go in
//! one transaction) and [`Store::outbox_retry`].
//!
//! Queries ([`Store::query_documents`], [`Store::count_documents`]) go through the crate's
//! OData → SQL translator (`docs/DATABASE.md`): the OData property names of [`properties`] map
//! to columns; rows in status `deleted` are never part of a result.

use std::time::Duration;

use chrono::{DateTime, Utc};
use odata::model::{EdmType, Entity, EntityType, Property, Value};
use odata::query::QueryOptions;
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use crate::audit::{NewEvent, action};
use crate::docsql::{Col, Counts, ExplainWhat, Kind, QueryPage, Record, Table, TextSearch};
use crate::history::{corrupt, cut, get, micros, uuid_of, with_pool};
use crate::migrations::Dialect;
use crate::store::Backend;
use crate::{Error, Store};

/// How long [`Store::outbox_due`] gives a worker to finish an entry before another may claim it.
pub const OUTBOX_LEASE: Duration = Duration::from_secs(300);

/// Longest `statusReason` and outbox error kept (characters).
pub const MAX_REASON_CHARS: usize = 1000;

/// Most entries one [`Store::outbox_due`] or keys one [`Store::document_keys`] call returns.
pub const MAX_BATCH: usize = 1000;

/// Where a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocStatus {
    /// Metadata only; the bytes have not arrived (or an upload was interrupted).
    Pending,
    /// Bytes are flowing to S3.
    Uploading,
    /// The object is in S3 and checked.
    Available,
    /// The upload failed or the object went missing (see `status_reason`).
    Failed,
    /// Deleted: the object's delete is queued, the row goes once S3 confirmed.
    Deleted,
}

impl DocStatus {
    /// Every status.
    pub const ALL: [DocStatus; 5] = [
        Self::Pending,
        Self::Uploading,
        Self::Available,
        Self::Failed,
        Self::Deleted,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Uploading => "uploading",
            Self::Available => "available",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for DocStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JSON object of business attributes.
pub type Attributes = serde_json::Map<String, serde_json::Value>;

/// One document's metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    /// The key.
    pub id: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    /// When it last changed.
    pub modified_at: DateTime<Utc>,
    /// Who changed it last.
    pub modified_by: String,
    /// The bucket of its object.
    pub bucket: String,
    /// The object's key.
    pub object_key: String,
    /// The file name.
    pub file_name: String,
    /// The media type.
    pub media_type: Option<String>,
    /// The object's size in bytes, once uploaded.
    pub size: Option<u64>,
    /// The SHA-256 of the bytes (64 hex digits), once uploaded.
    pub sha256: Option<String>,
    /// The business document it belongs to (not unique: several files per document).
    pub document_number: Option<String>,
    /// Where it belongs (a plant, a site, …).
    pub location: Option<String>,
    /// Where it is in its lifecycle.
    pub status: DocStatus,
    /// Why it is `failed`.
    pub status_reason: Option<String>,
    /// Business attributes.
    pub attributes: Attributes,
    /// Bumped on every change (the app's ETag).
    pub version: i64,
}

/// A document as the app creates it (status `pending`, version 1).
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    /// The key the app chose.
    pub id: Uuid,
    /// The bucket.
    pub bucket: String,
    /// The object key (unique within the bucket).
    pub object_key: String,
    /// The file name.
    pub file_name: String,
    /// The media type, if declared.
    pub media_type: Option<String>,
    /// The business document number.
    pub document_number: Option<String>,
    /// The location.
    pub location: Option<String>,
    /// Business attributes.
    pub attributes: Attributes,
    /// Who creates it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A change of the client-owned fields (`None`: unchanged; for nullable fields `Some(None)`
/// sets null).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocumentPatch {
    /// A new file name.
    pub file_name: Option<String>,
    /// A new document number, or null.
    pub document_number: Option<Option<String>>,
    /// A new location, or null.
    pub location: Option<Option<String>>,
    /// New attributes (replacing the old object).
    pub attributes: Option<Attributes>,
}

impl DocumentPatch {
    /// The OData names of the fields it changes.
    pub fn fields(&self) -> Vec<&'static str> {
        [
            (self.file_name.is_some(), "fileName"),
            (self.document_number.is_some(), "documentNumber"),
            (self.location.is_some(), "location"),
            (self.attributes.is_some(), "attributes"),
        ]
        .into_iter()
        .filter_map(|(changed, name)| changed.then_some(name))
        .collect()
    }
}

/// A queued object delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The entry.
    pub id: Uuid,
    /// The deleted document.
    pub document_id: Uuid,
    /// Its object's bucket.
    pub bucket: String,
    /// Its object's key.
    pub object_key: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When it is due.
    pub next_at: DateTime<Utc>,
    /// Until when the worker that claimed it has it.
    pub claimed_until: Option<DateTime<Utc>>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When the delete was queued.
    pub created_at: DateTime<Utc>,
}

/// A row's identity and place, for the reconcile job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocKey {
    /// The key.
    pub id: Uuid,
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub object_key: String,
    /// The status.
    pub status: DocStatus,
    /// When it last changed.
    pub modified_at: DateTime<Utc>,
}

/// One page of [`Store::query_documents`].
pub type DocPage = QueryPage<Document>;

/// The OData properties of the `Documents` entity type this store answers queries on, in
/// declaration order (the app builds its entity type from them; `ID` is the key).
pub fn properties() -> Vec<Property> {
    COLUMNS
        .iter()
        .map(|c| {
            let ty = match (c.property, c.kind) {
                (_, Kind::Uuid) => EdmType::Guid,
                (_, Kind::Time) => EdmType::DateTimeOffset,
                (_, Kind::Int) => EdmType::Int64,
                (_, Kind::Json) => EdmType::Map,
                (_, Kind::Text) => EdmType::String,
            };
            let p = Property::new(c.property, ty);
            if c.nullable { p } else { p.not_null() }
        })
        .collect()
}

/// The property ↔ column map.
const COLUMNS: &[Col] = &[
    col("ID", "id", Kind::Uuid, false),
    col("createdAt", "created_at", Kind::Time, false),
    col("createdBy", "created_by", Kind::Text, false),
    col("modifiedAt", "modified_at", Kind::Time, false),
    col("modifiedBy", "modified_by", Kind::Text, false),
    col("bucket", "bucket", Kind::Text, false),
    col("objectKey", "object_key", Kind::Text, false),
    col("fileName", "file_name", Kind::Text, false),
    col("mediaType", "media_type", Kind::Text, true),
    col("size", "size", Kind::Int, true),
    col("sha256", "sha256", Kind::Text, true),
    col("documentNumber", "document_number", Kind::Text, true),
    col("location", "location", Kind::Text, true),
    col("status", "status", Kind::Text, false),
    col("statusReason", "status_reason", Kind::Text, true),
    col("attributes", "attributes", Kind::Json, false),
];

pub(crate) const fn col(
    property: &'static str,
    column: &'static str,
    kind: Kind,
    nullable: bool,
) -> Col {
    Col {
        property,
        column,
        kind,
        nullable,
    }
}

const SELECT_SQLITE: &str = "id, created_at, created_by, modified_at, modified_by, bucket, \
     object_key, file_name, media_type, size, sha256, document_number, location, status, \
     status_reason, attributes, version";
const SELECT_POSTGRES: &str = "id, created_at, created_by, modified_at, modified_by, bucket, \
     object_key, file_name, media_type, size, sha256, document_number, location, status, \
     status_reason, attributes::text AS attributes, version";

/// The `documents` table as the `Documents` entity set.
pub(crate) static TABLE: Table = Table {
    set: "Documents",
    name: "documents",
    columns: COLUMNS,
    key: "ID",
    default_order: &[],
    always: Some("status <> 'deleted'"),
    search: Some(TextSearch {
        columns: &["file_name", "document_number"],
        fts: Some(("documents_fts", "seq")),
    }),
    counts: Some(Counts {
        table: "document_counts",
        status: "status",
        location: "location",
        always: Some("status <> 'deleted'"),
    }),
    select_sqlite: SELECT_SQLITE,
    select_postgres: SELECT_POSTGRES,
};

const OUTBOX_COLUMNS: &str =
    "id, document_id, bucket, object_key, attempts, next_at, claimed_until, last_error, created_at";

impl Document {
    /// The value of the OData property `name` (`None` if it is not one of [`properties`]).
    pub fn value(&self, name: &str) -> Option<Value> {
        self.clone()
            .into_values()
            .into_iter()
            .find_map(|(n, v)| (n == name).then_some(v))
    }

    /// The document as a row of `entity_type` (properties it does not know are null).
    pub fn entity(&self, entity_type: &EntityType) -> Entity {
        self.clone().into_entity(entity_type)
    }

    /// [`Document::entity`], the values moved instead of copied (a page of documents becomes
    /// a page of entities without copying its strings).
    pub fn into_entity(self, entity_type: &EntityType) -> Entity {
        let mut values = self.into_values();
        Entity::new(
            entity_type
                .properties
                .iter()
                .map(|p| {
                    values
                        .iter_mut()
                        .find(|(n, _)| *n == p.name)
                        .map_or(Value::Null, |(_, v)| std::mem::replace(v, Value::Null))
                })
                .collect(),
        )
    }

    /// Every OData property of [`properties`] with its value.
    fn into_values(self) -> [(&'static str, Value); 16] {
        let text = |s: Option<String>| s.map_or(Value::Null, Value::String);
        [
            ("ID", Value::Guid(self.id.to_string())),
            ("createdAt", Value::DateTimeOffset(self.created_at)),
            ("createdBy", Value::String(self.created_by)),
            ("modifiedAt", Value::DateTimeOffset(self.modified_at)),
            ("modifiedBy", Value::String(self.modified_by)),
            ("bucket", Value::String(self.bucket)),
            ("objectKey", Value::String(self.object_key)),
            ("fileName", Value::String(self.file_name)),
            ("mediaType", text(self.media_type)),
            (
                "size",
                self.size.map_or(Value::Null, |s| {
                    Value::Int(i64::try_from(s).unwrap_or(i64::MAX))
                }),
            ),
            ("sha256", text(self.sha256)),
            ("documentNumber", text(self.document_number)),
            ("location", text(self.location)),
            ("status", Value::String(self.status.as_str().to_owned())),
            ("statusReason", text(self.status_reason)),
            ("attributes", Value::Map(self.attributes)),
        ]
    }
}

impl Record for Document {
    fn key(&self) -> Uuid {
        self.id
    }

    fn from_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<Self, Error> {
        decode_document(row)
    }

    fn from_postgres(row: &sqlx::postgres::PgRow) -> Result<Self, Error> {
        decode_document(row)
    }
}

/// The columns of [`SELECT_SQLITE`] and [`SELECT_POSTGRES`], in their order: a row is read
/// by position (a lookup by name hashes the name, for every column of every row), and the
/// name says which column a decoding error is about.
const SELECTED: [&str; 17] = [
    "id",
    "created_at",
    "created_by",
    "modified_at",
    "modified_by",
    "bucket",
    "object_key",
    "file_name",
    "media_type",
    "size",
    "sha256",
    "document_number",
    "location",
    "status",
    "status_reason",
    "attributes",
    "version",
];

/// Column `i` of the select list.
fn at<'r, R, T>(row: &'r R, i: usize) -> Result<T, Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(i).map_err(|e| Error::Corrupt {
        field: SELECTED.get(i).copied().unwrap_or("column"),
        detail: e.to_string(),
    })
}

/// A `documents` row, selected with [`select`] (columns by position, see [`SELECTED`]). The
/// ID, status and attributes are parsed from the row's own text, not from a copy of it.
fn decode_document<R>(row: &R) -> Result<Document, Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: &str = at(row, 0)?;
    let status: &str = at(row, 13)?;
    let attributes: &str = at(row, 15)?;
    Ok(Document {
        id: Uuid::parse_str(id).map_err(|_| corrupt(SELECTED[0], "not a UUID"))?,
        created_at: at(row, 1)?,
        created_by: at(row, 2)?,
        modified_at: at(row, 3)?,
        modified_by: at(row, 4)?,
        bucket: at(row, 5)?,
        object_key: at(row, 6)?,
        file_name: at(row, 7)?,
        media_type: at(row, 8)?,
        size: at::<_, Option<i64>>(row, 9)?
            .map(|s| u64::try_from(s).map_err(|_| corrupt(SELECTED[9], "negative")))
            .transpose()?,
        sha256: at(row, 10)?,
        document_number: at(row, 11)?,
        location: at(row, 12)?,
        status: DocStatus::parse(status).ok_or_else(|| corrupt(SELECTED[13], "not a status"))?,
        status_reason: at(row, 14)?,
        attributes: serde_json::from_str(attributes)
            .map_err(|_| corrupt(SELECTED[15], "not a JSON object"))?,
        version: at(row, 16)?,
    })
}

fn decode_outbox<R>(row: &R) -> Result<OutboxEntry, Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(OutboxEntry {
        id: uuid_of(row, "id")?,
        document_id: uuid_of(row, "document_id")?,
        bucket: get(row, "bucket")?,
        object_key: get(row, "object_key")?,
        attempts: u32::try_from(get::<_, i32>(row, "attempts")?)
            .map_err(|_| corrupt("attempts", "negative"))?,
        next_at: get(row, "next_at")?,
        claimed_until: get(row, "claimed_until")?,
        last_error: get(row, "last_error")?,
        created_at: get(row, "created_at")?,
    })
}

fn decode_key<R>(row: &R) -> Result<DocKey, Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let status: String = get(row, "status")?;
    Ok(DocKey {
        id: uuid_of(row, "id")?,
        bucket: get(row, "bucket")?,
        object_key: get(row, "object_key")?,
        status: DocStatus::parse(&status).ok_or_else(|| corrupt("status", "not a status"))?,
        modified_at: get(row, "modified_at")?,
    })
}

/// The select list of `documents` in `d`.
fn select(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => SELECT_SQLITE,
        Dialect::Postgres => SELECT_POSTGRES,
    }
}

/// Parameter `$n` as a JSON object: text on SQLite, `jsonb` on PostgreSQL.
fn json_param(d: Dialect, n: usize) -> String {
    match d {
        Dialect::Sqlite => format!("${n}"),
        Dialect::Postgres => format!("CAST(${n} AS jsonb)"),
    }
}

fn check(field: &'static str, text: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(Error::Invalid {
            field,
            detail: "contains a NUL character".into(),
        });
    }
    Ok(())
}

fn check_all(fields: &[(&'static str, Option<&str>)]) -> Result<(), Error> {
    fields
        .iter()
        .filter_map(|(f, v)| v.map(|v| (f, v)))
        .try_for_each(|(f, v)| check(f, v))
}

fn json_text(attributes: &Attributes) -> Result<String, Error> {
    let text = serde_json::to_string(attributes).map_err(|e| Error::Invalid {
        field: "attributes",
        detail: e.to_string(),
    })?;
    check("attributes", &text)?;
    Ok(text)
}

/// `INSERT INTO document_events …` of `event` on the executor `$e`.
macro_rules! insert_event {
    ($e:expr, $event:expr) => {{
        let event: &NewEvent = $event;
        sqlx::query(
            "INSERT INTO document_events (id, at, actor, action, document_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(micros(event.at))
        .bind(event.actor.as_str())
        .bind(event.action.as_str())
        .bind(event.document_id.map(|d| d.to_string()))
        .bind(event.detail.as_deref())
        .execute($e)
        .await
        .map_err(Error::query("record event"))
    }};
}
pub(crate) use insert_event;

impl Store {
    /// Creates a document (`pending`, version 1) and its `create` event, in one transaction.
    /// [`Error::DocumentExists`] if the id or the object key is taken.
    pub async fn create_document(&self, new: &NewDocument) -> Result<Document, Error> {
        self.ready().await?;
        check_all(&[
            ("bucket", Some(&new.bucket)),
            ("objectKey", Some(&new.object_key)),
            ("fileName", Some(&new.file_name)),
            ("mediaType", new.media_type.as_deref()),
            ("documentNumber", new.document_number.as_deref()),
            ("location", new.location.as_deref()),
            ("actor", Some(&new.actor)),
        ])?;
        let attributes = json_text(&new.attributes)?;
        let d = self.dialect();
        let sql = format!(
            "INSERT INTO documents (id, created_at, created_by, modified_at, modified_by, bucket, \
             object_key, file_name, media_type, document_number, location, status, attributes, \
             version) VALUES ($1, $2, $3, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', {}, 1) \
             RETURNING {}",
            json_param(d, 10),
            select(d)
        );
        let at = micros(new.at);
        let event = NewEvent {
            at,
            actor: new.actor.clone(),
            action: action::CREATE.into(),
            document_id: Some(new.id),
            detail: None,
        };
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await.map_err(Error::query("create document"))?;
            let row = sqlx::query(&sql)
                .bind(new.id.to_string())
                .bind(at)
                .bind(new.actor.as_str())
                .bind(new.bucket.as_str())
                .bind(new.object_key.as_str())
                .bind(new.file_name.as_str())
                .bind(new.media_type.as_deref())
                .bind(new.document_number.as_deref())
                .bind(new.location.as_deref())
                .bind(attributes.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        Error::DocumentExists(new.id)
                    }
                    _ => Error::query("create document")(e),
                })?;
            let doc = decode_document(&row)?;
            insert_event!(&mut *tx, &event)?;
            tx.commit().await.map_err(Error::query("create document"))?;
            Ok(doc)
        })
    }

    /// The document `id` in any status (the app hides `deleted` ones).
    pub async fn get_document(&self, id: Uuid) -> Result<Option<Document>, Error> {
        self.ready().await?;
        let sql = format!(
            "SELECT {} FROM documents WHERE id = $1",
            select(self.dialect())
        );
        with_pool!(self, p => {
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .fetch_optional(p)
                .await
                .map_err(Error::query("get document"))?;
            row.as_ref().map(decode_document).transpose()
        })
    }

    /// Why a compare-and-set on `id` changed nothing: it does not exist, or its status.
    async fn refusal(&self, id: Uuid) -> Result<Error, Error> {
        Ok(match self.get_document(id).await? {
            None => Error::DocumentNotFound(id),
            Some(doc) => Error::Conflict {
                id,
                status: doc.status,
            },
        })
    }

    /// `pending` or `failed` → `uploading`, atomically: of concurrent callers one wins, the
    /// others get [`Error::Conflict`] (as do `available`, `uploading` and `deleted` documents).
    pub async fn begin_upload(
        &self,
        id: Uuid,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Document, Error> {
        self.ready().await?;
        check("actor", actor)?;
        let sql = format!(
            "UPDATE documents SET status = 'uploading', status_reason = NULL, modified_at = $2, \
             modified_by = $3, version = version + 1 \
             WHERE id = $1 AND status IN ('pending', 'failed') RETURNING {}",
            select(self.dialect())
        );
        let updated = with_pool!(self, p => {
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .bind(micros(at))
                .bind(actor)
                .fetch_optional(p)
                .await
                .map_err(Error::query("begin upload"))?;
            row.as_ref().map(decode_document).transpose()?
        });
        match updated {
            Some(doc) => Ok(doc),
            None => Err(self.refusal(id).await?),
        }
    }

    /// `uploading` → `available` with the object's size, SHA-256 and (if given) media type,
    /// and the `upload` event, in one transaction. [`Error::Conflict`] when not `uploading`.
    pub async fn finish_upload(
        &self,
        id: Uuid,
        size: u64,
        sha256: &str,
        media_type: Option<&str>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Document, Error> {
        self.ready().await?;
        check_all(&[
            ("sha256", Some(sha256)),
            ("mediaType", media_type),
            ("actor", Some(actor)),
        ])?;
        let size_db = i64::try_from(size).map_err(|_| Error::Invalid {
            field: "size",
            detail: "beyond 2^63 bytes".into(),
        })?;
        let sql = format!(
            "UPDATE documents SET status = 'available', status_reason = NULL, size = $2, \
             sha256 = $3, media_type = COALESCE($4, media_type), modified_at = $5, \
             modified_by = $6, version = version + 1 \
             WHERE id = $1 AND status = 'uploading' RETURNING {}",
            select(self.dialect())
        );
        let event = NewEvent {
            at: micros(at),
            actor: actor.to_owned(),
            action: action::UPLOAD.into(),
            document_id: Some(id),
            detail: Some(serde_json::json!({ "size": size, "sha256": sha256 }).to_string()),
        };
        let updated = with_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await.map_err(Error::query("finish upload"))?;
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .bind(size_db)
                .bind(sha256)
                .bind(media_type)
                .bind(micros(at))
                .bind(actor)
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::query("finish upload"))?;
            match row.as_ref().map(decode_document).transpose()? {
                Some(doc) => {
                    insert_event!(&mut *tx, &event)?;
                    tx.commit().await.map_err(Error::query("finish upload"))?;
                    Some(doc)
                }
                None => {
                    tx.rollback().await.map_err(Error::query("finish upload"))?;
                    None
                }
            }
        });
        match updated {
            Some(doc) => Ok(doc),
            None => Err(self.refusal(id).await?),
        }
    }

    /// `uploading` → `pending` (`reason` None: the client may try again) or `failed` with the
    /// reason. [`Error::Conflict`] when not `uploading`.
    pub async fn abort_upload(
        &self,
        id: Uuid,
        reason: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Document, Error> {
        self.ready().await?;
        let reason = reason.map(|r| cut(&r.replace('\0', ""), MAX_REASON_CHARS));
        let status = if reason.is_some() {
            DocStatus::Failed
        } else {
            DocStatus::Pending
        };
        let sql = format!(
            "UPDATE documents SET status = $2, status_reason = $3, modified_at = $4, \
             version = version + 1 WHERE id = $1 AND status = 'uploading' RETURNING {}",
            select(self.dialect())
        );
        let updated = with_pool!(self, p => {
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .bind(status.as_str())
                .bind(reason.as_deref())
                .bind(micros(at))
                .fetch_optional(p)
                .await
                .map_err(Error::query("abort upload"))?;
            row.as_ref().map(decode_document).transpose()?
        });
        match updated {
            Some(doc) => Ok(doc),
            None => Err(self.refusal(id).await?),
        }
    }

    /// Any status but `deleted` → `failed` with `reason` (the reconcile job: an `available`
    /// document whose object is missing). [`Error::DocumentNotFound`] for a deleted or absent
    /// one.
    pub async fn fail_document(
        &self,
        id: Uuid,
        reason: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Document, Error> {
        self.ready().await?;
        check("actor", actor)?;
        let reason = cut(&reason.replace('\0', ""), MAX_REASON_CHARS);
        let sql = format!(
            "UPDATE documents SET status = 'failed', status_reason = $2, modified_at = $3, \
             modified_by = $4, version = version + 1 \
             WHERE id = $1 AND status <> 'deleted' RETURNING {}",
            select(self.dialect())
        );
        let updated = with_pool!(self, p => {
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .bind(reason.as_str())
                .bind(micros(at))
                .bind(actor)
                .fetch_optional(p)
                .await
                .map_err(Error::query("fail document"))?;
            row.as_ref().map(decode_document).transpose()?
        });
        updated.ok_or(Error::DocumentNotFound(id))
    }

    /// Applies `patch` and writes the `update` event, in one transaction.
    /// [`Error::DocumentNotFound`] for an absent or deleted document; with `if_version`,
    /// [`Error::VersionMismatch`] unless the document is at that version.
    pub async fn update_document(
        &self,
        id: Uuid,
        patch: &DocumentPatch,
        actor: &str,
        at: DateTime<Utc>,
        if_version: Option<i64>,
    ) -> Result<Document, Error> {
        self.ready().await?;
        check_all(&[
            ("fileName", patch.file_name.as_deref()),
            (
                "documentNumber",
                patch.document_number.clone().flatten().as_deref(),
            ),
            ("location", patch.location.clone().flatten().as_deref()),
            ("actor", Some(actor)),
        ])?;
        let attributes = patch.attributes.as_ref().map(json_text).transpose()?;
        let d = self.dialect();
        let sql = format!(
            "UPDATE documents SET file_name = COALESCE($2, file_name), \
             document_number = CASE WHEN $3 THEN $4 ELSE document_number END, \
             location = CASE WHEN $5 THEN $6 ELSE location END, \
             attributes = COALESCE({}, attributes), \
             modified_at = $8, modified_by = $9, version = version + 1 \
             WHERE id = $1 AND status <> 'deleted' AND ($10 IS NULL OR version = $10) \
             RETURNING {}",
            json_param(d, 7),
            select(d)
        );
        let event = NewEvent {
            at: micros(at),
            actor: actor.to_owned(),
            action: action::UPDATE.into(),
            document_id: Some(id),
            detail: Some(serde_json::json!({ "fields": patch.fields() }).to_string()),
        };
        let updated = with_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await.map_err(Error::query("update document"))?;
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .bind(patch.file_name.as_deref())
                .bind(patch.document_number.is_some())
                .bind(patch.document_number.clone().flatten())
                .bind(patch.location.is_some())
                .bind(patch.location.clone().flatten())
                .bind(attributes.as_deref())
                .bind(micros(at))
                .bind(actor)
                .bind(if_version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::query("update document"))?;
            match row.as_ref().map(decode_document).transpose()? {
                Some(doc) => {
                    insert_event!(&mut *tx, &event)?;
                    tx.commit().await.map_err(Error::query("update document"))?;
                    Some(doc)
                }
                None => {
                    tx.rollback().await.map_err(Error::query("update document"))?;
                    None
                }
            }
        });
        if let Some(doc) = updated {
            return Ok(doc);
        }
        match self.get_document(id).await? {
            Some(doc) if doc.status != DocStatus::Deleted => match if_version {
                Some(expected) => Err(Error::VersionMismatch {
                    id,
                    expected,
                    actual: doc.version,
                }),
                // Unreachable without a version condition; a concurrent delete and restore
                // cannot happen either (deleted rows never come back).
                None => Err(Error::DocumentNotFound(id)),
            },
            _ => Err(Error::DocumentNotFound(id)),
        }
    }

    /// Marks the document `deleted`, queues its object's delete (an outbox entry due at `at`)
    /// and writes the `delete` event, in one transaction. `None` if it is absent or deleted
    /// already.
    pub async fn delete_document(
        &self,
        id: Uuid,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Document>, Error> {
        self.ready().await?;
        check("actor", actor)?;
        let at = micros(at);
        let sql = format!(
            "UPDATE documents SET status = 'deleted', modified_at = $2, modified_by = $3, \
             version = version + 1 WHERE id = $1 AND status <> 'deleted' RETURNING {}",
            select(self.dialect())
        );
        let queue = "INSERT INTO document_outbox (id, document_id, bucket, object_key, attempts, \
             next_at, created_at) VALUES ($1, $2, $3, $4, 0, $5, $5) \
             ON CONFLICT (document_id) DO NOTHING";
        let event = NewEvent {
            at,
            actor: actor.to_owned(),
            action: action::DELETE.into(),
            document_id: Some(id),
            detail: None,
        };
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await.map_err(Error::query("delete document"))?;
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .bind(at)
                .bind(actor)
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::query("delete document"))?;
            let Some(doc) = row.as_ref().map(decode_document).transpose()? else {
                tx.rollback().await.map_err(Error::query("delete document"))?;
                return Ok(None);
            };
            sqlx::query(queue)
                .bind(Uuid::new_v4().to_string())
                .bind(id.to_string())
                .bind(doc.bucket.as_str())
                .bind(doc.object_key.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(Error::query("delete document"))?;
            insert_event!(&mut *tx, &event)?;
            tx.commit().await.map_err(Error::query("delete document"))?;
            Ok(Some(doc))
        })
    }

    /// Queues the object delete of a `deleted` document again (the reconcile job, when its
    /// outbox entry was lost). Whether an entry was added (false: not deleted, or queued).
    pub async fn requeue_delete(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, Error> {
        self.ready().await?;
        let sql = "INSERT INTO document_outbox (id, document_id, bucket, object_key, attempts, \
             next_at, created_at) SELECT $1, id, bucket, object_key, 0, $3, $3 FROM documents \
             WHERE id = $2 AND status = 'deleted' ON CONFLICT (document_id) DO NOTHING";
        with_pool!(self, p => {
            let done = sqlx::query(sql)
                .bind(Uuid::new_v4().to_string())
                .bind(id.to_string())
                .bind(micros(at))
                .execute(p)
                .await
                .map_err(Error::query("requeue delete"))?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Claims up to `limit` (at most [`MAX_BATCH`]) outbox entries due at `now` and not claimed
    /// by another worker, for [`OUTBOX_LEASE`]; the oldest due first. An entry whose worker
    /// neither finished nor retried it is due again when the lease ends.
    pub async fn outbox_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, Error> {
        self.ready().await?;
        let now = micros(now);
        let lease = chrono::Duration::from_std(OUTBOX_LEASE).unwrap_or(chrono::Duration::MAX);
        let until = micros(now + lease);
        let limit = i64::try_from(limit.clamp(1, MAX_BATCH)).unwrap_or(1);
        // The lease is the claim, on both backends. The outer conditions repeat the inner ones:
        // on PostgreSQL a concurrent claimer that waited for a row lock re-checks them against
        // the row as the winner left it, and `SKIP LOCKED` lets it pick other entries instead
        // of waiting for (and then losing) the same ones. SQLite runs one writer at a time.
        let skip_locked = match self.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE document_outbox SET claimed_until = $2 WHERE id IN (SELECT id FROM \
             document_outbox WHERE next_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1) \
             ORDER BY next_at, id LIMIT $3{skip_locked}) \
             AND next_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1) \
             RETURNING {OUTBOX_COLUMNS}"
        );
        let mut entries = with_pool!(self, p => {
            let rows = sqlx::query(&sql)
                .bind(now)
                .bind(until)
                .bind(limit)
                .fetch_all(p)
                .await
                .map_err(Error::query("outbox due"))?;
            rows.iter().map(decode_outbox).collect::<Result<Vec<_>, _>>()?
        });
        entries.sort_by_key(|e| (e.next_at, e.id));
        Ok(entries)
    }

    /// The object of outbox entry `entry` is gone: removes the entry and, if it is still
    /// `deleted`, the document's row, in one transaction. Whether the entry was there.
    pub async fn outbox_done(&self, entry: Uuid) -> Result<bool, Error> {
        self.ready().await?;
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await.map_err(Error::query("outbox done"))?;
            let row = sqlx::query("DELETE FROM document_outbox WHERE id = $1 RETURNING document_id")
                .bind(entry.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::query("outbox done"))?;
            let Some(row) = row else {
                tx.rollback().await.map_err(Error::query("outbox done"))?;
                return Ok(false);
            };
            let document: String = get(&row, "document_id")?;
            sqlx::query("DELETE FROM documents WHERE id = $1 AND status = 'deleted'")
                .bind(document)
                .execute(&mut *tx)
                .await
                .map_err(Error::query("outbox done"))?;
            tx.commit().await.map_err(Error::query("outbox done"))?;
            Ok(true)
        })
    }

    /// The delete of outbox entry `entry` failed: counts the attempt, keeps the error (cut to
    /// [`MAX_REASON_CHARS`]; no secrets in it), releases the claim and makes it due at
    /// `next_at`. Whether the entry was there.
    pub async fn outbox_retry(
        &self,
        entry: Uuid,
        error: &str,
        next_at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        self.ready().await?;
        let error = cut(&error.replace('\0', ""), MAX_REASON_CHARS);
        with_pool!(self, p => {
            let done = sqlx::query(
                "UPDATE document_outbox SET attempts = attempts + 1, last_error = $2, \
                 next_at = $3, claimed_until = NULL WHERE id = $1",
            )
            .bind(entry.to_string())
            .bind(error.as_str())
            .bind(micros(next_at))
            .execute(p)
            .await
            .map_err(Error::query("outbox retry"))?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Up to `limit` (at most [`MAX_BATCH`]) documents in every status, by id, after `after`:
    /// what the reconcile job compares with the bucket.
    pub async fn document_keys(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<DocKey>, Error> {
        self.ready().await?;
        let limit = i64::try_from(limit.clamp(1, MAX_BATCH)).unwrap_or(1);
        let columns = "id, bucket, object_key, status, modified_at";
        let sql = match after {
            Some(_) => {
                format!("SELECT {columns} FROM documents WHERE id > $2 ORDER BY id LIMIT $1")
            }
            None => format!("SELECT {columns} FROM documents ORDER BY id LIMIT $1"),
        };
        with_pool!(self, p => {
            let mut q = sqlx::query(&sql).bind(limit);
            if let Some(after) = after {
                q = q.bind(after.to_string());
            }
            let rows = q.fetch_all(p).await.map_err(Error::query("document keys"))?;
            rows.iter().map(decode_key).collect()
        })
    }

    /// One page of `Documents` (never `deleted` ones) as `options` ask: `$filter`, `$search`,
    /// `$orderby`, `$top`, `$skip` (first page only), `$count`, translated to SQL (see
    /// `docs/DATABASE.md`); `skiptoken` is the keyset token of a previous page's `next_token`.
    /// A query that cannot be translated, or a token this store did not issue for it, is
    /// [`Error::Query`] (a 400). `$select` is left to the app.
    pub async fn query_documents(
        &self,
        entity_type: &EntityType,
        options: &QueryOptions,
        skiptoken: Option<&str>,
        page_size: usize,
    ) -> Result<DocPage, Error> {
        self.query_table(&TABLE, entity_type, options, skiptoken, page_size)
            .await
    }

    /// How many `Documents` match `options`' `$filter` and `$search` (`/$count`).
    pub async fn count_documents(
        &self,
        entity_type: &EntityType,
        options: &QueryOptions,
    ) -> Result<u64, Error> {
        self.count_table(&TABLE, entity_type, options).await
    }

    /// The database's plan of [`Store::query_documents`] (a page of 50 after `skiptoken`) or,
    /// with `count`, of [`Store::count_documents`]: for the tests that prove the indexes serve
    /// the common queries.
    #[doc(hidden)]
    pub async fn explain_documents(
        &self,
        entity_type: &EntityType,
        options: &QueryOptions,
        skiptoken: Option<&str>,
        count: bool,
    ) -> Result<String, Error> {
        let what = if count {
            ExplainWhat::Count(options)
        } else {
            ExplainWhat::Page {
                options,
                token: skiptoken,
                page_size: 50,
            }
        };
        self.explain_table(&TABLE, entity_type, what).await
    }

    /// The database's plan of [`Store::get_document`].
    #[doc(hidden)]
    pub async fn explain_get_document(&self, id: Uuid) -> Result<String, Error> {
        self.ready().await?;
        let statement = crate::docsql::Statement {
            sql: format!(
                "SELECT {} FROM documents WHERE id = $1",
                select(self.dialect())
            ),
            binds: vec![crate::docsql::Bind::Text(id.to_string())],
        };
        self.explain_statement(&statement).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name each entry of a select list gives its column (`expr AS name`, else `expr`).
    fn names(list: &str) -> Vec<String> {
        list.split(',')
            .map(|c| {
                let c = c.trim();
                c.rsplit_once(" AS ").map_or(c, |(_, name)| name).to_owned()
            })
            .collect()
    }

    #[test]
    fn rows_are_read_in_the_order_both_select_lists_give() {
        assert_eq!(names(SELECT_SQLITE), SELECTED);
        assert_eq!(names(SELECT_POSTGRES), SELECTED);
    }
}
