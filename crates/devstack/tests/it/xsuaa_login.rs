//! The authorization-code flow as a browser drives it, with a plain HTTP client that does not
//! follow redirects: login page, `/login.do`, the code, the token exchange, code reuse, redirect
//! URI checks, PKCE, and the refresh-token grant.

use base64::Engine as _;

use crate::common::{Answer, Auth, Stack, form, jwt_parts};

const REDIRECT: &str = "http://localhost:5000/login/callback";

async fn get_authorize(s: &Stack, params: &[(&str, &str)]) -> Answer {
    let resp = s
        .browser()
        .get(format!("{}/oauth/authorize?{}", s.uaa_url(), form(params)))
        .send()
        .await
        .unwrap();
    Answer::of(resp).await
}

async fn post_login(s: &Stack, params: &[(&str, &str)]) -> reqwest::Response {
    s.browser()
        .post(format!("{}/login.do", s.uaa_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(params))
        .send()
        .await
        .unwrap()
}

fn code_of(resp: &reqwest::Response) -> (String, url::Url) {
    let location = resp.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    testkit::logs::secret(&code);
    (code, url)
}

#[tokio::test]
async fn the_full_authorization_code_flow() {
    let s = Stack::start().await;
    let client_id = s.client_id();
    let secret = s.client_secret();
    let password = s.password_of("alice");

    // 1. The app sends the browser to /oauth/authorize: a login page.
    let page = get_authorize(
        &s,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("state", "af0ifjsldkj"),
        ],
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.header("cache-control").contains("no-store"));
    assert!(
        page.text
            .contains(r#"<form method="post" action="/login.do">"#)
    );
    assert!(page.text.contains(r#"name="state" value="af0ifjsldkj""#));
    assert!(
        page.text
            .contains(r#"name="redirect_uri" value="http://localhost:5000/login/callback""#)
    );
    assert!(page.text.contains(r#"type="password""#));
    // Self-contained: no scripts, no external assets.
    for external in ["<script", "<link", "src=", "url("] {
        assert!(!page.text.contains(external), "{external}");
    }

    // 2. The user signs in: a redirect back to the app with a code and the state.
    let resp = post_login(
        &s,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("state", "af0ifjsldkj"),
            ("username", "alice"),
            ("password", &password),
        ],
    )
    .await;
    assert_eq!(resp.status(), 302);
    let (code, location) = code_of(&resp);
    assert_eq!(
        location.as_str().split('?').next(),
        Some(REDIRECT),
        "back to the app"
    );
    assert_eq!(
        location
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1,
        "af0ifjsldkj"
    );

    // 3. The app exchanges the code.
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let a = s.token(Auth::Basic(&client_id, &secret), &exchange).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["token_type"], "bearer");
    assert_eq!(a.json["expires_in"], 43_199);
    assert_eq!(a.json["scope"], "openid bridge!t1.Read bridge!t1.Write");
    let refresh = a.json["refresh_token"].as_str().unwrap();
    assert!(
        refresh.ends_with("-r") && refresh.len() == 34,
        "UAA's opaque format"
    );
    let (_, access) = jwt_parts(&a.access_token());
    assert_eq!(access["user_name"], "alice");
    assert_eq!(access["grant_type"], "authorization_code");
    let (id_header, id) = jwt_parts(a.json["id_token"].as_str().unwrap());
    assert_eq!(id_header["alg"], "RS256");
    assert_eq!(id["aud"], serde_json::json!([client_id]));
    assert_eq!(id["sub"], access["sub"]);
    assert_eq!(id["user_name"], "alice");
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    crate::common::verify_rs256(a.json["id_token"].as_str().unwrap(), &s.token_keys().await)
        .unwrap();

    // 4. A code works once.
    let again = s.token(Auth::Basic(&client_id, &secret), &exchange).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.json["error"], "invalid_grant");
    s.dev.stop().await;
}

#[tokio::test]
async fn redirect_uris_are_checked_at_authorize_and_at_the_exchange() {
    let s = Stack::start().await;
    let client_id = s.client_id();
    let secret = s.client_secret();

    for bad in [
        "https://evil.example.com/callback",
        "http://localhost.evil.com:80/x",
        "http://localhost:80@evil.com/x",
        "javascript:alert(1)",
        "http://localhost:5000/cb#fragment",
    ] {
        let page = get_authorize(
            &s,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", bad),
            ],
        )
        .await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.header("location").is_empty());
        assert!(page.text.contains("redirect-uris"), "{}", page.text);
        let resp = post_login(
            &s,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", bad),
                ("username", "alice"),
                ("password", &s.password_of("alice")),
            ],
        )
        .await;
        assert_eq!(resp.status(), 400, "{bad}");
    }
    // Other patterns of the repository descriptor.
    for good in [
        "http://127.0.0.1:4004/",
        "https://acme-dev-bridge.cfapps.eu10.hana.ondemand.com/login/callback",
    ] {
        let page = get_authorize(
            &s,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", good),
            ],
        )
        .await;
        assert_eq!(page.status, 200, "{good}");
    }
    // Unknown client, missing response_type.
    let page = get_authorize(
        &s,
        &[
            ("response_type", "code"),
            ("client_id", "sb-nobody!t1"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(page.status, 400);
    let page = get_authorize(&s, &[("client_id", &client_id), ("redirect_uri", REDIRECT)]).await;
    assert_eq!(page.status, 400);

    // The exchange must name the redirect URI the code was issued for; a wrong one spends it.
    let code = s
        .sign_in("bob", &s.password_of("bob"), "http://localhost:5000/a")
        .await;
    let a = s
        .token(
            Auth::Basic(&client_id, &secret),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://localhost:5000/b"),
            ],
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_grant");
    assert_eq!(a.json["error_description"], "Redirect URI mismatch.");
    let a = s
        .token(
            Auth::Basic(&client_id, &secret),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://localhost:5000/a"),
            ],
        )
        .await;
    assert_eq!(a.json["error"], "invalid_grant");
    s.dev.stop().await;
}

#[tokio::test]
async fn a_wrong_password_shows_the_page_again_without_echoing_it() {
    let s = Stack::start().await;
    let client_id = s.client_id();
    let wrong = testkit::logs::secret("not-alices-password-!");
    let resp = post_login(
        &s,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("state", "\"><script>alert(1)</script>"),
            ("username", "alice<b>"),
            ("password", &wrong),
        ],
    )
    .await;
    let page = Answer::of(resp).await;
    assert_eq!(page.status, 401);
    assert!(page.header("location").is_empty());
    assert!(page.text.contains("Unable to verify"), "{}", page.text);
    assert!(!page.text.contains(&wrong));
    assert!(!page.text.contains("<script>alert(1)</script>"));
    assert!(page.text.contains("&quot;&gt;&lt;script&gt;"));
    assert!(page.text.contains(r#"value="alice&lt;b&gt;""#));
    // An unknown user is told the same.
    let resp = post_login(
        &s,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("username", "mallory"),
            ("password", &wrong),
        ],
    )
    .await;
    assert_eq!(resp.status(), 401);
    s.dev.stop().await;
}

#[tokio::test]
async fn the_refresh_token_grant() {
    let s = Stack::start().await;
    let client_id = s.client_id();
    let secret = s.client_secret();
    let first = s.user_tokens("bob").await;
    let refresh = first.json["refresh_token"].as_str().unwrap().to_owned();
    let (_, before) = jwt_parts(&first.access_token());

    let a = s
        .token(
            Auth::None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &client_id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["refresh_token"], refresh.as_str());
    assert!(a.json["id_token"].is_string());
    let (_, after) = jwt_parts(&a.access_token());
    assert_eq!(after["grant_type"], "refresh_token");
    assert_eq!(after["scope"], before["scope"]);
    assert_eq!(after["user_id"], before["user_id"]);
    assert_eq!(after["auth_time"], before["auth_time"]);
    assert_ne!(after["jti"], before["jti"]);

    // Narrowing to a subset, and asking for more than was granted.
    let narrowed = s
        .token(
            Auth::Basic(&client_id, &secret),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", "bridge!t1.Read"),
            ],
        )
        .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.text);
    assert_eq!(narrowed.json["scope"], "bridge!t1.Read");
    assert!(
        narrowed.json.get("id_token").is_none(),
        "no openid, no ID token"
    );
    let more = s
        .token(
            Auth::Basic(&client_id, &secret),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", "bridge!t1.Write"),
            ],
        )
        .await;
    assert_eq!(more.status, 400);
    assert_eq!(more.json["error"], "invalid_scope");

    // Another client cannot use it.
    let other = s.dev.xsuaa().register_client(
        devstack::xsuaa::ClientSpec::new("sb-other!t1")
            .with_grant_types(&["refresh_token", "authorization_code"]),
    );
    testkit::logs::secret(other.expose());
    let a = s
        .token(
            Auth::Basic("sb-other!t1", other.expose()),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_grant");
    s.dev.stop().await;
}

async fn login_with_challenge(s: &Stack, challenge: &str) -> reqwest::Response {
    post_login(
        s,
        &[
            ("response_type", "code"),
            ("client_id", &s.client_id()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("username", "alice"),
            ("password", &s.password_of("alice")),
        ],
    )
    .await
}

#[tokio::test]
async fn pkce_s256_is_checked() {
    let s = Stack::start().await;
    let client_id = s.client_id();
    let secret = s.client_secret();
    let verifier = testkit::logs::secret("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()),
    );
    let (code, _) = code_of(&login_with_challenge(&s, &challenge).await);
    let a = s
        .token(
            Auth::Basic(&client_id, &secret),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "wrong-verifier-wrong-verifier-wrong-verifier",
                ),
            ],
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_grant");

    let (code, _) = code_of(&login_with_challenge(&s, &challenge).await);
    let a = s
        .token(
            Auth::Basic(&client_id, &secret),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    s.dev.stop().await;
}
