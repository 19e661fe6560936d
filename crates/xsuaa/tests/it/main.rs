//! Integration tests of the xsuaa crate: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub,
    missing_docs
)]

// Test keys, token minting, in-memory key fetchers, bindings, the fake XSUAA token endpoint.
mod util;

// Validation verdicts, one `check(token, verdict)` table against xssec 4's rules.
mod verdicts;

// The JWKS cache: freshness, single flight, rate-limited refresh, stale serving, HTTP fetcher.
mod jwks;

// The token client: wire format, cache, refresh, failures, redaction.
mod client;
