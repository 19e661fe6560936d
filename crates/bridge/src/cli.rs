//! The command tree. Each subcommand's arguments and work live in its module of
//! [`crate::commands`]; this module only names the subcommands and maps results to exit
//! codes: 0 success, 1 the operation failed, 2 bad usage or configuration. `dev` and
//! `rotate-keys` exist only with the default `dev` feature: the build deployed to Cloud
//! Foundry (`cargo xtask dist`, `--no-default-features`) has no dev stack.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;

/// One binary for the SAP BTP ↔ AWS bridge.
#[derive(Debug, Parser)]
#[command(name = "bridge", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole architecture locally (local Credential Store, …) until Ctrl-C.
    #[cfg(feature = "dev")]
    Dev(commands::dev::DevArgs),
    /// Inspect the Cloud Foundry environment.
    #[command(subcommand)]
    Env(commands::env::EnvCommand),
    /// Read and write credentials in the bound SAP Credential Store.
    Creds(commands::creds::CredsArgs),
    /// Run the app from VCAP_SERVICES / VCAP_APPLICATION / PORT, as on Cloud Foundry.
    Serve(commands::serve::ServeArgs),
    /// Print a client-credentials access token of the bound XSUAA (stdout: the token only).
    Token(commands::token::TokenArgs),
    /// EventBridge Scheduler expressions: the next fire instants.
    #[command(subcommand)]
    Schedule(commands::schedule::ScheduleCommand),
    /// The run history of the job endpoints (newest first), from the app's database.
    Runs(commands::runs::RunsArgs),
    /// Documents through the app's OData API (`/catalog/Documents`): upload, list, get, rm,
    /// audit.
    Docs(commands::docs::DocsArgs),
    /// Rotate the signing key of a running `bridge dev`'s local XSUAA (the old key stays
    /// published for a grace period, as on BTP).
    #[cfg(feature = "dev")]
    RotateKeys(commands::rotate::RotateKeysArgs),
}

/// Runs the parsed command and turns its outcome into an exit code.
pub fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return commands::fail(&anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        match cli.command {
            #[cfg(feature = "dev")]
            Command::Dev(args) => commands::dev::run(args).await,
            Command::Env(commands::env::EnvCommand::Check(args)) => commands::env::check(&args),
            Command::Creds(args) => commands::creds::run(args).await,
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Token(args) => commands::token::run(args).await,
            Command::Schedule(command) => commands::schedule::run(command),
            Command::Runs(args) => commands::runs::run(args).await,
            Command::Docs(args) => commands::docs::run(args).await,
            #[cfg(feature = "dev")]
            Command::RotateKeys(args) => commands::rotate::run(args).await,
        }
    })
}
