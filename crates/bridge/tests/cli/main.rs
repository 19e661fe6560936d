//! The `bridge` binary as a user runs it: real processes, real dev stack on ephemeral ports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub,
    missing_docs
)]

/// The index page in a real browser (chromium via playwright-core).
mod browser;
/// `bridge creds …` against the local Credential Store.
mod creds;
/// `bridge dev`: banner, masking, shutdown.
mod dev;
/// `bridge docs …` against `bridge dev`: upload, list, get, rm, audit as the dev users.
mod docs;
/// Documents end to end under `bridge dev`: 1 GiB streamed up and down, 100 concurrent
/// transfers, presigned upload/finalize/download, ranges, the keys as the aws CLI lists them,
/// the demo documents, and `kill -9` during 50 uploads followed by restart and reconcile.
mod documents;
/// `bridge env check`.
mod env;
/// `bridge runs`: the run history from SQLite and from a bound PostgreSQL.
mod runs;
/// `bridge schedule next`: fire instants, JSON, invalid input.
mod schedule;
/// Seed 002 end to end under `bridge dev`: Scheduler → Lambda (the real bootstrap) →
/// XSUAA token → `/jobs/ping` → run history.
mod scheduled;
/// `bridge serve` from the bindings alone: catalog, JSON logs, SIGTERM, missing bindings.
mod serve;
/// `bridge token`.
mod token;
/// The catalog read by UI5's OData V4 model (OpenUI5 in chromium via playwright-core).
mod ui5;
/// Running the binary and capturing its output for the secret scan.
mod util;
