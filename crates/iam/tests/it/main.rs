//! Integration tests for `iam`: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub,
    missing_docs
)]

/// The `check` table helper and the builders every module uses.
mod common;

/// The caller function's execution role and the Scheduler's role of `deploy/aws/iam/`.
mod caller;
/// Every condition operator, with `IfExists`, `ForAnyValue:`/`ForAllValues:` and missing keys.
mod conditions;
/// The files of `deploy/aws/iam/`, rendered, loaded, and evaluated for every S3 operation.
mod deploy;
/// IAM's evaluation order: explicit deny, implicit deny, unions and caps.
mod evaluation;
/// Malformed documents and odd requests never panic.
mod fuzz;
/// The policy grammar: one error case per element, by path and message.
mod grammar;
/// Action, resource and principal matching: wildcards, case rules, the bucket-vs-object trap.
mod matching;
/// Parse → JSON → parse gives the same document and the same JSON.
mod roundtrip;
/// The S3 operation → action table.
mod s3;
/// `AssumeRole` authorization: trust policies, external ids, account trust.
mod trust;
