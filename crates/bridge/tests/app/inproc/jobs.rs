//! The job endpoints and the run history: the same `Idempotency-Key` twice runs once (also on
//! two app instances sharing PostgreSQL), a long job answers 202 with its run URL and finishes
//! in the history, the history as the OData set `Runs`, and a database that is down is a 503
//! OData error.

use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use serde_json::Value;

use super::TestApp;

const ARN: &str = "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/ping";

fn occurrence_headers<'a>(key: &'a str, attempt: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("idempotency-key", key),
        ("x-bridge-schedule", ARN),
        ("x-bridge-scheduled-time", "2026-03-01T12:00:00Z"),
        ("x-bridge-attempt", attempt),
    ]
}

fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[tokio::test]
async fn the_same_key_twice_runs_once_and_replays_the_answer() {
    let s = TestApp::new();
    let token = s.token_for("sb-lambda!t1", &["JobRunner"]);
    let first = s
        .post_with("/jobs/ping", &token, &occurrence_headers("\"occ-1\"", "1"))
        .await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let id = first.headers()["x-bridge-run-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["message"], "pong");

    let second = s
        .post_with("/jobs/ping", &token, &occurrence_headers("\"occ-1\"", "2"))
        .await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.headers()["x-bridge-run-id"], id.as_str());
    let replay: Value = second.json().await.unwrap();
    assert_eq!(replay["replayed"], true);
    assert_eq!(replay["run"]["outcome"], "succeeded");

    let run = s.store.by_key("occ-1").await.unwrap().unwrap();
    assert_eq!(run.id.to_string(), id);
    assert_eq!(run.job, "ping");
    assert_eq!(run.schedule.as_deref(), Some(ARN));
    assert_eq!(
        run.nominal_time,
        Some(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap())
    );
    assert_eq!(run.caller_client_id.as_deref(), Some("sb-lambda!t1"));
    assert_eq!((run.attempts, run.last_attempt), (2, Some(2)));
    assert_eq!(run.http_status, Some(200));

    let metrics = s
        .get_with("/metrics", None, &[])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(
            &metrics,
            "bridge_job_runs_total{job=\"ping\",outcome=\"succeeded\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "bridge_job_duplicates_total{job=\"ping\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &metrics,
            "bridge_job_run_duration_seconds_count{job=\"ping\"}"
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn without_a_key_the_occurrence_is_the_key_and_without_either_every_call_runs() {
    let s = TestApp::new();
    let token = s.token(&["JobRunner"]);
    let headers = [
        ("x-bridge-schedule", ARN),
        ("x-bridge-scheduled-time", "2026-03-01T13:00:00+01:00"),
    ];
    assert_eq!(
        s.post_with("/jobs/ping", &token, &headers).await.status(),
        200
    );
    let again = s.get_with("/jobs/ping", Some(&token), &headers).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let nominal = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let key = schedule::occurrence::key(ARN, nominal);
    assert!(
        s.store.by_key(&key).await.unwrap().is_some(),
        "the Lambda's key"
    );

    for _ in 0..2 {
        let r = s.get("/jobs/ping", &token).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("idempotent-replayed").is_none());
    }
    let all = s
        .store
        .list(&runs::RunFilter::default())
        .await
        .unwrap()
        .runs;
    assert_eq!(all.len(), 3);
    assert_eq!(
        all.iter().filter(|r| r.idempotency_key.is_none()).count(),
        2
    );
}

#[tokio::test]
async fn malformed_job_headers_are_400_odata_errors_and_record_nothing() {
    let s = TestApp::new();
    let token = s.token(&["JobRunner"]);
    let long = "k".repeat(300);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("x-bridge-scheduled-time", "yesterday")],
            "X-Bridge-Scheduled-Time",
        ),
        (vec![("x-bridge-attempt", "0")], "X-Bridge-Attempt"),
        (vec![("x-bridge-attempt", "many")], "X-Bridge-Attempt"),
        (vec![("idempotency-key", "\"\"")], "Idempotency-Key"),
        (
            vec![("idempotency-key", "\"unterminated")],
            "Idempotency-Key",
        ),
        (vec![("idempotency-key", long.as_str())], "Idempotency-Key"),
        (
            vec![("idempotency-key", "a"), ("idempotency-key", "b")],
            "Idempotency-Key",
        ),
    ];
    for (headers, names) in cases {
        let r = s.post_with("/jobs/ping", &token, &headers).await;
        assert_eq!(r.status(), 400, "{headers:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "400");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(names), "{message}");
    }
    assert!(
        s.store
            .list(&runs::RunFilter::default())
            .await
            .unwrap()
            .runs
            .is_empty()
    );
}

