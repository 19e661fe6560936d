//! `bridge runs`: the history read straight from the database `bridge serve` uses (SQLite in
//! the data directory, or the bound PostgreSQL), as a table or JSON, filtered by schedule and
//! outcome.

use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use serde_json::Value;

use crate::util::{bridge, run};

const ARN: &str = "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/ping";

/// Three runs: a succeeded ping, a failed ping (retried twice), a nightly still running.
async fn seed(config: &runs::StoreConfig) {
    let store = runs::Store::open(config).await.unwrap();
    let at = |m| Utc.with_ymd_and_hms(2026, 3, 1, 12, m, 0).unwrap();
    let runs = [
        ("k1", ARN, at(0), Some((runs::Outcome::Succeeded, 200, 12))),
        ("k2", ARN, at(1), Some((runs::Outcome::Failed, 503, 1500))),
        ("k3", "nightly", at(2), None),
    ];
    for (key, schedule, nominal, result) in runs {
        let new = runs::NewRun {
            idempotency_key: Some(key.into()),
            schedule: Some(schedule.into()),
            nominal_time: Some(nominal),
            received_at: nominal,
            ..runs::NewRun::new("ping")
        };
        store.claim(&new).await.unwrap();
        if key == "k2" {
            store.claim(&new).await.unwrap();
            store.claim(&new).await.unwrap();
        }
        if let Some((outcome, status, ms)) = result {
            store
                .finish(
                    new.id,
                    outcome,
                    Some(status),
                    Some("Bad gateway"),
                    Duration::from_millis(ms),
                )
                .await
                .unwrap();
        }
    }
    store.close().await;
}

#[tokio::test]
async fn runs_prints_the_history_of_the_data_directory() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    seed(&runs::StoreConfig::Sqlite {
        path: dir.path().join("runs.db"),
    })
    .await;
    let r = run(
        bridge().arg("runs").arg("--data-dir").arg(dir.path()),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "TIME                  SCHEDULE  JOB   OUTCOME    STATUS  ATTEMPTS  DURATION\n\
         2026-03-01T12:02:00Z  nightly   ping  running    -       1         -\n\
         2026-03-01T12:01:00Z  ping      ping  failed     503     3         1500 ms\n\
         2026-03-01T12:00:00Z  ping      ping  succeeded  200     1         12 ms\n"
    );

    let failed = run(
        bridge()
            .args(["runs", "--failed", "--json"])
            .env("BRIDGE_DATA_DIR", dir.path()),
        "",
        false,
    );
    assert_eq!(failed.code, 0, "{}", failed.stderr);
    let rows: Vec<Value> = serde_json::from_str(&failed.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["idempotencyKey"], "k2");
    assert_eq!(rows[0]["httpStatus"], 503);
    assert_eq!(rows[0]["attempts"], 3);
    assert_eq!(rows[0]["error"], "Bad gateway");

    // A name matches the ARNs ending in /NAME; --limit keeps the newest.
    let ping = run(
        bridge()
            .args(["runs", "--schedule", "ping", "--limit", "1", "--json"])
            .env("BRIDGE_DATA_DIR", dir.path()),
        "",
        false,
    );
    let rows: Vec<Value> = serde_json::from_str(&ping.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["idempotencyKey"], "k2");
    let by_arn = run(
        bridge()
            .args(["runs", "--schedule", ARN, "--json"])
            .env("BRIDGE_DATA_DIR", dir.path()),
        "",
        false,
    );
    let rows: Vec<Value> = serde_json::from_str(&by_arn.stdout).unwrap();
    assert_eq!(rows.len(), 2);
}

#[test]
fn runs_without_a_history_or_with_a_bad_limit_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        bridge().arg("runs").arg("--data-dir").arg(dir.path()),
        "",
        false,
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no run history at"), "{}", r.stderr);
    assert!(r.stderr.contains("runs.db"), "{}", r.stderr);
    let r = run(bridge().args(["runs", "--limit", "0"]), "", false);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // A named database instance that is not bound is a configuration error.
    let r = run(
        bridge()
            .args(["runs", "--database-instance", "db"])
            .env("VCAP_SERVICES", "{}"),
        "",
        false,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_reads_the_bound_postgresql() {
    testkit::logs::init();
    let server = testkit::postgres::shared();
    let url = server.create_database();
    seed(&runs::StoreConfig::postgres_url(&url).unwrap()).await;
    let dbname = url.rsplit('/').next().unwrap();
    let password = testkit::logs::secret("pg-binding-password-not-checked");
    let vcap = serde_json::json!({"postgresql-db": [{
        "name": "bridge-db", "label": "postgresql-db", "plan": "standard",
        "tags": ["relational", "database"],
        "credentials": {
            "hostname": "127.0.0.1", "port": server.port().to_string(), "dbname": dbname,
            "username": "postgres", "password": password,
            "uri": format!("postgres://postgres:{password}@127.0.0.1:{}/{dbname}", server.port()),
        }
    }]});
    let empty = tempfile::tempdir().unwrap();
    let r = run(
        bridge()
            .args(["runs", "--json"])
            .env("VCAP_SERVICES", vcap.to_string())
            .env("BRIDGE_DATA_DIR", empty.path()),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        rows.len(),
        3,
        "the PostgreSQL rows, not the empty data directory"
    );
    assert!(!r.stderr.contains(&password));
}

#[tokio::test]
async fn occurrences_join_the_local_deliveries_with_the_runs() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let config = runs::StoreConfig::Sqlite {
        path: dir.path().join("runs.db"),
    };
    seed(&config).await;
    let store = runs::Store::open(&config).await.unwrap();
    let nominal = |m| Utc.with_ymd_and_hms(2026, 3, 1, 12, m, 0).unwrap();
    let deliveries = [
        ("k1", 0, 1, runs::DeliveryOutcome::Failed, "req-a"),
        ("k1", 0, 2, runs::DeliveryOutcome::Succeeded, "req-b"),
        ("lost", 5, 3, runs::DeliveryOutcome::DeadLettered, "req-c"),
    ];
    for (key, minute, attempt, outcome, request) in deliveries {
        store
            .record_delivery(&runs::NewDelivery {
                schedule: ARN.into(),
                nominal_time: nominal(minute),
                idempotency_key: key.into(),
                execution_id: None,
                attempt,
                lambda_request_id: Some(request.into()),
                outcome,
                http_status: None,
                error: None,
                at: nominal(minute) + chrono::Duration::seconds(i64::from(attempt)),
            })
            .await
            .unwrap();
    }
    store.close().await;
    let r = run(
        bridge()
            .args(["runs", "--occurrences", "--schedule", "ping"])
            .env("BRIDGE_DATA_DIR", dir.path()),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "NOMINAL               SCHEDULE  DELIVERIES  LAST           LAMBDA REQUEST  RUN            STATUS  DURATION\n\
         2026-03-01T12:05:00Z  ping      1           dead_lettered  req-c           never arrived  -       -\n\
         2026-03-01T12:00:00Z  ping      2           succeeded      req-b           succeeded      200     12 ms\n"
    );
    let failed = run(
        bridge()
            .args(["runs", "--occurrences", "--failed", "--json"])
            .env("BRIDGE_DATA_DIR", dir.path()),
        "",
        false,
    );
    let rows: Vec<Value> = serde_json::from_str(&failed.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["idempotencyKey"], "lost");
    assert_eq!(rows[0]["deliveries"][0]["outcome"], "dead_lettered");
    assert!(rows[0]["run"].is_null());
}
