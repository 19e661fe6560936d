//! btp-aws-bridge: the app and its command line.
//!
//! The subcommands of `bridge` ([`cli::Command`]), one module of [`commands`] each:
//!
//! - `bridge dev`: the whole architecture on loopback, the local stand-ins of `devstack` and
//!   the app, wired through a generated `VCAP_SERVICES`, until Ctrl-C ([`commands::dev`]).
//! - `bridge env check`: which bindings are present and whether the ones required are valid,
//!   by name only, never by value ([`commands::env`]).
//! - `bridge creds put|get|list|delete`: credentials in the bound SAP Credential Store, or in
//!   the one a service key names ([`commands::creds`]).
//! - `bridge serve`: the app, configured from `VCAP_SERVICES`, `VCAP_APPLICATION` and `PORT`
//!   alone, as on Cloud Foundry ([`commands::serve`]).
//! - `bridge token`: a client-credentials access token of the bound XSUAA, alone on stdout
//!   ([`commands::token`]).
//! - `bridge rotate-keys`: a new signing key for the local XSUAA of a running `bridge dev`
//!   ([`commands::rotate`]).
//!
//! Modules:
//!
//! - [`app`]: the app server: its state built from the bindings, routes and middleware,
//!   authentication and CSRF ([`app::auth`]), browser sign-in and sessions ([`app::login`],
//!   [`app::session`]), the OData catalog ([`app::catalog`]), health, readiness and the index
//!   page ([`app::routes`]), metrics ([`app::metrics`]), calls to dependencies
//!   ([`app::upstream`]) and the one mapping from failures to HTTP ([`app::error`]).
//! - [`cli`]: the clap command tree, the dispatch to [`commands`] and the exit codes.
//! - [`commands`]: one module per subcommand, as listed above.
//! - [`config`]: process-level settings read once from the environment (extra CA certificates,
//!   the metrics token, the upstream deadline, the page size, the server limits).
//! - [`telemetry`]: the one tracing initialiser (human-readable lines, or JSON lines with
//!   `LOG_FORMAT=json` and by default on Cloud Foundry).

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod telemetry;
