//! The credstore crate's error type.
//!
//! Policy: one enum for everything a caller may branch on (not found, refused, unreachable,
//! timed out, undecryptable). Variants carry the credential type, namespace and name, the HTTP
//! status and the store's own message, but never a credential value, a password, a key or a
//! response body that could hold one. Server messages are cut to 200 characters.

use crate::jwe::JweError;
use crate::model::CredentialType;

/// Everything that can go wrong talking to a Credential Store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binding cannot be used (bad key material, unsupported authentication type).
    #[error("credstore binding: {field}: {reason}")]
    Binding {
        /// The binding field, e.g. `credentials.encryption.client_private_key`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A caller-supplied value breaks the store's rules.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field (`name`, `namespace`, `value`, …).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// No credential of that type and name in the namespace (HTTP 404).
    #[error("{kind} credential {name:?} not found in namespace {namespace:?}")]
    NotFound {
        /// Type.
        kind: CredentialType,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The namespace does not exist in this store (HTTP 404 naming the namespace).
    #[error("namespace {namespace:?} not found in the credential store: {message}")]
    NoNamespace {
        /// Namespace.
        namespace: String,
        /// The store's message.
        message: String,
    },
    /// The store refused our credentials (HTTP 401).
    #[error("credential store rejected the binding's credentials (HTTP 401): {message}")]
    Unauthorized {
        /// The store's message.
        message: String,
    },
    /// The binding may not do this in that namespace (HTTP 403).
    #[error("access to namespace {namespace:?} denied (HTTP 403): {message}")]
    Forbidden {
        /// Namespace.
        namespace: String,
        /// The store's message.
        message: String,
    },
    /// A conditional write failed (HTTP 409/412).
    #[error("precondition failed for {kind} {name:?} (HTTP {status}): {message}")]
    Precondition {
        /// Type.
        kind: CredentialType,
        /// Name.
        name: String,
        /// Status.
        status: u16,
        /// The store's message.
        message: String,
    },
    /// Any other refusal (4xx/5xx).
    #[error("credential store answered HTTP {status}: {message}")]
    Rejected {
        /// Status.
        status: u16,
        /// The store's message.
        message: String,
    },
    /// The store could not be reached (DNS, connect, TLS).
    #[error("credential store at {host} unreachable: {reason}")]
    Unreachable {
        /// Host and port.
        host: String,
        /// Why (no secrets: URLs carry none).
        reason: String,
    },
    /// No answer within the timeout.
    #[error("credential store at {host} did not answer within {timeout_ms} ms")]
    Timeout {
        /// Host and port.
        host: String,
        /// The timeout.
        timeout_ms: u64,
    },
    /// A response payload did not decrypt or failed the `iat` rule.
    #[error("credential store response could not be decrypted: {0}")]
    Decrypt(#[from] JweError),
    /// A response was not what the API promises.
    #[error("unexpected credential store response: {0}")]
    InvalidResponse(String),
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// True for failures worth retrying later (unreachable, timeout, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::Timeout { .. } => true,
            Error::Rejected { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The HTTP status the store answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::NotFound { .. } | Error::NoNamespace { .. } => Some(404),
            Error::Unauthorized { .. } => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::Precondition { status, .. } | Error::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}
