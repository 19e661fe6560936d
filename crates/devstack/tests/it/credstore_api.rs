//! The local Credential Store through our `credstore` client.

use std::sync::Arc;

use cfenv::Secret;
use credstore::{
    CacheOptions, CachedStore, CredentialStore, CredentialType, Error, NewCredential, WriteMode,
};

use crate::common::{self, Stack};

const PW: CredentialType = CredentialType::Password;

#[tokio::test]
async fn password_round_trip_update_list_delete() {
    let s = Stack::start().await;
    let c = s.client();
    let value = testkit::logs::secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    let stored = c
        .write(
            PW,
            "aws",
            &NewCredential::new("aws-iam-user", value.as_str())
                .with_username("AKIAIOSFODNN7EXAMPLE")
                .with_metadata(r#"{"accountId":"123456789012"}"#),
            WriteMode::Upsert,
        )
        .await
        .unwrap();
    assert_eq!(stored.name, "aws-iam-user");
    assert!(stored.id.is_some() && stored.etag.is_some() && stored.modified_at.is_some());

    let read = c.read(PW, "aws", "aws-iam-user").await.unwrap();
    assert_eq!(read.value.expose(), value);
    assert_eq!(read.username.as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(
        read.metadata.as_deref(),
        Some(r#"{"accountId":"123456789012"}"#)
    );
    assert_eq!(read.id, stored.id);
    // Debug never shows the value.
    assert!(!format!("{read:?}").contains(&value));

    let v2 = testkit::logs::secret("second-secret-value-0042");
    c.write(
        PW,
        "aws",
        &NewCredential::new("aws-iam-user", v2.as_str()),
        WriteMode::Upsert,
    )
    .await
    .unwrap();
    let read2 = c.read(PW, "aws", "aws-iam-user").await.unwrap();
    assert_eq!(read2.value.expose(), v2);
    assert_eq!(read2.id, stored.id, "an update keeps the id");
    assert_ne!(read2.etag, stored.etag, "an update changes the ETag");

    let list = c.list(PW, "aws").await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "aws-iam-user");

    c.delete(PW, "aws", "aws-iam-user").await.unwrap();
    let err = c.read(PW, "aws", "aws-iam-user").await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let err = c.delete(PW, "aws", "aws-iam-user").await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(c.list(PW, "aws").await.unwrap().is_empty());
    s.dev.stop().await;
}

#[tokio::test]
async fn keys_and_passwords_are_separate_types() {
    let s = Stack::start().await;
    let c = s.client();
    let key_b64 = testkit::logs::secret("q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=");
    c.write(
        CredentialType::Key,
        "ns1",
        &NewCredential::new("signing", key_b64.as_str()).with_format("aes"),
        WriteMode::Upsert,
    )
    .await
    .unwrap();
    let k = c.read(CredentialType::Key, "ns1", "signing").await.unwrap();
    assert_eq!(k.value.expose(), key_b64);
    assert_eq!(k.format.as_deref(), Some("aes"));
    assert!(matches!(
        c.read(PW, "ns1", "signing").await,
        Err(Error::NotFound { .. })
    ));
    // A key value must be base64; the client refuses before sending.
    let err = c
        .write(
            CredentialType::Key,
            "ns1",
            &NewCredential::new("bad", "not base64!"),
            WriteMode::Upsert,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "value", .. }),
        "{err}"
    );
    s.dev.stop().await;
}

#[tokio::test]
async fn list_follows_pages() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let dev = common::start_dev(dir.path(), 2).await;
    let c = common::client_for(&common::binding_of(dev.vcap_services()), dev.ca_pem());
    for i in 0..5 {
        c.write(
            PW,
            "paged",
            &NewCredential::new(format!("cred-{i}"), "value-xyz-123"),
            WriteMode::Upsert,
        )
        .await
        .unwrap();
    }
    testkit::logs::secret("value-xyz-123");
    let names: Vec<String> = c
        .list(PW, "paged")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["cred-0", "cred-1", "cred-2", "cred-3", "cred-4"]);
    dev.stop().await;
}

#[tokio::test]
async fn conditional_writes() {
    let s = Stack::start().await;
    let c = s.client();
    let first = c
        .write(
            PW,
            "cond",
            &NewCredential::new("x", "value-one-1"),
            WriteMode::CreateOnly,
        )
        .await
        .unwrap();
    let err = c
        .write(
            PW,
            "cond",
            &NewCredential::new("x", "value-two-2"),
            WriteMode::CreateOnly,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Precondition { status: 412, .. }),
        "{err}"
    );
    let err = c
        .write(
            PW,
            "cond",
            &NewCredential::new("y", "value-two-2"),
            WriteMode::UpdateOnly,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Precondition { status: 412, .. }),
        "{err}"
    );
    let etag = first.etag.unwrap();
    let second = c
        .write(
            PW,
            "cond",
            &NewCredential::new("x", "value-three-3"),
            WriteMode::IfMatch(etag.clone()),
        )
        .await
        .unwrap();
    // The old ETag is stale now: a lost update is refused.
    let err = c
        .write(
            PW,
            "cond",
            &NewCredential::new("x", "value-four-4"),
            WriteMode::IfMatch(etag),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Precondition { .. }), "{err}");
    assert_eq!(c.read(PW, "cond", "x").await.unwrap().etag, second.etag);
    s.dev.stop().await;
}

