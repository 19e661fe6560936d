//! The local Credential Store at the protocol level: raw HTTPS requests, as a client we did not
//! write would send them, including malformed ones. Every refusal is a clear 4xx in the
//! store's JSON error shape, and nothing is written.

use base64::Engine as _;
use credstore::jwe::{PrivateKey, PublicKey};
use reqwest::StatusCode;

use crate::common::Stack;

struct Raw {
    http: reqwest::Client,
    url: String,
    user: String,
    password: String,
    server_key: PublicKey,
}

impl Raw {
    fn new(s: &Stack) -> Self {
        let b = s.dev.vcap_services()["credstore"][0]["credentials"].clone();
        Self {
            http: s.http(),
            url: b["url"].as_str().unwrap().to_owned(),
            user: b["username"].as_str().unwrap().to_owned(),
            password: b["password"].as_str().unwrap().to_owned(),
            server_key: PublicKey::from_base64_der(
                b["encryption"]["server_public_key"].as_str().unwrap(),
            )
            .unwrap(),
        }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.url))
            .basic_auth(&self.user, Some(&self.password))
            .header("sapcp-credstore-namespace", "proto")
    }

    fn jwe(&self, json: &serde_json::Value, iat: i64) -> String {
        self.server_key
            .encrypt(json.to_string().as_bytes(), iat)
            .unwrap()
    }

    async fn post(&self, body: String, content_type: &str) -> (StatusCode, serde_json::Value) {
        let r = self
            .req(reqwest::Method::POST, "password")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn message(body: &serde_json::Value) -> String {
    body["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn refusals_are_clear_and_write_nothing() {
    let s = Stack::start().await;
    let raw = Raw::new(&s);
    let cred = serde_json::json!({"name": "p", "value": "never-stored-value-1"});
    testkit::logs::secret("never-stored-value-1");

    // Expired iat (5 minutes old).
    let (st, body) = raw
        .post(raw.jwe(&cred, now() - 300), "application/jose")
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("iat"), "{body}");
    assert_eq!(body["status"], 400);

    // Missing iat.
    let (st, body) = raw
        .post(jwe_without_iat(&raw, &cred), "application/jose")
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("iat"), "{body}");

    // Tampered ciphertext.
    let good = raw.jwe(&cred, now());
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut ct = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&parts[3])
        .unwrap();
    ct[0] ^= 0xff;
    parts[3] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ct);
    let (st, body) = raw.post(parts.join("."), "application/jose").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("decryption failed"), "{body}");

    // Encrypted to somebody else's key.
    let other = PrivateKey::generate().unwrap().public_key().unwrap();
    let (st, _) = raw
        .post(
            other.encrypt(cred.to_string().as_bytes(), now()).unwrap(),
            "application/jose",
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Not a JWE at all, plaintext JSON, oversized.
    let (st, _) = raw.post("a.b.c".into(), "application/jose").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, body) = raw.post(cred.to_string(), "application/json").await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(message(&body).contains("application/jose"), "{body}");
    let (st, _) = raw.post("x".repeat(70_000), "application/jose").await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);

    // Valid JWE, invalid credential JSON: missing value, name too long.
    let (st, body) = raw
        .post(
            raw.jwe(&serde_json::json!({"name": "p"}), now()),
            "application/jose",
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("value"), "{body}");
    let long = serde_json::json!({"name": "n".repeat(300), "value": "v-long-name-0001"});
    let (st, body) = raw.post(raw.jwe(&long, now()), "application/jose").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("name"), "{body}");

    // Nothing of the above was stored: the namespace still does not exist.
    let r = raw
        .req(reqwest::Method::GET, "passwords")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(message(&r.json().await.unwrap()).contains("namespace"));
    s.dev.stop().await;
}

fn jwe_without_iat(raw: &Raw, cred: &serde_json::Value) -> String {
    // Build a JWE whose header lacks `iat`: take a valid one and swap the header; the AAD then
    // no longer matches, but the store must refuse it for the missing iat before decrypting.
    let good = raw.jwe(cred, now());
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#);
    let rest: Vec<&str> = good.split('.').skip(1).collect();
    format!("{header}.{}", rest.join("."))
}

#[tokio::test]
async fn authentication_and_headers() {
    let s = Stack::start().await;
    let raw = Raw::new(&s);
    let url = format!("{}/password?name=x", raw.url);

    let r = raw
        .http
        .get(&url)
        .header("sapcp-credstore-namespace", "proto")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );

    let r = raw
        .http
        .get(&url)
        .basic_auth(&raw.user, Some("wrong"))
        .header("sapcp-credstore-namespace", "proto")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = raw
        .http
        .get(&url)
        .basic_auth(&raw.user, Some(&raw.password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(message(&r.json().await.unwrap()).contains("sapcp-credstore-namespace"));

    let r = raw
        .req(reqwest::Method::GET, "password")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "name is required");
    let r = raw
        .req(reqwest::Method::GET, "keyring?name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = raw
        .req(reqwest::Method::GET, "certificates?name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = raw
        .req(reqwest::Method::GET, "passwords?page=-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    s.dev.stop().await;
}

#[tokio::test]
async fn responses_are_encrypted_with_etag_and_conditional_get() {
    let s = Stack::start().await;
    let raw = Raw::new(&s);
    testkit::logs::secret("etag-value-55555");
    let (st, _) = raw
        .post(
            raw.jwe(
                &serde_json::json!({"name": "e", "value": "etag-value-55555"}),
                now(),
            ),
            "application/jose",
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let r = raw
        .req(reqwest::Method::GET, "password?name=e")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/jose;charset=UTF-8"
    );
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let body = r.text().await.unwrap();
    assert_eq!(body.split('.').count(), 5, "a compact JWE");
    assert!(!body.contains("etag-value-55555"));
    let r = raw
        .req(reqwest::Method::GET, "password?name=e")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    s.dev.stop().await;
}
