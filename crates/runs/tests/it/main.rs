//! Integration tests of the store, each against both backends: SQLite in a temporary file and
//! PostgreSQL on a real server (`testkit::postgres`, one per test process, a database per test).
#![allow(clippy::unwrap_used, missing_docs)]

mod concurrency;
mod deliveries;
mod documents;
mod history;
mod open;

use runs::{Store, StoreConfig};

/// A backend to run one test against; keeps its temporary directory alive.
pub(crate) struct Db {
    pub(crate) config: StoreConfig,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    /// A fresh SQLite file.
    pub(crate) fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self {
            config: StoreConfig::Sqlite {
                path: dir.path().join("runs.db"),
            },
            _dir: Some(dir),
        }
    }

    /// A fresh database on the shared PostgreSQL server.
    pub(crate) fn postgres() -> Self {
        let url = testkit::postgres::shared().create_database();
        Self {
            config: StoreConfig::postgres_url(&url).expect("url"),
            _dir: None,
        }
    }

    /// Both backends.
    pub(crate) fn both() -> [Self; 2] {
        [Self::sqlite(), Self::postgres()]
    }

    /// A store on it, migrated.
    pub(crate) async fn open(&self) -> Store {
        Store::open(&self.config).await.expect("open store")
    }
}
