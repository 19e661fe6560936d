//! The `alerts` notifier against the local Alert Notification service (token, producer API,
//! consumer list) and against a webhook receiver; bad events get the service's 400s.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerts::watch::{Alert, AlertKind};
use alerts::{AlertError, Notifier};
use chrono::TimeZone as _;
use devstack::alerts::LocalAlerts;

async fn serve(router: axum::Router) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(httpserve::serve(
        listener,
        httpserve::Transport::Plain,
        httpserve::Limits::default(),
        move |_| router.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    (url, stop)
}

fn alert() -> Alert {
    let nominal = chrono::Utc.with_ymd_and_hms(2026, 12, 2, 5, 0, 0).unwrap();
    let arn = "arn:aws:scheduler:eu-central-1:000000000000:schedule/default/bridge-ping";
    Alert {
        kind: AlertKind::RunFailed,
        schedule: "bridge-ping".into(),
        schedule_arn: arn.into(),
        nominal,
        key: schedule::occurrence::key(arn, nominal),
        detail: "failed after 3 attempt(s) (HTTP 503): unavailable".into(),
    }
}

#[tokio::test]
async fn notifier_delivers_to_the_local_alert_notification_service() {
    testkit::logs::init();
    let ans = LocalAlerts::new();
    let (url, _stop) = serve(ans.router()).await;
    let creds = ans.credentials(&url);
    testkit::logs::secret(creds["client_secret"].as_str().unwrap());
    let vcap = cfenv::Vcap::from_json(
        &serde_json::json!({"alert-notification": [{"label": "alert-notification",
            "name": "bridge-alerts", "tags": [], "credentials": creds}]})
        .to_string(),
        "test",
    )
    .unwrap();
    let binding = vcap.alert_notification(None).unwrap();
    let notifier = Notifier::alert_notification(&binding, "btp-aws-bridge", &[]).unwrap();
    notifier.send(&alert()).await.unwrap();
    notifier.send(&alert()).await.unwrap();
    let events = ans.events();
    assert_eq!(events.len(), 2);
    let e = &events[0];
    assert_eq!(e["eventType"], "BridgeScheduledRunFailed");
    assert_eq!(e["severity"], "ERROR");
    assert_eq!(e["category"], "ALERT");
    assert_eq!(e["resource"]["resourceName"], "btp-aws-bridge");
    assert_eq!(e["tags"]["scheduledTime"], "2026-12-02T05:00:00Z");
    assert_eq!(
        e["tags"]["ans:sourceEventId"],
        format!("failed:{}", alert().key)
    );
    assert!(e["id"].is_string());

    // A wrong secret is a token error naming the endpoint, never the secret.
    let mut bad = binding.clone();
    bad.client_secret = cfenv::Secret::new("wrong-secret");
    let err = Notifier::alert_notification(&bad, "btp-aws-bridge", &[])
        .unwrap()
        .with_retry_delay(Duration::from_millis(10))
        .send(&alert())
        .await
        .unwrap_err();
    assert!(matches!(err, AlertError::Token { .. }), "{err}");
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    assert!(!err.to_string().contains("wrong-secret"));

    // The service's own refusals.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{url}/cf/producer/v1/resource-events"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let token: serde_json::Value = http
        .post(format!("{url}/oauth/token?grant_type=client_credentials"))
        .basic_auth(&binding.client_id, Some(binding.client_secret.expose()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = testkit::logs::secret(token["access_token"].as_str().unwrap());
    let r = http
        .post(format!("{url}/cf/producer/v1/resource-events"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"eventType": "x", "severity": "INFO", "category": "ALERT", "subject": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("`body`"),
        "{body}"
    );
    let listed: serde_json::Value = http
        .get(format!("{url}/cf/consumer/v1/matched-events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["count"], 2);
}

#[tokio::test]
async fn notifier_posts_to_a_webhook_and_retries_its_5xx() {
    testkit::logs::init();
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let router = {
        let received = received.clone();
        let calls = calls.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
                let received = received.clone();
                let calls = calls.clone();
                async move {
                    if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    received.lock().unwrap().push(v);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        )
    };
    let (url, _stop) = serve(router).await;
    let notifier = Notifier::webhook(
        format!("{url}/hook").parse().unwrap(),
        "btp-aws-bridge",
        &[],
    )
    .unwrap()
    .with_retry_delay(Duration::from_millis(10));
    notifier.send(&alert()).await.unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]["subject"],
        "Scheduled call bridge-ping of 2026-12-02T05:00:00Z failed"
    );

    // A 404 is not retried.
    let missing = Notifier::webhook(format!("{url}/nope").parse().unwrap(), "x", &[])
        .unwrap()
        .with_retry_delay(Duration::from_millis(10));
    let err = missing.send(&alert()).await.unwrap_err();
    assert!(
        matches!(err, AlertError::Rejected { status: 404, .. }),
        "{err}"
    );
    assert!(Notifier::webhook("ftp://example.com/x".parse().unwrap(), "x", &[]).is_err());
}
