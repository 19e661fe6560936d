//! Data at rest: a restart keeps credentials, keys and the binding; files are private and the
//! store file holds no plaintext.

use std::os::unix::fs::PermissionsExt;

use credstore::{CredentialStore, CredentialType, NewCredential, WriteMode};

use crate::common::{self, Stack};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn restart_keeps_data_and_files_are_private_and_sealed() {
    let s = Stack::start().await;
    let secret_value = testkit::logs::secret("persisted-secret-value-31337");
    s.client()
        .write(
            CredentialType::Password,
            "keep",
            &NewCredential::new("persisted-name", secret_value.as_str()),
            WriteMode::Upsert,
        )
        .await
        .unwrap();
    let binding_before = s.binding();
    let Stack { dev, dir } = s;
    dev.stop().await;

    let cs = dir.path().join("credstore");
    for f in ["master.key", "identity.bin", "store.bin"] {
        assert_eq!(mode(&cs.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&cs), 0o700);
    assert_eq!(mode(&dir.path().join("ca-key.pem")), 0o600);
    assert_eq!(mode(&dir.path().join("vcap-services.json")), 0o600);
    let sealed = std::fs::read(cs.join("store.bin")).unwrap();
    let text = String::from_utf8_lossy(&sealed);
    assert!(!text.contains(&secret_value) && !text.contains("persisted-name"));

    let again = Stack::start_in(dir).await;
    let binding_after = again.binding();
    assert_eq!(
        binding_after.username, binding_before.username,
        "same identity after restart"
    );
    let read = again
        .client()
        .read(CredentialType::Password, "keep", "persisted-name")
        .await
        .unwrap();
    assert_eq!(read.value.expose(), secret_value);
    again.dev.stop().await;
}

#[tokio::test]
async fn a_corrupt_store_file_stops_start_up_with_a_clear_error() {
    testkit::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let dev = common::start_dev(dir.path(), 50).await;
    dev.stop().await;
    std::fs::write(
        dir.path().join("credstore").join("store.bin"),
        b"BRIDGEV1garbagegarbagegarbage",
    )
    .unwrap();
    let err = devstack::DevStack::start(devstack::DevConfig::new(dir.path()).ephemeral())
        .await
        .err()
        .expect("start must fail");
    let msg = err.to_string();
    assert!(
        msg.contains("store.bin") && msg.contains("delete it"),
        "{msg}"
    );
}
