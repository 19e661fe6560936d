//! The local XSUAA's keys: the `/token_keys` document, signatures that verify with it, key
//! rotation with a grace period (admin endpoint and API), OpenID discovery, and what a restart
//! keeps.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use crate::common::{Auth, Stack, jwt_parts, verify_rs256};

#[tokio::test]
async fn token_keys_look_like_xsuaa_s() {
    let s = Stack::start().await;
    let resp = s
        .browser()
        .get(format!("{}/token_keys?zid={}", s.uaa_url(), "anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(h["cache-control"].to_str().unwrap().contains("no-store"));
    let etag = h["etag"].to_str().unwrap().to_owned();
    let jwks: serde_json::Value = resp.json().await.unwrap();

    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    let mut fields: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["alg", "e", "kid", "kty", "n", "use", "value"]);
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["e"], "AQAB");
    assert_eq!(k["use"], "sig");
    assert_eq!(k["alg"], "RS256");
    assert_eq!(k["kid"], s.dev.xsuaa().active_kid());
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(k["n"].as_str().unwrap())
        .unwrap();
    assert_eq!(n.len(), 257, "2048 bits plus a leading zero byte");
    assert_eq!(n[0], 0);
    assert!(n[1] & 0x80 != 0);
    // What real XSUAA's look like: `AL…`, `AM…` (a zero byte, then the top bit set).
    assert!(k["n"].as_str().unwrap().starts_with('A'));
    let pem = k["value"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(pem.ends_with("\n-----END PUBLIC KEY-----"));
    assert_eq!(pem, s.uaa()["verificationkey"].as_str().unwrap());

    // Without zid, and conditional.
    assert_eq!(s.token_keys().await, jwks);
    let resp = s
        .browser()
        .get(format!("{}/token_keys", s.uaa_url()))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    s.dev.stop().await;
}

#[tokio::test]
async fn issued_tokens_verify_with_the_published_key() {
    let s = Stack::start().await;
    let jwks = s.token_keys().await;
    let token = s.client_token().await;
    verify_rs256(&token, &jwks).unwrap();
    let user = s.user_tokens("alice").await;
    verify_rs256(&user.access_token(), &jwks).unwrap();

    // A changed payload does not.
    let (head, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"scope": ["bridge!t1.Write"]}).to_string());
    let forged = format!("{head}.{forged_payload}.{sig}");
    assert!(verify_rs256(&forged, &jwks).is_err());
    s.dev.stop().await;
}

