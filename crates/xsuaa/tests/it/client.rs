//! The token client against a fake `/oauth/token` on 127.0.0.1:0: the wire format of each
//! client authentication, the cache (hits, single flight, refresh margin), failures, and that no
//! secret or token shows up in any `Debug`/`Display` output.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cfenv::{Secret, XsuaaCredentialType};
use xsuaa::client::{ClientAuthStyle, ClientOptions, TokenClient, TokenRequest};
use xsuaa::error::TokenError;

use crate::util::{CLIENTID, FakeUaa, Reply, XSAPPNAME, binding, client_secret};

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn options(style: ClientAuthStyle) -> ClientOptions {
    ClientOptions {
        auth_style: style,
        ..ClientOptions::default()
    }
}

async fn setup(style: ClientAuthStyle) -> (FakeUaa, TokenClient) {
    let uaa = FakeUaa::start().await;
    let client = TokenClient::from_binding(&binding(&uaa.url), &options(style)).unwrap();
    (uaa, client)
}

fn token_reply(expires_in: u64) -> Reply {
    Reply::Token {
        expires_in,
        latency: Duration::ZERO,
    }
}

#[tokio::test]
async fn form_fields_on_the_wire() {
    let (uaa, client) = setup(ClientAuthStyle::Form).await;
    let secret = client_secret();
    assert!(secret.contains('+') && secret.contains('$') && secret.contains('='));
    let token = client.access_token().await.unwrap();

    let [req] = uaa.requests().try_into().unwrap();
    assert_eq!(
        req.body,
        format!(
            "grant_type=client_credentials&client_id=sb-myapp%21t12345&client_secret={}",
            enc(&secret)
        )
    );
    assert_eq!(
        req.form(),
        [
            ("grant_type".into(), "client_credentials".into()),
            ("client_id".into(), CLIENTID.into()),
            ("client_secret".into(), secret.clone()),
        ]
    );
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.header("x-cf-encoded-credentials"), None);
    assert_eq!(req.header("x-zid"), None);

    assert_eq!(token.token.expose(), uaa.issued()[0]);
    assert_eq!(
        token.scopes,
        [format!("{XSAPPNAME}.Read"), "uaa.resource".into()]
    );
    assert_eq!(client.token_url(), format!("{}/oauth/token", uaa.url));
    assert_eq!(client.client_id(), CLIENTID);
}

