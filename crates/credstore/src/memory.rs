//! An in-memory [`CredentialStore`], for tests of code that reads credentials. It counts reads,
//! can add latency and can pretend to be down, so caches and outage handling can be tested.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Error;
use crate::model::{Credential, CredentialMeta, CredentialType, NewCredential, validate_namespace};
use crate::{CredentialStore, WriteMode};

/// A store in a `BTreeMap`, keyed by (type, namespace, name).
#[derive(Default)]
pub struct InMemoryStore {
    items: Mutex<BTreeMap<(CredentialType, String, String), Credential>>,
    reads: AtomicU64,
    down: AtomicBool,
    latency_ms: AtomicU64,
}

impl InMemoryStore {
    /// How many reads reached this store.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    /// While `true`, every call fails as if the store were unreachable.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Adds a delay (on the tokio clock) to every call.
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms.store(
            u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    async fn gate(&self) -> Result<(), Error> {
        let ms = self.latency_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::Unreachable {
                host: "in-memory".into(),
                reason: "marked down".into(),
            });
        }
        Ok(())
    }

    fn items(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<(CredentialType, String, String), Credential>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl CredentialStore for InMemoryStore {
    async fn read(
        &self,
        kind: CredentialType,
        namespace: &str,
        name: &str,
    ) -> Result<Credential, Error> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.gate().await?;
        self.items()
            .get(&(kind, namespace.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| Error::NotFound {
                kind,
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })
    }

    async fn write(
        &self,
        kind: CredentialType,
        namespace: &str,
        credential: &NewCredential,
        mode: WriteMode,
    ) -> Result<Credential, Error> {
        self.gate().await?;
        validate_namespace(namespace)?;
        credential.validate(kind)?;
        let key = (kind, namespace.to_owned(), credential.name.clone());
        let mut items = self.items();
        let exists = items.contains_key(&key);
        let ok = match &mode {
            WriteMode::Upsert => true,
            WriteMode::CreateOnly => !exists,
            WriteMode::UpdateOnly => exists,
            WriteMode::IfMatch(etag) => items.get(&key).and_then(|c| c.etag.as_ref()) == Some(etag),
        };
        if !ok {
            return Err(Error::Precondition {
                kind,
                name: credential.name.clone(),
                status: 412,
                message: "precondition failed".into(),
            });
        }
        let stored = Credential {
            kind,
            id: Some(format!("mem-{}", items.len() + 1)),
            name: credential.name.clone(),
            modified_at: None,
            value: credential.value.clone(),
            username: credential.username.clone(),
            format: credential.format.clone(),
            metadata: credential.metadata.clone(),
            etag: Some(format!("\"{}\"", self.reads() + items.len() as u64)),
        };
        items.insert(key, stored.clone());
        Ok(stored)
    }

    async fn delete(&self, kind: CredentialType, namespace: &str, name: &str) -> Result<(), Error> {
        self.gate().await?;
        self.items()
            .remove(&(kind, namespace.to_owned(), name.to_owned()))
            .map(|_| ())
            .ok_or_else(|| Error::NotFound {
                kind,
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })
    }

    async fn list(
        &self,
        kind: CredentialType,
        namespace: &str,
    ) -> Result<Vec<CredentialMeta>, Error> {
        self.gate().await?;
        Ok(self
            .items()
            .iter()
            .filter(|((k, ns, _), _)| *k == kind && ns == namespace)
            .map(|(_, c)| CredentialMeta {
                id: c.id.clone(),
                name: c.name.clone(),
                modified_at: c.modified_at.clone(),
                username: c.username.clone(),
                format: c.format.clone(),
            })
            .collect())
    }
}
