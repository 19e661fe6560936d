//! The local AWS side's deliveries joined with the app's run per occurrence.

use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use runs::{DeliveryOutcome, NewDelivery, NewRun, Outcome};

use crate::Db;

fn delivery(key: &str, attempt: u32, outcome: DeliveryOutcome) -> NewDelivery {
    let nominal = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    NewDelivery {
        schedule: "ping".into(),
        nominal_time: nominal,
        idempotency_key: key.into(),
        execution_id: Some("exec-1".into()),
        attempt,
        lambda_request_id: Some(format!("req-{attempt}")),
        outcome,
        http_status: (outcome == DeliveryOutcome::Succeeded).then_some(200),
        error: (outcome != DeliveryOutcome::Succeeded).then(|| "Sandbox.Timedout".into()),
        at: nominal + chrono::Duration::seconds(i64::from(attempt)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_occurrence_shows_its_attempts_and_the_endpoint_answer() {
    for db in Db::both() {
        let store = db.open().await;
        store
            .record_delivery(&delivery("k", 1, DeliveryOutcome::Failed))
            .await
            .unwrap();
        let run = NewRun {
            idempotency_key: Some("k".into()),
            schedule: Some("ping".into()),
            ..NewRun::new("ping")
        };
        store.claim(&run).await.unwrap();
        store
            .finish(
                run.id,
                Outcome::Succeeded,
                Some(200),
                None,
                Duration::from_millis(7),
            )
            .await
            .unwrap();
        let second = store
            .record_delivery(&delivery("k", 2, DeliveryOutcome::Succeeded))
            .await
            .unwrap();
        assert_eq!(second.lambda_request_id.as_deref(), Some("req-2"));

        let occ = store.occurrence("k").await.unwrap();
        assert!(occ.fired());
        assert_eq!(occ.attempts(), 2);
        assert!(!occ.dead_lettered());
        assert_eq!(
            occ.deliveries.iter().map(|d| d.attempt).collect::<Vec<_>>(),
            vec![1, 2]
        );
        let answered = occ.run.expect("the app's run");
        assert_eq!(
            (answered.http_status, answered.duration_ms),
            (Some(200), Some(7))
        );

        store
            .record_delivery(&delivery("lost", 3, DeliveryOutcome::DeadLettered))
            .await
            .unwrap();
        let lost = store.occurrence("lost").await.unwrap();
        assert!(lost.dead_lettered());
        assert_eq!(lost.run, None, "never reached the app");

        let never = store.occurrence("never").await.unwrap();
        assert!(!never.fired());

        let all = store.occurrences(Some("ping"), 10).await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(
            store
                .occurrences(Some("other"), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
