//! `LongTermKeys`: the IAM user's access key as a Credential Store password credential.

use std::sync::Arc;

use awslink::{Error, LongTermKeys};
use credstore::memory::InMemoryStore;
use credstore::{CredentialStore, CredentialType, NewCredential, WriteMode};

async fn store_with(name: &str, username: Option<&str>, value: &str) -> Arc<InMemoryStore> {
    let store = Arc::new(InMemoryStore::default());
    let mut c = NewCredential::new(name, value);
    if let Some(u) = username {
        c = c.with_username(u);
    }
    store
        .write(CredentialType::Password, "aws", &c, WriteMode::Upsert)
        .await
        .unwrap();
    store
}

#[tokio::test]
async fn reads_the_access_key() {
    testkit::logs::init();
    let secret = testkit::logs::secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    let store = store_with("aws-iam-user", Some("AKIAIOSFODNN7EXAMPLE"), &secret).await;
    let keys = LongTermKeys::new(store.clone(), "aws", "aws-iam-user");
    let creds = keys.load().await.unwrap();
    assert_eq!(creds.access_key_id(), "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(creds.secret_access_key(), secret);
    assert_eq!(creds.session_token(), None);
    assert_eq!(creds.expiry(), None);
    assert!(!format!("{keys:?} {creds:?}").contains(&secret));
}

#[tokio::test]
async fn errors_name_namespace_and_credential() {
    testkit::logs::init();
    let secret = testkit::logs::secret("another-EXAMPLE-secret-key-0123456789");
    let cases: &[(Option<&str>, &str, &str)] = &[
        (None, "aws-iam-user", "no username"),
        (Some("not an id"), "aws-iam-user", "not an access key id"),
        (Some("AKIAIOSFODNN7EXAMPLE"), "other-name", "not found"),
    ];
    for (username, stored_as, wording) in cases {
        let store = store_with(stored_as, *username, &secret).await;
        let err = LongTermKeys::new(store, "aws", "aws-iam-user")
            .load()
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("\"aws\"") && text.contains("aws-iam-user"),
            "{text}"
        );
        assert!(text.contains(wording), "{text}");
        assert!(!text.contains(&secret), "{text}");
        assert!(matches!(
            err,
            Error::Keys { .. } | Error::KeysInvalid { .. }
        ));
    }
    // An unreachable store is transient (the credential cache retries later).
    let store = store_with("aws-iam-user", Some("AKIAIOSFODNN7EXAMPLE"), &secret).await;
    store.set_down(true);
    let err = LongTermKeys::new(store, "aws", "aws-iam-user")
        .load()
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
}
