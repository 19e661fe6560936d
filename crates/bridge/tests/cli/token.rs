//! `bridge token`: a client-credentials token on stdout and nothing else.

use base64::Engine as _;

use crate::util::{bridge, bridge_for, dev_stack, run};

#[tokio::test(flavor = "multi_thread")]
async fn prints_only_a_token_that_the_app_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dev_stack(dir.path()).await;
    testkit::logs::secret(
        stack.vcap_services()["xsuaa"][0]["credentials"]["clientsecret"]
            .as_str()
            .unwrap(),
    );
    let r = run(bridge_for(dir.path()).arg("token"), "", true);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let token = testkit::logs::secret(r.stdout.trim_end());
    assert_eq!(
        r.stdout,
        format!("{token}\n"),
        "stdout is the token and a newline"
    );
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["grant_type"], "client_credentials");
    assert!(
        claims["scope"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().ends_with(".JobRunner"))
    );
    assert!(!r.stderr.contains(&token));

    // A wrong client secret: exit 1 with XSUAA's error, no secret echoed.
    let mut vcap = stack.vcap_services().clone();
    vcap["xsuaa"][0]["credentials"]["clientsecret"] = "wrong-secret-value-1234".into();
    testkit::logs::secret("wrong-secret-value-1234");
    let r = run(
        bridge()
            .env("VCAP_SERVICES", vcap.to_string())
            .env("BRIDGE_EXTRA_CA_CERTS", dir.path().join("ca.pem"))
            .arg("token"),
        "",
        false,
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("401") || r.stderr.contains("unauthorized"),
        "{}",
        r.stderr
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_keys_talks_to_the_running_dev_stack() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dev_stack(dir.path()).await;
    testkit::logs::secret(
        std::fs::read_to_string(dir.path().join("xsuaa/admin-secret"))
            .unwrap()
            .trim(),
    );
    let before = stack.xsuaa().active_kid();
    let r = run(
        bridge().args(["rotate-keys", "--data-dir"]).arg(dir.path()),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = stack.xsuaa().active_kid();
    assert_ne!(before, after);
    assert_eq!(r.stdout.trim(), format!("active signing key: {after}"));
    assert!(
        stack.xsuaa().published_kids().contains(&before),
        "old key still published"
    );

    std::fs::write(
        dir.path().join("xsuaa/admin-secret"),
        "not-the-admin-secret-000",
    )
    .unwrap();
    let r = run(
        bridge().args(["rotate-keys", "--data-dir"]).arg(dir.path()),
        "",
        false,
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HTTP 401"), "{}", r.stderr);
    stack.stop().await;

    let r = run(
        bridge()
            .args(["rotate-keys", "--data-dir"])
            .arg(dir.path().join("nope")),
        "",
        false,
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is `bridge dev` running"), "{}", r.stderr);
}
