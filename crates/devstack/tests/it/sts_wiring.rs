//! The dev stack's AWS wiring: the `aws-config` binding in the generated `VCAP_SERVICES`, the
//! IAM user's keys in the local Credential Store, restarts, and the files at rest.

use std::os::unix::fs::PermissionsExt;

use cfenv::Vcap;
use credstore::{CredentialStore, CredentialType};
use devstack::aws_identity::{ACCOUNT_ID, DEFAULT_BUCKET, DEFAULT_REGION};

/// The role of `deploy/aws/iam/role.json`.
const ROLE_NAME: &str = "btp-bridge-s3";

use crate::sts_support::Aws;

#[tokio::test]
async fn the_generated_vcap_has_the_aws_config_binding() {
    let aws = Aws::start().await;
    let vcap = aws.stack.dev.vcap_services();
    let entry = &vcap["user-provided"][0];
    assert_eq!(entry["label"], "user-provided");
    assert_eq!(entry["name"], "aws-config");
    assert_eq!(entry["instance_name"], "aws-config");
    assert_eq!(entry["tags"], serde_json::json!(["aws"]));
    assert!(entry.get("plan").is_none() && entry.get("provider").is_none());
    assert_eq!(
        entry["credentials"],
        serde_json::json!({
            "region": DEFAULT_REGION,
            "roleArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"),
            "roleSessionName": "bridge-dev",
            "externalId": aws.external_id(),
            "bucket": DEFAULT_BUCKET,
            "stsEndpoint": aws.url(),
            "credstoreNamespace": "aws",
            "credstoreName": "aws-iam-user",
        })
    );
    assert!(aws.url().starts_with("https://127.0.0.1:"));

    // The file on disk is what the app reads; cfenv finds the binding by name.
    let text = std::fs::read_to_string(aws.stack.dev.vcap_path()).unwrap();
    let parsed = Vcap::from_json(&text, "VCAP_SERVICES").unwrap();
    let up = parsed.user_provided("aws-config").unwrap();
    assert_eq!(up.string("roleArn").unwrap(), aws.role_arn());
    assert_eq!(
        up.url("stsEndpoint").unwrap().as_str(),
        format!("{}/", aws.url())
    );
    assert_eq!(up.secret("externalId").unwrap().expose(), aws.external_id());
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn the_credential_store_holds_the_iam_users_keys() {
    let aws = Aws::start().await;
    let cred = aws
        .stack
        .client()
        .read(CredentialType::Password, "aws", "aws-iam-user")
        .await
        .unwrap();
    assert_eq!(cred.username.as_deref(), Some(aws.user_key().as_str()));
    assert_eq!(cred.value.expose(), aws.user_secret());
    let meta: serde_json::Value = serde_json::from_str(cred.metadata.as_deref().unwrap()).unwrap();
    assert_eq!(meta, serde_json::json!({ "accountId": ACCOUNT_ID }));

    let key = aws.user_key();
    assert!(key.starts_with("AKIA") && key.len() == 20, "{key}");
    assert!(
        key.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    );
    assert_eq!(aws.user_secret().len(), 40);

    // The keys from the store work against the local STS.
    let from_store = aws_credential_types::Credentials::new(
        cred.username.unwrap(),
        cred.value.expose(),
        None,
        None,
        "credstore",
    );
    let out = aws
        .sdk(from_store)
        .assume_role()
        .role_arn(aws.role_arn())
        .role_session_name("bridge-dev")
        .external_id(aws.external_id())
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    testkit::logs::secret(c.secret_access_key());
    testkit::logs::secret(c.session_token());
    aws.stack.dev.stop().await;
}

#[tokio::test]
async fn a_restart_keeps_the_keys_and_the_sessions() {
    let aws = Aws::start().await;
    let (key, secret, external_id) = (aws.user_key(), aws.user_secret(), aws.external_id());
    let role_id = aws.id().role().role_id.clone();
    let session = aws.assume("before-restart", None).await;
    let etag_before = aws
        .stack
        .client()
        .read(CredentialType::Password, "aws", "aws-iam-user")
        .await
        .unwrap()
        .etag;
    let Aws { stack, .. } = aws;
    let crate::common::Stack { dev, dir } = stack;
    dev.stop().await;

    let aws_dir = dir.path().join("aws");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&aws_dir), 0o700);
    for f in ["master.key", "identity.bin", "sessions.bin"] {
        assert_eq!(mode(&aws_dir.join(f)), 0o600, "{f}");
    }
    let sealed =
        String::from_utf8_lossy(&std::fs::read(aws_dir.join("identity.bin")).unwrap()).into_owned();
    assert!(!sealed.contains(&secret) && !sealed.contains(&key) && !sealed.contains(&external_id));

    let again = Aws::start_in(dir).await;
    assert_eq!(again.user_key(), key);
    assert_eq!(again.user_secret(), secret);
    assert_eq!(again.external_id(), external_id);
    assert_eq!(again.id().role().role_id, role_id);
    let etag_after = again
        .stack
        .client()
        .read(CredentialType::Password, "aws", "aws-iam-user")
        .await
        .unwrap()
        .etag;
    assert_eq!(etag_after, etag_before, "unchanged keys are not rewritten");

    // Sessions are sealed in the data directory: the old one still works.
    let out = again
        .sdk(session)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.arn(),
        Some(again.id().role().session_arn("before-restart").as_str())
    );
    assert_eq!(again.id().assume_role_count(), 0);
    again.stack.dev.stop().await;
}
