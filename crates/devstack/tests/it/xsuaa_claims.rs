//! Token contents in XSUAA's exact shapes (docs/protocols.md §XSUAA token claims): the header,
//! client and user claims, role collections → scopes, a users file, and minting custom tokens
//! for tests.

use serde_json::{Value, json};

use crate::common::{Stack, jwt_parts, verify_rs256};

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

fn keys_of(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[tokio::test]
async fn client_credentials_claims() {
    let s = Stack::start().await;
    let url = s.uaa_url();
    let token = s.client_token().await;
    let (header, c) = jwt_parts(&token);

    assert_eq!(
        header,
        json!({
            "alg": "RS256",
            "jku": format!("{url}/token_keys"),
            "kid": s.dev.xsuaa().active_kid(),
            "typ": "JWT",
        })
    );
    assert!(
        header["kid"]
            .as_str()
            .unwrap()
            .starts_with("default-jwt-key--")
    );

    assert_eq!(
        keys_of(&c),
        [
            "aud",
            "azp",
            "cid",
            "client_id",
            "exp",
            "ext_attr",
            "grant_type",
            "iat",
            "iss",
            "jti",
            "rev_sig",
            "scope",
            "sub",
            "zid"
        ]
    );
    let jti = c["jti"].as_str().unwrap();
    assert!(jti.len() == 32 && jti.chars().all(|c| c.is_ascii_hexdigit()));
    let rev_sig = c["rev_sig"].as_str().unwrap();
    assert!(rev_sig.len() == 8 && rev_sig.chars().all(|c| c.is_ascii_hexdigit()));
    for f in ["sub", "client_id", "cid", "azp"] {
        assert_eq!(c[f], "sb-bridge!t1", "{f}");
    }
    assert!(c["scope"].is_array(), "scope must be an array");
    assert_eq!(
        strings(&c["scope"]),
        ["bridge!t1.JobRunner", "uaa.resource"]
    );
    assert_eq!(strings(&c["aud"]), ["bridge!t1", "uaa", "sb-bridge!t1"]);
    assert_eq!(c["grant_type"], "client_credentials");
    assert_eq!(c["iss"], format!("{url}/oauth/token"));
    let zone = s.uaa()["zoneid"].clone();
    assert_eq!(c["zid"], zone);
    assert_eq!(
        c["ext_attr"],
        json!({"enhancer": "XSUAA", "subaccountid": zone, "zdn": "dev"})
    );
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 43_200);
    assert!((iat - chrono::Utc::now().timestamp()).abs() < 60);
    s.dev.stop().await;
}

#[tokio::test]
async fn user_claims_carry_role_collection_scopes() {
    let s = Stack::start().await;
    let alice = s.user_tokens("alice").await;
    let (_, a) = jwt_parts(&alice.access_token());
    assert_eq!(
        strings(&a["scope"]),
        ["openid", "bridge!t1.Read", "bridge!t1.Write"]
    );
    assert_eq!(strings(&a["aud"]), ["openid", "bridge!t1", "sb-bridge!t1"]);
    assert_eq!(a["grant_type"], "authorization_code");
    assert_eq!(a["user_name"], "alice");
    assert_eq!(a["origin"], "sap.default");
    assert_eq!(a["email"], "alice@example.com");
    assert_eq!(a["given_name"], "Alice");
    assert_eq!(a["family_name"], "Example");
    assert_eq!(a["sub"], a["user_id"]);
    assert!(uuid::Uuid::parse_str(a["user_id"].as_str().unwrap()).is_ok());
    assert_eq!(a["cid"], "sb-bridge!t1");
    assert_eq!(a["azp"], "sb-bridge!t1");
    assert_eq!(a["xs.user.attributes"], json!({}));
    assert_eq!(
        a["xs.system.attributes"],
        json!({"xs.rolecollections": ["Bridge Editor"]})
    );
    let auth_time = a["auth_time"].as_i64().unwrap();
    assert!(auth_time <= a["iat"].as_i64().unwrap());
    assert_eq!(a["ext_attr"]["enhancer"], "XSUAA");

    let bob = s.user_tokens("bob").await;
    let (_, b) = jwt_parts(&bob.access_token());
    assert_eq!(strings(&b["scope"]), ["openid", "bridge!t1.Read"]);
    assert_eq!(bob.json["scope"], "openid bridge!t1.Read");
    assert_eq!(
        b["xs.system.attributes"]["xs.rolecollections"],
        json!(["Bridge Viewer"])
    );
    assert_ne!(a["user_id"], b["user_id"]);
    s.dev.stop().await;
}

