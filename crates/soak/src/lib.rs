//! A property-based soak of every parser that takes outside input, on stable Rust (issue 12,
//! "How it is checked"): each target generates inputs from a seeded RNG, runs the parser on
//! them under [`std::panic::catch_unwind`], and checks that every outcome is a verdict of the
//! documented kind. A panic, or an outcome that breaks a property, is a *crash*: it is counted
//! and its input saved to `target/soak-crashes/<parser>/`.
//!
//! | target | parsers | properties beyond "no panic" |
//! |---|---|---|
//! | `jwt` | `xsuaa::jwt::decode` | `Ok` only for three strict parts within 16 KiB; `Oversized` exactly above it |
//! | `validate` | `xsuaa::validate::Validator::validate` with an in-memory `KeySource`, `xsuaa::jwks::JwkSet::from_json` | `Ok` only for a signing input we signed with the key of its `kid`; every error a client error (401) unless the key source failed; accessors of accepted tokens |
//! | `odata` | `odata::path::parse`, `QueryOptions::parse` (`$filter $orderby $select $search $top $skip $skiptoken $count $format`), `document_format`, `JsonFormat::negotiate`, `parse_prefer_maxpagesize`, then `apply` and the payload writers | every error a 4xx with a JSON body; key predicates and next links parse back to the same key and options; pages within bounds; bodies are JSON |
//! | `vcap` | `cfenv::Vcap::from_json` and every binding accessor, `VcapApplication::from_json`, `cfenv::port` | parse → `to_json` → parse is the identity; no secret value in an error or a `Debug` output |
//! | `sigv4` | `devstack::sigv4::verify` (header and presigned forms, STS and S3 path rules) | requests signed by the reference signer (`aws-sigv4`) verify; `Ok` names a known, unexpired key |
//! | `jwe` | `credstore::jwe::PrivateKey::decrypt`, `PrivateKey::from_base64_der`, `PublicKey::from_base64_der` | `Ok` only for the JWE we built, with its plaintext |
//! | `iam` | `iam::PolicyDocument::from_json_as` (every kind), `devstack::aws_identity::Policy::session`, `iam::template`, `iam::s3::checks`, then `evaluate`, `trust_allows`, `assume_role` | parse → `to_json` → parse is the identity |
//! | `schedule` | `schedule::Expression`/`Schedule::new` (expressions and zones) with bounds, then `occurrences`; `schedule::file::ScheduleFile::parse`; `caller::event::parse` (Scheduler `Input`, classic Scheduled Event) | occurrences strictly increase after the instant asked for and stay within `StartDate`/`EndDate`; an accepted event's path is a path of the app (one leading `/`, no dot segment) |
//!
//! The generators mix structure-aware inputs (mutations of valid seeds: signed JWTs, filters
//! UI5 sends, the `VCAP_SERVICES` fixtures of `crates/cfenv/tests/data`, requests signed by
//! `aws-sigv4`, JWEs encrypted to our key, the deployed IAM policies) with random bytes
//! ([`mutate`]). Each target keeps a small pool of inputs it accepted and mutates those too,
//! so accepted shapes breed further ones. Execution `i` of a run with seed `s` draws from an
//! RNG seeded by `(s, i)`; a crash file records both, and `soak replay <parser> <file>` runs
//! a saved input again. The `validate` and `jwe` targets sign and encrypt with fixed test keys
//! (`crates/soak/keys/`, made with `openssl genpkey` for the soak only), so a saved token or
//! JWE meets the same keys on replay.
//!
//! Modules: [`harness`] (the loop, the panic hook, crash files, [`Report`]), [`mutate`] (the
//! mutators and dictionaries), [`targets`] (one module per parser, and the registry).
//!
//! `cargo test -p soak` runs every target for a few thousand executions; `cargo xtask soak
//! --execs N [--parser NAME]` builds this crate's `soak` binary with the `soak` profile
//! (release plus overflow checks and debug assertions) and runs each target in its own
//! process, so that even an abort (a stack overflow) is reported against its parser.

pub mod harness;
pub mod mutate;
pub mod targets;

pub use harness::{Failure, Options, Report};
pub use targets::{PARSERS, replay, run};