#[tokio::test]
async fn basic_auth_url_encodes_before_base64() {
    let (uaa, client) = setup(ClientAuthStyle::Basic).await;
    let secret = client_secret();
    client.access_token().await.unwrap();

    let [req] = uaa.requests().try_into().unwrap();
    assert_eq!(req.body, "grant_type=client_credentials");
    let expected = STANDARD.encode(format!("sb-myapp%21t12345:{}", enc(&secret)));
    assert_eq!(
        req.header("authorization"),
        Some(format!("Basic {expected}").as_str())
    );
    assert_eq!(req.header("x-cf-encoded-credentials"), Some("true"));
    // What UAA does with it: base64-decode, split at the first ':', URL-decode each half.
    let decoded = String::from_utf8(
        STANDARD
            .decode(
                req.header("authorization")
                    .unwrap()
                    .strip_prefix("Basic ")
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    let (id, pw) = decoded.split_once(':').unwrap();
    let dec = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned()
    };
    assert_eq!((dec(id), dec(pw)), (CLIENTID.to_owned(), secret));
}

#[tokio::test]
async fn scopes_and_zone_are_sent_and_keyed_separately() {
    let (uaa, client) = setup(ClientAuthStyle::Form).await;
    let request = TokenRequest {
        scopes: vec![format!("{XSAPPNAME}.Write"), format!("{XSAPPNAME}.Read")],
        zone_id: Some("zone-2".into()),
    };
    client.access_token_for(&request).await.unwrap();
    let req = &uaa.requests()[0];
    assert!(
        req.form().contains(&(
            "scope".into(),
            format!("{XSAPPNAME}.Read {XSAPPNAME}.Write")
        )),
        "{:?}",
        req.form()
    );
    assert_eq!(req.header("x-zid"), Some("zone-2"));

    // Same scopes in another order: the same cache entry.
    let reordered = TokenRequest {
        scopes: request.scopes.iter().rev().cloned().collect(),
        ..request.clone()
    };
    client.access_token_for(&reordered).await.unwrap();
    assert_eq!(uaa.count(), 1);
    // The default request is another entry.
    client.access_token().await.unwrap();
    assert_eq!(uaa.count(), 2);
    assert!(!uaa.requests()[1].form().iter().any(|(k, _)| k == "scope"));
}

#[tokio::test(start_paused = true)]
async fn cached_token_is_served_until_the_refresh_margin() {
    let (uaa, client) = setup(ClientAuthStyle::Form).await;
    uaa.reply(token_reply(3600));
    let first = client.access_token().await.unwrap();
    let again = client.access_token().await.unwrap();
    assert_eq!(uaa.count(), 1, "cache hit");
    assert_eq!(again.token, first.token);

    tokio::time::advance(Duration::from_secs(3600 - 300 - 1)).await;
    assert_eq!(client.access_token().await.unwrap().token, first.token);
    assert_eq!(uaa.count(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    let refreshed = client.access_token().await.unwrap();
    assert_eq!(uaa.count(), 2, "refreshed 300 s before expiry");
    assert_ne!(refreshed.token, first.token);
    assert!(refreshed.expires_at > first.expires_at);
}

#[tokio::test(start_paused = true)]
async fn refresh_margin_is_at_most_half_the_lifetime() {
    let (uaa, client) = setup(ClientAuthStyle::Form).await;
    uaa.reply(token_reply(400));
    client.access_token().await.unwrap();
    tokio::time::advance(Duration::from_secs(199)).await;
    client.access_token().await.unwrap();
    assert_eq!(uaa.count(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    client.access_token().await.unwrap();
    assert_eq!(uaa.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_one_request() {
    let (uaa, client) = setup(ClientAuthStyle::Form).await;
    uaa.reply(Reply::Token {
        expires_in: 3600,
        latency: Duration::from_millis(50),
    });
    let client = Arc::new(client);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.access_token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap().token);
    }
    assert_eq!(uaa.count(), 1);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
}

#[tokio::test(start_paused = true)]
async fn failed_refresh_serves_the_valid_token_but_never_an_expired_one() {
    let (uaa, client) = setup(ClientAuthStyle::Form).await;
    uaa.reply(token_reply(3600));
    let first = client.access_token().await.unwrap();

    tokio::time::advance(Duration::from_secs(3400)).await;
    uaa.reply(Reply::Status(
        503,
        r#"{"error":"temporarily_unavailable"}"#.into(),
    ));
    let served = client.access_token().await.unwrap();
    assert_eq!(served.token, first.token);
    assert_eq!(uaa.count(), 2, "a refresh was attempted");
    // No retry storm: the next attempt waits a little.
    client.access_token().await.unwrap();
    assert_eq!(uaa.count(), 2);
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(client.access_token().await.unwrap().token, first.token);
    assert_eq!(uaa.count(), 3);

    // Past expiry (and inside the retry pause): the error, not the expired token.
    tokio::time::advance(Duration::from_secs(3600 - 3411 - 5)).await;
    client.access_token().await.unwrap();
    tokio::time::advance(Duration::from_secs(6)).await;
    let err = client.access_token().await.unwrap_err();
    assert!(
        matches!(err, TokenError::Rejected { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());

    uaa.reply(token_reply(3600));
    let fresh = client.access_token().await.unwrap();
    assert_ne!(fresh.token, first.token);
}

#[tokio::test(start_paused = true)]
async fn failed_refresh_after_expiry_is_an_error() {
    let (uaa, client) = setup(ClientAuthStyle::Form).await;
    uaa.reply(token_reply(60));
    client.access_token().await.unwrap();
    uaa.reply(Reply::Status(500, String::new()));
    tokio::time::advance(Duration::from_secs(61)).await;
    let err = client.access_token().await.unwrap_err();
    assert_eq!(
        err,
        TokenError::Rejected {
            status: 500,
            error: None,
            error_description: None
        }
    );
}

#[tokio::test]
async fn oauth_error_json_becomes_rejected() {
    let (uaa, client) = setup(ClientAuthStyle::Form).await;
    uaa.reply(Reply::Status(
        401,
        r#"{"error":"unauthorized","error_description":"Bad credentials"}"#.into(),
    ));
    let err = client.access_token().await.unwrap_err();
    assert_eq!(
        err,
        TokenError::Rejected {
            status: 401,
            error: Some("unauthorized".into()),
            error_description: Some("Bad credentials".into()),
        }
    );
    assert!(!err.is_transient());
    // A failure is not cached: the next call asks again.
    client.access_token().await.unwrap_err();
    assert_eq!(uaa.count(), 2);
}

#[tokio::test]
async fn user_grants_use_the_client_auth_and_are_not_cached() {
    let (uaa, client) = setup(ClientAuthStyle::Basic).await;
    let tokens = client
        .authorization_code("code-123", "https://app.example/login/callback")
        .await
        .unwrap();
    let issued = uaa.issued();
    assert_eq!(tokens.access_token.expose(), issued[0]);
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose(), issued[1]);
    assert_eq!(tokens.id_token.as_ref().unwrap().expose(), issued[2]);
    assert_eq!(tokens.expires_in, 43199);
    assert_eq!(
        uaa.requests()[0].body,
        "grant_type=authorization_code&code=code-123&redirect_uri=https%3A%2F%2Fapp.example%2Flogin%2Fcallback"
    );
    assert!(uaa.requests()[0].header("authorization").is_some());

    let refresh_token = tokens.refresh_token.unwrap();
    client.refresh(&refresh_token).await.unwrap();
    client.refresh(&refresh_token).await.unwrap();
    assert_eq!(uaa.count(), 3);
    assert_eq!(
        uaa.requests()[1].form(),
        [
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), refresh_token.expose().to_owned()),
        ]
    );

    let (uaa, form_client) = setup(ClientAuthStyle::Form).await;
    form_client.refresh(&refresh_token).await.unwrap();
    let keys: Vec<_> = uaa.requests()[0]
        .form()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        ["grant_type", "client_id", "client_secret", "refresh_token"]
    );
}

#[tokio::test]
async fn password_grant_sends_the_user_credentials_beside_the_client_auth() {
    testkit::logs::init();
    let password = Secret::new(testkit::logs::secret("p@ss word+with=odd&chars"));
    let (uaa, client) = setup(ClientAuthStyle::Form).await;
    let tokens = client.password("alice", &password).await.unwrap();
    let issued = uaa.issued();
    assert_eq!(tokens.access_token.expose(), issued[0]);
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose(), issued[1]);
    assert_eq!(
        tokens.scopes,
        [format!("{XSAPPNAME}.Read"), "uaa.resource".into()]
    );
    let [req] = uaa.requests().try_into().unwrap();
    assert_eq!(
        req.form(),
        [
            ("grant_type".into(), "password".into()),
            ("client_id".into(), CLIENTID.into()),
            ("client_secret".into(), client_secret()),
            ("username".into(), "alice".into()),
            ("password".into(), password.expose().to_owned()),
        ]
    );
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );

    // Uncached: a second call asks again. With Basic, the form holds only the grant.
    let (uaa, basic) = setup(ClientAuthStyle::Basic).await;
    basic.password("alice", &password).await.unwrap();
    basic.password("alice", &password).await.unwrap();
    assert_eq!(uaa.count(), 2);
    let keys: Vec<_> = uaa.requests()[0]
        .form()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["grant_type", "username", "password"]);
    assert!(uaa.requests()[0].header("authorization").is_some());

    // UAA's answer to a wrong password: 401 `unauthorized`, never echoing the password.
    uaa.reply(Reply::Status(
        401,
        r#"{"error":"unauthorized","error_description":"Name or password mismatch"}"#.into(),
    ));
    let err = basic.password("alice", &password).await.unwrap_err();
    assert_eq!(
        err,
        TokenError::Rejected {
            status: 401,
            error: Some("unauthorized".into()),
            error_description: Some("Name or password mismatch".into()),
        }
    );
    assert!(!err.is_transient());
    for shown in [
        format!("{err:?}"),
        err.to_string(),
        format!("{basic:?}"),
        format!("{tokens:?}"),
    ] {
        assert!(!shown.contains(password.expose()), "{shown}");
        assert!(!shown.contains(&enc(password.expose())), "{shown}");
    }
}

