//! Duplicate deliveries at the same moment: exactly one caller runs the occurrence, also with
//! two stores (two app instances) on one database.

use futures::future::join_all;
use runs::{Claim, NewRun, Store};

use crate::Db;

async fn race(stores: &[Store], n: usize) -> (usize, usize, usize) {
    let claims = (0..n).map(|i| {
        let store = stores[i % stores.len()].clone();
        async move {
            let new = NewRun {
                idempotency_key: Some("same-occurrence".into()),
                attempt: Some(u32::try_from(i).unwrap()),
                ..NewRun::new("ping")
            };
            tokio::spawn(async move { store.claim(&new).await })
                .await
                .unwrap()
                .unwrap()
        }
    });
    let results = join_all(claims).await;
    let started = results
        .iter()
        .filter(|c| matches!(c, Claim::Started(_)))
        .count();
    let running = results
        .iter()
        .filter(|c| matches!(c, Claim::InProgress(_)))
        .count();
    let ids: std::collections::HashSet<_> = results.iter().map(|c| c.run().id).collect();
    (started, running, ids.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_claims_on_two_postgres_stores_start_one_run() {
    let db = Db::postgres();
    let stores = [db.open().await, db.open().await];
    let (started, running, ids) = race(&stores, 50).await;
    assert_eq!((started, running, ids), (1, 49, 1));
    let run = stores[0].by_key("same-occurrence").await.unwrap().unwrap();
    assert_eq!(run.attempts, 50, "every delivery counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_claims_on_two_sqlite_stores_start_one_run() {
    let db = Db::sqlite();
    let stores = [db.open().await, db.open().await];
    let (started, running, ids) = race(&stores, 50).await;
    assert_eq!((started, running, ids), (1, 49, 1));
    let run = stores[1].by_key("same-occurrence").await.unwrap().unwrap();
    assert_eq!(run.attempts, 50);
}