#[tokio::test]
async fn a_long_job_answers_202_with_its_run_url_and_finishes_in_the_history() {
    let s = TestApp::with(
        |l| l.job_wait = Duration::from_millis(100),
        bridge::app::metrics::MetricsAccess::Open,
    );
    let token = s.token(&["JobRunner"]);
    let headers = [("idempotency-key", "\"long-1\"")];
    let r = s
        .post_with("/jobs/sleep?seconds=0.6", &token, &headers)
        .await;
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let run: Value = r.json().await.unwrap();
    assert_eq!(run["outcome"], "running");
    assert_eq!(
        location,
        format!("/jobs/runs/{}", run["id"].as_str().unwrap())
    );

    // The same key while it runs: 409 with the run's URL.
    let busy = s
        .post_with("/jobs/sleep?seconds=0.6", &token, &headers)
        .await;
    assert_eq!(busy.status(), 409);
    assert_eq!(busy.headers()["location"], location.as_str());
    assert_eq!(busy.json::<Value>().await.unwrap()["error"]["code"], "409");
    // The same key for another job: 422.
    let other = s.post_with("/jobs/ping", &token, &headers).await;
    assert_eq!(other.status(), 422);

    let now: Value = s.get(&location, &token).await.json().await.unwrap();
    assert_eq!(now["outcome"], "running");
    let mut done = Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        done = s
            .get(&location, &s.token(&["Read"]))
            .await
            .json()
            .await
            .unwrap();
        if done["outcome"] != "running" {
            break;
        }
    }
    assert_eq!(done["outcome"], "succeeded", "{done}");
    assert_eq!(done["httpStatus"], 200);
    assert!(done["durationMs"].as_u64().unwrap() >= 600, "{done}");
    assert_eq!(done["attempts"], 3);

    // A short job answers at once; the run URL needs JobRunner or Read.
    let quick = s.post("/jobs/sleep?seconds=0", &token).await;
    assert_eq!(quick.status(), 200);
    assert_eq!(s.get(&location, &s.token(&["Write"])).await.status(), 403);
    assert_eq!(s.get("/jobs/runs/not-a-uuid", &token).await.status(), 404);
    let unknown = format!("/jobs/runs/{}", uuid::Uuid::new_v4());
    assert_eq!(s.get(&unknown, &token).await.status(), 404);
    for bad in ["-1", "nan", "1e9", "x"] {
        let r = s.post(&format!("/jobs/sleep?seconds={bad}"), &token).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
}

/// Runs recorded straight into the store: schedule, outcome and time vary.
async fn seed_runs(s: &TestApp) -> Vec<uuid::Uuid> {
    let base = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let mut ids = Vec::new();
    for i in 0..5i64 {
        let new = runs::NewRun {
            idempotency_key: Some(format!("seed-{i}")),
            schedule: Some(if i % 2 == 0 { "ping" } else { "nightly" }.into()),
            nominal_time: Some(base + chrono::Duration::minutes(i)),
            received_at: base + chrono::Duration::minutes(i),
            ..runs::NewRun::new("ping")
        };
        s.store.claim(&new).await.unwrap();
        let (outcome, status) = if i == 1 || i == 4 {
            (runs::Outcome::Failed, 503)
        } else {
            (runs::Outcome::Succeeded, 200)
        };
        s.store
            .finish(
                new.id,
                outcome,
                Some(status),
                None,
                Duration::from_millis(10 * i as u64),
            )
            .await
            .unwrap();
        ids.push(new.id);
    }
    ids
}