#[tokio::test]
async fn a_users_file_replaces_the_default_users() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.json");
    let password = testkit::logs::secret("carol's dev password 1");
    std::fs::write(
        &users,
        json!([{
            "username": "carol", "password": password, "email": "carol@acme.example",
            "given_name": "Carol", "family_name": "Acme",
            "role_collections": ["Bridge Viewer", "Bridge Editor"],
            "attributes": {"Country": ["DE", "FR"]}
        }, {
            "username": "dave", "password": testkit::logs::secret("dave's dev password 1")
        }])
        .to_string(),
    )
    .unwrap();
    let s = Stack::start_with(dir, |c| c.users_path = Some(users.clone())).await;
    let names: Vec<String> = s.dev.dev_users().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["carol", "dave"]);
    assert!(!s.dir.path().join("xsuaa").join("users.bin").exists());

    let carol = s.user_tokens("carol").await;
    let (_, c) = jwt_parts(&carol.access_token());
    assert_eq!(
        strings(&c["scope"]),
        ["openid", "bridge!t1.Read", "bridge!t1.Write"]
    );
    assert_eq!(c["email"], "carol@acme.example");
    assert_eq!(c["xs.user.attributes"], json!({"Country": ["DE", "FR"]}));
    let dave = s.user_tokens("dave").await;
    let (_, d) = jwt_parts(&dave.access_token());
    assert_eq!(strings(&d["scope"]), ["openid"]);
    assert_eq!(d["email"], "dave@example.com");
    s.dev.stop().await;
}

#[tokio::test]
async fn a_users_file_naming_an_unknown_role_collection_stops_start_up() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.json");
    let password = testkit::logs::secret("erin's dev password 1");
    std::fs::write(
        &users,
        json!([{"username": "erin", "password": password, "role_collections": ["Bridge Admin"]}])
            .to_string(),
    )
    .unwrap();
    let mut config = devstack::DevConfig::new(dir.path()).ephemeral();
    config.users_path = Some(users);
    let err = devstack::DevStack::start(config).await.err().unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains("users.json") && msg.contains("Bridge Admin"),
        "{msg}"
    );
    assert!(msg.contains("erin") && !msg.contains(&password), "{msg}");
}

#[tokio::test]
async fn another_descriptor_can_be_served() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("xs-security.json");
    std::fs::write(
        &path,
        json!({
            "xsappname": "other",
            "scopes": [{"name": "$XSAPPNAME.Do"}],
            "authorities": ["$XSAPPNAME.Do"],
            "oauth2-configuration": {"token-validity": 600}
        })
        .to_string(),
    )
    .unwrap();
    let s = Stack::start_with(dir, |c| c.xs_security_path = Some(path.clone())).await;
    assert_eq!(s.client_id(), "sb-other!t1");
    assert_eq!(s.uaa()["xsappname"], "other!t1");
    let token = s.client_token().await;
    let (_, c) = jwt_parts(&token);
    assert_eq!(strings(&c["scope"]), ["other!t1.Do", "uaa.resource"]);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    s.dev.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("xs-security.json");
    std::fs::write(
        &path,
        r#"{"xsappname": "x", "oauth2-configuration": {"token-validity": 5}}"#,
    )
    .unwrap();
    let mut config = devstack::DevConfig::new(dir.path()).ephemeral();
    config.xs_security_path = Some(path);
    let err = devstack::DevStack::start(config).await.err().unwrap();
    assert!(
        err.to_string()
            .contains("oauth2-configuration.token-validity"),
        "{err}"
    );
}

#[tokio::test]
async fn tests_can_mint_their_own_tokens() {
    let s = Stack::start().await;
    let x = s.dev.xsuaa();
    let jwks = s.token_keys().await;

    // The standard claims, changed, signed with the active key.
    let mut claims = x.client_claims("sb-bridge!t1").unwrap();
    assert_eq!(
        claims["scope"],
        json!(["bridge!t1.JobRunner", "uaa.resource"])
    );
    claims["scope"] = json!("bridge!t1.JobRunner");
    let token = x.sign_jwt(&x.jwt_header(None), &claims, None).unwrap();
    testkit::logs::secret(&token);
    verify_rs256(&token, &jwks).unwrap();
    let (_, decoded) = jwt_parts(&token);
    assert_eq!(decoded["scope"], "bridge!t1.JobRunner");

    let user = x.user_claims("bob").unwrap();
    assert_eq!(user["scope"], json!(["openid", "bridge!t1.Read"]));
    assert_eq!(user["user_name"], "bob");
    assert!(x.user_claims("nobody").is_none());
    assert!(x.client_claims("sb-nobody!t1").is_none());

    // Any header: here an HS256 lie and no kid.
    let odd = x
        .sign_jwt(
            &json!({"alg": "HS256", "typ": "JWT"}),
            &json!({"a": 1}),
            None,
        )
        .unwrap();
    let (h, _) = jwt_parts(&odd);
    assert_eq!(h, json!({"alg": "HS256", "typ": "JWT"}));

    // Byte-level control: a padded payload.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE;
    let input = format!(
        "{}.{}",
        b64.encode(x.jwt_header(None).to_string()),
        b64.encode(b"{\"x\":1}")
    );
    let sig = x.sign(None, input.as_bytes()).unwrap();
    assert_eq!(sig.len(), 256);

    assert!(matches!(
        x.sign_jwt(&json!({}), &json!({}), Some("default-jwt-key--0")),
        Err(devstack::xsuaa::SignError::UnknownKey(_))
    ));
    s.dev.stop().await;
}
