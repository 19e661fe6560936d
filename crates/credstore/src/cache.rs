//! A read-through cache in front of any [`CredentialStore`].
//!
//! Reads are served from memory while younger than the TTL. When an entry is stale, exactly one
//! caller refreshes it (the others wait for that refresh and share its result: one call to the
//! store however many requests arrive at once). If the store is unreachable, times out or
//! answers 5xx, a stale entry keeps being served for up to `max_stale` more, with a warning, so
//! an outage of the store does not take the app down. Writes and deletes through the cache
//! invalidate the entry. Time is `tokio::time`, so tests run it under a paused clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::Error;
use crate::model::{Credential, CredentialMeta, CredentialType, NewCredential};
use crate::{CredentialStore, WriteMode};

/// How long entries live.
#[derive(Debug, Clone, Copy)]
pub struct CacheOptions {
    /// Age after which an entry is refreshed from the store.
    pub ttl: Duration,
    /// How much longer a stale entry may be served while the store is failing transiently.
    pub max_stale: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            max_stale: Duration::from_secs(3600),
        }
    }
}

type Key = (CredentialType, String, String);

struct Entry {
    credential: Credential,
    fetched: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

/// A [`CredentialStore`] that caches reads of another one.
pub struct CachedStore<S> {
    inner: S,
    options: CacheOptions,
    slots: Mutex<HashMap<Key, Slot>>,
}

impl<S> CachedStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, options: CacheOptions) -> Self {
        Self {
            inner,
            options,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn slot(&self, key: Key) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key).or_default().clone()
    }

    fn forget(&self, key: &Key) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.remove(key);
    }
}

#[async_trait]
impl<S: CredentialStore> CredentialStore for CachedStore<S> {
    async fn read(
        &self,
        kind: CredentialType,
        namespace: &str,
        name: &str,
    ) -> Result<Credential, Error> {
        let slot = self.slot((kind, namespace.to_owned(), name.to_owned()));
        // Holding the slot's lock across the fetch is what makes the refresh single-flight.
        let mut entry = slot.lock().await;
        if let Some(e) = entry.as_ref()
            && e.fetched.elapsed() < self.options.ttl
        {
            return Ok(e.credential.clone());
        }
        match self.inner.read(kind, namespace, name).await {
            Ok(credential) => {
                *entry = Some(Entry {
                    credential: credential.clone(),
                    fetched: Instant::now(),
                });
                Ok(credential)
            }
            Err(err) if err.is_transient() => match entry.as_ref() {
                Some(e) if e.fetched.elapsed() < self.options.ttl + self.options.max_stale => {
                    tracing::warn!(
                        credential.type = %kind,
                        credstore.namespace = namespace,
                        credential.name = name,
                        age_ms = u64::try_from(e.fetched.elapsed().as_millis()).unwrap_or(u64::MAX),
                        error = %err,
                        "credential store failing; serving cached credential"
                    );
                    Ok(e.credential.clone())
                }
                _ => Err(err),
            },
            Err(err) => {
                if matches!(err, Error::NotFound { .. }) {
                    *entry = None;
                }
                Err(err)
            }
        }
    }

    async fn write(
        &self,
        kind: CredentialType,
        namespace: &str,
        credential: &NewCredential,
        mode: WriteMode,
    ) -> Result<Credential, Error> {
        let result = self.inner.write(kind, namespace, credential, mode).await;
        self.forget(&(kind, namespace.to_owned(), credential.name.clone()));
        result
    }

    async fn delete(&self, kind: CredentialType, namespace: &str, name: &str) -> Result<(), Error> {
        let result = self.inner.delete(kind, namespace, name).await;
        self.forget(&(kind, namespace.to_owned(), name.to_owned()));
        result
    }

    async fn list(
        &self,
        kind: CredentialType,
        namespace: &str,
    ) -> Result<Vec<CredentialMeta>, Error> {
        self.inner.list(kind, namespace).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::memory::InMemoryStore;

    fn store() -> CachedStore<InMemoryStore> {
        CachedStore::new(
            InMemoryStore::default(),
            CacheOptions {
                ttl: Duration::from_secs(60),
                max_stale: Duration::from_secs(600),
            },
        )
    }

    async fn seed(s: &CachedStore<InMemoryStore>) {
        s.write(
            CredentialType::Password,
            "aws",
            &NewCredential::new("k", "v1"),
            WriteMode::Upsert,
        )
        .await
        .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_reads_cause_one_store_call() {
        let s = Arc::new(store());
        seed(&s).await;
        s.inner().set_latency(Duration::from_millis(50));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.read(CredentialType::Password, "aws", "k").await })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().value.expose(), "v1");
        }
        assert_eq!(s.inner().reads(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_after_ttl() {
        let s = store();
        seed(&s).await;
        s.read(CredentialType::Password, "aws", "k").await.unwrap();
        s.inner()
            .write(
                CredentialType::Password,
                "aws",
                &NewCredential::new("k", "v2"),
                WriteMode::Upsert,
            )
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            s.read(CredentialType::Password, "aws", "k")
                .await
                .unwrap()
                .value
                .expose(),
            "v1"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            s.read(CredentialType::Password, "aws", "k")
                .await
                .unwrap()
                .value
                .expose(),
            "v2"
        );
        assert_eq!(s.inner().reads(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn serves_stale_during_outage_then_gives_up() {
        let s = store();
        seed(&s).await;
        s.read(CredentialType::Password, "aws", "k").await.unwrap();
        s.inner().set_down(true);
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(
            s.read(CredentialType::Password, "aws", "k")
                .await
                .unwrap()
                .value
                .expose(),
            "v1"
        );
        tokio::time::advance(Duration::from_secs(600)).await;
        let err = s
            .read(CredentialType::Password, "aws", "k")
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn writes_and_deletes_invalidate() {
        let s = store();
        seed(&s).await;
        s.read(CredentialType::Password, "aws", "k").await.unwrap();
        s.write(
            CredentialType::Password,
            "aws",
            &NewCredential::new("k", "v3"),
            WriteMode::Upsert,
        )
        .await
        .unwrap();
        assert_eq!(
            s.read(CredentialType::Password, "aws", "k")
                .await
                .unwrap()
                .value
                .expose(),
            "v3"
        );
        s.delete(CredentialType::Password, "aws", "k")
            .await
            .unwrap();
        assert!(matches!(
            s.read(CredentialType::Password, "aws", "k").await,
            Err(Error::NotFound { .. })
        ));
    }
}
