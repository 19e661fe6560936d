//! The app over HTTP: `bridge`'s router served on an ephemeral loopback port, wired to the dev
//! stack's local XSUAA only through the generated `VCAP_SERVICES`, driven by a real HTTP client
//! and checked against `@sap/xssec` 4.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub,
    missing_docs
)]

/// deploy/aws/template.yaml: cfn-lint, the roles equal deploy/aws/iam, the schedules equal
/// deploy/aws/schedules, the function's settings, retries and alarms.
mod aws_template;
/// The OData catalog over the local S3: rows, keys, query options, paging, bad input, scopes, metrics.
mod catalog;
/// Start the dev stack and the app; tokens and HTTP helpers.
mod common;
/// manifest.yml and mta.yaml agree with the app.
mod deploy;
/// Documents under faults on the real chain: S3 gone mid-upload (503, no object, the row
/// `pending` again), the database gone mid-upload on SQLite and PostgreSQL (503, the object
/// taken away again).
mod documents;
/// Stopped, hanging and refusing dependencies: 502/503/504 naming them, recovery, cached credentials.
mod faults;
/// Hostile clients (issue 12): open redirects, made-up methods, floods, slow headers, shutdown.
mod hostile;
/// The in-process tier: the router through `oneshot`, signed test tokens, S3 in memory.
mod inproc;
/// Browser sign-in without a browser: the authorization-code flow, sessions, CSRF, sign-out.
mod login;
/// The protection rules: 401/403/200, the OAuth challenge, error bodies, health.
mod protected;
/// The scheduled path under faults: token endpoint down, app down, app slow or hanging.
mod scheduled_faults;
/// The alert watchdog over SQLite and PostgreSQL: failed, missed, once across instances.
mod watchdog;
/// A corpus of 30+ tokens judged by our validator and by `@sap/xssec` 4.
mod xssec_corpus;
