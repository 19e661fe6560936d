//! btp-aws-bridge: the app and its command line.
//!
//! - [`app`]: the app server (routes, authentication, sessions, error mapping).
//! - [`cli`]: the clap command tree and the dispatch to [`commands`].
//! - [`commands`]: one module per subcommand (`dev`, `env`, `creds`).
//! - [`config`]: process-level settings read once from the environment (extra CA certificates).
//! - [`telemetry`]: the one tracing initialiser (compact for humans, JSON with `LOG_FORMAT=json`).

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod telemetry;
