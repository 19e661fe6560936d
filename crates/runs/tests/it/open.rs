//! Opening, migrating, configuration from the bindings, and an unavailable database.

use std::time::Duration;

use runs::{Store, StoreConfig};

use crate::Db;

#[tokio::test(flavor = "multi_thread")]
async fn migrations_apply_once_and_reopening_keeps_the_data() {
    for db in Db::both() {
        let store = db.open().await;
        let new = runs::NewRun::new("ping");
        store.claim(&new).await.unwrap();
        store.close().await;
        let again = db.open().await;
        assert!(again.get(new.id).await.unwrap().is_some());
        again.ping().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_or_unreachable_database_is_unavailable() {
    for db in Db::both() {
        let store = db.open().await;
        store.close().await;
        let err = store.get(uuid::Uuid::new_v4()).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
    }
    // Nothing listens on this port (bound and dropped just now).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config =
        StoreConfig::postgres_url(&format!("postgres://u:pw-secret@127.0.0.1:{port}/db")).unwrap();
    let started = std::time::Instant::now();
    let err = Store::open(&config).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(!err.to_string().contains("pw-secret"));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(!format!("{config:?}").contains("pw-secret"));
}

fn vcap(json: &str) -> cfenv::Vcap {
    cfenv::Vcap::from_json(json, "VCAP_SERVICES").unwrap()
}

#[test]
fn the_binding_decides_the_backend() {
    let dir = std::path::Path::new("/data");
    let none = vcap("{}");
    match StoreConfig::from_vcap(&none, None, dir).unwrap() {
        StoreConfig::Sqlite { path } => assert_eq!(path, dir.join("runs.db")),
        other => panic!("{other:?}"),
    }
    let bound = vcap(
        r#"{"postgresql-db":[{"name":"db","label":"postgresql-db","tags":["relational"],
        "credentials":{"uri":"postgres://u:pw-secret@pg.example:5432/app","hostname":"pg.example",
        "port":"5432","dbname":"app","username":"u","password":"pw-secret",
        "sslrootcert":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}}]}"#,
    );
    let config = StoreConfig::from_vcap(&bound, None, dir).unwrap();
    assert_eq!(config.backend(), "PostgreSQL");
    let shown = format!("{config:?}");
    assert!(
        shown.contains("pg.example") && !shown.contains("pw-secret"),
        "{shown}"
    );
    // Asking for an instance that is not bound is an error, never SQLite instead.
    assert!(StoreConfig::from_vcap(&none, Some("db"), dir).is_err());
}
