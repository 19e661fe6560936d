//! [`Error`], the one error type of the crate.
//!
//! Policy: a message names what failed (opening, migrating, a query, a value read back) and the
//! database's own error text, which never holds a bound value; connection settings are never
//! part of a message (the PostgreSQL URI embeds the password). [`Error::is_unavailable`] tells
//! the app which failures mean "the database cannot be reached" (a 503), as opposed to a bug.
//!
//! The documents add outcomes the app answers as client errors: [`Error::DocumentNotFound`]
//! (404), [`Error::Conflict`] (the document is not in a status that allows the change; 409),
//! [`Error::VersionMismatch`] (`If-Match` failed; 412) and [`Error::Query`], an OData query that
//! cannot be pushed down to SQL, carrying the OData error (a 400 naming the option or property)
//! the app returns as it is.

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or reached (file, socket, TLS, authentication).
    #[error("cannot open the {backend} database: {source}")]
    Open {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// What sqlx said.
        #[source]
        source: sqlx::Error,
    },
    /// The configuration cannot work (a PostgreSQL binding without a host, a bad root
    /// certificate, a data directory that cannot be created).
    #[error("invalid database configuration: {0}")]
    Config(String),
    /// Applying the embedded migrations failed.
    #[error("cannot migrate the {backend} database: {source}")]
    Migrate {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// What sqlx said.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A statement failed.
    #[error("{what} failed: {source}")]
    Statement {
        /// Which operation (`claim`, `finish`, `list runs`, …).
        what: &'static str,
        /// What sqlx said.
        #[source]
        source: sqlx::Error,
    },
    /// A row holds a value this version cannot read (another version wrote it, or a hand edit).
    #[error("the stored {field} is not valid: {detail}")]
    Corrupt {
        /// The column.
        field: &'static str,
        /// Why (never the whole row).
        detail: String,
    },
    /// The run or occurrence asked for does not exist.
    #[error("no run with id {0}")]
    NotFound(uuid::Uuid),
    /// No document with this id (or it is `deleted`, where the operation hides those).
    #[error("no document with id {0}")]
    DocumentNotFound(uuid::Uuid),
    /// A document with this id or object key exists already.
    #[error("a document with id {0} or its object key exists already")]
    DocumentExists(uuid::Uuid),
    /// The document's status does not allow the change (an upload of an `available` document,
    /// two uploads at once, finishing an upload that is not running, …).
    #[error("document {id} is {status}")]
    Conflict {
        /// The document.
        id: uuid::Uuid,
        /// Its status now.
        status: crate::documents::DocStatus,
    },
    /// The document changed since the version the caller read (`If-Match`).
    #[error("document {id} is at version {actual}, not {expected}")]
    VersionMismatch {
        /// The document.
        id: uuid::Uuid,
        /// The version the caller expected.
        expected: i64,
        /// The version stored.
        actual: i64,
    },
    /// A value the store cannot keep (a size beyond 2^63 bytes).
    #[error("invalid {field}: {detail}")]
    Invalid {
        /// Which value.
        field: &'static str,
        /// Why.
        detail: String,
    },
    /// An OData query that cannot be translated to SQL (a property that is not a column, an
    /// expression not supported here, a `$skiptoken` this store did not issue): the OData
    /// error to answer with, a 400 naming the option or property.
    #[error("{0}")]
    Query(odata::Error),
}

impl Error {
    /// Whether this failure means the database is down or unreachable (pool timed out, I/O,
    /// TLS, the server shutting down), so the caller may answer 503 and try again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Open { .. } => true,
            Self::Statement { source, .. } => unavailable(source),
            Self::Migrate { source, .. } => match source {
                sqlx::migrate::MigrateError::Execute(e) => unavailable(e),
                _ => false,
            },
            Self::Config(_)
            | Self::Corrupt { .. }
            | Self::NotFound(_)
            | Self::DocumentNotFound(_)
            | Self::DocumentExists(_)
            | Self::Conflict { .. }
            | Self::VersionMismatch { .. }
            | Self::Invalid { .. }
            | Self::Query(_) => false,
        }
    }

    pub(crate) fn query(what: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Statement { what, source }
    }
}

fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLite: busy or locked beyond the busy timeout, the file gone or unreadable;
        // PostgreSQL: class 08 (connection exception), 57P0x (shutdown, cannot connect now),
        // 53300 (too many connections).
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            let c = c.as_ref();
            c.starts_with("08")
                || c.starts_with("57P0")
                || c == "53300"
                // SQLite's primary result code is the low byte of the extended one.
                || c.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 14))
        }),
        _ => false,
    }
}
