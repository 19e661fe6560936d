//! The embedded migrations, one set per dialect (`crates/runs/migrations/{sqlite,postgres}/`),
//! compiled into the binary with `include_str!` so the deployed app needs no migration files
//! and the build needs no database (sqlx's `migrate!` macro would pull in its macro crate).
//!
//! A migration is never edited once released: sqlx stores each one's SHA-384 and refuses to
//! start on a database whose applied migration differs. A new change is a new numbered file in
//! both folders, added to [`MIGRATIONS`] with the same version.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

/// The SQL dialect of a migration set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.35 or newer (RETURNING, ON CONFLICT DO NOTHING); sqlx bundles a newer one.
    Sqlite,
    /// PostgreSQL 13 or newer (`pg_trgm` is a trusted extension from 13 on, so the
    /// database owner may create it; on 12 a superuser must have created it).
    Postgres,
}

/// Every migration: version, description, SQLite text, PostgreSQL text.
pub const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "runs",
        include_str!("../migrations/sqlite/0001_runs.sql"),
        include_str!("../migrations/postgres/0001_runs.sql"),
    ),
    (
        2,
        "documents",
        include_str!("../migrations/sqlite/0002_documents.sql"),
        include_str!("../migrations/postgres/0002_documents.sql"),
    ),
    (
        3,
        "document counts",
        include_str!("../migrations/sqlite/0003_document_counts.sql"),
        include_str!("../migrations/postgres/0003_document_counts.sql"),
    ),
];

/// The migrations of one dialect, as sqlx's source.
#[derive(Debug, Clone, Copy)]
struct Embedded(Dialect);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let migrations = MIGRATIONS
            .iter()
            .map(|&(version, description, sqlite, postgres)| {
                let sql = match self.0 {
                    Dialect::Sqlite => sqlite,
                    Dialect::Postgres => postgres,
                };
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

/// The migrator of `dialect`.
pub async fn migrator(dialect: Dialect) -> Result<Migrator, MigrateError> {
    Migrator::new(Embedded(dialect)).await
}
