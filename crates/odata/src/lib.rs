//! OData V4 pieces, pure (no I/O, no async, no HTTP framework): the app (`bridge`) uses them to
//! serve an OData V4 service that looks like SAP CAP on the wire, so UI5's OData V4 model and
//! SAP tooling read it unchanged, while refusing more malformed input than CAP does.
//!
//! # How the app uses it
//!
//! ```
//! use odata::{apply, model::*, path::{self, Resource}, payload, query::QueryOptions};
//!
//! let service = Service::new("CatalogService")
//!     .entity_set(
//!         "Buckets",
//!         EntityType::new("Buckets")
//!             .key(Property::new("id", EdmType::String))
//!             .property(Property::new("name", EdmType::String))
//!             .property(Property::new("created", EdmType::DateTimeOffset)),
//!     )
//!     .function(Function::new("getBuckets").returns_collection_of("Buckets"));
//!
//! // GET /catalog/Buckets?$top=10&$count=true
//! let resource = path::parse(&service, "Buckets")?;
//! let ty = resource.entity_type().expect("a collection has a type");
//! let options = QueryOptions::parse(Some("$top=10&$count=true"), ty)?;
//! let format = payload::JsonFormat::negotiate(Some("application/json"), &options)?;
//! let rows = vec![Entity::new(vec!["b1".into(), "First".into(), Value::Null])];
//! let page = apply::apply(ty, rows, &options, 1000);
//! let body = payload::collection(&service, &resource, &page, &options, format)?;
//! assert_eq!(
//!     body,
//!     r#"{"@odata.context":"$metadata#Buckets","@odata.count":1,"value":[{"id":"b1","name":"First","created":null}]}"#
//! );
//! # Ok::<(), odata::Error>(())
//! ```
//!
//! | module | what |
//! |---|---|
//! | [`model`] | `Service`, `EntitySet`, `EntityType`, `Property`, `EdmType`, `Function`, `Value`, `Entity` |
//! | [`csdl`] | `$metadata` as EDMX XML (CAP's layout) and CSDL JSON; `metadata_etag` |
//! | [`document`] | the service document |
//! | [`path`] | resource paths → [`path::Resource`] (entity sets, keys, properties, `$count`, `$value`, functions) |
//! | [`query`] | [`query::QueryOptions`]: `$top $skip $orderby $filter $select $count $search $format $skiptoken` |
//! | [`filter`] | `$filter` expressions |
//! | [`apply`] | filter → search → count → orderby → skip/top → server-driven paging |
//! | [`payload`] | JSON bodies (collection, entity, property), raw values, `Prefer: odata.maxpagesize` |
//! | [`error`] | [`Error`]: status, code, message, target, details; the OData error body |
//!
//! # Decisions
//!
//! - **DateTimeOffset** values are written with milliseconds (`2026-11-22T12:00:00.000Z`), so
//!   `$metadata` declares `Precision="3"` on every such property. (CAP writes no precision for
//!   `DateTime`, which it renders in whole seconds, and `Precision="7"` for `Timestamp`.)
//! - **`$metadata` layout** follows `cds compile --to edmx`: Core vocabulary reference,
//!   `EntityContainer` first, then entity types, then functions; `Nullable="false"` only on keys
//!   and non-nullable properties. Function imports carry no `EntitySet` attribute, so a
//!   function's result has the context `$metadata#Collection(CatalogService.Buckets)`. CSDL JSON
//!   says `"$Version":"4.0"` like the XML.
//! - **Service document** lists entity sets only (function imports are not
//!   `IncludeInServiceDocument`), as CAP does.
//! - **Error codes** are the status as a string (`"400"`, `"404"`), as CAP sends them; `target`
//!   names the option or property at fault; messages quote at most 100 characters of input.
//! - **`+` in query strings is a space** (form encoding, what CAP's Express stack does); a
//!   literal plus must be sent as `%2B`, as UI5 does. In paths `+` is literal.
//! - **`@odata.count`** comes before `value`, **`@odata.nextLink`** after it; the next link is
//!   relative to the service root and repeats the request's options with `$skiptoken=N`, where
//!   `N` is an absolute index into the filtered, ordered rows.
//! - **`$select`** always writes the key properties too; the context URL lists the selection.
//! - **Int64/Decimal** are JSON strings when the client asks for `IEEE754Compatible=true`
//!   (UI5 does); the content type then says so.
//! - Strictness beyond CAP: unknown or repeated `$` options, `$expand`, type mismatches in
//!   `$filter` (a String compared with a DateTimeOffset), bad `$skiptoken`s, and malformed keys
//!   are all 400 with a message naming the culprit.

pub mod apply;
pub mod csdl;
pub mod document;
pub mod error;
pub mod filter;
pub mod model;
pub mod path;
pub mod payload;
pub mod query;

mod encode;
mod json;
mod literal;

pub use error::Error;

/// The `OData-Version` header value of every response.
pub const ODATA_VERSION: &str = "4.0";

/// `Content-Type` of JSON bodies (CAP's).
pub const CONTENT_TYPE_JSON: &str = "application/json;odata.metadata=minimal";

/// `Content-Type` of JSON bodies when the client asked for `IEEE754Compatible=true`.
pub const CONTENT_TYPE_JSON_IEEE754: &str =
    "application/json;odata.metadata=minimal;IEEE754Compatible=true";

/// `Content-Type` of `$metadata` as XML.
pub const CONTENT_TYPE_XML: &str = "application/xml";

/// `Content-Type` of `/$count` and of raw non-binary `/$value` bodies.
pub const CONTENT_TYPE_TEXT: &str = "text/plain";
