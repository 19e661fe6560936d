//! The app's database: SQLite by default, PostgreSQL when the app has a `postgresql-db`
//! binding (sqlx, migrations embedded and applied at start), and what the app keeps in it: the
//! run history and the documents' metadata. Only this crate speaks SQL. See `docs/DATABASE.md`.
//!
//! Modules:
//! - [`store`]: [`Store`] (one pool of either backend, `open` = connect + migrate, `ping`,
//!   `close`) and [`StoreConfig`] (which database, from the bindings or a path).
//! - [`migrations`]: the embedded migration sets, one per [`migrations::Dialect`].
//! - [`history`]: job runs keyed by idempotency key: [`Store::claim`] (exactly one caller
//!   runs an occurrence, also across instances on one PostgreSQL), [`Store::finish`],
//!   [`Store::get`], [`Store::list`].
//! - [`deliveries`]: what the local AWS side did per occurrence ([`Store::record_delivery`])
//!   and the joined [`Occurrence`] view.
//! - [`documents`]: the documents' metadata ([`Document`]): the upload lifecycle as
//!   compare-and-set steps, the delete outbox, queries of the `Documents` entity set.
//! - [`audit`]: the documents' audit log ([`Event`]).
//! - `docsql` (private): OData `$filter`/`$search`/`$orderby`/paging → SQL, for both.
//! - [`error`]: [`Error`], with [`Error::is_unavailable`] for the app's 503.

pub mod audit;
pub mod deliveries;
mod docsql;
pub mod documents;
pub mod error;
pub mod history;
pub mod migrations;
pub mod store;

pub use audit::{Event, EventPage, NewEvent};
pub use deliveries::{Delivery, DeliveryOutcome, NewDelivery, Occurrence};
pub use docsql::QueryPage;
pub use documents::{
    Attributes, DocKey, DocPage, DocStatus, Document, DocumentPatch, NewDocument, OutboxEntry,
};
pub use error::Error;
pub use history::{Claim, Cursor, NewRun, Outcome, Page, Run, RunFilter};
pub use store::{Store, StoreConfig};
