//! The local XSUAA's token endpoint over real HTTPS: client authentication (form fields, Basic,
//! Basic with `X-CF-ENCODED-CREDENTIALS`, mTLS), the token response, the password grant, and
//! the exact error answers (docs/protocols.md §XSUAA token endpoint).

use cfenv::{Vcap, XsuaaCredentialType};
use devstack::xsuaa::ClientSpec;

use crate::common::{Answer, Auth, Stack, jwt_parts, verify_rs256};

fn cc() -> (&'static str, &'static str) {
    ("grant_type", "client_credentials")
}

fn assert_token_response(a: &Answer) {
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["token_type"], "bearer");
    assert_eq!(a.json["expires_in"], 43_199);
    let (_, payload) = jwt_parts(&a.access_token());
    assert_eq!(a.json["jti"], payload["jti"]);
    assert!(a.header("cache-control").contains("no-store"));
    assert!(a.header("content-type").starts_with("application/json"));
}

#[tokio::test]
async fn client_credentials_with_form_fields() {
    let s = Stack::start().await;
    let (id, secret) = (s.client_id(), s.client_secret());
    let a = s
        .token(
            Auth::None,
            &[cc(), ("client_id", &id), ("client_secret", &secret)],
        )
        .await;
    assert_token_response(&a);
    assert_eq!(a.json["scope"], "bridge!t1.JobRunner uaa.resource");
    assert!(a.json.get("refresh_token").is_none());
    assert!(a.json.get("id_token").is_none());
    s.dev.stop().await;
}

#[tokio::test]
async fn client_credentials_with_basic() {
    let s = Stack::start().await;
    let (id, secret) = (s.client_id(), s.client_secret());
    let a = s.token(Auth::Basic(&id, &secret), &[cc()]).await;
    assert_token_response(&a);
    let (_, payload) = jwt_parts(&a.access_token());
    assert_eq!(payload["cid"], "sb-bridge!t1");
    s.dev.stop().await;
}

#[tokio::test]
async fn basic_with_encoded_credentials_and_a_plus_in_the_secret() {
    let s = Stack::start().await;
    let (id, secret) = (s.client_id(), s.client_secret());
    // Real secrets look like `<uuid>$<base64>`; ours always hold the troublesome characters.
    assert!(
        secret.contains('$') && secret.contains('+') && secret.contains('='),
        "secret shape"
    );
    let a = s.token(Auth::BasicEncoded(&id, &secret), &[cc()]).await;
    assert_token_response(&a);

    // The SAP troubleshooting case: the header says "encoded" but the `+` was not encoded, so
    // it decodes to a space and the secret no longer matches.
    let resp = s
        .browser()
        .post(format!("{}/oauth/token", s.uaa_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-CF-ENCODED-CREDENTIALS", "true")
        .basic_auth(&id, Some(&secret))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    s.dev.stop().await;
}

#[tokio::test]
async fn mtls_with_the_x509_binding_and_client_id_only() {
    let s = Stack::start().await;
    let vcap = s.dev.xsuaa_x509_vcap_services(1).unwrap();
    crate::common::register_secrets(&vcap);
    let binding = Vcap::from_json(&vcap.to_string(), "VCAP_SERVICES")
        .unwrap()
        .xsuaa(None)
        .unwrap();
    assert_eq!(binding.credential_type, XsuaaCredentialType::X509);
    assert!(binding.clientsecret.is_none());
    let certurl = binding.certurl.clone().unwrap();
    assert_eq!(certurl.as_str().trim_end_matches('/'), s.uaa_url());

    let pem = format!(
        "{}\n{}",
        binding.certificate.as_ref().unwrap().expose(),
        binding.key.as_ref().unwrap().expose()
    );
    let mtls = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(s.dev.ca_pem().as_bytes()).unwrap())
        .identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let a = s
        .token_with(&mtls, Auth::None, &[cc(), ("client_id", &binding.clientid)])
        .await;
    assert_token_response(&a);
    assert_eq!(a.json["scope"], "bridge!t1.JobRunner uaa.resource");

    // The certificate authenticates that client only.
    s.dev
        .xsuaa()
        .register_client(ClientSpec::new("sb-other!t1"));
    let a = s
        .token_with(&mtls, Auth::None, &[cc(), ("client_id", "sb-other!t1")])
        .await;
    assert_eq!(a.status, 401);
    // And without a certificate a client id alone is nothing.
    let a = s
        .token(Auth::None, &[cc(), ("client_id", &binding.clientid)])
        .await;
    assert_eq!(a.status, 401);
    s.dev.stop().await;
}

#[tokio::test]
async fn bad_credentials_get_uaa_s_exact_401() {
    let s = Stack::start().await;
    let id = s.client_id();
    let wrong = testkit::logs::secret("0f0e0d0c-0000-4000-8000-000000000000$d3JvbmcrPQ==");
    for a in [
        s.token(Auth::Basic(&id, &wrong), &[cc()]).await,
        s.token(
            Auth::None,
            &[cc(), ("client_id", &id), ("client_secret", &wrong)],
        )
        .await,
        s.token(Auth::Basic("sb-nobody!t1", &wrong), &[cc()]).await,
    ] {
        assert_eq!(a.status, 401);
        assert_eq!(
            a.json,
            serde_json::json!({"error": "unauthorized", "error_description": "Bad credentials"})
        );
        assert_eq!(
            a.header("www-authenticate"),
            r#"Basic realm="UAA/client", error="unauthorized", error_description="Bad credentials""#
        );
    }
    // No credentials at all: UAA's other 401.
    let a = s.token(Auth::None, &[cc()]).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json["error"], "unauthorized");
    assert_eq!(
        a.json["error_description"],
        "Full authentication is required to access this resource"
    );
    s.dev.stop().await;
}

