//! [`Error`], the one error type of the crate.
//!
//! Policy: a message names what failed (opening, migrating, a query, a value read back) and the
//! database's own error text, which never holds a bound value; connection settings are never
//! part of a message (the PostgreSQL URI embeds the password). [`Error::is_unavailable`] tells
//! the app which failures mean "the database cannot be reached" (a 503), as opposed to a bug.

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
    Query {
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
}

impl Error {
    /// Whether this failure means the database is down or unreachable (pool timed out, I/O,
    /// TLS, the server shutting down), so the caller may answer 503 and try again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Open { .. } => true,
            Self::Query { source, .. } => unavailable(source),
            Self::Migrate { source, .. } => match source {
                sqlx::migrate::MigrateError::Execute(e) => unavailable(e),
                _ => false,
            },
            Self::Config(_) | Self::Corrupt { .. } | Self::NotFound(_) => false,
        }
    }

    pub(crate) fn query(what: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { what, source }
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