#[tokio::test]
async fn x509_binding_posts_client_id_only_to_certurl() {
    let uaa = FakeUaa::start().await;
    let cert = rcgen::generate_simple_self_signed(vec!["client".into()]).unwrap();
    let key_pem = testkit::logs::secret(cert.signing_key.serialize_pem());
    let mut b = binding("https://acme-dev.authentication.eu10.hana.ondemand.com");
    b.credential_type = XsuaaCredentialType::X509;
    b.clientsecret = None;
    b.certificate = Some(Secret::new(cert.cert.pem()));
    b.key = Some(Secret::new(key_pem.clone()));
    // The fake speaks plain HTTP, so no certificate is presented; the body is what we check.
    b.certurl = Some(uaa.url.parse().unwrap());
    let client = TokenClient::from_binding(&b, &ClientOptions::default()).unwrap();
    assert_eq!(client.token_url(), format!("{}/oauth/token", uaa.url));
    client.access_token().await.unwrap();
    let [req] = uaa.requests().try_into().unwrap();
    assert_eq!(
        req.body,
        "grant_type=client_credentials&client_id=sb-myapp%21t12345"
    );
    assert_eq!(req.header("authorization"), None);

    let debug = format!("{client:?}");
    assert!(
        debug.contains("x509") && !debug.contains("PRIVATE KEY"),
        "{debug}"
    );

    b.key = Some(Secret::new(
        "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----",
    ));
    let err = TokenClient::from_binding(&b, &ClientOptions::default()).unwrap_err();
    assert!(matches!(err, TokenError::Binding { .. }), "{err:?}");

    b.credential_type = XsuaaCredentialType::Other("X509_PROVIDED".into());
    b.certificate = None;
    b.key = None;
    let err = TokenClient::from_binding(&b, &ClientOptions::default()).unwrap_err();
    assert!(err.to_string().contains("X509_PROVIDED"), "{err}");
    assert!(!err.to_string().contains(&key_pem[40..60]));
}

