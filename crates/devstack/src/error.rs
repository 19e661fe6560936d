//! The dev stack's error type.
//!
//! Policy: these errors happen at start-up (data directory, keys, TLS, binding a port) and are
//! reported to the developer by `bridge dev`; request-time failures of the stand-ins are
//! answered in each protocol's own error format and never surface here. Messages name the file
//! or the port, never key material.

use std::path::PathBuf;

/// What can stop the dev stack from starting.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// A file in the data directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file in the data directory exists but cannot be used.
    #[error("{}: unusable ({reason}); delete it to start afresh", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file the developer wrote (users file, `xs-security.json`) is invalid.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// TLS certificates, their keys or a TLS configuration could not be made or read.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// A cryptographic operation outside TLS failed: generating or encoding a signing or
    /// encryption key, sealing a store file, drawing random numbers. Names the operation only.
    #[error("{what} failed")]
    Crypto {
        /// The operation, e.g. "RSA key generation".
        what: &'static str,
    },
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}
