//! The app's database: SQLite by default, PostgreSQL when the app has a `postgresql-db`
//! binding (sqlx, migrations embedded and applied at start), and the run history kept in it.
//! Shared by everything in the app that keeps state (the documents' metadata will live here
//! too). See `docs/DATABASE.md`.
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
//! - [`error`]: [`Error`], with [`Error::is_unavailable`] for the app's 503.

pub mod deliveries;
pub mod error;
pub mod history;
pub mod migrations;
pub mod store;

pub use deliveries::{Delivery, DeliveryOutcome, NewDelivery, Occurrence};
pub use error::Error;
pub use history::{Claim, Cursor, NewRun, Outcome, Page, Run, RunFilter};
pub use store::{Store, StoreConfig};