#[tokio::test]
async fn x509_binding_authenticates_with_its_certificate_over_mtls() {
    let cert = rcgen::generate_simple_self_signed(vec!["sb-myapp".into()]).unwrap();
    let key_pem = testkit::logs::secret(cert.signing_key.serialize_pem());
    let (uaa, server_pem) = FakeUaa::start_mtls(cert.cert.der().clone()).await;
    let mut b = binding("https://acme-dev.authentication.eu10.hana.ondemand.com");
    b.credential_type = XsuaaCredentialType::X509;
    b.clientsecret = None;
    b.certificate = Some(Secret::new(cert.cert.pem()));
    b.key = Some(Secret::new(key_pem));
    b.certurl = Some(uaa.url.parse().unwrap());
    let options = ClientOptions {
        extra_roots_pem: vec![server_pem.clone()],
        ..ClientOptions::default()
    };
    let client = TokenClient::from_binding(&b, &options).unwrap();
    let token = client.access_token().await.unwrap();
    assert_eq!(token.token.expose(), uaa.issued()[0]);
    let [req] = uaa.requests().try_into().unwrap();
    assert_eq!(
        req.body,
        "grant_type=client_credentials&client_id=sb-myapp%21t12345"
    );

    // The same server refuses a client without the certificate: the handshake fails.
    let mut secret_binding = binding("https://unused.example");
    secret_binding.url = uaa.url.parse().unwrap();
    let no_cert = TokenClient::from_binding(&secret_binding, &options).unwrap();
    let err = no_cert.access_token().await.unwrap_err();
    assert!(matches!(err, TokenError::Unreachable { .. }), "{err:?}");
    assert_eq!(uaa.count(), 1);
}

