//! Who may call what, in process (moved from the end-to-end `protected` module): `/health*`
//! is open, every other route needs a token, bad tokens are 401 with `invalid_token`, foreign
//! clients need our scopes.

use super::TestApp;

async fn get(s: &TestApp, path: &str, token: Option<&str>) -> super::Resp {
    s.get_with(path, token, &[]).await
}

#[tokio::test]
async fn health_is_open_everything_else_needs_a_token() {
    let s = TestApp::new();
    let r = get(&s, "/health", None).await;
    assert_eq!(r.status(), 200);
    let r = get(&s, "/health/ready", None).await;
    assert_eq!(r.status(), 200, "keys and credentials usable");

    for path in ["/jobs/ping", "/api/me", "/", "/no/such/route"] {
        let r = get(&s, path, None).await;
        if path == "/no/such/route" {
            // Unknown routes are 404 whoever asks; nothing to protect.
            assert_eq!(r.status(), 404, "{path}");
            continue;
        }
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"bridge\"");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "401");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Unauthorized")
        );
    }
}

#[tokio::test]
async fn bad_tokens_are_401_with_invalid_token() {
    let s = TestApp::new();
    for bad in [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.e30.",
        &"x".repeat(20_000),
    ] {
        let r = get(&s, "/jobs/ping", Some(bad)).await;
        assert_eq!(r.status(), 401, "{}", &bad[..bad.len().min(20)]);
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    let r = s
        .get_with(
            "/jobs/ping",
            None,
            &[("authorization", "Basic dXNlcjpwYXNz")],
        )
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn foreign_clients_need_our_scopes_and_a_reader_gets_reads_only() {
    let s = TestApp::new();
    // A foreign client with none of our scopes: its token is not for this app at all
    // (audience), so 401 as with @sap/xssec, not 403.
    let none = s.token_for("sb-nothing!t9", &[]);
    assert_eq!(get(&s, "/jobs/ping", Some(&none)).await.status(), 401);
    assert_eq!(get(&s, "/api/me", Some(&none)).await.status(), 401);

    let reader = s.token_for("sb-reader!t9", &["Read"]);
    let r = get(&s, "/api/me", Some(&reader)).await;
    assert_eq!(r.status(), 200);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["client_id"], "sb-reader!t9");
    assert_eq!(get(&s, "/jobs/ping", Some(&reader)).await.status(), 403);
}
