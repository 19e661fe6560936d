//! [`Store`]: the app's database, one pool of either backend, and [`StoreConfig`], which one
//! to open.
//!
//! SQLite is the default: one file (by default `runs.db` in the app's data directory), WAL
//! journal so readers never wait for the writer, a busy timeout so concurrent writers queue
//! instead of failing, foreign keys on. PostgreSQL is used when the app has a `postgresql-db`
//! binding (see `docs/DATABASE.md`): the connection settings come from the binding's
//! `hostname`, `port`, `dbname`, `username` and `password` (not from parsing `uri`), TLS is
//! verified against the binding's `sslrootcert` when present.
//!
//! The store keeps one pool per backend instead of sqlx's `Any` driver: the two dialects differ
//! in column types (TIMESTAMPTZ vs TEXT), and `Any` cannot carry chrono values.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::Error;

/// The file name of the SQLite database in the app's data directory.
pub const SQLITE_FILE: &str = "runs.db";

/// Which database to open.
#[derive(Clone)]
pub enum StoreConfig {
    /// A SQLite file (created when missing, with its directory).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL server.
    Postgres(Box<PgConnectOptions>),
}

impl std::fmt::Debug for StoreConfig {
    /// Never the password: only the backend and where it is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            Self::Postgres(o) => f
                .debug_struct("Postgres")
                .field("host", &o.get_host())
                .field("port", &o.get_port())
                .field("database", &o.get_database())
                .finish_non_exhaustive(),
        }
    }
}

impl StoreConfig {
    /// PostgreSQL when `vcap` has a `postgresql-db` binding (the instance `name`, or the one
    /// found by label or tag when `None`), else SQLite at `data_dir/runs.db`. A broken or
    /// ambiguous binding is an error, not a silent fall-back to SQLite.
    pub fn from_vcap(
        vcap: &cfenv::Vcap,
        name: Option<&str>,
        data_dir: &Path,
    ) -> Result<Self, Error> {
        match vcap.postgres(name) {
            Ok(binding) => Self::postgres(&binding),
            Err(cfenv::Error::NotBound { .. }) if name.is_none() => Ok(Self::Sqlite {
                path: data_dir.join(SQLITE_FILE),
            }),
            Err(e) => Err(Error::Config(e.to_string())),
        }
    }

    /// The settings of a PostgreSQL binding: TLS verified against `sslrootcert` (full
    /// verification, host name included) when the binding carries it; without one, verified
    /// against the default roots, except on a loopback host, where TLS is used if the server
    /// offers it (a local server for development or tests).
    pub fn postgres(binding: &cfenv::PostgresBinding) -> Result<Self, Error> {
        let mut options = PgConnectOptions::new_without_pgpass()
            .host(&binding.hostname)
            .port(binding.port)
            .database(&binding.dbname)
            .username(&binding.username)
            .password(binding.password.expose())
            .application_name("bridge");
        options = match &binding.sslrootcert {
            Some(pem) => options
                .ssl_mode(PgSslMode::VerifyFull)
                .ssl_root_cert_from_pem(pem.as_bytes().to_vec()),
            None if is_loopback(&binding.hostname) => options.ssl_mode(PgSslMode::Prefer),
            None => options.ssl_mode(PgSslMode::VerifyFull),
        };
        Ok(Self::Postgres(Box::new(options)))
    }

    /// A PostgreSQL URL (`postgres://user:pw@host:port/db?sslmode=…`), for tests and tools.
    pub fn postgres_url(url: &str) -> Result<Self, Error> {
        PgConnectOptions::from_str(url)
            .map(|o| Self::Postgres(Box::new(o.application_name("bridge"))))
            .map_err(|_| Error::Config("not a valid PostgreSQL URL".into()))
    }

    /// Which backend, for logs and `bridge env`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// How long a statement waits for a pooled connection, and SQLite for a lock: past it the
/// store answers [`Error::is_unavailable`] failures rather than hang a request.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a pooled PostgreSQL connection may sit idle before it is pinged as it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Rows a SQLite connection's worker thread may read ahead of the request taking them (sqlx's
/// default is 50, less than a page of 50 plus the look-ahead row, so every page waited once
/// for the reader).
const ROW_BUFFER: usize = 1024;

/// The app's database.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// Set once the migrations ran; every operation waits for it ([`Store::ready`]), so a
    /// store made by [`Store::connect_lazy`] migrates on first use and a database that is down
    /// at start is retried on the next call.
    migrated: std::sync::Arc<tokio::sync::OnceCell<()>>,
}

