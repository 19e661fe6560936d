//! The documents' audit log (`document_events`): who did what to which document, when.
//!
//! The document operations of [`crate::documents`] that change a row write their event in the
//! same transaction; everything else the app audits (content reads, presigned URLs, finalize,
//! reconcile repairs) goes through [`Store::record_event`]. [`Store::query_events`] answers the
//! `DocumentEvents` entity set with the crate's OData → SQL translator (properties
//! [`properties`]; `$search` is not supported there: filter with `contains` instead).
//! Events are never changed or removed by the app; they outlive the documents they name.

use chrono::{DateTime, Utc};
use odata::model::{EdmType, Entity, EntityType, Property, Value};
use odata::query::QueryOptions;
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use crate::docsql::{Col, Kind, QueryPage, Record, Table};
use crate::documents::{col, insert_event};
use crate::history::{corrupt, cut, get, micros, uuid_of, with_pool};
use crate::store::Backend;
use crate::{Error, Store};

/// Longest `detail` kept (characters).
pub const MAX_DETAIL_CHARS: usize = 4000;

/// The actions the app records (the column is open: other names are stored as given).
pub mod action {
    /// A document was created.
    pub const CREATE: &str = "create";
    /// Its bytes were uploaded through the app.
    pub const UPLOAD: &str = "upload";
    /// Its bytes were read.
    pub const READ: &str = "read";
    /// Its metadata changed.
    pub const UPDATE: &str = "update";
    /// It was deleted.
    pub const DELETE: &str = "delete";
    /// A presigned upload URL was issued.
    pub const PRESIGN_PUT: &str = "presign_put";
    /// A presigned download URL was issued.
    pub const PRESIGN_GET: &str = "presign_get";
    /// A presigned upload was checked.
    pub const FINALIZE: &str = "finalize";
    /// The reconcile job repaired it.
    pub const RECONCILE: &str = "reconcile";
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it (the token's user name or client id; `system` for jobs).
    pub actor: String,
    /// What (one of [`action`], or another name).
    pub action: String,
    /// Which document, if one.
    pub document_id: Option<Uuid>,
    /// More (the app's text, often JSON; no secrets, no presigned URLs).
    pub detail: Option<String>,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The event's id.
    pub id: Uuid,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: String,
    /// What.
    pub action: String,
    /// Which document.
    pub document_id: Option<Uuid>,
    /// More.
    pub detail: Option<String>,
}

/// One page of [`Store::query_events`].
pub type EventPage = QueryPage<Event>;

const COLUMNS: &[Col] = &[
    col("ID", "id", Kind::Uuid, false),
    col("at", "at", Kind::Time, false),
    col("actor", "actor", Kind::Text, false),
    col("action", "action", Kind::Text, false),
    col("documentId", "document_id", Kind::Uuid, true),
    col("detail", "detail", Kind::Text, true),
];

const SELECT: &str = "id, at, actor, action, document_id, detail";

/// The `document_events` table as the `DocumentEvents` entity set (oldest first by default).
pub(crate) static TABLE: Table = Table {
    set: "DocumentEvents",
    name: "document_events",
    columns: COLUMNS,
    key: "ID",
    default_order: &[("at", false)],
    always: None,
    search: None,
    counts: None,
    select_sqlite: SELECT,
    select_postgres: SELECT,
};

/// The OData properties of the `DocumentEvents` entity type, in declaration order (`ID` is the
/// key).
pub fn properties() -> Vec<Property> {
    COLUMNS
        .iter()
        .map(|c| {
            let ty = match c.kind {
                Kind::Uuid => EdmType::Guid,
                Kind::Time => EdmType::DateTimeOffset,
                Kind::Int => EdmType::Int64,
                Kind::Json => EdmType::Map,
                Kind::Text => EdmType::String,
            };
            let p = Property::new(c.property, ty);
            if c.nullable { p } else { p.not_null() }
        })
        .collect()
}

impl Event {
    /// The value of the OData property `name` (`None` if it is not one of [`properties`]).
    pub fn value(&self, name: &str) -> Option<Value> {
        Some(match name {
            "ID" => Value::Guid(self.id.to_string()),
            "at" => Value::DateTimeOffset(self.at),
            "actor" => Value::String(self.actor.clone()),
            "action" => Value::String(self.action.clone()),
            "documentId" => self
                .document_id
                .map_or(Value::Null, |d| Value::Guid(d.to_string())),
            "detail" => self.detail.clone().map_or(Value::Null, Value::String),
            _ => return None,
        })
    }

    /// The event as a row of `entity_type` (properties it does not know are null).
    pub fn entity(&self, entity_type: &EntityType) -> Entity {
        Entity::new(
            entity_type
                .properties
                .iter()
                .map(|p| self.value(&p.name).unwrap_or(Value::Null))
                .collect(),
        )
    }
}

impl Record for Event {
    fn key(&self) -> Uuid {
        self.id
    }

    fn from_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<Self, Error> {
        decode_event(row)
    }

    fn from_postgres(row: &sqlx::postgres::PgRow) -> Result<Self, Error> {
        decode_event(row)
    }
}

fn decode_event<R>(row: &R) -> Result<Event, Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let document: Option<String> = get(row, "document_id")?;
    Ok(Event {
        id: uuid_of(row, "id")?,
        at: get(row, "at")?,
        actor: get(row, "actor")?,
        action: get(row, "action")?,
        document_id: document
            .map(|d| Uuid::parse_str(&d).map_err(|_| corrupt("document_id", "not a UUID")))
            .transpose()?,
        detail: get(row, "detail")?,
    })
}

impl Store {
    /// Records `event` (its `detail` cut to [`MAX_DETAIL_CHARS`]).
    pub async fn record_event(&self, event: &NewEvent) -> Result<(), Error> {
        self.ready().await?;
        let clean = |s: &str| s.replace('\0', "");
        let event = NewEvent {
            at: micros(event.at),
            actor: clean(&event.actor),
            action: clean(&event.action),
            document_id: event.document_id,
            detail: event
                .detail
                .as_deref()
                .map(|d| cut(&clean(d), MAX_DETAIL_CHARS)),
        };
        with_pool!(self, p => insert_event!(p, &event).map(drop))
    }

    /// One page of `DocumentEvents` as `options` ask (see [`Store::query_documents`] for the
    /// options and the token).
    pub async fn query_events(
        &self,
        entity_type: &EntityType,
        options: &QueryOptions,
        skiptoken: Option<&str>,
        page_size: usize,
    ) -> Result<EventPage, Error> {
        self.query_table(&TABLE, entity_type, options, skiptoken, page_size)
            .await
    }

    /// How many `DocumentEvents` match `options`' `$filter`.
    pub async fn count_events(
        &self,
        entity_type: &EntityType,
        options: &QueryOptions,
    ) -> Result<u64, Error> {
        self.count_table(&TABLE, entity_type, options).await
    }
}
