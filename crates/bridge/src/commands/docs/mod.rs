//! `bridge docs …`: a command-line client of the app's own document API, the OData entity
//! sets `/catalog/Documents` and `/catalog/DocumentEvents` (docs/DOCUMENTS.md), over HTTP like
//! any other client: `upload`, `list`, `get`, `rm`, `audit`.
//!
//! Who calls: `--token` (a bearer token as is), else `--user` with the password from
//! `BRIDGE_PASSWORD` or one line on stdin (XSUAA's password grant with the `xsuaa` binding of
//! `VCAP_SERVICES`, as `bridge token` reads it), else a client-credentials token of that
//! binding (which carries only `JobRunner` for the app's own client: documents need a user).
//! Bytes are streamed both ways, never held whole in memory; progress bars go to stderr and
//! only when it is a terminal; stdout gets one line per result.
//!
//! Modules: `api` (the HTTP client, sign-in, OData errors), `upload`, `get`, `list` (`list`
//! and `audit`, tables). Exit codes as everywhere: 0 ok, 1 an operation failed, 2 bad usage or
//! configuration (a flag or a field is named).

mod api;
mod get;
mod list;
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;

use cfenv::Secret;
use clap::{Args, Subcommand};

use self::api::Api;
use super::describe;

/// Arguments of `bridge docs`.
#[derive(Debug, Args)]
pub struct DocsArgs {
    /// Where the app is and who calls it.
    #[command(flatten)]
    pub connection: Connection,
    /// What to do.
    #[command(subcommand)]
    pub command: DocsCommand,
}

/// The app's URL and the caller's identity, common to every `bridge docs` command.
#[derive(Debug, Args)]
pub struct Connection {
    /// The app's base URL (`bridge dev`'s app by default).
    #[arg(
        long,
        env = "BRIDGE_APP_URL",
        default_value = "http://localhost:4004",
        value_name = "URL",
        global = true,
        help_heading = "Connection"
    )]
    pub url: String,
    /// A bearer token to send as is, instead of signing in.
    #[arg(
        long,
        env = "BRIDGE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = secret,
        conflicts_with = "user",
        global = true,
        help_heading = "Connection"
    )]
    pub token: Option<Secret>,
    /// Sign in as this user (XSUAA's password grant); the password comes from
    /// `BRIDGE_PASSWORD` or one line on stdin. Without `--token` and `--user`: a
    /// client-credentials token of the `xsuaa` binding.
    #[arg(
        long,
        env = "BRIDGE_USER",
        value_name = "NAME",
        global = true,
        help_heading = "Connection"
    )]
    pub user: Option<String>,
    /// The `xsuaa` instance to sign in with when several are bound.
    #[arg(
        long,
        env = "BRIDGE_XSUAA_INSTANCE",
        value_name = "NAME",
        global = true,
        help_heading = "Connection"
    )]
    pub xsuaa_instance: Option<String>,
}

/// The `bridge docs` commands.
#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Upload files, each as a new document: create it, then stream its bytes with their
    /// SHA-256 (stdout: ID, size, sha256, fileName per document).
    Upload(upload::UploadArgs),
    /// List documents (a table, or one JSON object per line with `--json`).
    List(list::ListArgs),
    /// Download a document's content, checked against its SHA-256.
    Get(get::GetArgs),
    /// Delete documents.
    Rm(RmArgs),
    /// The audit log: who read, uploaded, changed or deleted what, newest first.
    Audit(list::AuditArgs),
}

/// Arguments of `bridge docs rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The documents to delete.
    #[arg(required = true, value_name = "ID", value_parser = document_id)]
    pub ids: Vec<String>,
}

/// Runs a `bridge docs` command.
pub async fn run(args: DocsArgs) -> ExitCode {
    // Arguments are checked before anything is asked of XSUAA or the app.
    if let DocsCommand::Upload(upload) = &args.command
        && let Err(e) = upload::check(upload)
    {
        return super::misconfigured(&e);
    }
    let api = match Api::connect(&args.connection).await {
        Ok(api) => api,
        Err(api::Setup::Usage(e)) => return super::misconfigured(&e),
        Err(api::Setup::Failed(e)) => return super::fail(&e),
    };
    match args.command {
        DocsCommand::Upload(upload) => upload::run(&api, upload).await,
        DocsCommand::List(list) => list::list(&api, &list).await,
        DocsCommand::Get(get) => get::run(&api, get).await,
        DocsCommand::Rm(rm) => remove(&api, &rm).await,
        DocsCommand::Audit(audit) => list::audit(&api, &audit).await,
    }
}

/// `bridge docs rm`: deletes each document, going on after a failure; exit 1 if any failed.
#[allow(clippy::print_stdout)]
async fn remove(api: &Api, args: &RmArgs) -> ExitCode {
    let mut failed = false;
    for id in &args.ids {
        match api.delete(id).await {
            Ok(()) => println!("deleted {id}"),
            Err(e) => {
                failed = true;
                report(&format!("{id}: {}", describe(&e)));
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One `error: …` line on stderr (for a failure among several, where the command goes on).
#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("error: {line}");
}

/// A secret value from the command line or the environment.
fn secret(value: &str) -> Result<Secret, String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    Ok(Secret::new(value.trim()))
}

/// A document ID: a GUID, as the entity's key is `Edm.Guid` (lower-case, hyphenated).
fn document_id(value: &str) -> Result<String, String> {
    uuid::Uuid::parse_str(value)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| format!("expects a document ID (a GUID), got {value:?}"))
}

/// A file path argument that must name a regular file.
fn regular_file(path: &PathBuf) -> anyhow::Result<u64> {
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), io_reason(&e)))?;
    if !meta.is_file() {
        anyhow::bail!("{}: not a regular file", path.display());
    }
    Ok(meta.len())
}

/// An I/O error's reason without the OS's error number.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// `n` bytes for humans: `512 B`, `1.5 KiB`, `10.0 MiB`.
fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn sizes_for_humans() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(11 * 1024 * 1024), "11.0 MiB");
        assert_eq!(human_size(u64::MAX), "16384.0 PiB");
    }

    #[test]
    fn ids_are_guids() {
        assert_eq!(
            document_id("3FA85F64-5717-4562-B3FC-2C963F66AFA6").as_deref(),
            Ok("3fa85f64-5717-4562-b3fc-2c963f66afa6")
        );
        assert_eq!(
            document_id("../x").unwrap_err(),
            "expects a document ID (a GUID), got \"../x\""
        );
    }
}
