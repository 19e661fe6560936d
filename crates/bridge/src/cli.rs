//! The command tree. Each subcommand's work lives in [`crate::commands`]; this module only
//! declares arguments and maps results to exit codes: 0 success, 1 the operation failed,
//! 2 bad usage or configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    Dev(DevArgs),
    /// Inspect the Cloud Foundry environment.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Read and write credentials in the bound SAP Credential Store.
    Creds(CredsArgs),
    /// Run the app from VCAP_SERVICES / VCAP_APPLICATION / PORT, as on Cloud Foundry.
    Serve(ServeArgs),
    /// Print a client-credentials access token of the bound XSUAA (stdout: the token only).
    Token(TokenArgs),
    /// Rotate the signing key of a running `bridge dev`'s local XSUAA (the old key stays
    /// published for a grace period, as on BTP).
    RotateKeys(RotateKeysArgs),
}

/// Arguments of `bridge rotate-keys`.
#[derive(Debug, Args)]
pub struct RotateKeysArgs {
    /// The data directory of the running `bridge dev`.
    #[arg(long, env = "BRIDGE_DEV_DATA_DIR", default_value = ".bridge-dev")]
    pub data_dir: PathBuf,
}

/// Arguments of `bridge serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on (default: `PORT`, else 4004).
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on (default: all interfaces on Cloud Foundry, else loopback).
    #[arg(long)]
    pub host: Option<std::net::IpAddr>,
    /// The `xsuaa` instance to use when several are bound.
    #[arg(long, env = "BRIDGE_XSUAA_INSTANCE")]
    pub xsuaa_instance: Option<String>,
    /// The user-provided service with the AWS settings (default `aws-config`).
    #[arg(long, env = "BRIDGE_AWS_CONFIG_INSTANCE")]
    pub aws_config_instance: Option<String>,
    /// The `credstore` instance holding the AWS keys, when several are bound.
    #[arg(long, env = "BRIDGE_CREDSTORE_INSTANCE")]
    pub credstore_instance: Option<String>,
}

/// Arguments of `bridge token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The `xsuaa` instance to use when several are bound.
    #[arg(long, env = "BRIDGE_XSUAA_INSTANCE")]
    pub xsuaa_instance: Option<String>,
    /// Request only these scopes (repeatable); default: all the client's authorities.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Get the token for another zone (tenant) id (`x-zid` header).
    #[arg(long)]
    pub zone: Option<String>,
    /// Timeout of the token request, in seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

/// Arguments of `bridge dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Where keys, certificates and data are kept between runs.
    #[arg(long, env = "BRIDGE_DEV_DATA_DIR", default_value = ".bridge-dev")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port of the app (0: any free port).
    #[arg(long, default_value_t = 4004)]
    pub app_port: u16,
    /// Port of the local Credential Store (0: any free port).
    #[arg(long, default_value_t = 4011)]
    pub credstore_port: u16,
    /// Port of the local XSUAA (0: any free port).
    #[arg(long, default_value_t = 4012)]
    pub xsuaa_port: u16,
    /// Port of the local STS (0: any free port).
    #[arg(long, default_value_t = 4013)]
    pub sts_port: u16,
    /// Port of the local S3 (0: any free port).
    #[arg(long, default_value_t = 4014)]
    pub s3_port: u16,
    /// The application security descriptor the local XSUAA uses (default: the built-in copy
    /// of deploy/btp/xs-security.json).
    #[arg(long, value_name = "FILE")]
    pub xs_security: Option<PathBuf>,
    /// A users file for the local XSUAA (JSON: username, password, role_collections, …);
    /// default: generated users alice (Bridge Editor) and bob (Bridge Viewer).
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Exit right after start-up instead of waiting for Ctrl-C (for scripts and smoke tests).
    #[arg(long, hide = true)]
    pub exit_after_start: bool,
}

/// `bridge env …`.
#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Show which bindings are present and check the ones the app needs (names only, never values).
    Check(EnvCheckArgs),
}

/// Arguments of `bridge env check`.
#[derive(Debug, Args)]
pub struct EnvCheckArgs {
    /// Bindings that must be present and valid.
    #[arg(long, value_delimiter = ',', default_value = "credstore")]
    pub require: Vec<BindingKind>,
    /// The user-provided service with the AWS settings (default `aws-config`), as for
    /// `bridge serve`.
    #[arg(long, env = "BRIDGE_AWS_CONFIG_INSTANCE")]
    pub aws_config_instance: Option<String>,
}

/// The binding kinds `bridge env check` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BindingKind {
    /// XSUAA (label `xsuaa`).
    Xsuaa,
    /// SAP Credential Store (label `credstore`).
    Credstore,
    /// SAP Private Link (label `privatelink`).
    Privatelink,
    /// The user-provided AWS settings (instance `aws-config`, or `--aws-config-instance`).
    AwsConfig,
    /// PostgreSQL (label `postgresql-db`).
    Postgres,
}

/// Arguments shared by `bridge creds …`.
#[derive(Debug, Args)]
pub struct CredsArgs {
    /// The Credential Store namespace.
    #[arg(long, short = 'n', env = "BRIDGE_CREDSTORE_NAMESPACE", global = true)]
    pub namespace: Option<String>,
    /// The `credstore` instance to use when several are bound.
    #[arg(long, env = "BRIDGE_CREDSTORE_INSTANCE", global = true)]
    pub instance: Option<String>,
    /// Use a service key (the JSON that `cf service-key` prints, or its `credentials` object)
    /// instead of `VCAP_SERVICES`: for operators loading credentials from a workstation.
    #[arg(long, global = true, value_name = "FILE")]
    pub service_key: Option<PathBuf>,
    /// Credential type.
    #[arg(
        long = "type",
        short = 't',
        value_enum,
        default_value = "password",
        global = true
    )]
    pub kind: CredKind,
    /// Timeout of each call to the store, in seconds.
    #[arg(long, default_value_t = 10, global = true)]
    pub timeout: u64,
    /// The operation.
    #[command(subcommand)]
    pub op: CredsOp,
}

/// Credential types on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CredKind {
    /// A password (value + optional username).
    Password,
    /// A key (base64 value + optional format).
    Key,
}

/// `bridge creds` operations.
#[derive(Debug, Subcommand)]
pub enum CredsOp {
    /// Create or update a credential. The value is read from standard input (never from the
    /// command line, where it would land in shell history and `ps`).
    Put {
        /// The credential's name.
        name: String,
        /// Read the value from this environment variable instead of standard input.
        #[arg(long)]
        value_env: Option<String>,
        /// User name (passwords), e.g. the AWS access key id.
        #[arg(long)]
        username: Option<String>,
        /// Format (keys), e.g. `pem`.
        #[arg(long)]
        format: Option<String>,
        /// Free-text metadata.
        #[arg(long)]
        metadata: Option<String>,
        /// Fail if the credential already exists.
        #[arg(long)]
        create_only: bool,
    },
    /// Show a credential's metadata; with `--value`, print only its value.
    Get {
        /// The credential's name.
        name: String,
        /// Print the bare value (for piping) instead of the metadata.
        #[arg(long)]
        value: bool,
    },
    /// List the credentials of a type in the namespace (names and metadata).
    List,
    /// Delete a credential.
    Delete {
        /// The credential's name.
        name: String,
    },
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
            Command::Dev(args) => commands::dev::run(args).await,
            Command::Env(EnvCommand::Check(args)) => commands::env::check(&args),
            Command::Creds(args) => commands::creds::run(args).await,
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Token(args) => commands::token::run(args).await,
            Command::RotateKeys(args) => commands::rotate::run(args).await,
        }
    })
}
