//! `bridge creds` end to end against the local Credential Store.

use crate::util::{bridge, bridge_for, dev_stack, run};

#[tokio::test(flavor = "multi_thread")]
async fn put_get_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dev_stack(dir.path()).await;
    let value = testkit::logs::secret("cli-secret-value-8675309");
    let d = dir.path();

    let r = run(
        bridge_for(d).args([
            "creds",
            "-n",
            "aws",
            "put",
            "aws-iam-user",
            "--username",
            "AKIAEXAMPLE",
        ]),
        &format!("{value}\n"),
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("stored password \"aws-iam-user\""),
        "{}",
        r.stdout
    );

    let r = run(
        bridge_for(d).args(["creds", "-n", "aws", "get", "aws-iam-user"]),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let meta: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(meta["username"], "AKIAEXAMPLE");
    assert!(meta["value"].as_str().unwrap().contains("redacted"));

    let r = run(
        bridge_for(d).args(["creds", "-n", "aws", "get", "aws-iam-user", "--value"]),
        "",
        true,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{value}\n"));

    let r = run(
        bridge_for(d).args(["creds", "-n", "aws", "list"]),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("aws-iam-user\t"), "{}", r.stdout);

    // Keys: value from an environment variable.
    let key = testkit::logs::secret("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    let r = run(
        bridge_for(d).env("MY_KEY", &key).args([
            "creds",
            "-n",
            "aws",
            "-t",
            "key",
            "put",
            "aes-key",
            "--value-env",
            "MY_KEY",
            "--format",
            "aes",
        ]),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = run(
        bridge_for(d).args(["creds", "-n", "aws", "delete", "aws-iam-user"]),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        bridge_for(d).args(["creds", "-n", "aws", "get", "aws-iam-user"]),
        "",
        false,
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dev_stack(dir.path()).await;
    let d = dir.path();

    let r = run(bridge_for(d).args(["creds", "list"]), "", false);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--namespace"), "{}", r.stderr);

    let r = run(
        bridge_for(d).args(["creds", "-n", "bad ns", "list"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("namespace"), "{}", r.stderr);

    let r = run(
        bridge_for(d).args(["creds", "-n", "aws", "put", "x"]),
        "",
        false,
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("value: empty"), "{}", r.stderr);

    let r = run(
        bridge_for(d).args(["creds", "-n", "never-written", "list"]),
        "",
        false,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("namespace \"never-written\" not found"),
        "{}",
        r.stderr
    );

    let r = run(
        bridge_for(d)
            .env("BRIDGE_EXTRA_CA_CERTS", d.join("missing.pem"))
            .args(["creds", "-n", "aws", "list"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("BRIDGE_EXTRA_CA_CERTS"), "{}", r.stderr);

    // Without the dev CA the TLS handshake fails: a clear error, not a hang or a panic.
    let r = run(
        bridge_for(d)
            .env_remove("BRIDGE_EXTRA_CA_CERTS")
            .args(["creds", "-n", "aws", "list"]),
        "",
        false,
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("unreachable"), "{}", r.stderr);
    stack.stop().await;
}

#[test]
fn no_binding_explains_what_to_set() {
    testkit::logs::init();
    let r = run(bridge().args(["creds", "-n", "aws", "list"]), "", false);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("VCAP_SERVICES"), "{}", r.stderr);
    assert!(r.stderr.contains("bridge dev"), "{}", r.stderr);

    let r = run(
        bridge()
            .env("VCAP_SERVICES", "{\"credstore\": [")
            .args(["creds", "-n", "aws", "list"]),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("VCAP_SERVICES") && r.stderr.contains("line 1"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn service_key_file_instead_of_vcap() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dev_stack(dir.path()).await;
    let creds = stack.vcap_services()["credstore"][0]["credentials"].clone();
    // As `cf service-key` prints it: a header line, then the JSON.
    let key_file = dir.path().join("key.txt");
    let printed = format!(
        "Getting key my-key for service instance my-credstore as admin...\n\n{}\n",
        serde_json::to_string_pretty(&serde_json::json!({ "credentials": creds })).unwrap()
    );
    std::fs::write(&key_file, printed).unwrap();
    let r = run(
        bridge()
            .env("BRIDGE_EXTRA_CA_CERTS", dir.path().join("ca.pem"))
            .args(["creds", "-n", "ops", "put", "from-key", "--service-key"])
            .arg(&key_file),
        "service-key-value-777\n",
        false,
    );
    testkit::logs::secret("service-key-value-777");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        bridge()
            .env("BRIDGE_EXTRA_CA_CERTS", dir.path().join("ca.pem"))
            .args(["creds", "-n", "ops", "list", "--service-key"])
            .arg(&key_file),
        "",
        false,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("from-key"));

    std::fs::write(&key_file, "{\"credentials\": {\"url\": 5}}").unwrap();
    let r = run(
        bridge()
            .args(["creds", "-n", "ops", "list", "--service-key"])
            .arg(&key_file),
        "",
        false,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--service-key") && r.stderr.contains("credentials.url"),
        "{}",
        r.stderr
    );
    stack.stop().await;
}