#[tokio::test]
async fn request_errors_are_400_with_oauth_codes() {
    let s = Stack::start().await;
    let (id, secret) = (s.client_id(), s.client_secret());
    let auth = || Auth::Basic(&id, &secret);

    // A grant XSUAA knows but the local one does not implement.
    let a = s.token(auth(), &[("grant_type", "user_token")]).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "unsupported_grant_type");
    assert_eq!(
        a.json["error_description"],
        "Unsupported grant type: user_token"
    );

    let a = s.token(auth(), &[("grant_type", "magic")]).await;
    assert_eq!(a.json["error"], "unsupported_grant_type");

    let a = s.token(auth(), &[]).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_request");

    let a = s.token(auth(), &[cc(), ("scope", "bridge!t1.Write")]).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_scope");

    let a = s.token(auth(), &[cc(), cc()]).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_request");

    let a = s
        .token(auth(), &[("grant_type", "authorization_code")])
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_request");

    let a = s
        .token(
            auth(),
            &[("grant_type", "authorization_code"), ("code", "nope")],
        )
        .await;
    assert_eq!(a.json["error"], "invalid_grant");

    let a = s
        .token(
            auth(),
            &[("grant_type", "refresh_token"), ("refresh_token", "nope-r")],
        )
        .await;
    assert_eq!(a.json["error"], "invalid_grant");

    let resp = s
        .browser()
        .post(format!("{}/oauth/token", s.uaa_url()))
        .basic_auth(&id, Some(&secret))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    let a = Answer::of(resp).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_request");

    let resp = s
        .browser()
        .get(format!("{}/oauth/token", s.uaa_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let resp = s
        .browser()
        .get(format!("{}/nope", s.uaa_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    s.dev.stop().await;
}

#[tokio::test]
async fn scopes_can_be_narrowed() {
    let s = Stack::start().await;
    let (id, secret) = (s.client_id(), s.client_secret());
    let a = s
        .token(
            Auth::Basic(&id, &secret),
            &[cc(), ("scope", "bridge!t1.JobRunner")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["scope"], "bridge!t1.JobRunner");
    let (_, payload) = jwt_parts(&a.access_token());
    assert_eq!(payload["scope"], serde_json::json!(["bridge!t1.JobRunner"]));
    s.dev.stop().await;
}

#[tokio::test]
async fn registered_clients_get_their_authorities_and_grants() {
    let s = Stack::start().await;
    let bare = s.dev.xsuaa().register_client(ClientSpec::new("sb-bare!t1"));
    testkit::logs::secret(bare.expose());
    let a = s
        .token(Auth::Basic("sb-bare!t1", bare.expose()), &[cc()])
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["scope"], "");
    let (_, payload) = jwt_parts(&a.access_token());
    assert_eq!(payload["scope"], serde_json::json!([]));
    assert_eq!(payload["aud"], serde_json::json!(["sb-bare!t1"]));

    // The caller app the descriptor grants JobRunner to.
    let granted = s
        .dev
        .xsuaa()
        .descriptor()
        .authorities_granted_to("bridge-caller", "bridge!t1");
    let granted: Vec<&str> = granted.iter().map(String::as_str).collect();
    let caller = s.dev.xsuaa().register_client(
        ClientSpec::new("sb-bridge-caller!t1")
            .with_authorities(&granted)
            .with_secret(testkit::logs::secret("caller-secret-with+plus=")),
    );
    let a = s
        .token(
            Auth::BasicEncoded("sb-bridge-caller!t1", caller.expose()),
            &[cc()],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let (_, payload) = jwt_parts(&a.access_token());
    assert_eq!(payload["scope"], serde_json::json!(["bridge!t1.JobRunner"]));
    assert_eq!(
        payload["aud"],
        serde_json::json!(["bridge!t1", "sb-bridge-caller!t1"])
    );

    // A client without the authorization_code grant may not use it.
    let a = s
        .token(
            Auth::Basic("sb-bare!t1", bare.expose()),
            &[("grant_type", "authorization_code"), ("code", "x")],
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "unauthorized_client");
    s.dev.stop().await;
}

#[tokio::test]
async fn the_binding_is_what_cf_would_generate() {
    let s = Stack::start().await;
    let entry = &s.dev.vcap_services()["xsuaa"][0];
    assert_eq!(entry["label"], "xsuaa");
    assert_eq!(entry["plan"], "application");
    assert_eq!(entry["name"], "bridge-uaa");
    assert_eq!(entry["tags"], serde_json::json!(["xsuaa"]));
    let c = &entry["credentials"];
    let url = s.uaa_url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert_eq!(c["uaadomain"], url.trim_start_matches("https://"));
    assert_eq!(c["xsappname"], "bridge!t1");
    assert_eq!(c["clientid"], "sb-bridge!t1");
    assert_eq!(c["credential-type"], "binding-secret");
    assert_eq!(c["identityzone"], "dev");
    assert_eq!(c["tenantmode"], "dedicated");
    let zone = c["zoneid"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(zone).is_ok());
    for f in ["identityzoneid", "tenantid", "subaccountid"] {
        assert_eq!(c[f], zone, "{f}");
    }
    for f in ["apiurl", "sburl"] {
        assert_eq!(c[f], url.as_str(), "{f}");
    }
    assert_eq!(
        c["verificationkey"].as_str(),
        s.dev.xsuaa().token_keys()["keys"][0]["value"].as_str()
    );
    assert_eq!(c["serviceInstanceId"], entry["instance_guid"]);

    let binding = Vcap::from_json(&s.dev.vcap_services().to_string(), "VCAP_SERVICES")
        .unwrap()
        .xsuaa(None)
        .unwrap();
    assert_eq!(binding.credential_type, XsuaaCredentialType::BindingSecret);
    assert_eq!(binding.zoneid.as_deref(), Some(zone));
    s.dev.stop().await;
}

/// The claims of two tokens of the same user, minus what differs between any two issues.
fn stable_claims(token: &str) -> serde_json::Value {
    stable(jwt_parts(token).1)
}

fn stable(mut c: serde_json::Value) -> serde_json::Value {
    for f in ["jti", "iat", "exp", "auth_time", "grant_type"] {
        assert!(c.get(f).is_some(), "{f} missing: {c}");
        c.as_object_mut().unwrap().remove(f);
    }
    c
}

#[tokio::test]
async fn password_grant_answers_the_users_tokens_as_the_login_page_does() {
    let s = Stack::start().await;
    let (id, secret) = (s.client_id(), s.client_secret());
    let password = testkit::logs::secret(s.password_of("alice"));
    let a = s
        .token(
            Auth::None,
            &[
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("username", "alice"),
                ("password", &password),
            ],
        )
        .await;
    assert_token_response(&a);
    assert_eq!(a.json["scope"], "openid bridge!t1.Read bridge!t1.Write");
    let refresh = a.json["refresh_token"].as_str().unwrap().to_owned();
    let (_, id_token) = jwt_parts(a.json["id_token"].as_str().unwrap());
    assert_eq!(id_token["user_name"], "alice");
    assert_eq!(id_token["grant_type"], "password");
    assert!(verify_rs256(&a.access_token(), &s.token_keys().await).is_ok());

    // The same claims as the authorization-code token of that user, but the grant type.
    let (_, claims) = jwt_parts(&a.access_token());
    assert_eq!(claims["grant_type"], "password");
    let via_login = s.user_tokens("alice").await;
    assert_eq!(
        stable_claims(&a.access_token()),
        stable_claims(&via_login.access_token())
    );
    assert_eq!(
        stable_claims(&a.access_token()),
        stable(s.dev.xsuaa().user_claims("alice").unwrap())
    );

    // Its refresh token works like any other.
    let r = s
        .token(
            Auth::Basic(&id, &secret),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["scope"], "openid bridge!t1.Read bridge!t1.Write");

    // Bob holds Bridge Viewer: Read only. Basic client auth works too.
    let bob = testkit::logs::secret(s.password_of("bob"));
    let b = s
        .token(
            Auth::Basic(&id, &secret),
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", &bob),
            ],
        )
        .await;
    assert_token_response(&b);
    let (_, c) = jwt_parts(&b.access_token());
    assert_eq!(c["scope"], serde_json::json!(["openid", "bridge!t1.Read"]));
    assert_eq!(c["user_name"], "bob");

    // Scopes can be narrowed, never widened.
    let n = s
        .token(
            Auth::Basic(&id, &secret),
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", &bob),
                ("scope", "bridge!t1.Read"),
            ],
        )
        .await;
    assert_eq!(n.status, 200, "{}", n.text);
    assert_eq!(n.json["scope"], "bridge!t1.Read");
    assert!(n.json.get("id_token").is_none(), "no openid, no ID token");
    let w = s
        .token(
            Auth::Basic(&id, &secret),
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", &bob),
                ("scope", "bridge!t1.Write"),
            ],
        )
        .await;
    assert_eq!(w.status, 400);
    assert_eq!(w.json["error"], "invalid_scope");
    s.dev.stop().await;
}

#[tokio::test]
async fn password_grant_refusals_are_uaa_s() {
    let s = Stack::start().await;
    let (id, secret) = (s.client_id(), s.client_secret());
    let auth = || Auth::Basic(&id, &secret);
    let password = testkit::logs::secret(s.password_of("alice"));
    let wrong = testkit::logs::secret(format!("{password}x"));

    // A wrong password and an unknown user get the same answer.
    for (user, pw) in [("alice", wrong.as_str()), ("mallory", password.as_str())] {
        let a = s
            .token(
                auth(),
                &[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", pw),
                ],
            )
            .await;
        assert_eq!(a.status, 401, "{user}");
        assert_eq!(
            a.json,
            serde_json::json!({"error": "unauthorized", "error_description": "Name or password mismatch"})
        );
        assert!(!a.text.contains(pw));
    }

    let a = s
        .token(auth(), &[("grant_type", "password"), ("username", "alice")])
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_request");

    // The client's secret is checked before the user's password.
    let a = s
        .token(
            Auth::Basic(&id, &wrong),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", &password),
            ],
        )
        .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json["error_description"], "Bad credentials");

    // A client whose grant types do not list `password` may not use it.
    let cc_only = s.dev.xsuaa().register_client(ClientSpec::new("sb-cc!t1"));
    testkit::logs::secret(cc_only.expose());
    let a = s
        .token(
            Auth::Basic("sb-cc!t1", cc_only.expose()),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", &password),
            ],
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "unauthorized_client");
    assert_eq!(
        a.json["error_description"],
        "Unauthorized grant type: password"
    );
    s.dev.stop().await;
}
