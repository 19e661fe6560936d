//! [`LongTermKeys`]: the IAM user's long-term access key, read from the SAP Credential Store.
//!
//! The key is a *password* credential: `username` is the access key id (`AKIA…`), `value` the
//! secret access key (docs/protocols.md §Credential shapes and limits). It is read through the
//! [`credstore::CredentialStore`] trait on every AssumeRole call (about once per session
//! duration), so a rotated key is picked up without a restart. In production the store is a
//! [`credstore::CachedStore`] around the HTTP client ([`LongTermKeys::cached`]): its TTL bounds
//! how long an old key is used, and its stale-while-down rule keeps AssumeRole working through a
//! short Credential Store outage. Tests pass `credstore::memory::InMemoryStore`.
//!
//! Only the STS client ever sees these keys; S3 uses the temporary credentials of
//! [`crate::credentials::RoleCredentials`].

use std::fmt;
use std::sync::Arc;

use aws_credential_types::Credentials;
use credstore::{CacheOptions, CachedStore, CredentialStore, CredentialType};

use crate::error::Error;
use crate::settings::AwsSettings;

/// The provider name the SDK records for long-term keys.
const PROVIDER_NAME: &str = "btp-credstore";

/// Where the long-term keys are and how to read them.
#[derive(Clone)]
pub struct LongTermKeys {
    store: Arc<dyn CredentialStore>,
    namespace: String,
    name: String,
}

impl fmt::Debug for LongTermKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongTermKeys")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LongTermKeys {
    /// Keys named `name` in `namespace` of `store`.
    pub fn new(
        store: Arc<dyn CredentialStore>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            store,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The keys the settings name (`credstoreNamespace`, `credstoreName`) in `store`.
    pub fn from_settings(store: Arc<dyn CredentialStore>, settings: &AwsSettings) -> Self {
        Self::new(
            store,
            settings.credstore_namespace.clone(),
            settings.credstore_name.clone(),
        )
    }

    /// The production set-up: `store` (the Credential Store HTTP client) behind a
    /// [`CachedStore`] with the default TTL and stale window.
    pub fn cached<S: CredentialStore + 'static>(store: S, settings: &AwsSettings) -> Self {
        Self::from_settings(
            Arc::new(CachedStore::new(store, CacheOptions::default())),
            settings,
        )
    }

    /// The Credential Store namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The credential name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the keys. The result never expires (long-term keys have no expiry).
    pub async fn load(&self) -> Result<Credentials, Error> {
        let credential = self
            .store
            .read(CredentialType::Password, &self.namespace, &self.name)
            .await
            .map_err(|e| Error::Keys {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                source: Arc::new(e),
            })?;
        let invalid = |reason| Error::KeysInvalid {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            reason,
        };
        let access_key_id = credential
            .username
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| invalid("the credential has no username (the access key id)"))?;
        if !(16..=128).contains(&access_key_id.len())
            || !access_key_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid(
                "the username is not an access key id (16-128 letters and digits)",
            ));
        }
        let secret = credential.value.expose();
        if secret.trim().is_empty() || secret.trim() != secret {
            return Err(invalid(
                "the value (the secret access key) is empty or has surrounding white space",
            ));
        }
        Ok(Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            PROVIDER_NAME,
        ))
    }
}
