//! SAP Credential Store client.
//!
//! - [`jwe`]: the JWE payload encryption the store uses (RSA-OAEP-256 + A256GCM, `iat` rule).
//! - [`model`]: credential shapes, limits and namespace rules.
//! - [`client`]: the REST client built from a `credstore` binding (basic or mTLS).
//! - [`cache`]: a read-through cache with TTL and single-flight refresh, so hot paths never
//!   call the store per request.
//! - [`memory`]: an in-memory [`CredentialStore`] for tests of code that reads credentials.
//! - [`error`]: the crate's one error type.
//!
//! Everything that holds a credential value keeps it in [`cfenv::Secret`], whose `Debug` and
//! `Display` are masked; no error variant carries a value.

pub mod cache;
pub mod client;
pub mod error;
pub mod jwe;
pub mod memory;
pub mod model;

use async_trait::async_trait;

pub use cache::{CacheOptions, CachedStore};
pub use client::{Client, ClientOptions};
pub use error::Error;
pub use model::{Credential, CredentialMeta, CredentialType, NewCredential};

/// How a write treats an existing credential: the store's conditional headers
/// (docs/protocols.md §Credential Store REST API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteMode {
    /// Create or overwrite (no header).
    Upsert,
    /// Create only; fail if it exists (`If-None-Match: *`).
    CreateOnly,
    /// Update only; fail if it does not exist (`If-Match: *`).
    UpdateOnly,
    /// Update only if unchanged since the given `ETag` (`If-Match: <etag>`).
    IfMatch(String),
}

/// The operations of a Credential Store; implemented by the HTTP [`Client`], the
/// [`CachedStore`] wrapper and the in-memory fake.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Reads one credential.
    async fn read(
        &self,
        kind: CredentialType,
        namespace: &str,
        name: &str,
    ) -> Result<Credential, Error>;
    /// Creates or updates one credential; returns it as stored.
    async fn write(
        &self,
        kind: CredentialType,
        namespace: &str,
        credential: &NewCredential,
        mode: WriteMode,
    ) -> Result<Credential, Error>;
    /// Deletes one credential.
    async fn delete(&self, kind: CredentialType, namespace: &str, name: &str) -> Result<(), Error>;
    /// Lists the credentials of a type in a namespace (metadata only, no values).
    async fn list(
        &self,
        kind: CredentialType,
        namespace: &str,
    ) -> Result<Vec<CredentialMeta>, Error>;
}
