//! Floods in process (issue 12; moved from the end-to-end `hostile` module): made-up methods
//! and paths do not grow the metrics, made-up key ids and forged sessions are refused.

use axum::body::Body;
use axum::http::Request;

use super::{TestApp, sign};

/// The series lines of `/metrics`, without their values.
async fn series(s: &TestApp) -> Vec<String> {
    let text = s
        .get_with("/metrics", None, &[])
        .await
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit_once(' ').map_or(l, |(name, _)| name).to_owned())
        .collect()
}

/// One request of each kind that must not create a series of its own.
async fn round(s: &TestApp, token: &str, i: usize) {
    let made_up = Request::builder()
        .method(format!("M{i}").as_str())
        .uri("/health")
        .body(Body::empty())
        .unwrap();
    s.request(made_up).await;
    s.get_with(&format!("/no/such/{i}"), None, &[]).await;
    s.get(&format!("/catalog/Buckets('b{i}')"), token).await;
    s.get(&format!("/catalog/Nope{i}"), token).await;
}

/// Issue 12, 3: 2 000 made-up methods and paths add no series.
#[tokio::test]
async fn issue_12_metric_series_stay_bounded_under_a_flood() {
    let s = TestApp::new();
    let token = s.token(&["Read"]);
    for i in 0..2 {
        round(&s, &token, i).await;
    }
    // The first scrape creates the series of `/metrics` itself.
    series(&s).await;
    let before = series(&s).await;
    for i in 2..502 {
        round(&s, &token, i).await;
    }
    let after = series(&s).await;
    let new: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
    assert!(
        new.is_empty(),
        "2 000 made-up requests grew /metrics from {} to {} series: {new:#?}",
        before.len(),
        after.len()
    );
}

/// Made-up key ids and forged session cookies: each a 401 (or, for a page, the sign-in
/// redirect), none a 5xx; a real token still works afterwards.
#[tokio::test]
async fn floods_of_unknown_kids_and_forged_sessions_are_refused() {
    let s = TestApp::new();
    let real = s.token(&["JobRunner"]);
    let claims: serde_json::Value = {
        use base64::Engine as _;
        let payload = real.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    for i in 0..500 {
        let header =
            serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": format!("made-up-{i}")});
        let r = s.get("/jobs/ping", &sign(&header, &claims)).await;
        assert_eq!(r.status(), 401, "kid {i}");
        let cookie = format!("bridge_session=forged-{i}");
        let r = s.get_with("/api/me", None, &[("cookie", &cookie)]).await;
        assert_eq!(r.status(), 401);
        let r = s
            .get_with("/", None, &[("cookie", &cookie), ("accept", "text/html")])
            .await;
        assert_eq!(r.status(), 303);
    }
    assert_eq!(s.get("/jobs/ping", &real).await.status(), 200);
}