#[tokio::test]
async fn rotation_publishes_both_keys_and_old_tokens_still_verify() {
    let s = Stack::start().await;
    let old_kid = s.dev.xsuaa().active_kid();
    let old_token = s.client_token().await;

    let admin = std::fs::read_to_string(s.dev.xsuaa().admin_secret_path()).unwrap();
    let admin = admin.trim();
    let mode = std::fs::metadata(s.dev.xsuaa().admin_secret_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let rotate = |bearer: &str| {
        s.browser()
            .post(format!("{}/admin/rotate-keys", s.uaa_url()))
            .bearer_auth(bearer)
            .send()
    };
    let denied = rotate("not-the-admin-secret").await.unwrap();
    assert_eq!(denied.status(), 401);
    assert!(
        denied.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let refused = s
        .browser()
        .post(format!("{}/admin/rotate-keys", s.uaa_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // A client secret is not the admin secret.
    let (id, secret) = (s.client_id(), s.client_secret());
    let refused = s
        .browser()
        .post(format!("{}/admin/rotate-keys", s.uaa_url()))
        .basic_auth(&id, Some(&secret))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(s.dev.xsuaa().active_kid(), old_kid);

    let ok = rotate(admin).await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().await.unwrap();
    let new_kid = body["active_kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(body["published_kids"], json!([new_kid, old_kid]));

    let jwks = s.token_keys().await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [new_kid.as_str(), old_kid.as_str()]);
    let new_token = s.client_token().await;
    assert_eq!(jwt_parts(&new_token).0["kid"], new_kid.as_str());
    verify_rs256(&new_token, &jwks).unwrap();
    verify_rs256(&old_token, &jwks).unwrap();

    // The API does the same.
    let third = s.dev.rotate_keys().unwrap();
    assert_eq!(
        s.dev.xsuaa().published_kids(),
        [third.as_str(), new_kid.as_str(), old_kid.as_str()]
    );
    s.dev.stop().await;
}

#[tokio::test]
async fn rotated_out_keys_are_dropped_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let s = Stack::start_with(dir, |c| c.xsuaa_key_grace = Duration::from_millis(800)).await;
    let old_kid = s.dev.xsuaa().active_kid();
    let old_token = s.client_token().await;
    let new_kid = s.dev.rotate_keys().unwrap();
    assert_eq!(
        s.dev.xsuaa().published_kids(),
        [new_kid.as_str(), old_kid.as_str()]
    );

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.dev.xsuaa().published_kids().len() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "old key still published"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let jwks = s.token_keys().await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], new_kid.as_str());
    assert!(verify_rs256(&old_token, &jwks).is_err());
    assert!(matches!(
        s.dev
            .xsuaa()
            .sign_jwt(&json!({}), &json!({}), Some(&old_kid)),
        Err(devstack::xsuaa::SignError::UnknownKey(_))
    ));
    s.dev.stop().await;
}

#[tokio::test]
async fn openid_configuration() {
    let s = Stack::start().await;
    let url = s.uaa_url();
    let doc: serde_json::Value = s
        .browser()
        .get(format!("{url}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], format!("{url}/oauth/token"));
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{url}/oauth/authorize")
    );
    assert_eq!(doc["token_endpoint"], format!("{url}/oauth/token"));
    assert_eq!(doc["jwks_uri"], format!("{url}/token_keys"));
    assert_eq!(
        doc["mtls_endpoint_aliases"]["token_endpoint"],
        format!("{url}/oauth/token")
    );
    assert_eq!(
        doc["grant_types_supported"],
        json!([
            "client_credentials",
            "authorization_code",
            "refresh_token",
            "password"
        ])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    s.dev.stop().await;
}

#[tokio::test]
async fn restart_keeps_keys_users_and_the_client_secret() {
    let s = Stack::start().await;
    let kid = s.dev.xsuaa().active_kid();
    let rotated = s.dev.rotate_keys().unwrap();
    let token = s.client_token().await;
    let secret = s.client_secret();
    let alice = s.password_of("alice");
    let bob = s.password_of("bob");
    let Stack { dev, dir } = s;
    dev.stop().await;

    let x = dir.path().join("xsuaa");
    let mode = |f: &str| std::fs::metadata(x.join(f)).unwrap().permissions().mode() & 0o777;
    for f in [
        "master.key",
        "keys.bin",
        "users.bin",
        "identity.bin",
        "admin-secret",
    ] {
        assert_eq!(mode(f), 0o600, "{f}");
    }
    assert_eq!(
        std::fs::metadata(&x).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for f in ["keys.bin", "users.bin", "identity.bin"] {
        let sealed = std::fs::read(x.join(f)).unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(
            !text.contains("alice") && !text.contains(&alice) && !text.contains(&secret),
            "{f} is not sealed"
        );
    }

    let again = Stack::start_in(dir).await;
    assert_eq!(again.client_secret(), secret);
    assert_eq!(again.dev.xsuaa().active_kid(), rotated);
    assert_eq!(
        again.dev.xsuaa().published_kids(),
        [rotated.as_str(), kid.as_str()]
    );
    assert_eq!(again.password_of("alice"), alice);
    assert_eq!(again.password_of("bob"), bob);
    verify_rs256(&token, &again.token_keys().await).unwrap();
    let a = again.user_tokens("alice").await;
    assert_eq!(jwt_parts(&a.access_token()).1["user_name"], "alice");
    let (id, secret) = (again.client_id(), again.client_secret());
    let cc = again
        .token(
            Auth::Basic(&id, &secret),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(cc.status, 200);
    again.dev.stop().await;
}
