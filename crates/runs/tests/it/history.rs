//! Claims, duplicates, finishing and listing runs.

use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use runs::{Claim, NewRun, Outcome, RunFilter};

use crate::Db;

fn keyed(key: &str, schedule: &str) -> NewRun {
    NewRun {
        idempotency_key: Some(key.to_owned()),
        schedule: Some(schedule.to_owned()),
        nominal_time: Some(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()),
        caller_client_id: Some("sb-bridge!t1".into()),
        attempt: Some(1),
        ..NewRun::new("ping")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_key_runs_once_and_answers_the_recorded_result() {
    for db in Db::both() {
        let store = db.open().await;
        let first = keyed(
            "k-1",
            "arn:aws:scheduler:eu-central-1:1:schedule/default/ping",
        );
        let Claim::Started(run) = store.claim(&first).await.unwrap() else {
            panic!("{}: the first claim must start", store.backend_name());
        };
        assert_eq!(run.id, first.id);
        assert_eq!(run.outcome, Outcome::Running);
        assert_eq!(run.attempts, 1);
        assert_eq!(run.nominal_time, first.nominal_time);
        assert_eq!(run.caller_client_id.as_deref(), Some("sb-bridge!t1"));

        let again = NewRun {
            attempt: Some(2),
            ..keyed("k-1", "other")
        };
        let Claim::InProgress(seen) = store.claim(&again).await.unwrap() else {
            panic!("{}: a running key is in progress", store.backend_name());
        };
        assert_eq!(seen.id, run.id, "the first call's run");
        assert_eq!(seen.attempts, 2);
        assert_eq!(seen.last_attempt, Some(2));

        let done = store
            .finish(
                run.id,
                Outcome::Succeeded,
                Some(200),
                None,
                Duration::from_millis(42),
            )
            .await
            .unwrap();
        assert_eq!(done.outcome, Outcome::Succeeded);
        assert_eq!(done.http_status, Some(200));
        assert_eq!(done.duration_ms, Some(42));
        assert!(done.finished_at.is_some());

        let Claim::Finished(replay) = store.claim(&keyed("k-1", "x")).await.unwrap() else {
            panic!("{}: a finished key is finished", store.backend_name());
        };
        assert_eq!(replay.http_status, Some(200));
        assert_eq!(replay.attempts, 3);

        // Finishing twice keeps the first result.
        let twice = store
            .finish(
                run.id,
                Outcome::Failed,
                Some(500),
                Some("late"),
                Duration::ZERO,
            )
            .await
            .unwrap();
        assert_eq!(twice.outcome, Outcome::Succeeded);
        assert_eq!(twice.error, None);
        assert_eq!(store.get(run.id).await.unwrap(), Some(twice));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_without_a_key_always_run() {
    for db in Db::both() {
        let store = db.open().await;
        for _ in 0..3 {
            assert!(matches!(
                store.claim(&NewRun::new("ping")).await.unwrap(),
                Claim::Started(_)
            ));
        }
        assert_eq!(
            store.list(&RunFilter::default()).await.unwrap().runs.len(),
            3
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn finishing_an_unknown_run_is_not_found_and_errors_are_cut() {
    for db in Db::both() {
        let store = db.open().await;
        let id = uuid::Uuid::new_v4();
        assert!(matches!(
            store
                .finish(id, Outcome::Failed, None, None, Duration::ZERO)
                .await,
            Err(runs::Error::NotFound(i)) if i == id
        ));
        assert_eq!(store.get(id).await.unwrap(), None);
        let Claim::Started(run) = store.claim(&NewRun::new("ping")).await.unwrap() else {
            panic!("starts");
        };
        let long = "é".repeat(5000);
        let done = store
            .finish(
                run.id,
                Outcome::Running,
                Some(503),
                Some(&long),
                Duration::ZERO,
            )
            .await
            .unwrap();
        assert_eq!(done.outcome, Outcome::Failed, "running is no final outcome");
        assert_eq!(done.error.map(|e| e.chars().count()), Some(1000));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_and_pages_newest_first() {
    for db in Db::both() {
        let store = db.open().await;
        let base = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let mut ids = Vec::new();
        for i in 0..7u32 {
            let new = NewRun {
                received_at: base + chrono::Duration::milliseconds(i64::from(i) * 1500),
                ..keyed(&format!("k{i}"), if i % 2 == 0 { "even" } else { "odd" })
            };
            store.claim(&new).await.unwrap();
            let outcome = if i % 3 == 0 {
                Outcome::Failed
            } else {
                Outcome::Succeeded
            };
            store
                .finish(new.id, outcome, Some(200), None, Duration::ZERO)
                .await
                .unwrap();
            ids.push(new.id);
        }
        let all = store.list(&RunFilter::default()).await.unwrap();
        let newest_first: Vec<_> = ids.iter().rev().copied().collect();
        assert_eq!(
            all.runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            newest_first
        );
        assert_eq!(all.next, None);

        let even = RunFilter {
            schedule: Some("even".into()),
            ..RunFilter::default()
        };
        assert_eq!(store.list(&even).await.unwrap().runs.len(), 4);
        let failed = RunFilter {
            failed_only: true,
            ..RunFilter::default()
        };
        let failed = store.list(&failed).await.unwrap().runs;
        assert_eq!(
            failed.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![ids[6], ids[3], ids[0]]
        );

        // Pages of three, following the cursor, give every run once.
        let mut seen = Vec::new();
        let mut filter = RunFilter {
            limit: 3,
            ..RunFilter::default()
        };
        loop {
            let page = store.list(&filter).await.unwrap();
            seen.extend(page.runs.iter().map(|r| r.id));
            match page.next {
                Some(next) => filter.before = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, newest_first, "{}", store.backend_name());
    }
}