#[tokio::test]
async fn invalid_token_responses_are_refused() {
    let (uaa, client) = setup(ClientAuthStyle::Form).await;
    for (body, what) in [
        (
            r#"{"access_token":"eyJ.x.y","token_type":"bearer"}"#,
            "no expires_in",
        ),
        (
            r#"{"access_token":"","token_type":"bearer","expires_in":60}"#,
            "empty token",
        ),
        (
            r#"{"access_token":"eyJ.x.y","token_type":"mac","expires_in":60}"#,
            "not bearer",
        ),
        ("<html>", "not JSON"),
    ] {
        uaa.reply(Reply::Status(200, body.into()));
        let err = client.access_token().await.unwrap_err();
        assert!(
            matches!(err, TokenError::InvalidResponse(_)),
            "{what}: {err:?}"
        );
        assert!(!err.to_string().contains("eyJ"), "{err}");
    }
}

#[tokio::test(start_paused = true)]
async fn no_secret_or_token_in_any_debug_or_display() {
    testkit::logs::init();
    let secret = client_secret();
    let (uaa, client) = setup(ClientAuthStyle::Basic).await;
    let mut shown = vec![format!("{client:?}")];

    let token = client.access_token().await.unwrap();
    shown.push(format!("{token:?}"));
    let user = client
        .authorization_code("c", "https://app/cb")
        .await
        .unwrap();
    shown.push(format!("{user:?}"));

    for reply in [
        Reply::Status(
            401,
            r#"{"error":"unauthorized","error_description":"Bad credentials"}"#.into(),
        ),
        Reply::Status(500, format!("{{\"echo\":\"{secret}\"}}")),
        Reply::Status(200, format!("{{\"access_token\":7,\"echo\":\"{secret}\"}}")),
        // Slower than the client's timeout: a Timeout error.
        Reply::Token {
            expires_in: 60,
            latency: Duration::from_secs(30),
        },
    ] {
        uaa.reply(reply);
        let err = client
            .access_token_for(&TokenRequest {
                zone_id: Some("z".into()),
                ..TokenRequest::default()
            })
            .await
            .unwrap_err();
        shown.push(format!("{err:?}"));
        shown.push(err.to_string());
    }
    assert!(
        shown.iter().any(|s| s.contains("did not answer")),
        "{shown:?}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = TokenClient::from_binding(
        &binding(&format!("http://127.0.0.1:{port}")),
        &ClientOptions::default(),
    )
    .unwrap();
    let err = gone.access_token().await.unwrap_err();
    assert!(matches!(err, TokenError::Unreachable { .. }), "{err:?}");
    assert!(err.is_transient());
    shown.push(format!("{err:?}"));
    shown.push(err.to_string());

    let mut forbidden = vec![
        secret.clone(),
        enc(&secret),
        STANDARD.encode(format!("sb-myapp%21t12345:{}", enc(&secret))),
    ];
    forbidden.extend(uaa.issued());
    for text in &shown {
        for f in &forbidden {
            assert!(!text.contains(f.as_str()), "{text:?} leaks a secret");
        }
        // Also no tell-tale fragment of the secret.
        assert!(!text.contains(&secret[..20]), "{text:?}");
    }
    assert!(shown.iter().any(|s| s.contains("[redacted]")));
}