#[tokio::test]
async fn unknown_namespace_and_bad_input() {
    let s = Stack::start().await;
    let c = s.client();
    let err = c.read(PW, "nope", "x").await.unwrap_err();
    assert!(
        matches!(err, Error::NoNamespace { ref namespace, .. } if namespace == "nope"),
        "{err}"
    );
    let err = c.read(PW, "bad namespace!", "x").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "namespace",
                ..
            }
        ),
        "{err}"
    );
    let err = c.read(PW, "aws", "").await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "name", .. }),
        "{err}"
    );
    let long = "v".repeat(4097);
    let err = c
        .write(
            PW,
            "aws",
            &NewCredential::new("x", long.as_str()),
            WriteMode::Upsert,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "value", .. }),
        "{err}"
    );
    s.dev.stop().await;
}

#[tokio::test]
async fn wrong_password_is_unauthorized_and_never_echoed() {
    let s = Stack::start().await;
    let mut binding = s.binding();
    let wrong = testkit::logs::secret("definitely-the-wrong-password");
    binding.auth = cfenv::CredStoreAuth::Basic {
        password: Secret::new(wrong.as_str()),
    };
    let err = s
        .client_for(&binding)
        .read(PW, "aws", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains(&wrong));
    s.dev.stop().await;
}

#[tokio::test]
async fn mtls_binding_authenticates_with_a_client_certificate() {
    let s = Stack::start().await;
    let vcap = s.dev.mtls_vcap_services(7).unwrap();
    common::register_secrets(&vcap);
    let binding = common::binding_of(&vcap);
    assert!(matches!(binding.auth, cfenv::CredStoreAuth::Mtls { .. }));
    let c = s.client_for(&binding);
    c.write(
        PW,
        "mtls",
        &NewCredential::new("m", "mtls-value-777"),
        WriteMode::Upsert,
    )
    .await
    .unwrap();
    testkit::logs::secret("mtls-value-777");
    assert_eq!(
        c.read(PW, "mtls", "m").await.unwrap().value.expose(),
        "mtls-value-777"
    );
    s.dev.stop().await;
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let s = Stack::start().await;
    let other_dir = tempfile::tempdir().unwrap();
    let other = devstack::tls::DevCa::load_or_create(other_dir.path()).unwrap();
    let (cert, key) = other.issue_client("intruder", 1).unwrap();
    testkit::logs::secret(key.as_str());
    let mut binding = s.binding();
    binding.auth = cfenv::CredStoreAuth::Mtls {
        certificate: Secret::new(cert),
        key: Secret::new(key),
    };
    let err = s
        .client_for(&binding)
        .read(PW, "aws", "x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { .. }),
        "TLS handshake must fail: {err}"
    );
    s.dev.stop().await;
}

#[tokio::test]
async fn cache_reads_the_store_once_for_many_concurrent_readers() {
    let s = Stack::start().await;
    let c = s.client();
    c.write(
        PW,
        "aws",
        &NewCredential::new("hot", "hot-value-12345"),
        WriteMode::Upsert,
    )
    .await
    .unwrap();
    testkit::logs::secret("hot-value-12345");
    let before = s.dev.credstore().read_count();
    let cache = Arc::new(CachedStore::new(c, CacheOptions::default()));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.read(PW, "aws", "hot").await.map(|c| c.value) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().expose(), "hot-value-12345");
    }
    assert_eq!(s.dev.credstore().read_count() - before, 1);
    s.dev.stop().await;
}

#[tokio::test]
async fn store_outage_is_reported_as_unreachable_and_cache_rides_it_out() {
    let s = Stack::start().await;
    let c = s.client();
    c.write(
        PW,
        "aws",
        &NewCredential::new("k", "outage-value-999"),
        WriteMode::Upsert,
    )
    .await
    .unwrap();
    testkit::logs::secret("outage-value-999");
    let cache = CachedStore::new(
        s.client(),
        CacheOptions {
            ttl: std::time::Duration::from_millis(1),
            max_stale: std::time::Duration::from_secs(600),
        },
    );
    cache.read(PW, "aws", "k").await.unwrap();
    let Stack { dev, dir: _dir } = s;
    dev.stop().await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let err = c.read(PW, "aws", "k").await.unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { .. }) && err.is_transient(),
        "{err}"
    );
    // The cache's entry is past its TTL, but the store is down: it serves the stale value.
    assert_eq!(
        cache.read(PW, "aws", "k").await.unwrap().value.expose(),
        "outage-value-999"
    );
}
