//! Interop with the npm `jose` package: it encrypts what our store and client decrypt, and
//! decrypts what they encrypt. Run by `cargo xtask ci`, which installs the pinned package.

use std::io::Write;
use std::process::Stdio;

use credstore::jwe::{IatPolicy, PrivateKey};
use credstore::{CredentialStore, CredentialType};

use crate::common::Stack;

fn jose(args: &[&str], stdin: &str) -> String {
    let mut child = testkit::node_script("jwe.mjs")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node must be installed (cargo xtask ci installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    testkit::logs::capture_output("node jwe.mjs", &stderr);
    assert!(out.status.success(), "jose failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn jose_encrypts_and_our_jwe_decrypts_and_vice_versa() {
    let key = PrivateKey::generate().unwrap();
    let spki = key.public_key_base64_der().unwrap();
    let jwe = jose(&["encrypt", &spki, "1700000000"], r#"{"hello":"jose"}"#);
    assert_eq!(
        key.decrypt(&jwe, IatPolicy::REQUEST, 1_700_000_010)
            .unwrap(),
        br#"{"hello":"jose"}"#
    );

    use base64::Engine as _;
    let pkcs8 = base64::engine::general_purpose::STANDARD.encode(key.to_pkcs8().unwrap());
    let ours = key
        .public_key()
        .unwrap()
        .encrypt(br#"{"from":"rust"}"#, 1_700_000_000)
        .unwrap();
    let out: serde_json::Value = serde_json::from_str(&jose(&["decrypt", &pkcs8], &ours)).unwrap();
    assert_eq!(out["plaintext"], r#"{"from":"rust"}"#);
    assert_eq!(
        out["header"],
        serde_json::json!({"alg":"RSA-OAEP-256","enc":"A256GCM","iat":1_700_000_000})
    );
}

#[tokio::test]
async fn jose_talks_to_the_local_store_both_ways() {
    let s = Stack::start().await;
    let creds = s.dev.vcap_services()["credstore"][0]["credentials"].clone();
    let server_pub = creds["encryption"]["server_public_key"].as_str().unwrap();
    let client_priv = creds["encryption"]["client_private_key"].as_str().unwrap();
    let url = creds["url"].as_str().unwrap();
    let (user, pass) = (
        creds["username"].as_str().unwrap(),
        creds["password"].as_str().unwrap(),
    );
    let value = testkit::logs::secret("jose-written-secret-4242");

    // jose encrypts a write request; the local store accepts it.
    let body =
        serde_json::json!({"name": "from-jose", "value": value, "username": "jose"}).to_string();
    let jwe = jose(&["encrypt", server_pub, &now().to_string()], &body);
    let r = s
        .http()
        .post(format!("{url}/password"))
        .basic_auth(user, Some(pass))
        .header("sapcp-credstore-namespace", "interop")
        .header("content-type", "application/jose")
        .body(jwe)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Our client reads it back.
    let read = s
        .client()
        .read(CredentialType::Password, "interop", "from-jose")
        .await
        .unwrap();
    assert_eq!(read.value.expose(), value);

    // jose decrypts what the store sends, with the binding's client key.
    let r = s
        .http()
        .get(format!("{url}/password?name=from-jose"))
        .basic_auth(user, Some(pass))
        .header("sapcp-credstore-namespace", "interop")
        .send()
        .await
        .unwrap();
    let out: serde_json::Value =
        serde_json::from_str(&jose(&["decrypt", client_priv], &r.text().await.unwrap())).unwrap();
    let plain: serde_json::Value =
        serde_json::from_str(out["plaintext"].as_str().unwrap()).unwrap();
    assert_eq!(plain["value"], value.as_str());
    assert_eq!(plain["name"], "from-jose");
    assert_eq!(out["header"]["alg"], "RSA-OAEP-256");
    assert_eq!(out["header"]["enc"], "A256GCM");
    assert!((out["header"]["iat"].as_i64().unwrap() - now()).abs() < 60);
    s.dev.stop().await;
}