/// One pool of either backend.
#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database and applies the embedded migrations (see [`crate::migrations`]); on
    /// PostgreSQL sqlx holds an advisory lock meanwhile, so instances starting together
    /// migrate once.
    pub async fn open(config: &StoreConfig) -> Result<Self, Error> {
        let store = Self::connect_lazy(config)?;
        store.ready().await?;
        Ok(store)
    }

    /// The store without connecting: the pool connects on first use and the migrations run
    /// then ([`Store::ready`]). For start-up code that must not wait for (or fail on) a
    /// database that is down right now: requests then fail with [`Error::is_unavailable`]
    /// errors until it is back. Creates the SQLite file's directory.
    pub fn connect_lazy(config: &StoreConfig) -> Result<Self, Error> {
        let backend = match config {
            StoreConfig::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        Error::Config(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(ACQUIRE_TIMEOUT)
                    .foreign_keys(true)
                    // Statistics kept fresh as SQLite advises: `PRAGMA optimize` as each
                    // connection closes (the pool recycles them at least every 30 minutes) and
                    // once after the migrations (below). No `analysis_limit`: its sample is
                    // the first rows of each index, all of one status in `documents_by_status`,
                    // and with it SQLite took a status most rows have for a rare one.
                    .optimize_on_close(true, None);
                Backend::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(8)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        // A connection to a file does not go stale: no ping (a round trip to
                        // the connection's worker thread) before every statement.
                        .test_before_acquire(false)
                        .connect_lazy_with(options.row_buffer_size(ROW_BUFFER)),
                )
            }
            StoreConfig::Postgres(options) => Backend::Postgres(
                PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    // A ping is a round trip: only for a connection that sat idle long enough
                    // for a server restart or a firewall to have dropped it (sqlx's documented
                    // pattern); a busy pool sends none. A failed ping closes the connection and
                    // the pool takes another.
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= PING_AFTER_IDLE {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
                    // Statements stay prepared per connection (one round trip per query), but
                    // each execution is planned with its values: a generic plan of
                    // `status = $1` or `ILIKE $1` cannot know a common status from a rare one.
                    .connect_lazy_with(
                        (**options)
                            .clone()
                            .options([("plan_cache_mode", "force_custom_plan")]),
                    ),
            ),
        };
        Ok(Self {
            backend,
            migrated: Default::default(),
        })
    }

    /// Waits until the migrations have run (running them on the first call; a failure is
    /// returned and the next call tries again).
    pub async fn ready(&self) -> Result<(), Error> {
        self.migrated
            .get_or_try_init(|| self.migrate())
            .await
            .map(|_| ())
    }

    /// Applies the embedded migrations that are not applied yet.
    pub async fn migrate(&self) -> Result<(), Error> {
        let backend = self.backend_name();
        let run = |source| Error::Migrate { backend, source };
        match &self.backend {
            Backend::Sqlite(pool) => {
                crate::migrations::migrator(crate::migrations::Dialect::Sqlite)
                    .await
                    .map_err(run)?
                    .run(pool)
                    .await
                    .map_err(run)?;
                // Without statistics the planner takes any equality on an index column for a
                // few rows: `status eq 'available'` (70 % of the rows) in key order sorted
                // every match instead of walking the key index. 0x10002: analyse every table
                // that was never analysed or has changed tenfold since (SQLite 3.46); about
                // a second per million documents, and only then.
                sqlx::raw_sql("PRAGMA optimize = 0x10002")
                    .execute(pool)
                    .await
                    .map(drop)
                    .map_err(Error::query("optimize"))
            }
            Backend::Postgres(pool) => {
                crate::migrations::migrator(crate::migrations::Dialect::Postgres)
                    .await
                    .map_err(run)?
                    .run(pool)
                    .await
                    .map_err(run)
            }
        }
    }

    /// `SQLite` or `PostgreSQL`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }

    /// One round trip (`SELECT 1`), for readiness checks.
    pub async fn ping(&self) -> Result<(), Error> {
        let q = "SELECT 1";
        self.ready().await?;
        match &self.backend {
            Backend::Sqlite(p) => sqlx::query(q).execute(p).await.map(drop),
            Backend::Postgres(p) => sqlx::query(q).execute(p).await.map(drop),
        }
        .map_err(Error::query("ping"))
    }

    /// Closes the pool: waits for checked-out connections, then every later call fails with
    /// an [`Error::is_unavailable`] error (how tests take the database away).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }
}
