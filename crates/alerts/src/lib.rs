//! Alerts of scheduled calls, the part of "how to react upon failures" that AWS's consoles
//! leave to you.
//!
//! - [`watch`] (pure): which occurrences of the app's schedules deserve an alert, given what
//!   the run history saw of each: an occurrence whose run failed after its retries, one that
//!   was dead-lettered, and one that should have arrived but did not ("silence", which no
//!   AWS-side alarm can notice because nothing happened there).
//! - [`notify`]: delivering an [`Alert`] to SAP Alert Notification service (its producer API,
//!   `POST /cf/producer/v1/resource-events`, with OAuth client credentials) or to a webhook,
//!   as the same resource-event JSON.

pub mod notify;
pub mod watch;

pub use notify::{AlertError, Notifier};
pub use watch::{Alert, AlertKind};
