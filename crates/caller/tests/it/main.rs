//! Integration tests of the caller: real servers on ephemeral loopback ports.

/// The dev stack, the scripted target app and the secret checks.
mod common;

/// The handler against the local XSUAA and the scripted app.
mod calls;
