//! Who may call what: every route but `/health*` needs a token; `/jobs/ping` needs JobRunner,
//! `/api/me` and `/` need Read. 401 for no or bad credentials, 403 for a missing scope, both
//! with an RFC 6750 challenge and an OData error body.

use crate::common::Setup;

async fn get(s: &Setup, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = s.http().get(format!("{}{path}", s.app));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn job_runner_token_reaches_ping_but_not_reads() {
    let s = Setup::start().await;
    let token = s.app_token().await;
    let r = get(&s, "/jobs/ping", Some(&token)).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["message"], "pong");
    assert_eq!(body["caller"]["client_id"], s.xsuaa.clientid.as_str());
    assert_eq!(body["caller"]["grant_type"], "client_credentials");
    assert_eq!(body["caller"]["via"], "bearer");
    let scopes: Vec<String> = serde_json::from_value(body["caller"]["scopes"].clone()).unwrap();
    assert!(
        scopes.contains(&format!("{}.JobRunner", s.xsuaa.xsappname)),
        "{scopes:?}"
    );

    let r = s
        .http()
        .post(format!("{}/jobs/ping", s.app))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "POST works too, and bearer callers need no CSRF token"
    );

    let r = get(&s, "/api/me", Some(&token)).await;
    assert_eq!(r.status(), 403);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains(".Read"),
        "{challenge}"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "403");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_key_keeps_old_tokens_valid_and_new_ones_work() {
    let s = Setup::start().await;
    let before = s.app_token().await;
    assert_eq!(get(&s, "/jobs/ping", Some(&before)).await.status(), 200);
    s.dev.rotate_keys().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let after = s.app_token().await;
    // The new kid is unknown to the app's JWKS cache: it refetches once and accepts.
    assert_eq!(get(&s, "/jobs/ping", Some(&after)).await.status(), 200);
    assert_eq!(get(&s, "/jobs/ping", Some(&before)).await.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_x509_binding_gets_its_token_over_mtls() {
    let s = Setup::start().await;
    let vcap = s.dev.xsuaa_x509_vcap_services(7).unwrap();
    let creds = &vcap["xsuaa"][0]["credentials"];
    testkit::logs::secret(creds["key"].as_str().unwrap());
    let binding = cfenv::Vcap::from_json(&vcap.to_string(), "VCAP_SERVICES")
        .unwrap()
        .xsuaa(None)
        .unwrap();
    assert_eq!(binding.credential_type, cfenv::XsuaaCredentialType::X509);
    assert!(binding.clientsecret.is_none());
    let client = xsuaa::client::TokenClient::from_binding(
        &binding,
        &xsuaa::client::ClientOptions {
            extra_roots_pem: vec![s.dev.ca_pem().as_bytes().to_vec()],
            ..xsuaa::client::ClientOptions::default()
        },
    )
    .unwrap();
    let token = client.access_token().await.unwrap();
    let jwt = testkit::logs::secret(token.token.expose());
    assert_eq!(get(&s, "/jobs/ping", Some(&jwt)).await.status(), 200);
    // Cached: the second call returns the same token without asking XSUAA again.
    assert_eq!(client.access_token().await.unwrap().token.expose(), jwt);
    s.stop().await;
}
