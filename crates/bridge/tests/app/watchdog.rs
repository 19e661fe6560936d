//! The alert watchdog over a real database (SQLite and PostgreSQL): a run that failed, an
//! occurrence that never arrived, one that succeeded, each judged once its horizon passed; the
//! alerts reach a webhook exactly once, also when a second app instance checks the same
//! window on the same database.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bridge::app::watchdog::{Watchdog, watched};
use chrono::{DateTime, TimeZone as _, Utc};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-central-1";

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, h, m, 0).single().unwrap()
}

fn hourly() -> Vec<(String, String)> {
    vec![(
        "hourly.json".into(),
        serde_json::json!({
            "Name": "hourly",
            "ScheduleExpression": "cron(0 * * * ? *)",
            "FlexibleTimeWindow": { "Mode": "OFF" },
            "Target": {
                "Arn": "arn:aws:lambda:${Region}:${AccountId}:function:btp-aws-bridge-caller",
                "RoleArn": "arn:aws:iam::${AccountId}:role/btp-aws-bridge-scheduler",
                "Input": "{\"method\":\"GET\",\"path\":\"/jobs/ping\"}"
            }
        })
        .to_string(),
    )]
}

async fn receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/alerts",
        axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

async fn record(store: &runs::Store, arn: &str, nominal: DateTime<Utc>, outcome: runs::Outcome) {
    let mut run = runs::NewRun::new("ping");
    run.idempotency_key = Some(schedule::occurrence::key(arn, nominal));
    run.schedule = Some(arn.to_owned());
    run.nominal_time = Some(nominal);
    let runs::Claim::Started(r) = store.claim(&run).await.unwrap() else {
        panic!("fresh key")
    };
    let status = if outcome == runs::Outcome::Succeeded {
        200
    } else {
        503
    };
    store
        .finish(r.id, outcome, Some(status), None, Duration::from_millis(5))
        .await
        .unwrap();
}

async fn judges_each_occurrence_once(config: runs::StoreConfig) {
    testkit::logs::init();
    let store = runs::Store::open(&config).await.unwrap();
    let watched = watched(&hourly(), ACCOUNT, REGION, Duration::from_secs(60)).unwrap();
    let arn = watched[0].arn.clone();
    assert_eq!(
        arn,
        "arn:aws:scheduler:eu-central-1:123456789012:schedule/default/hourly"
    );
    record(&store, &arn, at(1, 0), runs::Outcome::Succeeded).await;
    record(&store, &arn, at(2, 0), runs::Outcome::Failed).await;
    let (url, got) = receiver().await;
    let notifier = || {
        alerts::Notifier::webhook(url.parse().unwrap(), "btp-aws-bridge", &[])
            .unwrap()
            .with_retry_delay(Duration::from_millis(10))
    };
    let metrics = Arc::new(bridge::app::metrics::Metrics::new(
        bridge::app::metrics::MetricsAccess::Open,
        None,
    ));
    let first = Watchdog::new(store.clone(), watched.clone(), Some(notifier()))
        .with_metrics(metrics.clone());
    first.check(at(0, 30), at(4, 0)).await.unwrap();
    let kinds: Vec<(String, String)> = got
        .lock()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["tags"]["kind"].as_str().unwrap().to_owned(),
                e["tags"]["scheduledTime"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("failed".to_owned(), "2026-12-02T02:00:00Z".to_owned()),
            ("missed".to_owned(), "2026-12-02T03:00:00Z".to_owned()),
        ],
        "04:00 is still within its horizon"
    );
    // The same window again, and a second instance on the same database: nothing twice.
    first.check(at(0, 30), at(4, 0)).await.unwrap();
    let second = Watchdog::new(store.clone(), watched, Some(notifier()));
    second.check(at(0, 30), at(4, 0)).await.unwrap();
    assert_eq!(got.lock().unwrap().len(), 2);
    let text = metrics.render().unwrap();
    assert!(
        text.contains(r#"bridge_alerts_total{kind="failed",result="sent"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"bridge_alerts_total{kind="missed",result="sent"} 1"#),
        "{text}"
    );
    // The alerts are in the history as job `alert`, succeeded.
    let page = store
        .list(&runs::RunFilter {
            limit: 50,
            ..runs::RunFilter::default()
        })
        .await
        .unwrap();
    let sent: Vec<_> = page.runs.iter().filter(|r| r.job == "alert").collect();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| r.outcome == runs::Outcome::Succeeded));
    // The next check picks up 04:00 once its horizon passed.
    second.check(at(4, 0), at(4, 2)).await.unwrap();
    assert_eq!(got.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn sqlite_judges_each_occurrence_once() {
    let dir = tempfile::tempdir().unwrap();
    judges_each_occurrence_once(runs::StoreConfig::Sqlite {
        path: dir.path().join("runs.db"),
    })
    .await;
}

#[tokio::test]
async fn postgres_judges_each_occurrence_once() {
    let url = testkit::postgres::shared().create_database();
    judges_each_occurrence_once(runs::StoreConfig::postgres_url(&url).unwrap()).await;
}