#[tokio::test]
async fn runs_is_an_odata_entity_set_with_query_options() {
    let s = TestApp::new();
    let ids = seed_runs(&s).await;
    let token = s.token(&["Read"]);
    let r = s
        .get(
            "/catalog/Runs?$filter=outcome%20eq%20'failed'&$orderby=receivedAt%20desc&$count=true",
            &token,
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["@odata.context"], "$metadata#Runs");
    assert_eq!(body["@odata.count"], 2);
    let got: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["ID"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[4].to_string(), ids[1].to_string()]);
    assert_eq!(body["value"][0]["httpStatus"], 503);
    assert_eq!(body["value"][0]["schedule"], "ping");

    let top: Value = s
        .get(
            "/catalog/Runs?$orderby=durationMs&$top=2&$select=ID,durationMs",
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(top["value"].as_array().unwrap().len(), 2);
    assert_eq!(top["value"][1]["durationMs"], 10);
    assert!(top["value"][0].get("job").is_none());

    let one = s.get(&format!("/catalog/Runs({})", ids[2]), &token).await;
    assert_eq!(one.status(), 200);
    let one: Value = one.json().await.unwrap();
    assert_eq!(one["idempotencyKey"], "seed-2");
    assert_eq!(one["nominalTime"], "2026-03-01T00:02:00.000Z");
    assert_eq!(one["attempts"], 1);
    let missing = s
        .get(&format!("/catalog/Runs({})", uuid::Uuid::new_v4()), &token)
        .await;
    assert_eq!(missing.status(), 404);
    let count = s
        .get(
            "/catalog/Runs/$count?$filter=schedule%20eq%20'nightly'",
            &token,
        )
        .await;
    assert_eq!(count.text().await.unwrap(), "2");
    // Read-only, and only for Read.
    let job_runner = s.token(&["JobRunner"]);
    assert_eq!(s.get("/catalog/Runs", &job_runner).await.status(), 403);
    assert_eq!(s.post("/catalog/Runs", &token).await.status(), 405);
}

#[tokio::test]
async fn the_metadata_document_declares_runs() {
    let s = TestApp::new();
    let r = s.get("/catalog/$metadata", &s.token(&["Read"])).await;
    assert_eq!(r.status(), 200);
    insta::assert_snapshot!("catalog_metadata", r.text().await.unwrap());
}

#[tokio::test]
async fn a_database_that_is_down_is_a_503_odata_error() {
    let s = TestApp::new();
    let token = s.token(&["JobRunner", "Read"]);
    assert_eq!(s.post("/jobs/ping", &token).await.status(), 200);
    s.store.close().await;
    for r in [
        s.post("/jobs/ping", &token).await,
        s.get("/catalog/Runs", &token).await,
        s.get(&format!("/jobs/runs/{}", uuid::Uuid::new_v4()), &token)
            .await,
    ] {
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["odata-version"], "4.0");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "503");
        assert_eq!(
            body["error"]["message"],
            "Service unavailable: the database cannot be reached"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_run_a_duplicated_occurrence_once() {
    let url = testkit::postgres::shared().create_database();
    let config = runs::StoreConfig::postgres_url(&url).unwrap();
    let open = bridge::app::metrics::MetricsAccess::Open;
    let wait = |l: &mut bridge::app::Limits| l.job_wait = Duration::from_secs(5);
    let apps = std::sync::Arc::new([
        TestApp::with_database(wait, open.clone(), &config),
        TestApp::with_database(wait, open, &config),
    ]);
    let token = apps[0].token(&["JobRunner"]);
    let calls = (0..20).map(|i| {
        let apps = apps.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let attempt = (i + 1).to_string();
            let r = apps[i % 2]
                .post_with(
                    "/jobs/sleep?seconds=0.3",
                    &token,
                    &occurrence_headers("\"dup-occ\"", &attempt),
                )
                .await;
            let replayed = r.headers().contains_key("idempotent-replayed");
            (r.status().as_u16(), replayed)
        })
    });
    let mut answers = Vec::new();
    for c in calls {
        answers.push(c.await.unwrap());
    }
    let ran = answers.iter().filter(|(s, r)| *s == 200 && !r).count();
    assert_eq!(ran, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, r)| (*s == 200) || (*s == 409 && !r)),
        "{answers:?}"
    );
    let run = apps[1].store.by_key("dup-occ").await.unwrap().unwrap();
    assert_eq!(run.attempts, 20);
    assert_eq!(run.outcome, runs::Outcome::Succeeded);
    let all = apps[0]
        .store
        .list(&runs::RunFilter::default())
        .await
        .unwrap();
    assert_eq!(all.runs.len(), 1);
}

#[tokio::test]
async fn running_jobs_are_bounded_per_instance() {
    let s = TestApp::with(
        |l| l.job_wait = Duration::from_millis(10),
        bridge::app::metrics::MetricsAccess::Open,
    );
    let token = s.token(&["JobRunner"]);
    for _ in 0..bridge::app::MAX_RUNNING_JOBS {
        assert_eq!(s.post("/jobs/sleep?seconds=30", &token).await.status(), 202);
    }
    let r = s.post("/jobs/ping", &token).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("64 jobs are running")
    );
    let page = s.store.list(&runs::RunFilter::default()).await.unwrap();
    assert_eq!(
        page.runs.len(),
        bridge::app::MAX_RUNNING_JOBS,
        "the refused call is not recorded"
    );
}
