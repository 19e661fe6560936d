//! Integration tests of the dev stack: the real servers on ephemeral loopback ports, spoken to
//! over HTTPS by our `credstore` client, by raw HTTP and by third-party tools.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub,
    missing_docs
)]

/// Shared set-up: a started dev stack in a temporary directory and clients for it.
mod common;
/// The Credential Store API through our client: CRUD, lists, conditions, auth, errors.
mod credstore_api;
/// Raw protocol checks: bad JWE, expired `iat`, plaintext bodies, missing headers.
mod credstore_protocol;
/// Interop with the npm `jose` package, an independent JOSE implementation.
mod jose_interop;
/// Data at rest: restart keeps data, files are private and sealed.
mod persistence;
