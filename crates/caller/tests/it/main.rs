//! Integration tests of the caller: real servers on ephemeral loopback ports.
#![allow(clippy::unwrap_used)]

/// The dev stack, the scripted target app and the secret checks.
mod common;

/// The handler against the local XSUAA and the scripted app.
mod calls;

/// The cold start's secret read against moto's Secrets Manager.
mod secrets;

/// The built `bootstrap` under an in-test Runtime API.
mod binary;
